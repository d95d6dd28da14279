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


_READ_DTYPES = {"F64": "<f8", "F32": "<f4", "F16": "<f2", "I64": "<i8", "I32": "<i4", "BF16": "<u2"}


def read_safetensors(path: Path) -> tuple[dict[str, np.ndarray], dict[str, str]]:
    """(tensors in header order, metadata). BF16 is widened to F32; other dtypes keep theirs."""
    data = Path(path).read_bytes()
    if len(data) < 8:
        raise ValueError(f"{path}: shorter than the 8-byte header length")
    (length,) = struct.unpack("<Q", data[:8])
    if 8 + length > len(data):
        raise ValueError(f"{path}: header length {length} runs past the end of the file ({len(data)} bytes)")
    header = json.loads(data[8:8 + length].decode("utf-8"))
    metadata = header.pop("__metadata__", None) or {}
    base = 8 + length
    tensors: dict[str, np.ndarray] = {}
    for name, entry in header.items():
        dtype = _READ_DTYPES.get(entry["dtype"])
        if dtype is None:
            raise ValueError(f"{path}: tensor {name!r} has unsupported dtype {entry['dtype']}")
        begin, end = entry["data_offsets"]
        shape = tuple(entry["shape"])
        if base + end > len(data) or end - begin != math.prod(shape) * np.dtype(dtype).itemsize:
            raise ValueError(f"{path}: tensor {name!r} has offsets {begin}..{end} that do not fit shape {shape}")
        array = np.frombuffer(data[base + begin:base + end], dtype=dtype).reshape(shape)
        if entry["dtype"] == "BF16":
            array = (array.astype(np.uint32) << 16).view(np.float32)
        tensors[name] = array.copy()
    return tensors, metadata


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
# Family 3: training references for the exactness contract of spec §3 (train/*.safetensors).
# An independent float64 PyTorch implementation of spec §1 (CLoRA with SADE, LoRA, head, full), of
# AdamW and of the contract's SGD, written from the spec; torch.optim and explicit a×b matrices are
# only used to cross-check it. One set of initial adapters (the `--init` files) and K full-batch steps.

TRAIN_DIR = "train"
TRAIN_SEED = 20250301
TRAIN_BACKBONE_SEED = SMALL_VIT_SEED + 8  # the backbone is vit_p4_t5's, minus its 5-class head
TRAIN_CFG = VitConfig(img=8, patch=4, dim=24, depth=2, heads=3, mlp=96, classes=3)
TRAIN_N = 6
TRAIN_CLASSES = ["cat", "dog", "owl"]
TRAIN_RANK, TRAIN_SPACES, TRAIN_SCALE, TRAIN_SADE = 4, 2, 1.5, 0.25
TRAIN_WD = 0.05
TRAIN_LR = {"adamw": 0.01, "sgd": 0.05}
TRAIN_STEPS = (1, 3)
ADAM_BETAS, ADAM_EPS = (0.9, 0.999), 1e-8
SADE_EPS = 1e-8
ALL_TARGETS = ("q", "k", "v", "proj", "fc1", "fc2")
QV_TARGETS = ("q", "v")
SPACE_CORRELATION = 0.6  # space h = 0.6·space h−1 + 0.8·fresh draw: the components overlap, so SADE bites
NO_DECAY = ("cls_token", "pos_embed")
TRAIN_PATH = "tests/fixtures/train"


def target_spec(target: str, cfg: VitConfig) -> tuple[str, str, int, int, int]:
    """(timm module inside a block, §2.2 key path, in width a, out width b, first row in the module's weight)."""
    d = cfg.dim
    return {
        "q": ("attn.qkv", "attn.q", d, d, 0),
        "k": ("attn.qkv", "attn.k", d, d, d),
        "v": ("attn.qkv", "attn.v", d, d, 2 * d),
        "proj": ("attn.proj", "attn.proj", d, d, 0),
        "fc1": ("mlp.fc1", "mlp.fc1", d, cfg.mlp, 0),
        "fc2": ("mlp.fc2", "mlp.fc2", cfg.mlp, d, 0),
    }[target]


def module_shape(module: str, cfg: VitConfig) -> tuple[int, int]:
    """[out, in] of a block's adaptable timm module."""
    d = cfg.dim
    return {"attn.qkv": (3 * d, d), "attn.proj": (d, d), "mlp.fc1": (cfg.mlp, d), "mlp.fc2": (d, cfg.mlp)}[module]


def adapted_modules(targets: tuple[str, ...], cfg: VitConfig) -> list[str]:
    return [m for m in ("attn.qkv", "attn.proj", "mlp.fc1", "mlp.fc2") if any(target_spec(t, cfg)[0] == m for t in targets)]


class CloraReference:
    """Spec §1 CLoRA on native §2.2 tensors (`params` is shared with the trainer, so updates show)."""

    def __init__(self, params: dict[str, torch.Tensor], cfg: VitConfig, targets: tuple[str, ...], scale: float):
        self.params, self.cfg, self.targets, self.scale = params, cfg, targets, scale

    def parts(self, block: int, target: str) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        _, path, a, b, _ = target_spec(target, self.cfg)
        p = self.params
        return p[f"clora.down.{a}"], p[f"clora.core.blocks.{block}.{path}"], p[f"clora.up.{b}"]

    def target_output(self, block: int, target: str, x: torch.Tensor) -> torch.Tensor:
        """s · Σ_h ((X·D_h)·Q_h)·U_h."""
        down, core, up = self.parts(block, target)
        z = torch.einsum("...a,har->h...r", x, down)
        z = torch.einsum("h...r,hrs->h...s", z, core)
        return self.scale * torch.einsum("h...s,hsb->...b", z, up)

    def target_delta_t(self, block: int, target: str) -> torch.Tensor:
        """s · ΔWᵀ [b, a] with ΔW = Σ_h D_h·Q_h·U_h."""
        down, core, up = self.parts(block, target)
        return self.scale * torch.einsum("har,hrs,hsb->ba", down, core, up)

    def sade(self) -> torch.Tensor:
        """L_SADE from r×r products only; the Gram products of each bank are formed once."""
        grams: dict[str, torch.Tensor] = {}
        for name, tensor in self.params.items():
            if name.startswith("clora.down."):  # G[h, k] = D_hᵀ·D_k
                grams[name] = torch.einsum("har,kas->hkrs", tensor, tensor)
            elif name.startswith("clora.up."):  # G[k, h] = U_k·U_hᵀ
                grams[name] = torch.einsum("krb,hsb->khrs", tensor, tensor)
        terms = []
        for block in range(self.cfg.depth):
            for target in self.targets:
                _, path, a, b, _ = target_spec(target, self.cfg)
                core = self.params[f"clora.core.blocks.{block}.{path}"]
                gd, gu = grams[f"clora.down.{a}"], grams[f"clora.up.{b}"]
                # inner[h, k] = tr(Q_hᵀ · (D_hᵀ D_k) · Q_k · (U_k U_hᵀ))
                inner = torch.einsum("hrs,hkrt,ktu,khus->hk", core, gd, core, gu)
                norms = torch.diagonal(inner) + SADE_EPS
                cos = inner / torch.sqrt(norms[:, None] * norms[None, :])
                h, k = torch.triu_indices(len(norms), len(norms), offset=1)
                terms.append(cos[h, k] ** 2)
        if not terms or terms[0].numel() == 0:
            return torch.zeros((), dtype=core.dtype)
        return torch.cat(terms).mean()

    def sade_from_matrices(self) -> torch.Tensor:
        """The same loss from the explicit a×b components M_h (a cross-check only)."""
        terms = []
        for block in range(self.cfg.depth):
            for target in self.targets:
                down, core, up = self.parts(block, target)
                comps = torch.einsum("har,hrs,hsb->hab", down, core, up)
                p = comps.shape[0]
                for h in range(p):
                    for k in range(h + 1, p):
                        dot = (comps[h] * comps[k]).sum()
                        nh, nk = (comps[h] ** 2).sum() + SADE_EPS, (comps[k] ** 2).sum() + SADE_EPS
                        terms.append((dot / torch.sqrt(nh * nk)) ** 2)
        return torch.stack(terms).mean() if terms else torch.zeros((), dtype=torch.float64)


