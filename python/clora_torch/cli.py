"""What the command-line entry points share: the engine's `train` options under the same names and
defaults (src/cli/main.ts), number parsing with the engine's sentences, and turning user-caused errors into
one `error: ...` line and exit status 1 (a bad command line exits with 2, as argparse does)."""

from __future__ import annotations

import argparse
import os
import sys
import traceback
from typing import Callable

from .data import DatasetError
from .models import Backbone, open_backbone
from .project import ProjectError
from .safetensors import SafetensorsError
from .settings import (METHOD_TRAINS, METHODS, AdapterSettings, SettingsError, TrainOptions, UsageError, parse_targets, setting_applies,
                       validate_adapter_settings)
from .trainer import TrainingDiverged

DEFAULT_SETTINGS = AdapterSettings()
DEFAULT_OPTIONS = TrainOptions()

# The engine's train options (all take a value unless listed in FLAGS), then the companion's own.
TRAIN_VALUE_OPTIONS = ("model", "data", "init", "method", "rank", "spaces", "targets", "scale", "sade-weight", "dropout", "epochs",
                       "steps", "batch-size", "micro-batch", "optimizer", "lr", "weight-decay", "warmup", "label-smoothing", "seed",
                       "log-every", "precision", "heads", "points", "groups", "group-size", "out", "resume", "save-state", "device",
                       "project", "save-project")
FLAGS = ("no-shuffle", "augment", "rotate", "jitter")
# A bare --resume: carry on the checkpoint of --project (project_run.py).
PROJECT_CHECKPOINT = "the project's checkpoint"
# Settings a backbone's weights do not hold (models.py): every command that opens --model takes them.
BACKBONE_OPTIONS = ("heads", "points", "groups", "group-size")


def train_parser(prog: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog=prog, description="Fine-tune a timm ViT or a Point-MAE point transformer with CLoRA, LoRA, a new head "
                                     "or fully: the engine's `train`, in PyTorch.", allow_abbrev=False)
    for name in TRAIN_VALUE_OPTIONS:
        more = {"nargs": "?", "const": PROJECT_CHECKPOINT} if name == "resume" else {}
        parser.add_argument(f"--{name}", dest=name, default=None, metavar=name.upper().replace("-", "_"), **more)
    for name in FLAGS:
        parser.add_argument(f"--{name}", dest=name, action="store_true")
    return parser


def number(values: dict, name: str, fallback, integer: bool = False):
    text = values.get(name)
    if text is None:
        return fallback
    try:
        value = float(text)
        if value != value or value in (float("inf"), float("-inf")) or (integer and not value.is_integer()):
            raise ValueError
    except ValueError:
        raise UsageError(f'--{name} must be {"a whole number" if integer else "a number"}, got "{text}".') from None
    return int(value) if integer else value


def backbone_options(values: dict) -> dict[str, int | None]:
    """--heads, --points, --groups, --group-size as open_backbone takes them."""
    return {"heads": number(values, "heads", None, True), "points": number(values, "points", None, True),
            "groups": number(values, "groups", None, True), "group_size": number(values, "group-size", None, True)}


def open_model_option(values: dict) -> Backbone:
    """Opens --model with the backbone options, noting where an option replaces what the file records."""
    backbone = open_backbone(require(values, "model"), **backbone_options(values))
    for text in backbone.notes:
        note(text)
    return backbone


def augmentation_for(values: dict, options: TrainOptions, point_backbone: bool, base_model: str) -> TrainOptions:
    """`--augment` (and for point backbones --rotate, --jitter), the engine's augmentationFor: random resized crop
    and flip for images; Point-MAE's scale and translate for point clouds, rotation and jitter on request."""
    rotate, jitter, augment = bool(values.get("rotate")), bool(values.get("jitter")), bool(values.get("augment"))
    if not point_backbone:
        if rotate or jitter:
            raise UsageError(f"--{'rotate' if rotate else 'jitter'} augments point clouds; {base_model} is an image backbone (use --augment).")
        return options.with_(augment_flip=augment, augment_crop=augment)
    return options.with_(augment_flip=False, augment_crop=False, augment_scale_translate=augment, augment_rotate=rotate, augment_jitter=jitter)


