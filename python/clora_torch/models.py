"""--model as the engine resolves it (src/cli/model-source.ts): a local .safetensors or PyTorch .pth file, a URL
(downloaded once into the engine's own cache, ~/.cache/clora-web/weights), or a known model id; then what the
backbone is (src/nn/backbone-meta.ts): a timm ViT, or Point-MAE's point transformer when its tensor names
say so; its configuration; and for a ViT the preprocessing. Each setting the weights do not hold comes from
the first of: the option (--heads; --points, --groups, --group-size for point backbones), the known-model
table, the file's metadata (num_heads, num_points, num_groups, group_size), the kind's default.

KNOWN_MODELS is the Python twin of src/nn/models.ts (python/tests/test_models.py checks they agree).
"""

from __future__ import annotations

import hashlib
import os
import sys
import urllib.request
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .backbone import BackboneConfig, fingerprint_tensors, is_point
from .point import looks_like_point_mae, point_config_from_shapes
from .settings import UsageError
from .vit import vit_config_from_shapes
from .weights import WeightsFile, open_weights

REPO_ROOT = Path(__file__).resolve().parents[2]
HALF = (0.5, 0.5, 0.5)
IMAGENET_MEAN = (0.485, 0.456, 0.406)
IMAGENET_STD = (0.229, 0.224, 0.225)


@dataclass(frozen=True)
class KnownModel:
    id: str
    url: str  # a hub URL, or a bundled backbone's path under public/ (the site's base)
    heads: int
    mean: tuple[float, float, float] | None = None  # image backbones: preprocessing
    std: tuple[float, float, float] | None = None
    input_size: int | None = None
    crop_pct: float | None = None
    bundled: bool = False
    kind: str = "vit"  # or "point": then points, groups and group_size are its grouping
    points: int | None = None
    groups: int | None = None
    group_size: int | None = None


def _hub(name: str) -> str:
    return f"https://huggingface.co/timm/{name}/resolve/main/model.safetensors"


KNOWN_MODELS: tuple[KnownModel, ...] = (
    KnownModel("clora-web/vit-mnist", "models/vit-mnist.safetensors", 4, HALF, HALF, 28, 1.0, bundled=True),
    KnownModel("clora-web/point-mae-procedural", "models/point-mae-procedural.safetensors", 4, bundled=True, kind="point", points=512,
               groups=32, group_size=32),
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


@dataclass
class Backbone:
    spec: str
    cfg: BackboneConfig
    known: KnownModel | None
    preprocess: Preprocess | None  # images only
    file: WeightsFile
    notes: list[str] = field(default_factory=list)  # point settings an option changed from the file's, as sentences

    def read(self, name: str) -> np.ndarray:
        return self.file.read_f32(name)

    def fingerprint(self) -> str:
        """sha256 of the little-endian f32 bytes of the kind's fingerprint tensors, in order (checkpoints keep it)."""
        digest = hashlib.sha256()
        for name in fingerprint_tensors(self.cfg):
            digest.update(self.read(name).astype("<f4").tobytes())
        return digest.hexdigest()

    def describe(self) -> dict[str, str]:
        """Metadata worth carrying into adapter files (the engine's describe())."""
        base = {"base_model": self.known.id if self.known else self.spec, "num_heads": str(self.cfg.heads)}
        if is_point(self.cfg):
            return {**base, "num_points": str(self.cfg.points), "num_groups": str(self.cfg.groups), "group_size": str(self.cfg.group_size)}
        p = self.preprocess
        return {
            **base,
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


def _meta_count(meta: dict[str, str], key: str) -> int | None:
    """A positive whole number from the metadata, or None when the key is absent or holds something else."""
    text = meta.get(key, "")
    return int(text) if text.isdigit() and int(text) > 0 else None


# Point settings: (setting, option, metadata key).
_POINT_SETTINGS = (("heads", "--heads", "num_heads"), ("points", "--points", "num_points"), ("groups", "--groups", "num_groups"),
                   ("group_size", "--group-size", "group_size"))


def _open_point(spec: str, known: KnownModel | None, file: WeightsFile, shapes: dict, options: dict[str, int | None]) -> Backbone:
    settings: dict[str, int | None] = {}
    notes = []
    known = known if known is not None and known.kind == "point" else None
    for setting, option, key in _POINT_SETTINGS:
        table = getattr(known, setting) if known is not None else None
        stored = table if table is not None else _meta_count(file.metadata, key)
        given = options.get(setting)
        if given is not None and stored is not None and given != stored:
            notes.append(f"{option} {given} replaces the backbone's {key} {stored}.")
        settings[setting] = given if given is not None else stored
    cfg = point_config_from_shapes(shapes, **settings)  # a .pth has no metadata: §4's defaults apply
    return Backbone(spec, cfg, known, None, file, notes)


def resolve_model_path(spec: str) -> tuple[Path, KnownModel | None]:
    known = find_known_model(spec)
    if Path(spec).is_file():
        return Path(spec), known
    if known is not None and known.bundled:
        return REPO_ROOT / "public" / known.url.lstrip("/"), known
    if spec.startswith(("http://", "https://")) or known is not None:
        return fetch_cached(known.url if known else spec), known
    ids = ", ".join(m.id for m in KNOWN_MODELS)
    raise UsageError(f"--model {spec}: no such file, and it is neither a URL nor a known model id (known: {ids}).")


def open_backbone(spec: str, heads: int | None = None, points: int | None = None, groups: int | None = None,
                  group_size: int | None = None) -> Backbone:
    path, known = resolve_model_path(spec)
    file = open_weights(path)
    try:
        meta = file.metadata
        shapes = {n: tuple(i.shape) for n, i in file.tensors.items()}
        if looks_like_point_mae(shapes):
            return _open_point(spec, known, file, shapes, {"heads": heads, "points": points, "groups": groups, "group_size": group_size})
        known = known if known is not None and known.kind == "vit" else None
        meta_heads = _meta_count(meta, "num_heads")
        cfg = vit_config_from_shapes(shapes, heads if heads is not None else known.heads if known else meta_heads)
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
