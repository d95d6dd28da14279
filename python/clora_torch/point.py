"""Point-MAE's classification transformer (clora-spec §4) as a PyTorch module whose state_dict keys are
Point-MAE's (the engine's src/nn/point-transformer.ts).

Grouping (grouping.py) → per group a mini-PointNet: `encoder.first_conv` (Conv1d k=1 → BatchNorm → ReLU →
Conv1d), max over the K points, [that max repeated, per-point features] → `encoder.second_conv` (the same
shape), max over K → one token per group; positions `pos_embed` (Linear → GELU → Linear) of the centres;
x = [cls_token; tokens], pos = [cls_pos; positions]; every block sees x + pos; `norm`; features
[x_cls, max over the G tokens] (2·dim), which the fine-tuning method's head reads.

BatchNorm is always in evaluation mode (§4's training rule): it normalises with its running statistics, which
are buffers and never change; in `full` its weight and bias train. LayerNorm eps 1e-5; no qkv bias in
Point-MAE (accepted when present); `num_batches_tracked` is not needed and ignored.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping

import torch
import torch.nn as nn
import torch.nn.functional as F

from .blocks import Block, LinearAdapter, ShapeError, block_shapes, fmt
from .grouping import group_points

LAYER_NORM_EPS = 1e-5  # PyTorch's default, which Point-MAE keeps
BATCH_NORM_EPS = 1e-5
DEFAULTS = {"points": 1024, "groups": 64, "group_size": 32}  # Point-MAE's own settings (§4)
MAX_GROUP_SIZE = 128  # the engine's kNN kernel keeps at most this many neighbours (src/kernels/point-grouping.ts)
BATCH_NORM_PARTS = ("weight", "bias", "running_mean", "running_var")


@dataclass(frozen=True)
class PointConfig:
    depth: int
    dim: int
    heads: int
    mlp_dim: int
    points: int  # per cloud, as data is brought to (the model takes any count ≥ groups and ≥ group size)
    groups: int
    group_size: int
    tokenizer: tuple[int, int, int]  # first_conv.0 out, first_conv.3 out, second_conv.0 out (128, 256, 512)
    position_width: int  # pos_embed.0 out (128)
    qkv_bias: bool
    classes: int  # of the stored head on [x_cls, max] (2·dim wide); 0 without one
    kind: str = "point"


def block_prefix(i: int) -> str:
    return f"blocks.blocks.{i}"


def looks_like_point_mae(shapes: Mapping[str, tuple[int, ...]]) -> bool:
    """Point-MAE's layout (after the prefixes `module.`, `base_model.`, `MAE_encoder.` are stripped)."""
    return "encoder.first_conv.0.weight" in shapes or "blocks.blocks.0.attn.qkv.weight" in shapes


def point_shapes(cfg: PointConfig, with_head: bool = False) -> dict[str, tuple[int, ...]]:
    """Every Point-MAE key of the backbone and its shape (running statistics included), in the engine's order."""
    d, (c1, c2, c3), w = cfg.dim, cfg.tokenizer, cfg.position_width
    shapes: dict[str, tuple[int, ...]] = {"cls_token": (1, 1, d), "cls_pos": (1, 1, d),
                                          "encoder.first_conv.0.weight": (c1, 3, 1), "encoder.first_conv.0.bias": (c1,)}
    shapes.update({f"encoder.first_conv.1.{p}": (c1,) for p in BATCH_NORM_PARTS})
    shapes.update({"encoder.first_conv.3.weight": (c2, c1, 1), "encoder.first_conv.3.bias": (c2,),
                   "encoder.second_conv.0.weight": (c3, 2 * c2, 1), "encoder.second_conv.0.bias": (c3,)})
    shapes.update({f"encoder.second_conv.1.{p}": (c3,) for p in BATCH_NORM_PARTS})
    shapes.update({"encoder.second_conv.3.weight": (d, c3, 1), "encoder.second_conv.3.bias": (d,),
                   "pos_embed.0.weight": (w, 3), "pos_embed.0.bias": (w,), "pos_embed.2.weight": (d, w), "pos_embed.2.bias": (d,)})
    for i in range(cfg.depth):
        shapes.update(block_shapes(block_prefix(i), d, cfg.mlp_dim, cfg.qkv_bias))
    shapes.update({"norm.weight": (d,), "norm.bias": (d,)})
    if with_head and cfg.classes > 0:
        shapes.update({"head.weight": (cfg.classes, 2 * d), "head.bias": (cfg.classes,)})
    return shapes


