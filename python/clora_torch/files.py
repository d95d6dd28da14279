"""The native adapter file (clora-spec §2.2) for every method, as the engine writes and reads it
(src/clora/files.ts): tensors in native layout, metadata strings, and the checks that a file fits the
backbone (width, depth, classes, method), naming any mismatch."""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Mapping

import numpy as np

from .adapters import plan_branches
from .backbone import BackboneConfig, backbone_shapes, feature_width, trains_in_full
from .blocks import ShapeError
from .models import js_number
from .safetensors import SafetensorsFile, open_safetensors, write_safetensors
from .settings import METHODS, AdapterSettings, SettingsError, parse_targets

FORMAT_VERSION = "1"


@dataclass
class AdapterFile:
    settings: AdapterSettings
    classes: list[str]
    tensors: dict[str, np.ndarray]  # native keys
    metadata: dict[str, str]


def native_shapes(cfg: BackboneConfig, settings: AdapterSettings, class_count: int) -> dict[str, tuple[int, ...]]:
    """Every trained tensor of the method's file and its shape, in the engine's file order (a `full` file of a
    point backbone also holds its BatchNorm statistics after these: frozen_shapes)."""
    p, r = settings.spaces, settings.rank
    branches = plan_branches(cfg, settings)
    shapes: dict[str, tuple[int, ...]] = {}
    if settings.method == "clora":
        for b in branches:
            shapes.setdefault(f"clora.down.{b.in_width}", (p, b.in_width, r))
        for b in branches:
            shapes.setdefault(f"clora.up.{b.out_width}", (p, r, b.out_width))
        for b in branches:
            shapes[f"clora.core.{b.path}"] = (p, r, r)
    elif settings.method == "lora":
        for b in branches:
            shapes[f"lora.A.{b.path}"] = (r, b.in_width)
            shapes[f"lora.B.{b.path}"] = (b.out_width, r)
    elif settings.method == "full":
        shapes.update({k: v for k, v in backbone_shapes(cfg).items() if trains_in_full(cfg, k)})
    shapes["head.weight"] = (class_count, feature_width(cfg))
    shapes["head.bias"] = (class_count,)
    return shapes


def frozen_shapes(cfg: BackboneConfig, settings: AdapterSettings) -> dict[str, tuple[int, ...]]:
    """What a `full` file holds beside what trained, so it is a whole backbone: BatchNorm's running statistics."""
    if settings.method != "full":
        return {}
    return {k: v for k, v in backbone_shapes(cfg).items() if not trains_in_full(cfg, k)}


def settings_metadata(settings: AdapterSettings, classes: list[str]) -> dict[str, str]:
    """The method's settings as metadata strings (nativeMetadata without `format`)."""
    return {
        "rank": str(settings.rank),
        "spaces": str(settings.spaces if settings.method == "clora" else 1),
        "scale": js_number(settings.scale),
        "targets": ",".join(settings.targets),
        "classes": json.dumps(classes, ensure_ascii=False, separators=(",", ":")),
        "sade_weight": js_number(settings.sade_weight),
        "dropout": js_number(settings.dropout),
    }


def write_adapter(path: str | Path, cfg: BackboneConfig, settings: AdapterSettings, classes: list[str],
                  tensors: Mapping[str, np.ndarray], extra: Mapping[str, str] | None = None) -> None:
    """`tensors` by native key: what trained, and for `full` on a point backbone also frozen_shapes' tensors."""
    shapes = {**native_shapes(cfg, settings, len(classes)), **frozen_shapes(cfg, settings)}
    metadata = {"format": settings.method, "format_version": FORMAT_VERSION, **settings_metadata(settings, classes), **(extra or {})}
    write_safetensors(path, [(key, np.asarray(tensors[key]).reshape(shape)) for key, shape in shapes.items()], metadata)


def _number(meta: Mapping[str, str], key: str, fallback: float | None = None) -> float:
    if key not in meta:
        if fallback is not None:
            return fallback
        raise SettingsError(f'The adapter file has no "{key}" in its metadata; it was not written by clora-web or PEFT export.')
    try:
        return float(meta[key])
    except ValueError:
        raise SettingsError(f'The adapter file\'s "{key}" is "{meta[key]}", not a number.') from None


