#!/usr/bin/python3
"""Golden fixtures for clora-web's tests, computed with PyTorch.

Run from the repository root with Debian's torch (the `python3` on a pyenv PATH has no torch):

    /usr/bin/python3 tools/make_fixtures.py            # writes tests/fixtures/*.safetensors
    /usr/bin/python3 tools/make_fixtures.py --out DIR  # elsewhere (e.g. to check determinism)
    /usr/bin/python3 tools/make_fixtures.py --only vit_small

Needs only torch and numpy: no timm, no safetensors package. The ViT below is a plain-torch
VisionTransformer with timm's module layout, so `state_dict()` yields timm's key names, and the
safetensors writer is a few lines at the bottom of this file.

Every fixture is computed in float64 from float32-rounded weights and inputs, then stored as F32:
a stored expected value is the exact answer (to ~1e-7 relative) for the stored F32 weights.

Families: one `make_<family>()` per family returning Fixture objects; FAMILIES lists them and main
writes them all. Add a new family by writing its function and appending it to FAMILIES.
Output is deterministic: fixed seeds, one thread, no timestamps; two runs give identical bytes.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import math
import struct
import sys
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Callable

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "tests" / "fixtures"
GENERATOR = "tools/make_fixtures.py"

# Single-threaded BLAS keeps reduction order, and so every float64 result, identical run to run.
torch.set_num_threads(1)


# ---------------------------------------------------------------------------------------------
# safetensors writer (spec §2): u64 LE header length, JSON header padded with spaces to a
# multiple of 8, tensors contiguous in header order.

_DTYPES = {np.dtype("<f4"): "F32", np.dtype("<i4"): "I32", np.dtype("<i8"): "I64"}


def write_safetensors(path: Path, tensors: list[tuple[str, np.ndarray]], metadata: dict[str, str]) -> int:
    """Writes `tensors` in list order; returns the file size in bytes."""
    header: dict[str, object] = {"__metadata__": {str(k): str(v) for k, v in metadata.items()}}
    blobs: list[bytes] = []
    offset = 0
    seen: set[str] = set()
    for name, array in tensors:
        if name in seen or name == "__metadata__":
            raise ValueError(f"duplicate or reserved tensor name {name!r}")
        seen.add(name)
        little = np.ascontiguousarray(array, dtype=np.asarray(array).dtype.newbyteorder("<"))
        dtype = _DTYPES.get(little.dtype)
        if dtype is None:
            raise ValueError(f"{name}: dtype {array.dtype} not supported (store F32, I32 or I64)")
        data = little.tobytes()
        header[name] = {"dtype": dtype, "shape": list(little.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("utf-8")
    text += b" " * (-len(text) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for data in blobs:
            f.write(data)
    return 8 + len(text) + offset


def f32(t: torch.Tensor) -> np.ndarray:
    return t.detach().to(torch.float32).contiguous().numpy()


@dataclass
class Fixture:
    filename: str
    tensors: list[tuple[str, np.ndarray]]
    metadata: dict[str, str]
    summary: str


# ---------------------------------------------------------------------------------------------
# timm-layout VisionTransformer (timm.models.vision_transformer, class token, no register tokens,
# no pre-norm, no layer scale): module names reproduce timm's state_dict keys exactly.


@dataclass(frozen=True)
class VitConfig:
    img: int
    patch: int
    dim: int
    depth: int
    heads: int
    mlp: int
    classes: int

    @property
    def tokens(self) -> int:
        return 1 + (self.img // self.patch) ** 2

    def metadata(self) -> dict[str, str]:
        return {
            "num_heads": str(self.heads),
            "patch_size": str(self.patch),
            "img_size": str(self.img),
            "depth": str(self.depth),
            "embed_dim": str(self.dim),
            "mlp_dim": str(self.mlp),
            "num_classes": str(self.classes),
            "num_tokens": str(self.tokens),
        }


class PatchEmbed(nn.Module):
    def __init__(self, cfg: VitConfig):
        super().__init__()
        self.patch = cfg.patch
        self.proj = nn.Conv2d(3, cfg.dim, cfg.patch, stride=cfg.patch, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(x).flatten(2).transpose(1, 2)  # [B, n, d], patches in row-major order


class Attention(nn.Module):
    def __init__(self, dim: int, heads: int):
        super().__init__()
        self.heads = heads
        self.head_dim = dim // heads
        self.scale = self.head_dim ** -0.5
        self.qkv = nn.Linear(dim, 3 * dim, bias=True)
        self.proj = nn.Linear(dim, dim, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        qkv = self.qkv(x).reshape(b, n, 3, self.heads, self.head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        attn = (q @ k.transpose(-2, -1)) * self.scale
        attn = attn.softmax(dim=-1)
        return self.proj((attn @ v).transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    def __init__(self, dim: int, hidden: int):
        super().__init__()
        self.fc1 = nn.Linear(dim, hidden, bias=True)
        self.fc2 = nn.Linear(hidden, dim, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))  # F.gelu's default is the exact erf form


class Block(nn.Module):
    def __init__(self, cfg: VitConfig):
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.attn = Attention(cfg.dim, cfg.heads)
        self.norm2 = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.mlp = Mlp(cfg.dim, cfg.mlp)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class VisionTransformer(nn.Module):
    def __init__(self, cfg: VitConfig):
        super().__init__()
        if cfg.img % cfg.patch or cfg.dim % cfg.heads:
            raise ValueError(f"bad config {cfg}")
        self.cfg = cfg
        self.patch_embed = PatchEmbed(cfg)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.pos_embed = nn.Parameter(torch.zeros(1, cfg.tokens, cfg.dim))
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.depth)])
        self.norm = nn.LayerNorm(cfg.dim, eps=1e-6)
        self.head = nn.Linear(cfg.dim, cfg.classes, bias=True)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.patch_embed(x)
        x = torch.cat([self.cls_token.expand(x.shape[0], -1, -1), x], dim=1) + self.pos_embed
        for block in self.blocks:
            x = block(x)
        return self.head(self.norm(x)[:, 0])  # classifier on the class token


def timm_keys(cfg: VitConfig) -> list[str]:
    """timm's state_dict key order (parameters of the model itself first, then submodules)."""
    return list(VisionTransformer(cfg).state_dict().keys())


