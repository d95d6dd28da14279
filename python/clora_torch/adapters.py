"""CLoRA and LoRA branches as PyTorch modules holding their tensors in the native file layout (§2.2), and
SADE from the r x r Gram products (clora-spec §1).

CLoRA, per target j of width a -> b:  Y = X·Wᵀ + bias + s · Σ_h dropout((X·D_h)·Q_h^j) · U_h, with the
banks D [p, a, r] and U [p, r, b] shared by every target of the same widths and p cores Q^j [p, r, r].
LoRA (PEFT layout), per target:       Y = X·Wᵀ + bias + s · dropout(X·Aᵀ) · Bᵀ, A [r, a], B [b, r].
Dropout acts on the r-wide bottleneck in both, in training only (inverted: survivors scaled by 1/(1-p)).
"""

from __future__ import annotations

from dataclasses import dataclass

import torch
import torch.nn as nn

from .settings import AdapterSettings
from .backbone import BackboneConfig

SADE_EPS = 1e-8
_MODULE_OF = {"q": "qkv", "k": "qkv", "v": "qkv", "proj": "proj", "fc1": "fc1", "fc2": "fc2"}


@dataclass(frozen=True)
class Branch:
    """One low-rank module: a target of one block."""

    block: int
    target: str
    module: str  # the timm linear map it adds to: qkv, proj, fc1, fc2
    col_start: int  # first output column of the module that this target owns
    in_width: int
    out_width: int

    @property
    def path(self) -> str:
        """The key path of the target, as the contract's core keys spell it: blocks.{i}.attn.q, blocks.{i}.mlp.fc1."""
        return f"blocks.{self.block}.{'mlp' if self.target in ('fc1', 'fc2') else 'attn'}.{self.target}"


def target_widths(cfg: BackboneConfig, target: str) -> tuple[int, int, int]:
    """(in width, out width, first output column in its module)."""
    d, m = cfg.dim, cfg.mlp_dim
    return {"q": (d, d, 0), "k": (d, d, d), "v": (d, d, 2 * d), "proj": (d, d, 0), "fc1": (d, m, 0), "fc2": (m, d, 0)}[target]


def plan_branches(cfg: BackboneConfig, settings: AdapterSettings) -> list[Branch]:
    """Branches in the engine's core order: target by target (contract order), block by block."""
    if settings.method not in ("clora", "lora"):
        return []
    branches = []
    for target in settings.targets:
        for block in range(cfg.depth):
            a, b, col = target_widths(cfg, target)
            branches.append(Branch(block, target, _MODULE_OF[target], col, a, b))
    return branches


class NativeParameters(nn.Module):
    """Parameters registered under their native file keys (dots become underscores in the module)."""

    def __init__(self) -> None:
        super().__init__()
        self._keys: dict[str, str] = {}

    def add(self, key: str, shape: tuple[int, ...]) -> nn.Parameter:
        param = nn.Parameter(torch.zeros(shape))
        attr = key.replace(".", "_")
        self.register_parameter(attr, param)
        self._keys[key] = attr
        return param

    def native(self) -> dict[str, nn.Parameter]:
        """Native key -> parameter, in file order."""
        return {key: getattr(self, attr) for key, attr in self._keys.items()}


def _dropout(z: torch.Tensor, p: float, generator: torch.Generator | None) -> torch.Tensor:
    keep = torch.rand(z.shape, generator=generator, device=z.device, dtype=z.dtype) >= p
    return z * keep / (1.0 - p)


class _Branches(NativeParameters):
    """What CLoRA and LoRA share: the branch table, the dropout state, adding a target's delta to its columns."""

    def __init__(self, cfg: BackboneConfig, settings: AdapterSettings):
        super().__init__()
        self.cfg, self.settings = cfg, settings
        self.branches = plan_branches(cfg, settings)
        self.by_module: dict[tuple[int, str], list[Branch]] = {}
        for b in self.branches:
            self.by_module.setdefault((b.block, b.module), []).append(b)
        self.dropout_active = False
        self.generator: torch.Generator | None = None

    def adapts(self, block: int, module: str) -> bool:
        return (block, module) in self.by_module

    def bottleneck(self, z: torch.Tensor) -> torch.Tensor:
        p = self.settings.dropout
        return _dropout(z, p, self.generator) if self.dropout_active and p > 0 else z

    def delta(self, branch: Branch, x: torch.Tensor) -> torch.Tensor:
        raise NotImplementedError

    def adapt(self, block: int, module: str, x: torch.Tensor, out: torch.Tensor) -> torch.Tensor:
        branches = self.by_module.get((block, module), [])
        if module != "qkv":
            for b in branches:
                out = out + self.delta(b, x)
            return out
        d = self.cfg.dim
        by_col = {b.col_start: self.delta(b, x) for b in branches}
        pieces = [by_col.get(col, out.new_zeros(out.shape[:-1] + (d,))) for col in (0, d, 2 * d)]
        return out + torch.cat(pieces, dim=-1)


