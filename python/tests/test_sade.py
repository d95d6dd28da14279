"""SADE from r x r Gram products (clora-spec §1) equals its definition on the a x b component matrices
M_h = D_h·Q_h·U_h, in float64, for several targets sharing banks; and LoRA's and CLoRA's branches equal
their merged weight updates (the adapted model is the backbone plus s·ΔWᵀ)."""

from __future__ import annotations

import itertools

import torch

from clora_torch.adapters import SADE_EPS, CloraAdapter, LoraAdapter
from clora_torch.settings import AdapterSettings
from clora_torch.vit import VitConfig

CFG = VitConfig(depth=2, dim=12, heads=3, patch=4, image_size=8, channels=3, mlp_dim=20, tokens=5, classes=0)


def randomised(module):
    gen = torch.Generator().manual_seed(1)
    with torch.no_grad():
        for p in module.parameters():
            p.copy_(torch.randn(p.shape, generator=gen, dtype=torch.float64))
    return module


def test_sade_from_grams_equals_the_definition():
    settings = AdapterSettings("clora", rank=3, spaces=4, targets=("q", "v", "fc1", "fc2"))
    adapter = randomised(CloraAdapter(CFG, settings).double())
    squares = []
    for b in adapter.branches:
        down, core, up = adapter.parts(b)
        m = [down[h] @ core[h] @ up[h] for h in range(settings.spaces)]  # a x b, never formed by the method
        for h, k in itertools.combinations(range(settings.spaces), 2):
            inner = (m[h] * m[k]).sum()
            cos = inner / torch.sqrt(((m[h] ** 2).sum() + SADE_EPS) * ((m[k] ** 2).sum() + SADE_EPS))
            squares.append(cos ** 2)
    assert len(squares) == 8 * 6
    assert torch.allclose(adapter.sade(), torch.stack(squares).mean(), rtol=1e-12, atol=0)


def test_no_sade_with_one_space():
    assert CloraAdapter(CFG, AdapterSettings("clora", rank=3, spaces=1)).sade() is None


def test_branches_equal_their_merged_updates():
    x = torch.randn(2, 5, CFG.dim, dtype=torch.float64)
    for adapter in (randomised(CloraAdapter(CFG, AdapterSettings("clora", rank=2, spaces=3, scale=1.5, targets=("k", "proj")))).double(),
                    randomised(LoraAdapter(CFG, AdapterSettings("lora", rank=2, scale=1.5, targets=("k", "proj")))).double()):
        for b in adapter.branches:
            if isinstance(adapter, CloraAdapter):
                down, core, up = adapter.parts(b)
                delta = sum(down[h] @ core[h] @ up[h] for h in range(down.shape[0]))  # a x b
            else:
                key = b.path.replace(".", "_")
                delta = (getattr(adapter, f"lora_B_{key}") @ getattr(adapter, f"lora_A_{key}")).t()
            width = 3 * CFG.dim if b.module == "qkv" else CFG.dim
            out = adapter.adapt(b.block, b.module, x, torch.zeros(2, 5, width, dtype=torch.float64))
            expected = torch.zeros(2, 5, width, dtype=torch.float64)
            expected[..., b.col_start:b.col_start + b.out_width] = 1.5 * x @ delta
            assert torch.allclose(out, expected, rtol=1e-12, atol=1e-12)