class LoraReference:
    """Spec §1 LoRA: ΔW = s·B·A in PEFT's [out, in] layout, A [r, a], B [b, r]."""

    def __init__(self, params: dict[str, torch.Tensor], cfg: VitConfig, targets: tuple[str, ...], scale: float):
        self.params, self.cfg, self.targets, self.scale = params, cfg, targets, scale

    def parts(self, block: int, target: str) -> tuple[torch.Tensor, torch.Tensor]:
        path = target_spec(target, self.cfg)[1]
        return self.params[f"lora.A.blocks.{block}.{path}"], self.params[f"lora.B.blocks.{block}.{path}"]

    def target_output(self, block: int, target: str, x: torch.Tensor) -> torch.Tensor:
        lora_a, lora_b = self.parts(block, target)
        return self.scale * ((x @ lora_a.T) @ lora_b.T)

    def target_delta_t(self, block: int, target: str) -> torch.Tensor:
        lora_a, lora_b = self.parts(block, target)
        return self.scale * (lora_b @ lora_a)


def module_extra(adapter, block: int, module: str, x: torch.Tensor, cfg: VitConfig) -> torch.Tensor | None:
    """What the adapter adds to a module's output, each target in its rows (zeros elsewhere)."""
    if adapter is None:
        return None
    targets = [t for t in adapter.targets if target_spec(t, cfg)[0] == module]
    if not targets:
        return None
    if module != "attn.qkv":
        return adapter.target_output(block, targets[0], x)
    return torch.cat([adapter.target_output(block, t, x) if t in targets else x.new_zeros(*x.shape[:-1], cfg.dim)
                      for t in ("q", "k", "v")], dim=-1)


def module_delta_t(adapter, block: int, module: str, cfg: VitConfig) -> torch.Tensor:
    """The module's total s·ΔWᵀ laid out like its weight [out, in]."""
    rows = []
    for target in ALL_TARGETS:
        t_module, _, a, b, row0 = target_spec(target, cfg)
        if t_module == module:
            rows.append((row0, adapter.target_delta_t(block, target) if target in adapter.targets else None, b, a))
    dtype = next(iter(adapter.params.values())).dtype
    return torch.cat([delta if delta is not None else torch.zeros(b, a, dtype=dtype) for _, delta, b, a in rows], dim=0)


def reference_logits(w: dict[str, torch.Tensor], x: torch.Tensor, cfg: VitConfig, adapter=None) -> torch.Tensor:
    """Spec §2.1 ViT written out functionally, with the adapter's additions on the adapted linears."""
    d, heads = cfg.dim, cfg.heads
    head_dim = d // heads

    def linear(block: int, module: str, y: torch.Tensor) -> torch.Tensor:
        out = F.linear(y, w[f"blocks.{block}.{module}.weight"], w[f"blocks.{block}.{module}.bias"])
        extra = module_extra(adapter, block, module, y, cfg)
        return out if extra is None else out + extra

    batch = x.shape[0]
    h = F.conv2d(x, w["patch_embed.proj.weight"], w["patch_embed.proj.bias"], stride=cfg.patch).flatten(2).transpose(1, 2)
    h = torch.cat([w["cls_token"].expand(batch, -1, -1), h], dim=1) + w["pos_embed"]
    tokens = h.shape[1]
    for i in range(cfg.depth):
        b = f"blocks.{i}."
        y = F.layer_norm(h, (d,), w[b + "norm1.weight"], w[b + "norm1.bias"], eps=1e-6)
        qkv = linear(i, "attn.qkv", y).reshape(batch, tokens, 3, heads, head_dim).permute(2, 0, 3, 1, 4)
        q, k, v = qkv.unbind(0)
        att = torch.softmax((q @ k.transpose(-2, -1)) * head_dim ** -0.5, dim=-1)
        h = h + linear(i, "attn.proj", (att @ v).transpose(1, 2).reshape(batch, tokens, d))
        y = F.layer_norm(h, (d,), w[b + "norm2.weight"], w[b + "norm2.bias"], eps=1e-6)
        h = h + linear(i, "mlp.fc2", F.gelu(linear(i, "mlp.fc1", y)))
    h = F.layer_norm(h, (d,), w["norm.weight"], w["norm.bias"], eps=1e-6)
    return F.linear(h[:, 0], w["head.weight"], w["head.bias"])


def cross_entropy(logits: torch.Tensor, labels: torch.Tensor, smoothing: float) -> torch.Tensor:
    """Mean over samples of −Σ_c t_c·log softmax(z)_c with target t = (1 − ε)·onehot(y) + ε/C."""
    classes = logits.shape[1]
    log_p = logits - torch.logsumexp(logits, dim=1, keepdim=True)
    target = F.one_hot(labels, classes).to(logits.dtype) * (1.0 - smoothing) + smoothing / classes
    return -(target * log_p).sum(dim=1).mean()


