"""A project's training settings — the page's form as Save project stored it (UiSettings, src/app/state.ts) — as the
companion's train options, the way the page turns them into a run (src/app/runs.ts runSettingsFrom), and back.

Each form field of the default's type is kept, anything else falls back to the page's default (settingsFrom,
src/app/preferences.ts). An option given on the command line replaces the project's value, with a note. The page's
"Flip images at random" is the flip alone; the command line's --augment adds the random resized crop, as the
engine's `train --augment` does.
"""

from __future__ import annotations

import math

from .cli import note, number
from .project_data import js_string
from .settings import TARGETS, AdapterSettings, SettingsError, TrainOptions, parse_targets, setting_applies

DEFAULT_UI_SETTINGS: dict = {
    "method": "clora", "rank": 8, "spaces": 4, "sadeWeight": 0.1, "lr": 2e-3, "epochs": 5, "batchSize": 32,
    "targets": ["q", "v"], "dropout": 0.1, "scale": 1, "weightDecay": 1e-4, "warmup": 0, "labelSmoothing": 0, "seed": 0,
    "augment": False, "checkpointEvery": 20, "quickEpochs": 30,
}

# Form field → (option, the adapter setting it belongs to or None for a training option, whole number).
FORM_OPTIONS = (
    ("rank", "rank", "rank", True), ("spaces", "spaces", "spaces", True), ("sadeWeight", "sade-weight", "sade_weight", False),
    ("targets", "targets", "targets", False), ("dropout", "dropout", "dropout", False), ("scale", "scale", "scale", False),
    ("lr", "lr", None, False), ("weightDecay", "weight-decay", None, False), ("epochs", "epochs", None, True),
    ("batchSize", "batch-size", None, True), ("warmup", "warmup", None, True), ("labelSmoothing", "label-smoothing", None, False),
    ("seed", "seed", None, True),
)
SHAPE_OPTIONS = ("rank", "spaces", "targets")  # an --init adapter decides these


def _kind(v) -> str:
    if isinstance(v, bool):
        return "boolean"
    if isinstance(v, (int, float)):
        return "number"
    return type(v).__name__


def settings_from(saved) -> dict:
    """The page's settingsFrom: each known field whose value has the default's type (finite, for numbers) is kept."""
    out = dict(DEFAULT_UI_SETTINGS)
    if not isinstance(saved, dict):
        return out
    for key, fallback in DEFAULT_UI_SETTINGS.items():
        value = saved.get(key)
        if isinstance(fallback, list):
            fits = isinstance(value, list) and all(isinstance(v, str) for v in value)
        else:
            fits = _kind(value) == _kind(fallback) and (_kind(value) != "number" or math.isfinite(value))
        if fits:
            out[key] = value
    return out


def _show(value) -> str:
    if isinstance(value, list):
        return ",".join(value)
    return js_string(value) if isinstance(value, (int, float)) else str(value)


def _same(values: dict, option: str, form_value, integer: bool) -> bool:
    if option == "targets":
        return parse_targets(values[option]) == tuple(t for t in TARGETS if t in form_value)
    return number(values, option, None, integer) == form_value


def values_with_project(form: dict, values: dict) -> tuple[dict, list[str]]:
    """The command line's values with the project's settings filled in where no option was given, and a note for
    each option that replaces the project's value."""
    out, notes = dict(values), []
    method = values.get("method") or form["method"]
    if values.get("method") and values["method"] != form["method"]:
        notes.append(f"--method {values['method']} replaces the project's {form['method']}.")
    out["method"] = method
    for field, option, setting, integer in FORM_OPTIONS:
        if setting is not None and not setting_applies(method, setting):
            continue
        if values.get("init") and option in SHAPE_OPTIONS:
            continue
        saved = form[field]
        if option == "epochs" and values.get("steps") is not None:
            notes.append(f"--steps {values['steps']} replaces the project's {_show(saved)} epochs.")
            continue
        if option == "targets" and not [t for t in saved if t in TARGETS]:
            if values.get("targets") is None:
                raise SettingsError("The project's settings name no targets: pass --targets (q, k, v, proj, fc1, fc2), or tick some under Advanced in the page.")
            continue
        if values.get(option) is None:
            out[option] = _show(saved)
        elif not _same(values, option, saved, integer):
            notes.append(f"--{option} {values[option]} replaces the project's {_show(saved)}.")
    if values.get("augment") and not form["augment"]:
        notes.append("--augment (random flips and random resized crops) replaces the project's no augmentation.")
    elif values.get("augment"):
        notes.append("--augment adds random resized crops to the project's random flips.")
    return out, notes


def project_augmentation(form: dict, values: dict, options: TrainOptions, points: bool = False) -> TrainOptions:
    """The page's augmentation when the command line gives none: "Flip images at random" flips, and nothing else; for
    point clouds, "Scale and shift point clouds at random" is Point-MAE's scale and translate (the page has no rotation or
    jitter)."""
    if values.get("augment"):
        return options
    if points:
        return options.with_(augment_scale_translate=bool(form["augment"]))  # --rotate and --jitter stay as given
    return options.with_(augment_flip=bool(form["augment"]), augment_crop=False)


def clamp_batch(options: TrainOptions, count: int, from_project: bool) -> TrainOptions:
    """The page trains with at most its training samples per batch (src/worker/session.ts)."""
    if from_project and options.batch_size > count:
        note(f"the project's batch size {options.batch_size} is more than its {count} training images: batches of {count}, as the page trains.")
        return options.with_(batch_size=count)
    return options


def form_from_run(form: dict, s: AdapterSettings, o: TrainOptions) -> dict:
    """The project's settings with the run's written into the form's fields, so the page shows what ran."""
    out = dict(form)
    if s.method in ("clora", "lora", "head"):
        out["method"] = s.method
    for field, value in (("rank", s.rank), ("spaces", s.spaces), ("sadeWeight", s.sade_weight), ("dropout", s.dropout), ("scale", s.scale)):
        if setting_applies(s.method, {"sadeWeight": "sade_weight"}.get(field, field)):
            out[field] = value
    if s.targets:
        out["targets"] = list(s.targets)
    out.update(lr=o.lr, weightDecay=o.weight_decay, batchSize=o.batch_size, warmup=o.warmup, labelSmoothing=o.label_smoothing, seed=o.seed,
               augment=o.augment_flip)
    if o.epochs is not None:
        out["epochs"] = o.epochs
    return out
