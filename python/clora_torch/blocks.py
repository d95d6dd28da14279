"""The pre-norm transformer block both backbones share (the engine's src/nn/transformer-block.ts): timm's
ViT and Point-MAE's encoder. LayerNorm, multi-head self-attention (qkv with or without bias, proj),
residual; LayerNorm, MLP (fc1, exact GELU, fc2), residual. Each adaptable linear map passes its input and
output through the `adapter` (CLoRA, LoRA), which adds its branch there.

Module names are the checkpoints' own (`norm1`, `attn.qkv`, `attn.proj`, `norm2`, `mlp.fc1`, `mlp.fc2`), so a
state dict loads as it is; what differs between the backbones (LayerNorm eps, qkv bias, where the blocks sit
in the key space) is the caller's.
"""

from __future__ import annotations

from typing import Protocol

import torch
import torch.nn as nn
import torch.nn.functional as F

from .settings import SettingsError


class ShapeError(SettingsError):
    """Weights or files whose shapes do not fit; the message names them."""


def fmt(shape: tuple[int, ...] | None) -> str:
    return "missing" if shape is None else "[" + ", ".join(str(d) for d in shape) + "]"


class LinearAdapter(Protocol):
    def adapts(self, block: int, module: str) -> bool: ...

    def adapt(self, block: int, module: str, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor: ...


class _Attention(nn.Module):
    def __init__(self, dim: int, qkv_bias: bool):
        super().__init__()
        self.qkv = nn.Linear(dim, 3 * dim, bias=qkv_bias)
        self.proj = nn.Linear(dim, dim)


class _Mlp(nn.Module):
    def __init__(self, dim: int, mlp_dim: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, mlp_dim)
        self.fc2 = nn.Linear(mlp_dim, dim)


class Block(nn.Module):
    def __init__(self, dim: int, mlp_dim: int, eps: float, qkv_bias: bool):
        super().__init__()
        self.norm1 = nn.LayerNorm(dim, eps=eps)
        self.attn = _Attention(dim, qkv_bias)
        self.norm2 = nn.LayerNorm(dim, eps=eps)
        self.mlp = _Mlp(dim, mlp_dim)

    def run(self, i: int, x: torch.Tensor, heads: int, adapter: LinearAdapter | None) -> torch.Tensor:
        """Block `i` (its index, which the adapter keys its branches by) on x [B, N, dim]."""
        def lin(module: str, layer: nn.Linear, inp: torch.Tensor) -> torch.Tensor:
            out = F.linear(inp, layer.weight, layer.bias)
            return adapter.adapt(i, module, inp, out) if adapter is not None and adapter.adapts(i, module) else out

        b, n, d = x.shape
        h = self.norm1(x)
        qkv = lin("qkv", self.attn.qkv, h).reshape(b, n, 3, heads, d // heads).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = ((q @ k.transpose(-2, -1)) * (d // heads) ** -0.5).softmax(dim=-1)
        x = x + lin("proj", self.attn.proj, (attn @ v).transpose(1, 2).reshape(b, n, d))
        hidden = F.gelu(lin("fc1", self.mlp.fc1, self.norm2(x)))
        return x + lin("fc2", self.mlp.fc2, hidden)


def block_shapes(prefix: str, dim: int, mlp_dim: int, qkv_bias: bool) -> dict[str, tuple[int, ...]]:
    """Every key of one block under `prefix` (`blocks.3`, `blocks.blocks.3`) and its shape, in state-dict order."""
    d, m = dim, mlp_dim
    shapes: dict[str, tuple[int, ...]] = {f"{prefix}.norm1.weight": (d,), f"{prefix}.norm1.bias": (d,), f"{prefix}.attn.qkv.weight": (3 * d, d)}
    if qkv_bias:
        shapes[f"{prefix}.attn.qkv.bias"] = (3 * d,)
    shapes.update({
        f"{prefix}.attn.proj.weight": (d, d), f"{prefix}.attn.proj.bias": (d,),
        f"{prefix}.norm2.weight": (d,), f"{prefix}.norm2.bias": (d,),
        f"{prefix}.mlp.fc1.weight": (m, d), f"{prefix}.mlp.fc1.bias": (m,),
        f"{prefix}.mlp.fc2.weight": (d, m), f"{prefix}.mlp.fc2.bias": (d,),
    })
    return shapes