def decays(name: str, array: np.ndarray, no_decay: tuple[str, ...] = NO_DECAY) -> bool:
    """Spec §1: weight decay on every trainable tensor with ≥ 2 dims except cls_token and pos_embed (§4: cls_pos)."""
    return array.ndim >= 2 and name not in no_decay


@dataclass(frozen=True)
class TrainCase:
    name: str               # file-name stem: expected_{name}_{optimizer}_k{K}
    method: str             # clora | lora | head | full
    init: str               # init file stem under train/
    targets: tuple[str, ...] = ()
    spaces: int = TRAIN_SPACES
    sade_weight: float = TRAIN_SADE
    label_smoothing: float = 0.0


@dataclass
class TrainResult:
    params: dict[str, np.ndarray]  # float64 values after the steps
    losses: list[float]
    first_logits: np.ndarray
    first_ce: float
    first_sade: float


def train_reference(case: TrainCase, init: dict[str, np.ndarray], backbone: dict[str, np.ndarray],
                    data: tuple[np.ndarray, np.ndarray], optimizer: str, steps: int, *, dtype=torch.float64,
                    weight_decay: float = TRAIN_WD, sade_weight: float | None = None,
                    torch_optim: bool = False, zero_key_bias: bool = True, cfg=TRAIN_CFG,
                    forward: Callable = None, no_decay: tuple[str, ...] = NO_DECAY,
                    trains: Callable[[str], bool] = lambda name: True) -> TrainResult:
    """K full-batch steps from `init` (every tensor of the init file that `trains` trains; the backbone and
    the rest are frozen). `cfg` and `forward(weights, inputs, cfg, adapter)` give the backbone: the ViT by
    default; the point family passes its own (and keeps BatchNorm's running statistics out of `trains`).

    `zero_key_bias`: the key slice [d, 2d) of every qkv.bias has an exactly-zero gradient (it adds q·b_k to
    every score of a softmax row, which the softmax ignores), but it comes out as rounding noise, and
    AdamW's first steps turn noise g into lr·g/(|g| + eps), up to ±lr. The reference sets it to exactly 0
    after checking it is noise; an implementation must do the same (only `full` trains that bias)."""
    forward = forward or reference_logits
    lam = case.sade_weight if sade_weight is None else sade_weight
    params = {k: torch.from_numpy(v.astype(np.float64)).to(dtype).requires_grad_(True) for k, v in init.items() if trains(k)}
    weights = {k: torch.from_numpy(v.astype(np.float64)).to(dtype) for k, v in backbone.items() if v.dtype != np.int64}
    weights.update({k: torch.from_numpy(v.astype(np.float64)).to(dtype) for k, v in init.items() if not trains(k)})
    weights.update({k: v for k, v in params.items() if not k.startswith(("clora.", "lora."))})
    adapter = None
    if case.method == "clora":
        adapter = CloraReference(params, cfg, case.targets, TRAIN_SCALE)
    elif case.method == "lora":
        adapter = LoraReference(params, cfg, case.targets, TRAIN_SCALE)
    x = torch.from_numpy(data[0].astype(np.float64)).to(dtype)
    labels = torch.from_numpy(data[1])
    lr = TRAIN_LR[optimizer]
    decay = {k: decays(k, v, no_decay) for k, v in init.items() if trains(k)}
    moments = {k: (torch.zeros_like(p), torch.zeros_like(p)) for k, p in params.items()}
    opt = None
    if torch_optim:
        groups = [{"params": [p for k, p in params.items() if decay[k]], "weight_decay": weight_decay},
                  {"params": [p for k, p in params.items() if not decay[k]], "weight_decay": 0.0}]
        groups = [g for g in groups if g["params"]]
        opt = (torch.optim.AdamW(groups, lr=lr, betas=ADAM_BETAS, eps=ADAM_EPS) if optimizer == "adamw"
               else torch.optim.SGD(groups, lr=lr, momentum=0.0))
    losses: list[float] = []
    first: tuple[np.ndarray, float, float] | None = None
    for step in range(1, steps + 1):
        logits = forward(weights, x, cfg, adapter)
        ce = cross_entropy(logits, labels, case.label_smoothing)
        sade = adapter.sade() if isinstance(adapter, CloraReference) else torch.zeros((), dtype=dtype)
        loss = ce + lam * sade
        losses.append(float(loss))
        if first is None:
            first = (logits.detach().to(torch.float64).numpy(), float(ce), float(sade))
        grads = list(torch.autograd.grad(loss, list(params.values())))
        if zero_key_bias:
            largest = max(float(g.abs().max()) for g in grads)
            for index, name in enumerate(params):
                if name.endswith(".attn.qkv.bias"):
                    noise = float(grads[index][cfg.dim:2 * cfg.dim].abs().max())
                    if noise > 1e-5 * largest:
                        raise AssertionError(f"{name}: key-bias gradient {noise} is not rounding noise")
                    grads[index] = torch.cat([grads[index][:cfg.dim], torch.zeros_like(grads[index][cfg.dim:2 * cfg.dim]),
                                              grads[index][2 * cfg.dim:]])
        with torch.no_grad():
            if opt is not None:
                for p, g in zip(params.values(), grads):
                    p.grad = g
                opt.step()
                continue
            for (name, p), g in zip(params.items(), grads):
                wd = weight_decay if decay[name] else 0.0
                if optimizer == "sgd":
                    p.sub_(lr * (g + wd * p))
                else:  # torch.optim.AdamW: decoupled decay, bias-corrected moments, step t from 1
                    m, v = moments[name]
                    m.mul_(ADAM_BETAS[0]).add_((1 - ADAM_BETAS[0]) * g)
                    v.mul_(ADAM_BETAS[1]).add_((1 - ADAM_BETAS[1]) * g * g)
                    m_hat = m / (1 - ADAM_BETAS[0] ** step)
                    v_hat = v / (1 - ADAM_BETAS[1] ** step)
                    p.mul_(1 - lr * wd)
                    p.sub_(lr * m_hat / (torch.sqrt(v_hat) + ADAM_EPS))
    assert first is not None
    after = {k: p.detach().to(torch.float64).numpy() for k, p in params.items()}
    after.update({k: v.astype(np.float64) for k, v in init.items() if not trains(k)})  # unchanged, still compared
    return TrainResult(after, losses, *first)


