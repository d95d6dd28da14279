"""Whether a checkpoint fits the command line that resumes it, and the resumed run's settings — the same
rules as the engine's `train --resume` (src/cli/train-state.ts):

- the backbone must be the one the run trained on (same head count, same point grouping, same backbone_sha256);
- the data must be the run's (same count, the same label at every index);
- a resumed run keeps its settings: an option given again must have the checkpoint's value, except the
  run's length (--steps, --epochs), --micro-batch and --log-every, which may change;
- a finished run needs a longer --steps or --epochs to go on.
"""

from __future__ import annotations


from .backbone import is_point
from .checkpoint import Checkpoint
from .cli import note, number
from .data import Dataset
from .models import Backbone, js_number
from .settings import METHOD_TRAINS, AdapterSettings, SettingsError, TrainOptions, UsageError, parse_targets, setting_applies

CHANGEABLE = "only --steps, --epochs, --micro-batch, --log-every and --precision may change"


def _refuse(option: str, given: object, saved: object) -> None:
    raise SettingsError(f"--{option} {given} differs from the checkpoint's {saved}: a resumed run keeps its settings ({CHANGEABLE}). "
                        f"Leave --{option} out, or start a new run from the adapter with --init.")


def _show(value: object) -> str:
    if isinstance(value, float):
        return js_number(value)
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


def _given(values: dict, option: str, kind: str) -> object:
    """The option as the command line gives it, parsed as a fresh run parses it."""
    text = values[option]
    if kind == "targets":
        return parse_targets(text)
    if kind in ("int", "float"):
        return number(values, option, None, kind == "int")
    return text


def resumed_settings(ck: Checkpoint, values: dict) -> tuple[AdapterSettings, TrainOptions]:
    s, o = ck.settings, ck.options
    kept: list[tuple[str, object, str]] = [("method", s.method, "text")]
    adapter = (("rank", "rank", s.rank, "int"), ("targets", "targets", s.targets, "targets"), ("spaces", "spaces", s.spaces, "int"),
               ("scale", "scale", s.scale, "float"), ("sade-weight", "sade_weight", s.sade_weight, "float"), ("dropout", "dropout", s.dropout, "float"))
    for option, setting, saved, kind in adapter:
        if setting_applies(s.method, setting):
            kept.append((option, saved, kind))
        elif values.get(option) is not None:
            note(f"--{option} does not apply to --method {s.method} (it trains {METHOD_TRAINS[s.method]}); ignored.")
    kept += [("optimizer", o.optimizer, "text"), ("lr", o.lr, "float"), ("weight-decay", o.weight_decay, "float"),
             ("batch-size", o.batch_size, "int"), ("warmup", o.warmup, "int"), ("label-smoothing", o.label_smoothing, "float"),
             ("seed", o.seed, "int")]
    for option, saved, kind in kept:
        if values.get(option) is not None and _given(values, option, kind) != saved:
            _refuse(option, values[option], _show(saved))
    if values.get("no-shuffle") and o.shuffle:
        raise SettingsError(f"--no-shuffle differs from the checkpoint, whose run shuffles: a resumed run keeps its settings ({CHANGEABLE}).")
    if values.get("augment") and not (o.image_augment or o.point_augment):
        raise SettingsError(f"--augment differs from the checkpoint, whose run does not augment: a resumed run keeps its settings ({CHANGEABLE}).")
    for flag, saved in (("rotate", o.augment_rotate), ("jitter", o.augment_jitter)):
        if values.get(flag) and not saved:
            raise SettingsError(f"--{flag} differs from the checkpoint, whose run does not use it: a resumed run keeps its settings.")
    if values.get("epochs") is not None and values.get("steps") is not None:
        raise UsageError("Give --epochs or --steps, not both.")
    changes: dict = {}
    if values.get("steps") is not None:
        changes.update(steps=number(values, "steps", 1, True), epochs=None)
    if values.get("epochs") is not None:
        changes.update(epochs=number(values, "epochs", 1, True), steps=None)
    if values.get("micro-batch") is not None:
        changes["micro_batch_size"] = number(values, "micro-batch", 1, True)
    if values.get("log-every") is not None:
        changes["log_every"] = number(values, "log-every", 10, True)
    if values.get("precision") is not None:
        if values["precision"] not in ("f32", "f16"):
            raise SettingsError(f'Unknown precision "{values["precision"]}": use f32 or f16.')
        changes["precision"] = values["precision"]
    return s, o.with_(**changes)


def grouping_mismatch(saved: dict[str, str], cfg) -> str | None:
    """The engine's groupingMismatch: a sentence when a point run's checkpoint grouped its clouds otherwise than
    `cfg` does (with the options that restore its grouping); None when they agree or the checkpoint does not say."""
    if not is_point(cfg):
        return None
    grouping = (("num_points", "--points", cfg.points), ("num_groups", "--groups", cfg.groups), ("group_size", "--group-size", cfg.group_size))
    def agrees(text: str, value: int) -> bool:
        try:
            return float(text) == value
        except ValueError:
            return False

    if all(key not in saved or agrees(saved[key], value) for key, _, value in grouping):
        return None
    restore = " ".join(f"{option} {saved[key]}" for key, option, _ in grouping if key in saved)
    return (f"The checkpoint's run grouped {saved.get('num_points', '?')} points into {saved.get('num_groups', '?')} groups of "
            f"{saved.get('group_size', '?')}; this backbone is read with {cfg.points} points in {cfg.groups} groups of {cfg.group_size}. "
            f"Pass {restore}.")


def check_backbone(ck: Checkpoint, backbone: Backbone) -> None:
    saved = ck.backbone
    if saved.get("num_heads") and int(saved["num_heads"]) != backbone.cfg.heads:
        raise SettingsError(f"The checkpoint's run used {saved['num_heads']} attention heads; this backbone is read with {backbone.cfg.heads}. "
                            f"Pass --heads {saved['num_heads']}.")
    grouping = grouping_mismatch(saved, backbone.cfg)
    if grouping:
        raise SettingsError(grouping)
    if saved.get("backbone_sha256") and saved["backbone_sha256"] != backbone.fingerprint():
        raise SettingsError(f"The checkpoint was trained on another backbone ({saved.get('base_model', 'unnamed')}) than --model {backbone.spec}: "
                            "their weights differ. Resume with the run's own backbone.")


def check_data(ck: Checkpoint, data: Dataset) -> None:
    count = int(ck.data.get("count", -1))
    if data.count != count:
        raise SettingsError(f"The checkpoint's run trains on {count} images; --data holds {data.count}. Resume with the same data "
                            "(the sampler's epoch order refers to its images by position).")
    if ck.data.get("labels_sha256") and ck.data["labels_sha256"] != data.labels_sha256():
        raise SettingsError("--data holds as many images as the checkpoint's run, but not with the same labels in the same order: "
                            "it is other data. Resume with the run's own data.")


def check_unfinished(ck: Checkpoint, total_steps: int) -> None:
    if total_steps <= ck.step:
        raise SettingsError(f"The checkpoint is at step {ck.step} and the run has {total_steps} steps: it is finished. "
                            f"Pass --steps N with N > {ck.step} (or more --epochs) to train further.")