def settings_from_metadata(meta: Mapping[str, str], method: str, what: str = "adapter file") -> AdapterSettings:
    low_rank = method in ("clora", "lora")
    return AdapterSettings(
        method=method,
        rank=int(_number(meta, "rank")) if low_rank else 0,
        spaces=int(_number(meta, "spaces")) if method == "clora" else 1,
        targets=parse_targets(meta.get("targets", "")) if low_rank else (),
        scale=_number(meta, "scale", 1.0),
        sade_weight=_number(meta, "sade_weight", 0.0),
        dropout=_number(meta, "dropout", 0.0),
    )


def classes_from_metadata(file: SafetensorsFile) -> list[str]:
    try:
        parsed = json.loads(file.metadata.get("classes", "null"))
        if isinstance(parsed, list) and all(isinstance(c, str) for c in parsed):
            return parsed
    except json.JSONDecodeError:
        pass
    if not file.has("head.weight"):
        raise SettingsError('The file has neither a "classes" list in its metadata nor a head.')
    return [f"class {i}" for i in range(file.shape("head.weight")[0])]


def check_fits(file: SafetensorsFile, cfg: BackboneConfig, settings: AdapterSettings, class_count: int, prefix: str = "", what: str | None = None) -> None:
    """Every tensor the method needs, at the shape this backbone implies (keys under `prefix`)."""
    problems = []
    for key, shape in native_shapes(cfg, settings, class_count).items():
        name = prefix + key
        if not file.has(name):
            problems.append(f'"{name}" is missing')
        elif file.shape(name) != shape:
            problems.append(f'"{name}" is {list(file.shape(name))}, expected {list(shape)}')
    blocks = (re.search(r"blocks\.(\d+)\.", k) for k in file.names())
    beyond = sorted({int(m.group(1)) for m in blocks if m} - set(range(cfg.depth)))
    if beyond:
        problems.append(f"it adapts block {beyond[0]} but the backbone has {cfg.depth} blocks")
    if problems:
        more = f" (and {len(problems) - 5} more)" if len(problems) > 5 else ""
        raise ShapeError(f"This {what or settings.method + ' adapter'} does not fit the backbone (width {cfg.dim}, depth {cfg.depth}): "
                         f"{'; '.join(problems[:5])}{more}.")


def read_adapter(path: str | Path, cfg: BackboneConfig, method: str | None = None, class_count: int | None = None) -> AdapterFile:
    """Reads a native adapter file for a backbone; refuses another method than `method`, another width or
    depth than the backbone, or a class count other than `class_count`, naming the mismatch. A `full` file's
    frozen tensors (a point backbone's BatchNorm statistics), when it has them at their shapes, come too."""
    if not Path(path).is_file():
        raise SettingsError(f"{path}: no such adapter file.")
    with open_safetensors(path) as file:
        fmt = file.metadata.get("format")
        if fmt not in METHODS:
            found = f'"{fmt}"' if fmt else "missing"
            hint = " (a training checkpoint: pass it to --resume)" if fmt == "clora-checkpoint" else ""
            raise SettingsError(f'This is not a clora-web adapter: its metadata "format" is {found}{hint} (expected clora, lora, head or full).')
        if method is not None and method != fmt:
            raise SettingsError(f'The adapter was trained with method "{fmt}", not "{method}".')
        classes = classes_from_metadata(file)
        if class_count is not None and class_count != len(classes):
            raise ShapeError(f"The adapter has {len(classes)} classes but the data has {class_count}.")
        settings = settings_from_metadata(file.metadata, fmt)
        check_fits(file, cfg, settings, len(classes))
        tensors = {key: file.read_f32(key) for key in native_shapes(cfg, settings, len(classes))}
        tensors.update({key: file.read_f32(key) for key, shape in frozen_shapes(cfg, settings).items()
                        if file.has(key) and file.shape(key) == shape})
        return AdapterFile(settings, classes, tensors, dict(file.metadata))