def train_backbone() -> dict[str, np.ndarray]:
    """vit_p4_t5's weights, regenerated from its seed, without the 5-class head; checked against the stored file."""
    cfg5 = VitConfig(img=8, patch=4, dim=24, depth=2, heads=3, mlp=96, classes=5)
    weights = small_vit_weights(cfg5, torch.Generator().manual_seed(TRAIN_BACKBONE_SEED))
    backbone = {k: v for k, v in weights.items() if not k.startswith("head.")}
    stored = DEFAULT_OUT / "vit_p4_t5.safetensors"
    if stored.exists():
        tensors, _ = read_safetensors(stored)
        for k, v in backbone.items():
            if tensors[k].tobytes() != v.tobytes():
                raise AssertionError(f"regenerated {k} differs from {stored}")
    return backbone


def train_inits(gen: torch.Generator, backbone: dict[str, np.ndarray]) -> dict[str, list[tuple[str, np.ndarray]]]:
    """Every `--init` file's tensors, in file order. Random and non-zero everywhere (U and LoRA B too)."""
    cfg, r, p = TRAIN_CFG, TRAIN_RANK, TRAIN_SPACES

    def normal(*shape: int) -> torch.Tensor:
        return torch.randn(shape, generator=gen, dtype=torch.float64)

    def uniform(*shape: int) -> torch.Tensor:
        return 2.0 * torch.rand(shape, generator=gen, dtype=torch.float64) - 1.0

    def correlated(draw: Callable[[], torch.Tensor]) -> torch.Tensor:
        spaces = [draw()]
        for _ in range(1, p):
            spaces.append(SPACE_CORRELATION * spaces[-1] + math.sqrt(1 - SPACE_CORRELATION ** 2) * draw())
        return torch.stack(spaces)

    def f32_np(t: torch.Tensor) -> np.ndarray:
        return t.to(torch.float32).numpy()

    head = [("head.weight", f32_np(0.2 * normal(cfg.classes, cfg.dim))), ("head.bias", f32_np(0.1 * normal(cfg.classes)))]
    widths = (cfg.dim, cfg.mlp)
    down = {a: f32_np(correlated(lambda: uniform(a, r) / math.sqrt(a))) for a in widths}
    up = {b: f32_np(correlated(lambda: 0.1 * normal(r, b))) for b in widths}
    cores = {(i, t): f32_np(torch.eye(r, dtype=torch.float64) + 0.3 * normal(p, r, r))
             for i in range(cfg.depth) for t in ALL_TARGETS}
    lora = {}
    for i in range(cfg.depth):
        for t in ALL_TARGETS:
            _, _, a, b, _ = target_spec(t, cfg)
            lora[(i, t)] = (f32_np(uniform(r, a) / math.sqrt(a)), f32_np(0.1 * normal(b, r)))

    def clora_file(targets: tuple[str, ...], spaces: int) -> list[tuple[str, np.ndarray]]:
        ins = sorted({target_spec(t, cfg)[2] for t in targets})
        outs = sorted({target_spec(t, cfg)[3] for t in targets})
        tensors = [(f"clora.down.{a}", down[a][:spaces]) for a in ins] + [(f"clora.up.{b}", up[b][:spaces]) for b in outs]
        tensors += [(f"clora.core.blocks.{i}.{target_spec(t, cfg)[1]}", cores[(i, t)][:spaces])
                    for i in range(cfg.depth) for t in targets]
        return tensors + head

    def lora_file(targets: tuple[str, ...]) -> list[tuple[str, np.ndarray]]:
        tensors = []
        for i in range(cfg.depth):
            for t in targets:
                path = target_spec(t, cfg)[1]
                tensors += [(f"lora.A.blocks.{i}.{path}", lora[(i, t)][0]), (f"lora.B.blocks.{i}.{path}", lora[(i, t)][1])]
        return tensors + head

    return {
        "init_clora": clora_file(QV_TARGETS, p),
        "init_clora_all": clora_file(ALL_TARGETS, p),
        "init_clora_p1": clora_file(QV_TARGETS, 1),
        "init_lora": lora_file(QV_TARGETS),
        "init_lora_all": lora_file(ALL_TARGETS),
        "init_head": list(head),
        "init_full": [(k, v) for k, v in backbone.items()] + head,
    }


TRAIN_CASES = (
    TrainCase("clora", "clora", "init_clora", QV_TARGETS),
    TrainCase("clora_all", "clora", "init_clora_all", ALL_TARGETS),
    TrainCase("lora", "lora", "init_lora", QV_TARGETS),
    TrainCase("lora_all", "lora", "init_lora_all", ALL_TARGETS),
    TrainCase("head", "head", "init_head"),
    TrainCase("full", "full", "init_full"),
)
TRAIN_EXTRA_CASES = (  # (case, optimizer, steps)
    (TrainCase("clora_ls", "clora", "init_clora", QV_TARGETS, label_smoothing=0.1), "adamw", 3),
    (TrainCase("clora_p1", "clora", "init_clora_p1", QV_TARGETS, spaces=1), "adamw", 1),
)


def num(x: float) -> str:
    return f"{x:g}"  # 0.01, 1.5, 0, 1e-08: what a user would type


def method_settings(case: TrainCase) -> dict[str, str]:
    """The method's own options (those the CLI takes), as strings."""
    if case.method == "clora":
        return {"rank": str(TRAIN_RANK), "spaces": str(case.spaces), "scale": num(TRAIN_SCALE),
                "targets": ",".join(case.targets), "sade_weight": num(case.sade_weight), "dropout": "0"}
    if case.method == "lora":
        return {"rank": str(TRAIN_RANK), "scale": num(TRAIN_SCALE), "targets": ",".join(case.targets), "dropout": "0"}
    return {}


def train_command(case: TrainCase, optimizer: str, steps: int) -> str:
    settings = method_settings(case)
    options = [f"--{k.replace('_', '-')} {settings[k]}" for k in ("rank", "spaces", "targets", "scale", "sade_weight", "dropout")
               if k in settings]
    return (f"npm run clora -- train --model {TRAIN_PATH}/backbone.safetensors --data {TRAIN_PATH}/data.safetensors "
            f"--init {TRAIN_PATH}/{case.init}.safetensors --method {case.method} {' '.join(options)} "
            f"--steps {steps} --batch-size {TRAIN_N} --no-shuffle --optimizer {optimizer} --lr {num(TRAIN_LR[optimizer])} "
            f"--weight-decay {num(TRAIN_WD)} --warmup 0 --label-smoothing {num(case.label_smoothing)} --out OUT.safetensors"
            ).replace("  ", " ")


def max_change(after: dict[str, np.ndarray], init: dict[str, np.ndarray]) -> float:
    return max(float(np.abs(after[k].astype(np.float64) - init[k].astype(np.float64)).max()) for k in init)


def max_diff(a: dict[str, np.ndarray], b: dict[str, np.ndarray]) -> float:
    return max(float(np.abs(a[k].astype(np.float64) - b[k].astype(np.float64)).max()) for k in a)