def build_vit(cfg: VitConfig, weights: dict[str, np.ndarray]) -> VisionTransformer:
    """A float64 model holding exactly the given (float32) weights."""
    model = VisionTransformer(cfg).double()
    state = model.state_dict()
    if set(state) != set(weights):
        raise ValueError(f"weights do not match timm keys: {sorted(set(state) ^ set(weights))}")
    model.load_state_dict({k: torch.from_numpy(weights[k].astype(np.float64)) for k in state})
    return model


def cross_check_blocks(model: VisionTransformer, x: torch.Tensor) -> float:
    """Runs the same weights through torch's own pre-norm nn.TransformerEncoderLayer: an independent
    implementation of the block (its in_proj layout [q; k; v] with heads as contiguous Dh chunks is
    timm's qkv layout). Returns the max |difference| of the logits."""
    cfg = model.cfg
    layers = []
    for block in model.blocks:
        layer = nn.TransformerEncoderLayer(cfg.dim, cfg.heads, cfg.mlp, dropout=0.0, activation="gelu",
                                           layer_norm_eps=1e-6, batch_first=True, norm_first=True).double()
        with torch.no_grad():
            layer.self_attn.in_proj_weight.copy_(block.attn.qkv.weight)
            layer.self_attn.in_proj_bias.copy_(block.attn.qkv.bias)
            layer.self_attn.out_proj.weight.copy_(block.attn.proj.weight)
            layer.self_attn.out_proj.bias.copy_(block.attn.proj.bias)
            layer.linear1.load_state_dict(block.mlp.fc1.state_dict())
            layer.linear2.load_state_dict(block.mlp.fc2.state_dict())
            layer.norm1.load_state_dict(block.norm1.state_dict())
            layer.norm2.load_state_dict(block.norm2.state_dict())
        layer.train()  # the training path is the plain composite one (no fused fast path)
        layers.append(layer)
    with torch.no_grad():
        h = model.patch_embed(x)
        h = torch.cat([model.cls_token.expand(x.shape[0], -1, -1), h], dim=1) + model.pos_embed
        for layer in layers:
            h = layer(h)
        other = model.head(model.norm(h)[:, 0])
        return float((other - model(x)).abs().max())


# ---------------------------------------------------------------------------------------------
# Family 1: small random ViTs with gradients (vit_p4_t{tokens}.safetensors)

SMALL_VIT_SEED = 20250101
SMALL_VIT_IMAGES = (8, 12, 16)  # 5, 10 and 17 tokens
SMALL_VIT_BATCH = 2


def small_vit_weights(cfg: VitConfig, gen: torch.Generator) -> dict[str, np.ndarray]:
    """Spread large enough that every path changes the output: matrices N(0, 0.2²), class token and
    position embedding N(0, 0.5²), LayerNorm weights 1 + 0.1·N, every bias 0.1·N. Rounded to f32."""
    weights = {}
    for name, param in VisionTransformer(cfg).state_dict().items():
        noise = torch.randn(param.shape, generator=gen, dtype=torch.float64)
        if name in ("cls_token", "pos_embed"):
            value = 0.5 * noise
        elif name.endswith(".bias"):
            value = 0.1 * noise
        elif param.dim() >= 2:
            value = 0.2 * noise
        else:  # LayerNorm weight
            value = 1.0 + 0.1 * noise
        weights[name] = value.to(torch.float32).numpy()
    return weights