def require(values: dict, name: str) -> str:
    text = values.get(name)
    if not text:
        raise UsageError(f"--{name} is required.")
    return text


def adapter_settings_from(values: dict) -> AdapterSettings:
    d = DEFAULT_SETTINGS
    settings = AdapterSettings(
        method=values.get("method") or "clora",
        rank=number(values, "rank", d.rank, True),
        spaces=number(values, "spaces", d.spaces, True),
        targets=parse_targets(values["targets"]) if values.get("targets") is not None else d.targets,
        scale=number(values, "scale", d.scale),
        sade_weight=number(values, "sade-weight", d.sade_weight),
        dropout=number(values, "dropout", d.dropout),
    )
    validate_adapter_settings(settings)
    note_unused_options(values, settings.method)
    return settings


ADAPTER_OPTIONS = (("rank", "rank"), ("spaces", "spaces"), ("targets", "targets"), ("scale", "scale"), ("sade-weight", "sade_weight"),
                   ("dropout", "dropout"))


def note_unused_options(values: dict, method: str) -> None:
    """Adapter options the method does not use: ignored, each with a note (as the engine notes them)."""
    if method not in METHODS:
        return
    for option, setting in ADAPTER_OPTIONS:
        if values.get(option) is not None and not setting_applies(method, setting):
            note(f"--{option} does not apply to --method {method} (it trains {METHOD_TRAINS[method]}); ignored.")


def train_options_from(values: dict) -> TrainOptions:
    if values.get("epochs") is not None and values.get("steps") is not None:
        raise UsageError("Give --epochs or --steps, not both.")
    optimizer = values.get("optimizer") or "adamw"
    if optimizer not in ("adamw", "sgd"):
        raise SettingsError(f'Unknown optimizer "{optimizer}": use adamw or sgd.')
    precision = values.get("precision") or "f32"
    if precision not in ("f32", "f16"):
        raise SettingsError(f'Unknown precision "{precision}": use f32 or f16.')
    d = DEFAULT_OPTIONS
    steps = values.get("steps")
    return TrainOptions(
        optimizer=optimizer, lr=number(values, "lr", d.lr), weight_decay=number(values, "weight-decay", d.weight_decay),
        epochs=number(values, "epochs", d.epochs, True) if steps is None else None,
        steps=None if steps is None else number(values, "steps", 1, True),
        batch_size=number(values, "batch-size", d.batch_size, True),
        micro_batch_size=number(values, "micro-batch", None, True),
        warmup=number(values, "warmup", d.warmup, True), label_smoothing=number(values, "label-smoothing", d.label_smoothing),
        seed=number(values, "seed", d.seed, True), shuffle=not values.get("no-shuffle"),
        augment_flip=bool(values.get("augment")), augment_crop=bool(values.get("augment")),
        log_every=number(values, "log-every", d.log_every, True), precision=precision,
    )


KNOWN_ERRORS = (SettingsError, UsageError, DatasetError, SafetensorsError, TrainingDiverged, ProjectError)


def is_first_process() -> bool:
    """Rank 0 under torchrun (or a single process): the one that prints notes and errors."""
    return int(os.environ.get("RANK", "0")) == 0


def note(text: str) -> None:
    """`note: <sentence>` on stderr, once per run (not once per process)."""
    if is_first_process():
        sys.stderr.write(f"note: {text}\n")


def run_main(body: Callable[[], None], quiet: bool = False) -> int:
    """Runs a command; a user-caused error becomes `error: <sentence>` (printed unless `quiet`) and status 1."""
    try:
        body()
        return 0
    except KNOWN_ERRORS as error:
        if not quiet:
            sys.stderr.write(f"error: {error}\n")
        return 1
    except Exception:  # a bug: keep the traceback for the report
        traceback.print_exc()
        return 1