def rounded(params: dict[str, np.ndarray]) -> dict[str, np.ndarray]:
    return {k: v.astype(np.float32) for k, v in params.items()}


def make_train() -> list[Fixture]:
    cfg = TRAIN_CFG
    gen = torch.Generator().manual_seed(TRAIN_SEED)
    pixels = torch.randn(TRAIN_N, 3, cfg.img, cfg.img, generator=gen, dtype=torch.float64).float().numpy()
    labels = (torch.randperm(TRAIN_N, generator=gen) % cfg.classes).numpy().astype(np.int64)
    data = (pixels, labels)
    backbone = train_backbone()
    inits = train_inits(gen, backbone)
    init_maps = {name: dict(tensors) for name, tensors in inits.items()}
    common = {"generator": GENERATOR, "torch": torch.__version__, "seed": str(TRAIN_SEED)}
    classes_json = json.dumps(TRAIN_CLASSES)
    fixtures: list[Fixture] = []

    backbone_meta = {k: v for k, v in cfg.metadata().items() if k != "num_classes"}
    fixtures.append(Fixture(
        f"{TRAIN_DIR}/backbone.safetensors", list(backbone.items()),
        {**backbone_meta, **common, "seed": str(TRAIN_BACKBONE_SEED),
         "source": "the timm keys of vit_p4_t5.safetensors without its head (regenerated from the same seed, checked equal)"},
        f"{sum(v.size for v in backbone.values())} params, no head"))
    fixtures.append(Fixture(
        f"{TRAIN_DIR}/data.safetensors", [("pixel_values", pixels), ("labels", labels)],
        {**common, "classes": classes_json, "num_classes": str(cfg.classes),
         "rule": "pixel_values N(0,1) rounded to f32; labels = randperm(6) % 3 (same torch.Generator, after the pixels)"},
        f"{TRAIN_N} samples, labels {labels.tolist()}"))

    # Cross-checks of the reference itself (not stored): the functional forward against the nn.Module
    # ViT, the adapter path against merged weights, SADE's trace form against explicit a×b matrices.
    x64 = torch.from_numpy(pixels.astype(np.float64))
    w64 = {k: torch.from_numpy(v.astype(np.float64)) for k, v in {**backbone, **init_maps["init_head"]}.items()}
    with torch.no_grad():
        drift = float((reference_logits(w64, x64, cfg) - build_vit(cfg, {k: v.numpy().astype(np.float32) for k, v in w64.items()})(x64)).abs().max())
    if drift > 1e-12:
        raise AssertionError(f"functional ViT disagrees with the module ViT by {drift}")
    init_meta_base = {"format_version": "1", "classes": classes_json, "base_model": f"{TRAIN_PATH}/backbone.safetensors",
                      "img_size": str(cfg.img), "num_heads": str(cfg.heads), **common}
    peft_refs = {}
    for init_name, method, targets in (("init_clora_all", "clora", ALL_TARGETS), ("init_lora_all", "lora", ALL_TARGETS),
                                       ("init_clora", "clora", QV_TARGETS)):
        params = {k: torch.from_numpy(v.astype(np.float64)) for k, v in init_maps[init_name].items()}
        ref_cls = CloraReference if method == "clora" else LoraReference
        adapter = ref_cls(params, cfg, targets, TRAIN_SCALE)
        weights = {**w64, **{k: v for k, v in params.items() if k.startswith("head.")}}
        with torch.no_grad():
            logits = reference_logits(weights, x64, cfg, adapter)
            deltas = {f"blocks.{i}.{m}": module_delta_t(adapter, i, m, cfg)
                      for i in range(cfg.depth) for m in adapted_modules(targets, cfg)}
            merged = dict(weights)
            for name, delta in deltas.items():
                merged[f"{name}.weight"] = merged[f"{name}.weight"] + delta
            merge_drift = float((reference_logits(merged, x64, cfg) - logits).abs().max())
            if merge_drift > 1e-12:
                raise AssertionError(f"{init_name}: adapter forward and merged weights disagree by {merge_drift}")
            if method == "clora":
                sade_drift = abs(float(adapter.sade()) - float(adapter.sade_from_matrices()))
                if sade_drift > 1e-14:
                    raise AssertionError(f"{init_name}: SADE trace form and explicit matrices disagree by {sade_drift}")
        peft_refs[init_name] = (logits, deltas, merge_drift)
    ce_drift = abs(float(cross_entropy(peft_refs["init_clora"][0], torch.from_numpy(labels), 0.1))
                   - float(F.cross_entropy(peft_refs["init_clora"][0], torch.from_numpy(labels), label_smoothing=0.1)))
    if ce_drift > 1e-14:
        raise AssertionError(f"cross-entropy disagrees with F.cross_entropy by {ce_drift}")

    for init_name, tensors in inits.items():
        method = init_name.removeprefix("init_").split("_")[0]
        meta: dict[str, str] = {"format": method, **init_meta_base}
        if method == "clora":
            case = next(c for c in TRAIN_CASES + tuple(c for c, _, _ in TRAIN_EXTRA_CASES) if c.init == init_name)
            meta.update({k: v for k, v in method_settings(case).items() if k != "dropout"})
        elif method == "lora":
            case = next(c for c in TRAIN_CASES if c.init == init_name)
            meta.update({k: v for k, v in method_settings(case).items() if k != "dropout"})
        elif method == "full":
            meta.update(cfg.metadata())
            del meta["base_model"]  # a whole model, not an adapter on one
        meta["init_rule"] = (
            "torch.Generator(seed) after data: head.weight 0.2*N, head.bias 0.1*N; per width (24, 96): down bank "
            "U(-1,1)/sqrt(a), up bank 0.1*N, space h = 0.6*space(h-1) + 0.8*fresh; cores I + 0.3*N per block and "
            "target (q,k,v,proj,fc1,fc2); lora A U(-1,1)/sqrt(a), B 0.1*N per block and target; q,v files are "
            "subsets of the all-target files, the p=1 file is space 0 of init_clora; full = backbone + the same head")
        fixtures.append(Fixture(f"{TRAIN_DIR}/{init_name}.safetensors", tensors, meta,
                                f"{len(tensors)} tensors, {sum(v.size for _, v in tensors)} values"))

    for init_name in ("init_clora_all", "init_lora_all"):
        logits, deltas, merge_drift = peft_refs[init_name]
        targets_meta = ",".join(ALL_TARGETS)
        fixtures.append(Fixture(
            f"{TRAIN_DIR}/peft_expected_{init_name.removeprefix('init_')}.safetensors",
            [(f"delta.{k}", f32(v)) for k, v in deltas.items()] + [("logits", f32(logits))],
            {**common, "model": f"{TRAIN_PATH}/backbone.safetensors", "data": f"{TRAIN_PATH}/data.safetensors",
             "adapter": f"{TRAIN_PATH}/{init_name}.safetensors", "targets": targets_meta, "scale": num(TRAIN_SCALE),
             "delta": "delta.blocks.{i}.<module> = the module's total s*dW^T [out, in] (qkv: q, k, v targets in rows "
                      "[0,d), [d,2d), [2d,3d)); logits = backbone + adapter on data.pixel_values, eval mode",
             "check": "tools/check_peft_export.py DIR --reference this file"},
            f"logits {np.round(f32(logits)[0], 4).tolist()}..., adapter vs merged {merge_drift:.1e}"))

    runs = [(case, opt, k) for case in TRAIN_CASES for opt in ("adamw", "sgd") for k in TRAIN_STEPS] + list(TRAIN_EXTRA_CASES)
    for case, optimizer, steps in runs:
        init = init_maps[case.init]
        ref = train_reference(case, init, backbone, data, optimizer, steps)
        stored = rounded(ref.params)
        # torch.optim on the same gradients must land on the same values.
        check = train_reference(case, init, backbone, data, optimizer, steps, torch_optim=True)
        optim_drift = max_diff(ref.params, check.params)
        if optim_drift > 1e-12:
            raise AssertionError(f"{case.name}/{optimizer}: hand-written optimizer and torch.optim differ by {optim_drift}")
        change = max_change(stored, init)
        # How far a float32 implementation lands (torch float32, same code), and what SADE and weight
        # decay each move: all as fractions of the largest change; the contract's tolerance is 1e-4.
        emulated = train_reference(case, init, backbone, data, optimizer, steps, dtype=torch.float32)
        f32_ratio = max_diff(rounded(emulated.params), stored) / change
        wd_ratio = max_diff(rounded(train_reference(case, init, backbone, data, optimizer, steps, weight_decay=0.0).params),
                            stored) / change
        sade_note = ""
        if case.method == "full":
            raw = train_reference(case, init, backbone, data, optimizer, steps, dtype=torch.float32, zero_key_bias=False)
            sade_note = f", float32 torch without the key-bias zeroing {max_diff(rounded(raw.params), stored) / change:.1e}"
        if case.method == "clora" and case.spaces > 1:
            no_sade = train_reference(case, init, backbone, data, optimizer, steps, sade_weight=0.0)
            sade_note = f", SADE moves {max_diff(rounded(no_sade.params), stored) / change:.2e}"
        tensors = [(k, stored[k]) for k in init]
        tensors += [("loss.first", np.array([ref.losses[0]], np.float32)), ("loss.steps", np.array(ref.losses, np.float32)),
                    ("logits.first", ref.first_logits.astype(np.float32))]
        if case.method == "clora":
            tensors.append(("loss.sade.first", np.array([ref.first_sade], np.float32)))
        meta = {
            "method": case.method, "optimizer": optimizer, "lr": num(TRAIN_LR[optimizer]), "weight_decay": num(TRAIN_WD),
            "steps": str(steps), "batch_size": str(TRAIN_N), "warmup": "0", "shuffle": "false",
            "label_smoothing": num(case.label_smoothing), **method_settings(case),
            "init": f"{TRAIN_PATH}/{case.init}.safetensors", "model": f"{TRAIN_PATH}/backbone.safetensors",
            "data": f"{TRAIN_PATH}/data.safetensors", "command": train_command(case, optimizer, steps),
            "decay": "tensors with >= 2 dims except cls_token, pos_embed",
            "loss": "mean cross-entropy (target (1-ls)*onehot + ls/C)" + (" + sade_weight * L_SADE" if case.method == "clora" else ""),
            "max_abs_change": f"{change:.9g}", "tolerance": f"{1e-4 * change:.9g}",
            "float32_torch_error": f"{f32_ratio:.3g} of max_abs_change",
            "compute": "float64 from the float32 init, backbone and data; stored as float32", **common,
        }
        if optimizer == "adamw":
            meta.update({"betas": f"{num(ADAM_BETAS[0])},{num(ADAM_BETAS[1])}", "eps": num(ADAM_EPS)})
        fixtures.append(Fixture(
            f"{TRAIN_DIR}/expected_{case.name}_{optimizer}_k{steps}.safetensors", tensors, meta,
            f"loss.first {ref.losses[0]:.6f}" + (f" (sade {ref.first_sade:.5f})" if case.method == "clora" else "")
            + f", last {ref.losses[-1]:.6f}, max change {change:.3e}, float32 torch {f32_ratio:.1e}, "
            f"decay moves {wd_ratio:.2e}{sade_note}, vs torch.optim {optim_drift:.0e}"))
    return fixtures


