"""--model as the engine resolves it (src/cli/model-source.ts): a local .safetensors file, a URL (downloaded
once into the engine's own cache, ~/.cache/clora-web/weights), or a known model id; then the ViT's
configuration and its preprocessing from the known-model table, the file's metadata, or the defaults.

KNOWN_MODELS is the Python twin of src/nn/models.ts (python/tests/test_models.py checks they agree).
"""

from __future__ import annotations

import hashlib
import os
import sys
import urllib.request
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .safetensors import SafetensorsFile, open_safetensors
from .settings import UsageError
from .vit import VitConfig, vit_config_from_shapes

REPO_ROOT = Path(__file__).resolve().parents[2]
HALF = (0.5, 0.5, 0.5)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class KnownModel:
    id: str
    url: str  # a hub URL, or a bundled backbone's path under public/ (the site's base)
    heads: int
    mean: tuple[float, float, float]
    std: tuple[float, float, float]
    input_size: int
    crop_pct: float
    bundled: bool = False


def _hub(name: str) -> str:
    return f"https://huggingface.co/timm/{name}/resolve/main/model.safetensors"


KNOWN_MODELS: tuple[KnownModel, ...] = (
    KnownModel("clora-web/vit-mnist", "models/vit-mnist.safetensors", 4, HALF, HALF, 28, 1.0, bundled=True),
    KnownModel("vit_tiny_patch16_224.augreg_in21k_ft_in1k", _hub("vit_tiny_patch16_224.augreg_in21k_ft_in1k"), 3, HALF, HALF, 224, 0.9),
    KnownModel("vit_small_patch16_224.augreg_in21k_ft_in1k", _hub("vit_small_patch16_224.augreg_in21k_ft_in1k"), 6, HALF, HALF, 224, 0.9),
    KnownModel("vit_base_patch16_224.augreg2_in21k_ft_in1k", _hub("vit_base_patch16_224.augreg2_in21k_ft_in1k"), 12, HALF, HALF, 224, 0.9),
    KnownModel("deit_tiny_patch16_224.fb_in1k", _hub("deit_tiny_patch16_224.fb_in1k"), 3, IMAGENET_MEAN, IMAGENET_STD, 224, 0.875),
)


def find_known_model(spec: str) -> KnownModel | None:
    return next((m for m in KNOWN_MODELS if m.id == spec or m.url == spec or f"/timm/{m.id}/" in spec), None)


@dataclass(frozen=True)
class Preprocess:
    """timm's eval transform: shorter side to floor(size / crop_pct), centre crop, /255, normalise."""

    size: int
    crop_pct: float
    mean: tuple[float, float, float]
    std: tuple[float, float, float]


def js_number(x: float) -> str:
    """A number as the engine's String(x) writes the usual values: 1 not 1.0, 0.5, 0.001."""
    return str(int(x)) if float(x).is_integer() else repr(float(x))


# Tensors a backbone fingerprint hashes: small, and different in every pretrained ViT.
FINGERPRINT_TENSORS = ("cls_token", "pos_embed", "patch_embed.proj.bias", "norm.weight", "norm.bias")


@dataclass
class Backbone:
    spec: str
    cfg: VitConfig
    known: KnownModel | None
    preprocess: Preprocess
    file: SafetensorsFile

    def read(self, name: str) -> np.ndarray:
        return self.file.read_f32(name)

    def fingerprint(self) -> str:
        """sha256 of the little-endian f32 bytes of FINGERPRINT_TENSORS, in that order (checkpoints keep it)."""
        digest = hashlib.sha256()
        for name in FINGERPRINT_TENSORS:
            digest.update(self.read(name).astype("<f4").tobytes())
        return digest.hexdigest()

    def describe(self) -> dict[str, str]:
        """Metadata worth carrying into adapter files (the engine's Backbone.describe)."""
        p = self.preprocess
        return {
            "base_model": self.known.id if self.known else self.spec,
            "num_heads": str(self.cfg.heads),
            "image_size": str(self.cfg.image_size),
            "mean": ",".join(js_number(v) for v in p.mean),
            "std": ",".join(js_number(v) for v in p.std),
            "crop_pct": js_number(p.crop_pct),
        }

    def close(self) -> None:
        self.file.close()


def cache_dir() -> Path:
    return Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "clora-web" / "weights"


def fetch_cached(url: str) -> Path:
    """The engine's cache entry for `url` (sha256 of the URL, first 32 hex digits), downloaded when absent;
    a failed download leaves nothing under the final name."""
    path = cache_dir() / f"{hashlib.sha256(url.encode()).hexdigest()[:32]}.safetensors"
    if path.exists():
        return path
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    try:
        with urllib.request.urlopen(url) as response, open(partial, "wb") as out:
            total = int(response.headers.get("Content-Length") or 0)
            done = 0
            while chunk := response.read(1 << 20):
                out.write(chunk)
                done += len(chunk)
                sys.stderr.write(f"\rdownloading {url}: {done / 1e6:.1f}{f' of {total / 1e6:.1f}' if total else ''} MB")
        sys.stderr.write("\n")
    except OSError as error:
        partial.unlink(missing_ok=True)
        raise UsageError(f"--model {url}: the download failed ({error}). Check the address and the network, or pass a local file.") from None
    os.replace(partial, path)
    return path


def _triple(text: str | None) -> tuple[float, float, float] | None:
    if not text:
        return None
    try:
        parts = [float(v) for v in text.replace("[", "").replace("]", "").replace(" ", "").split(",")]
    except ValueError:
        return None
    return (parts[0], parts[1], parts[2]) if len(parts) == 3 else None


def open_backbone(spec: str, heads: int | None = None) -> Backbone:
    known = find_known_model(spec)
    if Path(spec).is_file():
        path = Path(spec)
    elif known is not None and known.bundled:
        path = REPO_ROOT / "public" / known.url.lstrip("/")
    elif spec.startswith(("http://", "https://")) or known is not None:
        path = fetch_cached(known.url if known else spec)
    else:
        ids = ", ".join(m.id for m in KNOWN_MODELS)
        raise UsageError(f"--model {spec}: no such file, and it is neither a URL nor a known model id (known: {ids}).")
    file = open_safetensors(path)
    try:
        meta = file.metadata
        meta_heads = int(meta["num_heads"]) if meta.get("num_heads", "").isdigit() and int(meta["num_heads"]) > 0 else None
        cfg = vit_config_from_shapes({n: i.shape for n, i in file.tensors.items()},
                                     heads if heads is not None else known.heads if known else meta_heads)
        crop = None
        try:
            crop = float(meta["crop_pct"]) if "crop_pct" in meta else None
        except ValueError:
            pass
        preprocess = Preprocess(
            size=cfg.image_size,
            crop_pct=known.crop_pct if known else crop if crop is not None and np.isfinite(crop) else 0.9 if cfg.image_size >= 224 else 1.0,
            mean=known.mean if known else _triple(meta.get("mean")) or HALF,
            std=known.std if known else _triple(meta.get("std")) or HALF,
        )
        return Backbone(spec, cfg, known, preprocess, file)
    except BaseException:
        file.close()
        raise