class CloraAdapter(_Branches):
    def __init__(self, cfg: BackboneConfig, settings: AdapterSettings):
        super().__init__(cfg, settings)
        p, r = settings.spaces, settings.rank
        # File order (src/clora/files.ts nativeTensors): down banks, up banks (each in first use), cores.
        for b in self.branches:
            if f"clora.down.{b.in_width}" not in self._keys:
                self.add(f"clora.down.{b.in_width}", (p, b.in_width, r))
        for b in self.branches:
            if f"clora.up.{b.out_width}" not in self._keys:
                self.add(f"clora.up.{b.out_width}", (p, r, b.out_width))
        for b in self.branches:
            self.add(f"clora.core.{b.path}", (p, r, r))

    def parts(self, b: Branch) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        return (getattr(self, f"clora_down_{b.in_width}"), getattr(self, f"clora_core_{b.path.replace('.', '_')}"),
                getattr(self, f"clora_up_{b.out_width}"))

    def delta(self, b: Branch, x: torch.Tensor) -> torch.Tensor:
        down, core, up = self.parts(b)
        p, a, r = down.shape
        z = (x @ down.permute(1, 0, 2).reshape(a, p * r)).unflatten(-1, (p, r))  # X·D_h for every h
        z = torch.einsum("...hr,hrs->...hs", z, core)  # (X·D_h)·Q_h
        z = self.bottleneck(z)
        return self.settings.scale * (z.flatten(-2) @ up.reshape(p * r, up.shape[-1]))  # Σ_h (·)·U_h

    def sade(self) -> torch.Tensor | None:
        """L_SADE: the mean over targets j and pairs h < k of c_hk², c from ⟨M_h, M_k⟩ = tr(Q_hᵀ(D_hᵀD_k)Q_k(U_kU_hᵀ))."""
        p = self.settings.spaces
        if p < 2 or not self.branches:
            return None
        groups: dict[tuple[int, int], list[Branch]] = {}
        for b in self.branches:
            groups.setdefault((b.in_width, b.out_width), []).append(b)
        pairs = torch.triu_indices(p, p, offset=1)
        total = None
        for members in groups.values():
            down, _, up = self.parts(members[0])
            gram_down = torch.einsum("hai,kaj->hkij", down, down)  # D_hᵀ D_k, once per bank
            gram_up = torch.einsum("kib,hjb->khij", up, up)  # U_k U_hᵀ
            cores = torch.stack([self.parts(b)[1] for b in members])  # [m, p, r, r]
            inner = torch.einsum("jhba,hkbc,jkce,khea->jhk", cores, gram_down, cores, gram_up)
            norms = torch.diagonal(inner, dim1=1, dim2=2) + SADE_EPS  # ‖M_h‖² + ε
            cos = inner / torch.sqrt(norms.unsqueeze(2) * norms.unsqueeze(1))
            part = (cos[:, pairs[0], pairs[1]] ** 2).sum()
            total = part if total is None else total + part
        return total / (len(self.branches) * p * (p - 1) / 2)


class LoraAdapter(_Branches):
    def __init__(self, cfg: BackboneConfig, settings: AdapterSettings):
        super().__init__(cfg, settings)
        r = settings.rank
        for b in self.branches:
            self.add(f"lora.A.{b.path}", (r, b.in_width))
            self.add(f"lora.B.{b.path}", (b.out_width, r))

    def delta(self, b: Branch, x: torch.Tensor) -> torch.Tensor:
        key = b.path.replace(".", "_")
        a, bb = getattr(self, f"lora_A_{key}"), getattr(self, f"lora_B_{key}")
        return self.settings.scale * (self.bottleneck(x @ a.t()) @ bb.t())

    def sade(self) -> None:
        return None