def make_vit_small() -> list[Fixture]:
    fixtures = []
    for img in SMALL_VIT_IMAGES:
        cfg = VitConfig(img=img, patch=4, dim=24, depth=2, heads=3, mlp=96, classes=5)
        seed = SMALL_VIT_SEED + img
        gen = torch.Generator().manual_seed(seed)
        weights = small_vit_weights(cfg, gen)
        pixels32 = torch.randn(SMALL_VIT_BATCH, 3, img, img, generator=gen, dtype=torch.float64).float()
        r32 = torch.randn(SMALL_VIT_BATCH, cfg.classes, generator=gen, dtype=torch.float64).float()

        model = build_vit(cfg, weights)
        pixels = pixels32.double().requires_grad_(True)
        logits = model(pixels)
        loss = (logits * r32.double()).sum()
        names = list(weights)
        params = dict(model.named_parameters())
        grads = torch.autograd.grad(loss, [pixels] + [params[n] for n in names])
        drift = cross_check_blocks(model, pixels.detach())
        if drift > 1e-10:
            raise AssertionError(f"timm block disagrees with nn.TransformerEncoderLayer by {drift}")

        tensors: list[tuple[str, np.ndarray]] = [("input.pixel_values", pixels32.numpy())]
        tensors += [(n, weights[n]) for n in names]
        tensors += [("loss.R", r32.numpy()), ("output.logits", f32(logits)), ("output.loss", f32(loss.reshape(1)))]
        tensors += [("grad.pixel_values", f32(grads[0]))]
        tensors += [(f"grad.{n}", f32(g)) for n, g in zip(names, grads[1:])]
        metadata = {
            **cfg.metadata(),
            "batch": str(SMALL_VIT_BATCH),
            "torch": torch.__version__,
            "seed": str(seed),
            "generator": GENERATOR,
            "loss": "sum(output.logits * loss.R)",
            "compute": "float64 from the stored float32 weights and inputs; stored as float32",
            "init": "matrices N(0,0.2^2); cls_token, pos_embed N(0,0.5^2); LayerNorm weights 1+0.1*N; biases 0.1*N; "
                    "pixel_values and loss.R N(0,1); torch.Generator draws in timm key order, then pixels, then R",
        }
        fixtures.append(Fixture(
            f"vit_p4_t{cfg.tokens}.safetensors", tensors, metadata,
            f"img {img}, {cfg.tokens} tokens, logits std {float(logits.std()):.3f}, loss {float(loss):.4f}, "
            f"|grad pixels| {float(grads[0].norm()):.3f}, vs nn.TransformerEncoderLayer {drift:.1e}"))
    return fixtures


# ---------------------------------------------------------------------------------------------
# Family 2: ViT-Tiny dimensions with weights generated from a seed (vit_tiny_dims.safetensors).
# tests/helpers/seeded-weights.ts is the TypeScript twin of seeded_tensor(): keep them identical.

MULBERRY_STEP = 0x6D2B79F5
SEEDED_RULE = (
    "per tensor: seed = fnv1a32(utf8(name)) XOR base_seed; u_k = k-th output (k = 1, 2, ...) of mulberry32(seed) "
    "(as tests/reference/ops.ts), element k-1 in row-major order; value v = offset + amp*(2*u - 1) in float64, then "
    "rounded to float32; name 'input.*': offset 0, amp sqrt(3); 'cls_token', 'pos_embed': offset 0, amp 1; "
    "'*.bias': offset 0, amp 0.1; other tensors of rank >= 2 (weight matrices, conv kernel): offset 0, "
    "amp sqrt(3 / fan_in) with fan_in = product of shape[1:] (std 1/sqrt(fan_in)); rank-1 weights (LayerNorm): "
    "offset 1, amp 0.25"
)


def fnv1a32(text: str) -> int:
    h = 0x811C9DC5
    for byte in text.encode("utf-8"):
        h = ((h ^ byte) * 0x01000193) & 0xFFFFFFFF
    return h


def mulberry32_uniform(seed: int, count: int) -> np.ndarray:
    """The first `count` outputs of mulberry32(seed), vectorised: the generator is counter-based
    (state k is seed + k·STEP mod 2^32), and every JS int op below wraps mod 2^32 like uint32."""
    k = np.arange(1, count + 1, dtype=np.uint64)
    a = ((np.uint64(seed) + k * np.uint64(MULBERRY_STEP)) & np.uint64(0xFFFFFFFF)).astype(np.uint32)
    u32 = np.uint32
    t = (a ^ (a >> u32(15))) * (a | u32(1))
    t = t ^ (t + (t ^ (t >> u32(7))) * (t | u32(61)))
    t = t ^ (t >> u32(14))
    return t.astype(np.float64) / 4294967296.0


