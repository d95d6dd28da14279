"""The training checkpoint file, `format` = `clora-checkpoint` (the engine's src/io/checkpoint-file.ts; the
table is in the README): a safetensors file a run moves through between the engine and PyTorch, in either
direction, without restarting its optimizer or its sampler.

Tensors: the adapter's, native layout and keys (§2.2); `optimizer.m.<key>` and `optimizer.v.<key>`, AdamW's
moments of each (absent for SGD); `sampler.order` I32 [N], the current epoch's order.
Metadata: format, format_version, method and its settings (as an adapter's), step, total_steps,
optimizer_step, train (JSON), sampler (JSON: cursor, rng_state), data (JSON: count, labels_sha256),
the backbone's description and backbone_sha256, history (JSON), and whatever else a writer adds.
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from .backbone import BackboneConfig
from .files import check_fits, classes_from_metadata, native_shapes, settings_from_metadata, settings_metadata
from .safetensors import open_safetensors, write_safetensors
from .settings import METHODS, AdapterSettings, SettingsError, TrainOptions

CHECKPOINT_FORMAT = "clora-checkpoint"
CHECKPOINT_VERSION = "1"
# A point backbone's grouping is among them: its weights do not fix it, so a resumed run must be told it again.
BACKBONE_KEYS = ("base_model", "num_heads", "image_size", "mean", "std", "crop_pct", "num_points", "num_groups", "group_size", "backbone_sha256")
_KNOWN_KEYS = {"format", "format_version", "method", "rank", "spaces", "scale", "targets", "classes", "sade_weight", "dropout",
               "step", "total_steps", "optimizer_step", "train", "sampler", "data", "history", *BACKBONE_KEYS}


@dataclass
class Checkpoint:
    settings: AdapterSettings
    classes: list[str]
    options: TrainOptions
    total_steps: int
    step: int
    optimizer_step: int
    tensors: dict[str, np.ndarray]  # native keys
    m: dict[str, np.ndarray] | None  # AdamW's moments by native key; None for SGD
    v: dict[str, np.ndarray] | None
    order: list[int]
    cursor: int
    rng_state: int
    data: dict  # count, labels_sha256
    backbone: dict[str, str]  # BACKBONE_KEYS
    history: list[dict] = field(default_factory=list)
    extra: dict[str, str] = field(default_factory=dict)  # other metadata, kept as found


def augment_json(o: TrainOptions) -> dict | None:
    """Image runs: flip and random resized crop; point runs: scale and translate, rotate, jitter (None: none)."""
    if o.point_augment:
        return {"scale_and_translate": o.augment_scale_translate, "rotate": o.augment_rotate, "jitter": o.augment_jitter}
    if o.image_augment:
        return {"flip": o.augment_flip, "random_resized_crop": o.augment_crop}
    return None


def options_json(o: TrainOptions) -> str:
    augment = augment_json(o)
    return json.dumps({
        "optimizer": o.optimizer, "lr": o.lr, "weight_decay": o.weight_decay, "beta1": o.beta1, "beta2": o.beta2, "eps": o.eps,
        "epochs": o.epochs, "steps": o.steps, "batch_size": o.batch_size, "micro_batch_size": o.micro_batch_size,
        "warmup": o.warmup, "label_smoothing": o.label_smoothing, "seed": o.seed, "shuffle": o.shuffle, "augment": augment,
        "log_every": o.log_every, "precision": o.precision,
    }, separators=(",", ":"))


def options_from_json(text: str) -> TrainOptions:
    try:
        j = json.loads(text)
        augment = j.get("augment") or {}
        return TrainOptions(
            optimizer=j["optimizer"], lr=float(j["lr"]), weight_decay=float(j["weight_decay"]),
            beta1=float(j.get("beta1", 0.9)), beta2=float(j.get("beta2", 0.999)), eps=float(j.get("eps", 1e-8)),
            epochs=j.get("epochs"), steps=j.get("steps"), batch_size=int(j["batch_size"]), micro_batch_size=j.get("micro_batch_size"),
            warmup=int(j["warmup"]), label_smoothing=float(j["label_smoothing"]), seed=int(j["seed"]), shuffle=bool(j["shuffle"]),
            augment_flip=augment.get("flip") is True, augment_crop=augment.get("random_resized_crop") is True,
            augment_scale_translate=augment.get("scale_and_translate") is True, augment_rotate=augment.get("rotate") is True,
            augment_jitter=augment.get("jitter") is True,
            log_every=int(j.get("log_every", 10)), precision=j.get("precision", "f32"))
    except (json.JSONDecodeError, KeyError, TypeError, ValueError, AttributeError) as error:
        raise SettingsError(f'The checkpoint\'s "train" options cannot be read ({error}); the file is damaged.') from None


def write_checkpoint(path: str | Path, cfg: BackboneConfig, ck: Checkpoint) -> None:
    shapes = native_shapes(cfg, ck.settings, len(ck.classes))
    tensors = [(key, np.asarray(ck.tensors[key], np.float32).reshape(shape)) for key, shape in shapes.items()]
    if ck.options.optimizer == "adamw":
        assert ck.m is not None and ck.v is not None
        tensors += [(f"optimizer.m.{key}", np.asarray(ck.m[key], np.float32).reshape(shape)) for key, shape in shapes.items()]
        tensors += [(f"optimizer.v.{key}", np.asarray(ck.v[key], np.float32).reshape(shape)) for key, shape in shapes.items()]
    tensors.append(("sampler.order", np.asarray(ck.order, np.int32)))
    metadata = {
        **ck.extra,
        "format": CHECKPOINT_FORMAT, "format_version": CHECKPOINT_VERSION, "method": ck.settings.method,
        **settings_metadata(ck.settings, ck.classes),
        "step": str(ck.step), "total_steps": str(ck.total_steps), "optimizer_step": str(ck.optimizer_step),
        "train": options_json(ck.options),
        "sampler": json.dumps({"cursor": ck.cursor, "rng_state": ck.rng_state}, separators=(",", ":")),
        "data": json.dumps(ck.data, separators=(",", ":")),
        **{k: ck.backbone[k] for k in BACKBONE_KEYS if k in ck.backbone},
        "history": json.dumps(ck.history, separators=(",", ":")),
    }
    write_safetensors(path, tensors, metadata)


def _json(meta: dict[str, str], key: str):
    try:
        return json.loads(meta[key])
    except (KeyError, json.JSONDecodeError):
        raise SettingsError(f'The checkpoint has no readable "{key}" in its metadata; the file is damaged or was not written by clora-web.') from None


def read_checkpoint(path: str | Path, cfg: BackboneConfig) -> Checkpoint:
    """Reads a checkpoint for this backbone configuration, refusing with a sentence what cannot be resumed."""
    if not Path(path).is_file():
        raise SettingsError(f"--resume {path}: no such checkpoint file.")
    with open_safetensors(path) as file:
        meta = file.metadata
        if meta.get("format") != CHECKPOINT_FORMAT:
            found = f'"{meta["format"]}"' if "format" in meta else "missing"
            hint = " (an adapter: pass it to --init to start a new run from it)" if meta.get("format") in METHODS else ""
            raise SettingsError(f'{path} is not a training checkpoint: its metadata "format" is {found}{hint}; expected "{CHECKPOINT_FORMAT}".')
        if meta.get("format_version") != CHECKPOINT_VERSION:
            raise SettingsError(f'{path} is a checkpoint of format_version {meta.get("format_version")}; this version reads {CHECKPOINT_VERSION}. '
                                "Update clora-web (or the companion) to the version that wrote it.")
        method = meta.get("method")
        if method not in METHODS:
            raise SettingsError(f'The checkpoint\'s method is "{method}"; expected clora, lora, head or full.')
        settings = settings_from_metadata(meta, method)
        classes = classes_from_metadata(file)
        options = options_from_json(meta.get("train", ""))
        what = f"checkpoint of a {method} run"
        check_fits(file, cfg, settings, len(classes), what=what)
        keys = list(native_shapes(cfg, settings, len(classes)))
        m = v = None
        if options.optimizer == "adamw":
            check_fits(file, cfg, settings, len(classes), prefix="optimizer.m.", what=what)
            check_fits(file, cfg, settings, len(classes), prefix="optimizer.v.", what=what)
            m = {k: file.read_f32(f"optimizer.m.{k}") for k in keys}
            v = {k: file.read_f32(f"optimizer.v.{k}") for k in keys}
        sampler = _json(meta, "sampler")
        data = _json(meta, "data")
        if not file.has("sampler.order"):
            raise SettingsError('The checkpoint has no "sampler.order" tensor; the file is damaged.')
        order = file.read_int("sampler.order").tolist()
        count = int(data.get("count", -1))
        if sorted(order) != list(range(count)) or not 0 <= int(sampler.get("cursor", -1)) <= count:
            raise SettingsError("The checkpoint's sampler state does not describe an epoch of its data set; the file is damaged.")
        return Checkpoint(
            settings=settings, classes=classes, options=options,
            total_steps=int(meta.get("total_steps", "0")), step=int(meta.get("step", "0")), optimizer_step=int(meta.get("optimizer_step", meta.get("step", "0"))),
            tensors={k: file.read_f32(k) for k in keys}, m=m, v=v,
            order=order, cursor=int(sampler["cursor"]), rng_state=int(sampler["rng_state"]),
            data=data, backbone={k: meta[k] for k in BACKBONE_KEYS if k in meta},
            history=_json(meta, "history") if "history" in meta else [],
            extra={k: val for k, val in meta.items() if k not in _KNOWN_KEYS},
        )

