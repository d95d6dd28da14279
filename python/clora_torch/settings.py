"""The fine-tuning method and its settings (clora-spec §1 defaults), checked as the engine checks them
(src/clora/settings.ts), with the same sentences."""

from __future__ import annotations

from dataclasses import dataclass, replace

METHODS = ("clora", "lora", "head", "full")
TARGETS = ("q", "k", "v", "proj", "fc1", "fc2")


# The adapter settings each method uses (src/clora/settings.ts); the others mean nothing to it.
SETTINGS_OF_METHOD = {"clora": ("rank", "spaces", "targets", "scale", "sade_weight", "dropout"),
                      "lora": ("rank", "targets", "scale", "dropout"), "head": (), "full": ()}
METHOD_TRAINS = {
    "clora": "shared down/up bases with small cores per target, and the head",
    "lora": "two low-rank factors per target, and the head",
    "head": "only the classifier head",
    "full": "every weight of the backbone and the head, with no low-rank branches",
}


def setting_applies(method: str, setting: str) -> bool:
    return setting == "method" or setting in SETTINGS_OF_METHOD.get(method, ())


class SettingsError(ValueError):
    """A setting a user gave that cannot work; the message says which and why."""


class UsageError(ValueError):
    """A command line that cannot run (a missing option, a file that is not there)."""


@dataclass(frozen=True)
class AdapterSettings:
    method: str = "clora"
    rank: int = 8
    spaces: int = 4
    targets: tuple[str, ...] = ("q", "v")
    scale: float = 1.0
    sade_weight: float = 0.1
    dropout: float = 0.1

    def with_(self, **changes: object) -> "AdapterSettings":
        return replace(self, **changes)


def parse_targets(text: str) -> tuple[str, ...]:
    names = [t.strip() for t in text.split(",") if t.strip()]
    if not names:
        raise SettingsError("--targets is empty: name at least one of q, k, v, proj, fc1, fc2.")
    unknown = [n for n in names if n not in TARGETS]
    if unknown:
        plural = "s" if len(unknown) > 1 else ""
        raise SettingsError(f"Unknown target{plural} {', '.join(chr(34) + u + chr(34) for u in unknown)}: targets are q, k, v, proj, fc1 and fc2.")
    # The contract's order without repeats, so files and layouts do not depend on spelling.
    return tuple(t for t in TARGETS if t in names)


def validate_adapter_settings(s: AdapterSettings) -> None:
    if s.method not in METHODS:
        raise SettingsError(f'Unknown method "{s.method}": use clora, lora, head or full.')
    if s.method in ("clora", "lora"):
        if not isinstance(s.rank, int) or s.rank < 1:
            raise SettingsError(f"The rank must be a whole number ≥ 1 (got {s.rank}).")
        if not s.targets:
            raise SettingsError("At least one target is needed (q, k, v, proj, fc1, fc2).")
    if s.method == "clora" and (not isinstance(s.spaces, int) or s.spaces < 1):
        raise SettingsError(f"The number of spaces must be a whole number ≥ 1 (got {s.spaces}).")
    if s.method == "clora" and s.spaces * s.rank > 128:
        raise SettingsError(f"spaces × rank is {s.spaces * s.rank}; at most 128 is supported.")
    if not (s.sade_weight >= 0):
        raise SettingsError(f"The SADE weight must be ≥ 0 (got {s.sade_weight}).")
    if not (0 <= s.dropout < 1):
        raise SettingsError(f"The dropout must be in [0, 1) (got {s.dropout}).")


@dataclass(frozen=True)
class TrainOptions:
    """The engine's TrainOptions (src/train/trainer.ts) under Python names."""

    optimizer: str = "adamw"
    lr: float = 1e-3
    weight_decay: float = 1e-4
    beta1: float = 0.9
    beta2: float = 0.999
    eps: float = 1e-8
    epochs: int | None = 10
    steps: int | None = None
    batch_size: int = 32
    micro_batch_size: int | None = None
    warmup: int = 0
    label_smoothing: float = 0.0
    seed: int = 0
    shuffle: bool = True
    augment_flip: bool = False  # images: horizontal flip and random resized crop (--augment)
    augment_crop: bool = False
    augment_scale_translate: bool = False  # point clouds: Point-MAE's scale and translate (--augment),
    augment_rotate: bool = False  # rotation about the up axis (--rotate),
    augment_jitter: bool = False  # jitter (--jitter)
    log_every: int = 10
    precision: str = "f32"

    def with_(self, **changes: object) -> "TrainOptions":
        return replace(self, **changes)

    @property
    def image_augment(self) -> bool:
        return self.augment_flip or self.augment_crop

    @property
    def point_augment(self) -> bool:
        return self.augment_scale_translate or self.augment_rotate or self.augment_jitter


def validate_train_options(o: TrainOptions, count: int) -> None:
    """The engine's validateTrainOptions, for a data set of `count` samples."""
    if o.optimizer not in ("adamw", "sgd"):
        raise SettingsError(f'Unknown optimizer "{o.optimizer}": use adamw or sgd.')
    if not (o.lr > 0):
        raise SettingsError(f"The learning rate must be greater than 0 (got {o.lr:g}).")
    if not (o.weight_decay >= 0):
        raise SettingsError(f"The weight decay must be ≥ 0 (got {o.weight_decay:g}).")
    if o.batch_size < 1:
        raise SettingsError(f"The batch size must be a whole number ≥ 1 (got {o.batch_size}).")
    if o.batch_size > count:
        raise SettingsError(f"The batch size {o.batch_size} is larger than the data set ({count} images); use at most {count}.")
    if o.micro_batch_size is not None and o.micro_batch_size < 1:
        raise SettingsError(f"The micro-batch size must be a whole number ≥ 1 (got {o.micro_batch_size}).")
    if o.steps is None and o.epochs is None:
        raise SettingsError("Give a number of epochs or of steps.")
    if o.steps is not None and o.steps < 1:
        raise SettingsError(f"The number of steps must be a whole number ≥ 1 (got {o.steps}).")
    if o.steps is None and o.epochs is not None and o.epochs < 1:
        raise SettingsError(f"The number of epochs must be a whole number ≥ 1 (got {o.epochs}).")
    if o.warmup < 0:
        raise SettingsError(f"The warm-up must be a whole number of steps ≥ 0 (got {o.warmup}).")
    if not (0 <= o.label_smoothing < 1):
        raise SettingsError(f"Label smoothing must be in [0, 1) (got {o.label_smoothing:g}).")
    if o.precision != "f32":
        raise SettingsError(f'The PyTorch companion trains in f32 only (got --precision {o.precision}); '
                            "f16 is the engine's WebGPU mixed precision. Use --precision f32 (also to resume an f16 checkpoint).")