def seeded_rule(name: str, shape: tuple[int, ...]) -> tuple[float, float]:
    """(offset, amp) of SEEDED_RULE."""
    if name.startswith("input."):
        return 0.0, math.sqrt(3.0)
    if name in ("cls_token", "pos_embed"):
        return 0.0, 1.0
    if name.endswith(".bias"):
        return 0.0, 0.1
    if len(shape) >= 2:
        return 0.0, math.sqrt(3.0 / math.prod(shape[1:]))
    return 1.0, 0.25


def seeded_tensor(name: str, shape: tuple[int, ...], base_seed: int) -> np.ndarray:
    u = mulberry32_uniform(fnv1a32(name) ^ base_seed, math.prod(shape))
    offset, amp = seeded_rule(name, shape)
    return (offset + amp * (2.0 * u - 1.0)).astype(np.float32).reshape(shape)


TINY_BASE_SEED = 0xC10BA
TINY_CHECKED = (
    "cls_token", "pos_embed", "patch_embed.proj.weight", "patch_embed.proj.bias", "blocks.0.norm1.weight",
    "blocks.0.attn.qkv.weight", "blocks.0.attn.qkv.bias", "blocks.5.attn.proj.weight", "blocks.11.mlp.fc1.weight",
    "blocks.11.mlp.fc2.weight", "norm.weight", "norm.bias", "head.weight", "head.bias",
)


def make_vit_tiny_dims() -> list[Fixture]:
    cfg = VitConfig(img=224, patch=16, dim=192, depth=12, heads=3, mlp=768, classes=1000)
    shapes = {k: tuple(v.shape) for k, v in VisionTransformer(cfg).state_dict().items()}
    weights = {k: seeded_tensor(k, s, TINY_BASE_SEED) for k, s in shapes.items()}
    pixels = seeded_tensor("input.pixel_values", (1, 3, cfg.img, cfg.img), TINY_BASE_SEED)
    model = build_vit(cfg, weights)
    with torch.no_grad():
        logits = model(torch.from_numpy(pixels.astype(np.float64)))
    std = float(logits.std())
    if not 0.3 < std < 30 or not torch.isfinite(logits).all():
        raise AssertionError(f"ViT-Tiny-dims logits are degenerate (std {std})")
    digest = hashlib.sha256(b"".join(weights[k].astype("<f4").tobytes() for k in shapes)).hexdigest()
    params = sum(w.size for w in weights.values())

    tensors: list[tuple[str, np.ndarray]] = [("input.pixel_values", pixels), ("output.logits", f32(logits))]
    tensors += [(f"check.{k}", weights[k].reshape(-1)[:16]) for k in TINY_CHECKED]
    metadata = {
        **cfg.metadata(),
        "batch": "1",
        "torch": torch.__version__,
        "seed": str(TINY_BASE_SEED),
        "base_seed": str(TINY_BASE_SEED),
        "generator": GENERATOR,
        "weights": "not stored: generated by seededVitWeights(cfg, base_seed) in tests/helpers/seeded-weights.ts "
                   "(tools/make_fixtures.py seeded_tensor in Python); check.<name> = first 16 values of <name>",
        "weights_rule": SEEDED_RULE,
        "weights_sha256": digest,
        "weights_sha256_of": "the little-endian float32 bytes of every weight tensor, concatenated in timm key order",
        "weights_count": str(params),
        "input_rule": "input.pixel_values = seeded tensor 'input.pixel_values' (uniform, std 1)",
        "compute": "float64 from the float32 weights and inputs; stored as float32",
        "logits_std": f"{std:.6f}",
    }
    return [Fixture("vit_tiny_dims.safetensors", tensors, metadata,
                    f"{params} seeded params (not stored), logits std {std:.4f}, mean {float(logits.mean()):.4f}, "
                    f"weights sha256 {digest[:12]}")]


# ---------------------------------------------------------------------------------------------

FAMILIES: dict[str, Callable[[], list[Fixture]]] = {
    "vit_small": make_vit_small,
    "vit_tiny_dims": make_vit_tiny_dims,
}


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default tests/fixtures)")
    parser.add_argument("--only", choices=sorted(FAMILIES), action="append", help="families to write (default all)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    for family in args.only or list(FAMILIES):
        for fixture in FAMILIES[family]():
            size = write_safetensors(args.out / fixture.filename, fixture.tensors, fixture.metadata)
            print(f"{fixture.filename}: {len(fixture.tensors)} tensors, {size} bytes; {fixture.summary}", flush=True)
    print(f"done in {time.perf_counter() - start:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
