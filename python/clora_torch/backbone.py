"""The backbones the methods, files and trainer work with, as one union (the engine's src/nn/backbone.ts):
timm's ViT (clora-spec §2.1) and Point-MAE's point transformer (§4). Both are built from the same block, so
an adapter sees the same targets in both; what differs — keys, input, feature width, weight decay, what
`full` trains, the fingerprint a checkpoint keeps — is answered here.
"""

from __future__ import annotations

from typing import Union

import torch.nn as nn

from .blocks import ShapeError, fmt
from .point import PointConfig, PointTransformer, is_running_statistic, point_decays, point_shapes
from .vit import VisionTransformer, VitConfig, decays as vit_decays, vit_shapes

BackboneConfig = Union[VitConfig, PointConfig]

# Tensors a backbone fingerprint hashes (src/io/checkpoint-file.ts): small, and different in every pretrained model.
VIT_FINGERPRINT = ("cls_token", "pos_embed", "patch_embed.proj.bias", "norm.weight", "norm.bias")
POINT_FINGERPRINT = ("cls_token", "cls_pos", "encoder.first_conv.0.bias", "norm.weight", "norm.bias")


def is_point(cfg: BackboneConfig) -> bool:
    return cfg.kind == "point"


def create_backbone(cfg: BackboneConfig) -> nn.Module:
    """The module without a head; its features(input, adapter) are what the head reads."""
    return PointTransformer(cfg) if is_point(cfg) else VisionTransformer(cfg)


def backbone_shapes(cfg: BackboneConfig) -> dict[str, tuple[int, ...]]:
    """Every backbone tensor and its shape, without the head, in the engine's order."""
    return point_shapes(cfg) if is_point(cfg) else vit_shapes(cfg)


def decays(cfg: BackboneConfig, name: str, shape: tuple[int, ...]) -> bool:
    """The weight-decay rule: two or more dimensions, except the class token and its position."""
    return point_decays(name, shape) if is_point(cfg) else vit_decays(name, shape)


def trains_in_full(cfg: BackboneConfig, name: str) -> bool:
    """Whether `full` trains this backbone tensor (BatchNorm's running statistics stay fixed)."""
    return not (is_point(cfg) and is_running_statistic(name))


def feature_width(cfg: BackboneConfig) -> int:
    """Width of what the head reads: the class token (ViT) or [x_cls, max over tokens] (points)."""
    return 2 * cfg.dim if is_point(cfg) else cfg.dim


def has_qkv_bias(cfg: BackboneConfig) -> bool:
    return cfg.qkv_bias if is_point(cfg) else True


def fingerprint_tensors(cfg: BackboneConfig) -> tuple[str, ...]:
    return POINT_FINGERPRINT if is_point(cfg) else VIT_FINGERPRINT


def input_key(cfg: BackboneConfig) -> str:
    """The tensor that holds model input in a tensor file (§2.5, §4)."""
    return "points" if is_point(cfg) else "pixel_values"


def sample_noun(cfg: BackboneConfig, count: int) -> str:
    """"6 images", "1 point cloud": what the engine's countText says."""
    noun = "point cloud" if is_point(cfg) else "image"
    return f"{count} {noun}{'' if count == 1 else 's'}"


def check_sample_shape(cfg: BackboneConfig, shape: tuple[int, ...], where: str = "The data") -> None:
    """Refuses samples the model cannot take (the engine's checkSampleShape): a point model takes clouds of any
    size with enough points for its groups; a ViT exactly its image shape."""
    if is_point(cfg):
        least = max(cfg.groups, cfg.group_size)
        if len(shape) != 2 or shape[1] != 3:
            raise ShapeError(f"{where} holds samples of shape {fmt(shape)}; this point backbone takes point clouds [P, 3].")
        if shape[0] < least:
            raise ShapeError(f"{where} holds clouds of {shape[0]} points; this backbone makes {cfg.groups} groups of {cfg.group_size} "
                             f"and needs at least {least} points per cloud.")
        return
    want = (cfg.channels, cfg.image_size, cfg.image_size)
    if tuple(shape) != want:
        raise ShapeError(f"{where} holds samples of shape {fmt(shape)}; the model takes {fmt(want)}.")