def _whole(value: int, what: str, least: int) -> int:
    if not isinstance(value, int) or value < least:
        raise ShapeError(f"The {what} must be a whole number ≥ {least} (got {value}).")
    return value


def point_config_from_shapes(shapes: Mapping[str, tuple[int, ...]], heads: int | None = None, points: int | None = None,
                             groups: int | None = None, group_size: int | None = None) -> PointConfig:
    """Depth and every width from Point-MAE shapes, every needed tensor checked; the settings the weights do not
    hold from the caller, else §4's defaults (dim/64 heads, 1024 points, 64 groups of 32) — the engine's
    pointConfigFromShapes, with its sentences."""
    def need(name: str) -> tuple[int, ...]:
        if name not in shapes:
            raise ShapeError(f'These weights are not a Point-MAE point transformer: the tensor "{name}" is missing.')
        return tuple(shapes[name])

    c1 = need("encoder.first_conv.0.weight")[0]
    c2 = need("encoder.first_conv.3.weight")[0]
    c3 = need("encoder.second_conv.0.weight")[0]
    last = need("encoder.second_conv.3.weight")
    dim = last[0]
    if len(last) != 3:
        raise ShapeError(f'"encoder.second_conv.3.weight" should be [dim, {c3}, 1]; found {fmt(last)}.')
    if "cls_token" not in shapes or "cls_pos" not in shapes:
        raise ShapeError('These Point-MAE weights have no "cls_token" and "cls_pos": they look like a pre-training checkpoint (pretrain.pth). '
                         "Use a fine-tuned checkpoint, or weights that include the class token and its position.")
    position_width = need("pos_embed.0.weight")[0]
    depth = 0
    while f"{block_prefix(depth)}.attn.qkv.weight" in shapes:
        depth += 1
    if depth == 0:
        raise ShapeError('These weights are not a Point-MAE point transformer: no "blocks.blocks.0.attn.qkv.weight" tensor.')
    mlp_dim = need(f"{block_prefix(0)}.mlp.fc1.weight")[0]
    qkv_bias = f"{block_prefix(0)}.attn.qkv.bias" in shapes
    classes = tuple(shapes["head.weight"])[0] if "head.weight" in shapes else 0
    h = _whole(heads if heads is not None else max(1, dim // 64), "number of attention heads", 1)
    if dim % h:
        raise ShapeError(f"{h} attention heads do not divide the width {dim}.")
    p = _whole(points if points is not None else DEFAULTS["points"], "number of points", 1)
    g = _whole(groups if groups is not None else DEFAULTS["groups"], "number of groups", 1)
    k = _whole(group_size if group_size is not None else DEFAULTS["group_size"], "group size", 1)
    if g > p:
        raise ShapeError(f"{g} groups cannot be chosen from {p} points: use at most {p} groups or more points.")
    if k > p:
        raise ShapeError(f"Groups of {k} points cannot be taken from {p} points: use a group size of at most {p}.")
    if k > MAX_GROUP_SIZE:
        raise ShapeError(f"Groups of {k} points are over the supported {MAX_GROUP_SIZE}.")
    cfg = PointConfig(depth, dim, h, mlp_dim, p, g, k, (c1, c2, c3), position_width, qkv_bias, classes)
    problems = [f'"{n}": expected {fmt(s)}, found {fmt(tuple(shapes[n]) if n in shapes else None)}'
                for n, s in point_shapes(cfg, with_head=True).items() if n not in shapes or tuple(shapes[n]) != s]
    if problems:
        more = f" (and {len(problems) - 6} more)" if len(problems) > 6 else ""
        raise ShapeError(f"These weights do not fit a Point-MAE transformer of width {dim} and depth {depth}: {'; '.join(problems[:6])}{more}.")
    return cfg


def is_running_statistic(name: str) -> bool:
    """BatchNorm's running statistics: part of the backbone, never trained (§4)."""
    return name.endswith((".running_mean", ".running_var"))


def point_decays(name: str, shape: tuple[int, ...]) -> bool:
    """§4's weight-decay rule: trainable tensors with two or more dimensions, except cls_token and cls_pos."""
    return len(shape) >= 2 and name not in ("cls_token", "cls_pos")


class EvalBatchNorm(nn.Module):
    """BatchNorm1d that always normalises with its running statistics (evaluation mode), whatever the module's
    train() state: its weight and bias are parameters, its statistics buffers that never change."""

    def __init__(self, width: int):
        super().__init__()
        self.weight = nn.Parameter(torch.ones(width))
        self.bias = nn.Parameter(torch.zeros(width))
        self.register_buffer("running_mean", torch.zeros(width))
        self.register_buffer("running_var", torch.ones(width))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return F.batch_norm(x, self.running_mean, self.running_var, self.weight, self.bias, training=False, eps=BATCH_NORM_EPS)


def max_first(x: torch.Tensor, dim: int) -> torch.Tensor:
    """The maximum over `dim`, its gradient going to the first position that reaches it (the engine's rule on
    ties; torch.amax would split it between them)."""
    return x.gather(dim, torch.argmax(x, dim=dim, keepdim=True)).squeeze(dim)


def _mini_pointnet(width_in: int, hidden: int, width_out: int) -> nn.Sequential:
    """Conv1d(k=1) → BatchNorm → ReLU → Conv1d(k=1), numbered as Point-MAE numbers them (0, 1, 2, 3)."""
    return nn.Sequential(nn.Conv1d(width_in, hidden, 1), EvalBatchNorm(hidden), nn.ReLU(), nn.Conv1d(hidden, width_out, 1))


class _Encoder(nn.Module):
    def __init__(self, cfg: PointConfig):
        super().__init__()
        c1, c2, c3 = cfg.tokenizer
        self.first_conv = _mini_pointnet(3, c1, c2)
        self.second_conv = _mini_pointnet(2 * c2, c3, cfg.dim)

    def forward(self, neighbourhood: torch.Tensor) -> torch.Tensor:
        """[B, G, K, 3] -> one token per group [B, G, dim]."""
        b, g, k, _ = neighbourhood.shape
        h = self.first_conv(neighbourhood.reshape(b * g, k, 3).transpose(1, 2))  # [BG, c2, K]
        h = torch.cat([max_first(h, 2).unsqueeze(2).expand(-1, -1, k), h], dim=1)  # [global repeated, per point]
        return max_first(self.second_conv(h), 2).reshape(b, g, self.second_conv[3].out_channels)


class _Blocks(nn.Module):
    """Point-MAE's TransformerEncoder: its blocks live under `blocks.blocks.{i}`."""

    def __init__(self, cfg: PointConfig):
        super().__init__()
        self.blocks = nn.ModuleList([Block(cfg.dim, cfg.mlp_dim, LAYER_NORM_EPS, cfg.qkv_bias) for _ in range(cfg.depth)])


class PointTransformer(nn.Module):
    """The backbone without a head: features(points) is [x_cls, max over the G tokens] after the norm, [B, 2·dim]."""

    def __init__(self, cfg: PointConfig):
        super().__init__()
        self.cfg = cfg
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.cls_pos = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.encoder = _Encoder(cfg)
        self.pos_embed = nn.Sequential(nn.Linear(3, cfg.position_width), nn.GELU(), nn.Linear(cfg.position_width, cfg.dim))
        self.blocks = _Blocks(cfg)
        self.norm = nn.LayerNorm(cfg.dim, eps=LAYER_NORM_EPS)

    def features(self, points: torch.Tensor, adapter: LinearAdapter | None = None) -> torch.Tensor:
        cfg = self.cfg
        if points.dim() != 3 or points.shape[2] != 3:
            raise ShapeError(f"The model takes point clouds of shape [N, P, 3]; got {fmt(tuple(points.shape))}.")
        if points.shape[1] < max(cfg.groups, cfg.group_size):
            raise ShapeError(f"Clouds of {points.shape[1]} points are too small for {cfg.groups} groups of {cfg.group_size}: "
                             f"give at least {max(cfg.groups, cfg.group_size)} points per cloud.")
        neighbourhood, centres = group_points(points, cfg.groups, cfg.group_size)
        b = points.shape[0]
        x = torch.cat([self.cls_token.expand(b, -1, -1), self.encoder(neighbourhood)], dim=1)
        pos = torch.cat([self.cls_pos.expand(b, -1, -1), self.pos_embed(centres)], dim=1)
        for i, block in enumerate(self.blocks.blocks):
            x = block.run(i, x + pos, cfg.heads, adapter)
        x = self.norm(x)
        return torch.cat([x[:, 0], max_first(x[:, 1:], 1)], dim=-1)