# ---------------------------------------------------------------------------------------------
# Family 4: the exactness contract on a point backbone (spec §4: "the exactness contract of section 3 holds for
# point backbones unchanged"), train_points/*.safetensors. The same reference trainer, CLoRA, LoRA and
# optimizers as family 3, on a functional Point-MAE forward written here, cross-checked against the nn.Module
# of tools/make_point_fixtures.py. Every method, both optimizers, K = 2 steps.

POINTS_DIR = "train_points"
POINTS_PATH = "tests/fixtures/train_points"
POINTS_SEED = 20250501
POINTS_N = 6
POINTS_STEPS = (2,)
POINT_NO_DECAY = ("cls_token", "cls_pos")


def point_config():
    import make_point_fixtures as mpf
    return mpf.PointConfig(dim=24, depth=2, heads=3, mlp=48, tokenizer=(16, 24, 40), position=16, points=48, groups=8,
                           group_size=8, classes=3)


def reference_point_logits(w: dict[str, torch.Tensor], points: torch.Tensor, cfg, adapter=None) -> torch.Tensor:
    """Spec §4 written out functionally (conv1d and batch_norm in eval mode, not the modules), with the
    adapter's additions on the adapted linears of the blocks."""
    import make_point_fixtures as mpf
    neighbourhood, centres, *_ = mpf.group(points.detach().to(torch.float64), cfg)
    neighbourhood, centres = neighbourhood.to(points.dtype), centres.to(points.dtype)
    b, g, k, _ = neighbourhood.shape
    d, heads = cfg.dim, cfg.heads

    def conv(x: torch.Tensor, name: str) -> torch.Tensor:
        return F.conv1d(x, w[f"{name}.weight"], w[f"{name}.bias"])

    def bn(x: torch.Tensor, name: str) -> torch.Tensor:
        return F.batch_norm(x, w[f"{name}.running_mean"], w[f"{name}.running_var"], w[f"{name}.weight"], w[f"{name}.bias"],
                            training=False, eps=1e-5)

    f = neighbourhood.reshape(b * g, k, 3).transpose(1, 2)
    f = conv(F.relu(bn(conv(f, "encoder.first_conv.0"), "encoder.first_conv.1")), "encoder.first_conv.3")
    f = torch.cat([f.max(dim=2, keepdim=True)[0].expand(-1, -1, k), f], dim=1)
    f = conv(F.relu(bn(conv(f, "encoder.second_conv.0"), "encoder.second_conv.1")), "encoder.second_conv.3")
    tokens = f.max(dim=2)[0].reshape(b, g, d)
    pos = F.linear(F.gelu(F.linear(centres, w["pos_embed.0.weight"], w["pos_embed.0.bias"])), w["pos_embed.2.weight"], w["pos_embed.2.bias"])
    h = torch.cat([w["cls_token"].expand(b, -1, -1), tokens], dim=1)
    pos = torch.cat([w["cls_pos"].expand(b, -1, -1), pos], dim=1)

    def linear(block: int, module: str, y: torch.Tensor) -> torch.Tensor:
        out = F.linear(y, w[f"blocks.blocks.{block}.{module}.weight"], w.get(f"blocks.blocks.{block}.{module}.bias"))
        extra = module_extra(adapter, block, module, y, cfg)
        return out if extra is None else out + extra

    n = h.shape[1]
    for i in range(cfg.depth):
        pre = f"blocks.blocks.{i}."
        h = h + pos
        y = F.layer_norm(h, (d,), w[pre + "norm1.weight"], w[pre + "norm1.bias"], eps=1e-5)
        q, kk, v = linear(i, "attn.qkv", y).reshape(b, n, 3, heads, d // heads).permute(2, 0, 3, 1, 4).unbind(0)
        att = torch.softmax((q @ kk.transpose(-2, -1)) * (d // heads) ** -0.5, dim=-1)
        h = h + linear(i, "attn.proj", (att @ v).transpose(1, 2).reshape(b, n, d))
        y = F.layer_norm(h, (d,), w[pre + "norm2.weight"], w[pre + "norm2.bias"], eps=1e-5)
        h = h + linear(i, "mlp.fc2", F.gelu(linear(i, "mlp.fc1", y)))
    h = F.layer_norm(h, (d,), w["norm.weight"], w["norm.bias"], eps=1e-5)
    return F.linear(torch.cat([h[:, 0], h[:, 1:].max(dim=1)[0]], dim=-1), w["head.weight"], w["head.bias"])


POINT_CASES = (
    TrainCase("clora", "clora", "init_clora", QV_TARGETS),
    TrainCase("lora", "lora", "init_lora", QV_TARGETS),
    TrainCase("head", "head", "init_head"),
    TrainCase("full", "full", "init_full"),
)


def point_train_command(case: TrainCase, optimizer: str, steps: int) -> str:
    return train_command(case, optimizer, steps).replace(TRAIN_PATH + "/", POINTS_PATH + "/")


class NearTie(Exception):
    """A float32 run of the reference lands too far from the float64 one for this draw (an AdamW update of a
    gradient near zero, a max-pool near-tie): the contract's tolerance would be too tight for any float32
    engine, so the draw is not used."""


def make_train_points() -> list[Fixture]:
    """The first seed from POINTS_SEED whose grouping has clear margins and where a float32 run of the
    reference stays within 2e-5 of the largest change (a fifth of the contract's tolerance) in every case."""
    for tries in range(20):
        try:
            return train_points_fixtures(POINTS_SEED + tries)
        except NearTie as reason:
            print(f"train_points: seed {POINTS_SEED + tries} skipped: {reason}", flush=True)
    raise AssertionError("no seed gave point fixtures a float32 engine can match")


def train_points_fixtures(seed: int) -> list[Fixture]:
    import make_point_fixtures as mpf
    cfg = point_config()
    common = {"generator": GENERATOR, "torch": torch.__version__, "seed": str(seed)}
    gen = torch.Generator().manual_seed(seed)
    weights = mpf.random_weights(cfg, gen)
    points = torch.randn(POINTS_N, cfg.points, 3, generator=gen, dtype=torch.float64).float()
    points = points / points.norm(dim=-1).max()  # centred-ish clouds inside the unit sphere, as §4 asks
    *_, margin = mpf.group(points.double(), cfg)
    if margin < mpf.MARGIN:
        raise NearTie(f"grouping margin {margin:.1e}")
    labels = (torch.randperm(POINTS_N, generator=gen) % cfg.classes).numpy().astype(np.int64)
    backbone = {k: v for k, v in weights.items() if not k.startswith("head.")}
    data = (points.numpy(), labels)

    # The functional forward against the nn.Module of make_point_fixtures.py, on the same weights.
    head = {"head.weight": (0.2 * torch.randn(cfg.classes, 2 * cfg.dim, generator=gen, dtype=torch.float64)).float().numpy(),
            "head.bias": (0.1 * torch.randn(cfg.classes, generator=gen, dtype=torch.float64)).float().numpy()}
    module = mpf.build(cfg, {**backbone, **head})
    w64 = {k: torch.from_numpy(np.asarray(v).astype(np.float64)) for k, v in {**backbone, **head}.items() if v.dtype != np.int64}
    x64 = torch.from_numpy(points.numpy().astype(np.float64))
    with torch.no_grad():
        hood, centres, *_ = mpf.group(x64, cfg)
        drift = float((reference_point_logits(w64, x64, cfg) - module(hood, centres)).abs().max())
    if drift > 1e-12:
        raise AssertionError(f"functional point model disagrees with the module by {drift}")

    # Initial adapters, random and non-zero everywhere, as family 3 draws them (widths 24 and 48 here).
    r, p = TRAIN_RANK, TRAIN_SPACES
    def f32_np(t: torch.Tensor) -> np.ndarray:
        return t.to(torch.float32).numpy()
    def correlated(draw: Callable[[], torch.Tensor]) -> torch.Tensor:
        spaces = [draw()]
        for _ in range(1, p):
            spaces.append(SPACE_CORRELATION * spaces[-1] + math.sqrt(1 - SPACE_CORRELATION ** 2) * draw())
        return torch.stack(spaces)
    head_tensors = [("head.weight", head["head.weight"]), ("head.bias", head["head.bias"])]
    d = cfg.dim
    down = f32_np(correlated(lambda: (2.0 * torch.rand(d, r, generator=gen, dtype=torch.float64) - 1.0) / math.sqrt(d)))
    up = f32_np(correlated(lambda: 0.1 * torch.randn(r, d, generator=gen, dtype=torch.float64)))
    clora = [("clora.down.24", down), ("clora.up.24", up)]
    lora = []
    for i in range(cfg.depth):
        for t in QV_TARGETS:
            clora.append((f"clora.core.blocks.{i}.attn.{t}", f32_np(torch.eye(r, dtype=torch.float64) + 0.3 * torch.randn(p, r, r, generator=gen, dtype=torch.float64))))
            lora += [(f"lora.A.blocks.{i}.attn.{t}", f32_np((2.0 * torch.rand(r, d, generator=gen, dtype=torch.float64) - 1.0) / math.sqrt(d))),
                     (f"lora.B.blocks.{i}.attn.{t}", f32_np(0.1 * torch.randn(d, r, generator=gen, dtype=torch.float64)))]
    inits = {
        "init_clora": clora + head_tensors,
        "init_lora": lora + head_tensors,
        "init_head": list(head_tensors),
        # A whole backbone (BatchNorm statistics included, as the engine writes `full` files) + the head.
        "init_full": [(k, v) for k, v in backbone.items() if v.dtype != np.int64] + head_tensors,
    }
    init_maps = {name: dict(tensors) for name, tensors in inits.items()}
    point_meta = {"num_heads": str(cfg.heads), "num_points": str(cfg.points), "num_groups": str(cfg.groups), "group_size": str(cfg.group_size)}
    classes_json = json.dumps(TRAIN_CLASSES)
    fixtures = [
        Fixture(f"{POINTS_DIR}/backbone.safetensors", list(backbone.items()),
                {**point_meta, **common, "source": "tools/make_point_fixtures.py random_weights (Point-MAE keys, "
                 "num_batches_tracked I64), no head; d 24, depth 2, tokenizer 16/24/40, position 16, no qkv bias"},
                f"{sum(v.size for v in backbone.values())} values, grouping margin {margin:.1e}, functional vs module {drift:.1e}"),
        Fixture(f"{POINTS_DIR}/data.safetensors", [("points", points.numpy()), ("labels", labels)],
                {**common, "classes": classes_json, "rule": "points N(0,1) [6,48,3] scaled into the unit sphere, rounded to f32; "
                 "labels randperm(6) % 3"}, f"{POINTS_N} clouds of {cfg.points} points, labels {labels.tolist()}"),
    ]
    for name, tensors in inits.items():
        method = name.removeprefix("init_")
        meta = {"format": method, "format_version": "1", "classes": classes_json, **common}
        case = next(c for c in POINT_CASES if c.init == name)
        meta.update({k: v for k, v in method_settings(case).items() if k != "dropout"})
        if method == "full":
            meta.update(point_meta)
        else:
            meta["base_model"] = f"{POINTS_PATH}/backbone.safetensors"
        fixtures.append(Fixture(f"{POINTS_DIR}/{name}.safetensors", tensors, meta, f"{len(tensors)} tensors"))

    trains = lambda name: not name.endswith(("running_mean", "running_var"))  # noqa: E731
    kwargs = dict(cfg=cfg, forward=reference_point_logits, no_decay=POINT_NO_DECAY, trains=trains)
    for case in POINT_CASES:
        for optimizer in ("adamw", "sgd"):
            for steps in POINTS_STEPS:
                init = init_maps[case.init]
                ref = train_reference(case, init, backbone, data, optimizer, steps, **kwargs)
                stored = rounded(ref.params)
                check = train_reference(case, init, backbone, data, optimizer, steps, torch_optim=True, **kwargs)
                optim_drift = max_diff(ref.params, check.params)
                if optim_drift > 1e-12:
                    raise AssertionError(f"points {case.name}/{optimizer}: hand-written optimizer and torch.optim differ by {optim_drift}")
                change = max_change(stored, init)
                emulated = train_reference(case, init, backbone, data, optimizer, steps, dtype=torch.float32, **kwargs)
                f32_ratio = max_diff(rounded(emulated.params), stored) / change
                if f32_ratio > 2e-5:
                    raise NearTie(f"{case.name}/{optimizer}: float32 torch lands {f32_ratio:.1e} of the largest change away")
                tensors = [(k, stored[k]) for k in init]
                tensors += [("loss.first", np.array([ref.losses[0]], np.float32)), ("loss.steps", np.array(ref.losses, np.float32)),
                            ("logits.first", ref.first_logits.astype(np.float32))]
                meta = {
                    "method": case.method, "optimizer": optimizer, "lr": num(TRAIN_LR[optimizer]), "weight_decay": num(TRAIN_WD),
                    "steps": str(steps), "batch_size": str(POINTS_N), "warmup": "0", "shuffle": "false", "label_smoothing": "0",
                    **method_settings(case), "init": f"{POINTS_PATH}/{case.init}.safetensors",
                    "model": f"{POINTS_PATH}/backbone.safetensors", "data": f"{POINTS_PATH}/data.safetensors",
                    "command": point_train_command(case, optimizer, steps),
                    "decay": "tensors with >= 2 dims except cls_token, cls_pos; BatchNorm running statistics never train",
                    "loss": "mean cross-entropy" + (" + sade_weight * L_SADE" if case.method == "clora" else ""),
                    "max_abs_change": f"{change:.9g}", "tolerance": f"{1e-4 * change:.9g}",
                    "float32_torch_error": f"{f32_ratio:.3g} of max_abs_change",
                    "compute": "float64 from the float32 init, backbone and data; stored as float32", **common,
                }
                if optimizer == "adamw":
                    meta.update({"betas": f"{num(ADAM_BETAS[0])},{num(ADAM_BETAS[1])}", "eps": num(ADAM_EPS)})
                fixtures.append(Fixture(
                    f"{POINTS_DIR}/expected_{case.name}_{optimizer}_k{steps}.safetensors", tensors, meta,
                    f"loss.first {ref.losses[0]:.6f}, last {ref.losses[-1]:.6f}, max change {change:.3e}, "
                    f"float32 torch {f32_ratio:.1e}, vs torch.optim {optim_drift:.0e}"))
    return fixtures


# ---------------------------------------------------------------------------------------------

FAMILIES: dict[str, Callable[[], list[Fixture]]] = {
    "vit_small": make_vit_small,
    "vit_tiny_dims": make_vit_tiny_dims,
    "train": make_train,
    "train_points": make_train_points,
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
