"""The contract's timm ViT (clora-spec §2.1) as a PyTorch module whose state_dict keys are timm's.

Class token, no register tokens, pre-norm blocks (blocks.py) with LayerNorm eps 1e-6 and a qkv bias, exact
(erf) GELU, attention scale head_dim^-0.5, classifier on the class token after the final norm. The head lives
outside (a fine-tuning method brings its own). Each block's linear maps pass their input and output through
an `adapter` (CLoRA, LoRA) as the engine's LinearAdapter does (src/nn/vit.ts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch
import torch.nn as nn

from .blocks import Block, LinearAdapter, ShapeError, block_shapes
from .blocks import fmt as _fmt

__all__ = ["LAYER_NORM_EPS", "ShapeError", "VisionTransformer", "VitConfig", "decays", "vit_config_from_shapes", "vit_shapes"]

LAYER_NORM_EPS = 1e-6


@dataclass(frozen=True)
class VitConfig:
    depth: int
    dim: int
    heads: int
    patch: int
    image_size: int
    channels: int
    mlp_dim: int
    tokens: int
    classes: int  # of the stored head; 0 without one
    kind: str = "vit"


def vit_shapes(cfg: VitConfig, with_head: bool = False) -> dict[str, tuple[int, ...]]:
    """Every timm key of the backbone and its shape, in timm's order (the engine's vitShapes)."""
    d, m = cfg.dim, cfg.mlp_dim
    shapes: dict[str, tuple[int, ...]] = {
        "cls_token": (1, 1, d), "pos_embed": (1, cfg.tokens, d),
        "patch_embed.proj.weight": (d, cfg.channels, cfg.patch, cfg.patch), "patch_embed.proj.bias": (d,),
    }
    for i in range(cfg.depth):
        shapes.update(block_shapes(f"blocks.{i}", d, m, qkv_bias=True))
    shapes.update({"norm.weight": (d,), "norm.bias": (d,)})
    if with_head and cfg.classes > 0:
        shapes.update({"head.weight": (cfg.classes, d), "head.bias": (cfg.classes,)})
    return shapes


def vit_config_from_shapes(shapes: Mapping[str, tuple[int, ...]], heads: int | None = None) -> VitConfig:
    """Depth, width, patch, image size and MLP width from timm shapes, every needed tensor checked."""
    def need(name: str) -> tuple[int, ...]:
        if name not in shapes:
            raise ShapeError(f'These weights are not a timm ViT: the tensor "{name}" is missing.')
        return tuple(shapes[name])

    proj = need("patch_embed.proj.weight")
    if len(proj) != 4 or proj[2] != proj[3]:
        raise ShapeError(f'"patch_embed.proj.weight" should be [dim, channels, P, P]; found {_fmt(proj)}.')
    dim, channels, patch = proj[0], proj[1], proj[2]
    pos = need("pos_embed")
    if len(pos) != 3 or pos[0] != 1 or pos[2] != dim:
        raise ShapeError(f'"pos_embed" should be [1, tokens, {dim}]; found {_fmt(pos)}.')
    tokens = pos[1]
    grid = round((tokens - 1) ** 0.5)
    if grid * grid != tokens - 1:
        raise ShapeError(f'"pos_embed" has {tokens} tokens: 1 class token plus a square grid of patches was expected.')
    depth = 0
    while f"blocks.{depth}.attn.qkv.weight" in shapes:
        depth += 1
    if depth == 0:
        raise ShapeError('These weights are not a timm ViT: no "blocks.0.attn.qkv.weight" tensor.')
    mlp = need("blocks.0.mlp.fc1.weight")[0]
    classes = tuple(shapes["head.weight"])[0] if "head.weight" in shapes else 0
    h = heads if heads is not None else max(1, dim // 64)
    if h < 1 or dim % h:
        raise ShapeError(f"{h} attention heads do not divide the width {dim}.")
    cfg = VitConfig(depth, dim, h, patch, grid * patch, channels, mlp, tokens, classes)
    problems = [f'"{n}": expected {_fmt(s)}, found {_fmt(tuple(shapes[n]) if n in shapes else None)}'
                for n, s in vit_shapes(cfg, with_head=True).items() if n not in shapes or tuple(shapes[n]) != s]
    if problems:
        more = f" (and {len(problems) - 6} more)" if len(problems) > 6 else ""
        raise ShapeError(f"These weights do not fit a ViT of width {dim} and depth {depth}: {'; '.join(problems[:6])}{more}.")
    return cfg


def decays(name: str, shape: tuple[int, ...]) -> bool:
    """The contract's weight-decay rule: two or more dimensions, except cls_token and pos_embed."""
    return len(shape) >= 2 and name not in ("cls_token", "pos_embed")


class _PatchEmbed(nn.Module):
    def __init__(self, cfg: VitConfig):
        super().__init__()
        self.proj = nn.Conv2d(cfg.channels, cfg.dim, cfg.patch, stride=cfg.patch)


class VisionTransformer(nn.Module):
    """The backbone without a head: features(pixels) is the class token after the final norm, [B, dim]."""

    def __init__(self, cfg: VitConfig):
        super().__init__()
        self.cfg = cfg
        self.patch_embed = _PatchEmbed(cfg)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.tokens, cfg.dim))
        self.blocks = nn.ModuleList([Block(cfg.dim, cfg.mlp_dim, LAYER_NORM_EPS, qkv_bias=True) for _ in range(cfg.depth)])
        self.norm = nn.LayerNorm(cfg.dim, eps=LAYER_NORM_EPS)

    def features(self, pixels: torch.Tensor, adapter: LinearAdapter | None = None) -> torch.Tensor:
        cfg = self.cfg
        if pixels.dim() != 4 or tuple(pixels.shape[1:]) != (cfg.channels, cfg.image_size, cfg.image_size):
            raise ShapeError(f"The model takes images of shape [N, {cfg.channels}, {cfg.image_size}, {cfg.image_size}]; got {_fmt(tuple(pixels.shape))}.")
        x = self.patch_embed.proj(pixels).flatten(2).transpose(1, 2)  # [B, patches, d], row-major patches
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        for i, block in enumerate(self.blocks):
            x = block.run(i, x, cfg.heads, adapter)
        return self.norm(x)[:, 0]
