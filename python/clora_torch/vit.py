"""The contract's timm ViT (clora-spec §2.1) as a PyTorch module whose state_dict keys are timm's.

Class token, no register tokens, pre-norm blocks, LayerNorm eps 1e-6, exact (erf) GELU, attention scale
head_dim^-0.5, classifier on the class token after the final norm. The head lives outside (a fine-tuning
method brings its own). Each block's linear maps pass their input and output through an `adapter`
(CLoRA, LoRA) as the engine's LinearAdapter does (src/nn/vit.ts).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Mapping, Protocol

import torch
import torch.nn as nn
import torch.nn.functional as F

from .settings import SettingsError

LAYER_NORM_EPS = 1e-6


class ShapeError(SettingsError):
    """Weights or files whose shapes do not fit; the message names them."""


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


def _fmt(shape: tuple[int, ...] | None) -> str:
    return "missing" if shape is None else "[" + ", ".join(str(d) for d in shape) + "]"


def vit_shapes(cfg: VitConfig, with_head: bool = False) -> dict[str, tuple[int, ...]]:
    """Every timm key of the backbone and its shape, in timm's order (the engine's vitShapes)."""
    d, m = cfg.dim, cfg.mlp_dim
    shapes: dict[str, tuple[int, ...]] = {
        "cls_token": (1, 1, d), "pos_embed": (1, cfg.tokens, d),
        "patch_embed.proj.weight": (d, cfg.channels, cfg.patch, cfg.patch), "patch_embed.proj.bias": (d,),
    }
    for i in range(cfg.depth):
        b = f"blocks.{i}"
        shapes.update({
            f"{b}.norm1.weight": (d,), f"{b}.norm1.bias": (d,),
            f"{b}.attn.qkv.weight": (3 * d, d), f"{b}.attn.qkv.bias": (3 * d,),
            f"{b}.attn.proj.weight": (d, d), f"{b}.attn.proj.bias": (d,),
            f"{b}.norm2.weight": (d,), f"{b}.norm2.bias": (d,),
            f"{b}.mlp.fc1.weight": (m, d), f"{b}.mlp.fc1.bias": (m,),
            f"{b}.mlp.fc2.weight": (d, m), f"{b}.mlp.fc2.bias": (d,),
        })
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


class LinearAdapter(Protocol):
    def adapts(self, block: int, module: str) -> bool: ...

    def adapt(self, block: int, module: str, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor: ...


class _PatchEmbed(nn.Module):
    def __init__(self, cfg: VitConfig):
        super().__init__()
        self.proj = nn.Conv2d(cfg.channels, cfg.dim, cfg.patch, stride=cfg.patch)


class _Attention(nn.Module):
    def __init__(self, cfg: VitConfig):
        super().__init__()
        self.qkv = nn.Linear(cfg.dim, 3 * cfg.dim)
        self.proj = nn.Linear(cfg.dim, cfg.dim)


class _Mlp(nn.Module):
    def __init__(self, cfg: VitConfig):
        super().__init__()
        self.fc1 = nn.Linear(cfg.dim, cfg.mlp_dim)
        self.fc2 = nn.Linear(cfg.mlp_dim, cfg.dim)


class _Block(nn.Module):
    def __init__(self, cfg: VitConfig):
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.dim, eps=LAYER_NORM_EPS)
        self.attn = _Attention(cfg)
        self.norm2 = nn.LayerNorm(cfg.dim, eps=LAYER_NORM_EPS)
        self.mlp = _Mlp(cfg)


class VisionTransformer(nn.Module):
    """The backbone without a head: features(pixels) is the class token after the final norm, [B, dim]."""

    def __init__(self, cfg: VitConfig):
        super().__init__()
        self.cfg = cfg
        self.patch_embed = _PatchEmbed(cfg)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.tokens, cfg.dim))
        self.blocks = nn.ModuleList([_Block(cfg) for _ in range(cfg.depth)])
        self.norm = nn.LayerNorm(cfg.dim, eps=LAYER_NORM_EPS)

    def features(self, pixels: torch.Tensor, adapter: LinearAdapter | None = None) -> torch.Tensor:
        cfg = self.cfg
        if pixels.dim() != 4 or tuple(pixels.shape[1:]) != (cfg.channels, cfg.image_size, cfg.image_size):
            raise ShapeError(f"The model takes images of shape [N, {cfg.channels}, {cfg.image_size}, {cfg.image_size}]; got {_fmt(tuple(pixels.shape))}.")
        x = self.patch_embed.proj(pixels).flatten(2).transpose(1, 2)  # [B, patches, d], row-major patches
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        for i, block in enumerate(self.blocks):
            x = self._block(i, block, x, adapter)
        return self.norm(x)[:, 0]

    def _block(self, i: int, block: _Block, x: torch.Tensor, adapter: LinearAdapter | None) -> torch.Tensor:
        def lin(module: str, layer: nn.Linear, inp: torch.Tensor) -> torch.Tensor:
            out = F.linear(inp, layer.weight, layer.bias)
            return adapter.adapt(i, module, inp, out) if adapter is not None and adapter.adapts(i, module) else out

        b, n, d = x.shape
        heads = self.cfg.heads
        h = block.norm1(x)
        qkv = lin("qkv", block.attn.qkv, h).reshape(b, n, 3, heads, d // heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = ((q @ k.transpose(-2, -1)) * (d // heads) ** -0.5).softmax(dim=-1)
        x = x + lin("proj", block.attn.proj, (attn @ v).transpose(1, 2).reshape(b, n, d))
        hidden = F.gelu(lin("fc1", block.mlp.fc1, block.norm2(x)))
        return x + lin("fc2", block.mlp.fc2, hidden)
