"""python -m clora_torch.train: the engine's `npm run clora -- train`, with the same options and data, in
PyTorch; under torchrun (or python -m torch.distributed.run) with DistributedDataParallel across processes.

    python3 -m clora_torch.train --model M --data DATA [--init A0 | --resume S] --method clora|lora|head|full --out A
        [--rank 8 --spaces 4 --targets q,v --scale 1 --sade-weight 0.1 --dropout 0.1]
        [--epochs 10 | --steps K] [--batch-size 32 --micro-batch N --optimizer adamw|sgd --lr 1e-3
        --weight-decay 1e-4 --warmup 0 --label-smoothing 0 --seed 0 --no-shuffle --augment --log-every 10]
        [--heads H] [point backbones: --points P --groups G --group-size K --rotate --jitter]
        [--save-state S] [--device auto|cpu|cuda]

M is a timm ViT or a Point-MAE point transformer (.safetensors or .pth); DATA a tensor file (pixel_values, or
points [N,P,3], and labels) or, for a ViT, a folder of class folders of images.

--batch-size is the global batch whatever the number of processes; rank 0 alone prints and writes --out
(the native adapter, §2.2) and --save-state (the training checkpoint). Run from python/.
"""

from __future__ import annotations

import json
import os
import sys

from . import checkpoint as ckpt
from .backbone import is_point, sample_noun
from .cli import PROJECT_CHECKPOINT, adapter_settings_from, augmentation_for, open_model_option, require, run_main, train_options_from, train_parser
from .data import check_dataset, load_data
from .dataset import Dataset
from .distributed import Processes, barrier, start, stop
from .files import read_adapter, write_adapter
from .finetune import FineTuneModel, init_seed, initial_tensors
from .models import Backbone
from .project_run import AccuracyCurve, ProjectSource, save_project
from .resume import check_backbone, check_data, check_unfinished, resumed_settings
from .rng import Rng
from .settings import SettingsError, TrainOptions, UsageError, setting_applies, validate_train_options
from .trainer import Trainer


def _training_json(o: TrainOptions, total_steps: int) -> str:
    """The adapter's `training` metadata, the engine's JSON of its TrainOptions (steps = the run's length)."""
    j = {"precision": o.precision, "optimizer": o.optimizer, "lr": o.lr, "weightDecay": o.weight_decay, "epochs": o.epochs,
         "steps": total_steps, "batchSize": o.batch_size, "microBatchSize": o.micro_batch_size, "warmup": o.warmup,
         "labelSmoothing": o.label_smoothing, "seed": o.seed, "shuffle": o.shuffle, "logEvery": o.log_every}
    if o.point_augment:
        j["augment"] = {"scaleAndTranslate": o.augment_scale_translate, "rotate": o.augment_rotate, "jitter": o.augment_jitter}
    elif o.image_augment:
        j["augment"] = {"flip": o.augment_flip, "randomResizedCrop": o.augment_crop}
    return json.dumps({k: v for k, v in j.items() if v is not None}, separators=(",", ":"))


def _log(m: dict, unit: str) -> None:
    sys.stderr.write(f"step {m['step']}/{m['total_steps']}  loss {m['loss']:.4f}  ce {m['cross_entropy']:.4f}  sade {m['sade']:.4f}  "
                     f"lr {m['lr']:#.3g}  {m['images_per_second']:.1f} {unit}/s  eta {m['eta_seconds']:.0f} s\n")


def _build(values: dict, backbone: Backbone, procs: Processes, project: ProjectSource | None = None) -> Trainer:
    """The model and trainer of a new run (from the initialisation or --init) or of a resumed one; with --project,
    on the project's images and settings (or its checkpoint's run)."""
    cfg = backbone.cfg

    def load(classes: list[str] | None = None) -> Dataset:
        return project.load(backbone, classes) if project is not None else load_data(values["data"], backbone, classes)

    resume = values.get("resume")
    if resume:
        if values.get("init"):
            raise UsageError("Give --init or --resume, not both: --resume continues a run, --init starts a new one from an adapter.")
        if resume is PROJECT_CHECKPOINT:
            if project is None:
                raise UsageError("--resume needs the checkpoint file to continue (--resume FILE), or --project with a project that holds one.")
            ck = project.checkpoint(backbone)
        else:
            ck = ckpt.read_checkpoint(resume, cfg)
        check_backbone(ck, backbone)
        settings, options = resumed_settings(ck, values)
        data = load(ck.classes)
        if project is not None:
            options = project.resumed_options(options, data.count)
        check_data(ck, data)
        validate_train_options(options, data.count)
        check_dataset(data)
        model = FineTuneModel(cfg, settings, ck.classes)
        model.load_backbone(backbone.read)
        trainer = Trainer(model, data, options, procs)
        check_unfinished(ck, trainer.total_steps)
        trainer.load(ck)
        return trainer
    if project is not None:
        values = project.fresh_values()
    settings = adapter_settings_from(values)
    options = augmentation_for(values, train_options_from(values), is_point(cfg), backbone.known.id if backbone.known else backbone.spec)
    if values.get("init"):
        init = read_adapter(values["init"], cfg, method=settings.method)
        # The adapter's shape comes from --init; a shape option given as well must agree with it.
        for key in ("rank", "spaces", "targets"):
            if values.get(key) is None or not setting_applies(settings.method, key):
                continue
            show = lambda v: ",".join(v) if isinstance(v, tuple) else str(v)  # noqa: E731
            given, saved = show(getattr(settings, key)), show(getattr(init.settings, key))
            if given != saved:
                raise SettingsError(f"--{key} {given} differs from the --init adapter's {key} {saved}: leave --{key} out to continue with the adapter's own.")
        settings = settings.with_(rank=init.settings.rank, spaces=init.settings.spaces, targets=init.settings.targets)
        classes = init.classes
        if project is not None and project.own_data:
            data = load()
            if data.classes != classes:
                raise SettingsError(f"The --init adapter's classes ({', '.join(classes)}) are not the project's ({', '.join(data.classes)}).")
        else:
            data = load(classes)
        if len(data.classes) > len(classes):
            raise SettingsError(f"The data has {len(data.classes)} classes but the --init adapter has {len(classes)}.")
        start_tensors = init.tensors
    else:
        data = load()
        classes = data.classes
        start_tensors = {}
    if project is not None:
        options = project.fresh_options(options, data.count)
    validate_train_options(options, data.count)
    check_dataset(data)
    if not values.get("init"):
        start_tensors = initial_tensors(cfg, settings, len(classes), Rng(init_seed(options.seed)))
    model = FineTuneModel(cfg, settings, classes)
    model.load_backbone(backbone.read)
    if settings.method == "full" and not values.get("init"):
        start_tensors = {**{k: backbone.read(k) for k in model.trainable() if k not in start_tensors}, **start_tensors}
    model.load_native(start_tensors)
    model.load_frozen(start_tensors)  # a `full` --init file's BatchNorm statistics replace the backbone's
    return Trainer(model, data, options, procs)


def _checkpoint(trainer: Trainer, backbone: Backbone) -> ckpt.Checkpoint:
    """The run's training checkpoint (--save-state, and --save-project's)."""
    state, model = trainer.state(), trainer.model
    return ckpt.Checkpoint(
        settings=model.settings, classes=model.classes, options=trainer.options, total_steps=trainer.total_steps,
        step=state["step"], optimizer_step=state["optimizer_step"], tensors=state["tensors"], m=state["m"], v=state["v"],
        order=state["order"], cursor=state["cursor"], rng_state=state["rng_state"],
        data={"count": trainer.data.count, "labels_sha256": trainer.data.labels_sha256()},
        backbone={**backbone.describe(), "backbone_sha256": backbone.fingerprint()}, history=state["history"],
        extra={"trainer": "clora_torch"})


def _accuracy_line(point: dict, held: str) -> str:
    validation = f", validation {100 * point['validation']:.1f}% ({held} held out)" if point["validation"] is not None else ""
    return f"epoch {point['epoch']:g}: train accuracy {100 * point['train']:.1f}%{validation}\n"


def train(values: dict, procs: Processes) -> None:
    out = require(values, "out")
    project = ProjectSource(values) if values.get("project") else None
    if project is None:
        require(values, "data")
        if values.get("save-project"):
            raise UsageError("--save-project writes a project opened with --project: give --project P (a .zip saved with the page's Save project).")
    backbone = project.backbone() if project is not None else open_model_option(values)
    try:
        trainer = _build(values, backbone, procs, project)
        o, model = trainer.options, trainer.model
        if o.batch_size < procs.world:
            raise SettingsError(f"The batch size {o.batch_size} is smaller than the number of processes ({procs.world}): "
                                "every process needs at least one image of each batch. Use a larger --batch-size or fewer processes.")
        curve = None
        if project is not None and project.own_data and procs.main:
            curve = AccuracyCurve(project, project.resumed_record["accuracy"] if project.resumed_record else [])
        if procs.main:
            params = sum(p.numel() for p in model.trainable().values())
            where = f", {procs.world} processes ({'nccl' if procs.device.type == 'cuda' else 'gloo'}), global batch {o.batch_size}" if procs.world > 1 else ""
            resumed = f" from step {trainer.step}" if trainer.step else ""
            source = f" of {project.name}" if project is not None and project.own_data else ""
            sys.stderr.write(f"training {model.settings.method} on {sample_noun(backbone.cfg, trainer.data.count)}{source} of {len(model.classes)} classes{resumed}: "
                             f"{trainer.total_steps} steps, {params} trainable parameters{where}\n")
        every = max(1, o.log_every)
        unit = "clouds" if is_point(backbone.cfg) else "img"

        def on_metrics(m: dict) -> None:
            if procs.main and (m["step"] % every == 0 or m["step"] == trainer.total_steps):
                _log(m, unit)
            if curve is not None:
                before = len(curve.points)
                curve.after_step(trainer, m["step"])
                if len(curve.points) > before:
                    sys.stderr.write(_accuracy_line(curve.points[-1], sample_noun(backbone.cfg, project.validation.count if project.validation else 0)))

        trainer.run(on_metrics)
        if procs.main:
            last = trainer.history[-1] if trainer.history else None
            extra = {**backbone.describe(), "training": _training_json(o, trainer.total_steps), "trainer": "clora_torch"}
            if last is not None:
                extra["final_loss"] = repr(float(last["loss"]))
            write_adapter(out, backbone.cfg, model.settings, model.classes, {**model.native_tensors(), **model.frozen_tensors()}, extra)
            sys.stderr.write(f"wrote {model.settings.method} adapter to {out}\n")
            if values.get("save-state"):
                ckpt.write_checkpoint(values["save-state"], backbone.cfg, _checkpoint(trainer, backbone))
                sys.stderr.write(f"wrote the training state (step {trainer.step}) to {values['save-state']}\n")
            if values.get("save-project"):
                save_project(values["save-project"], project, trainer, backbone, _checkpoint(trainer, backbone), curve)
                sys.stderr.write(f"wrote the project with its checkpoint at step {trainer.step} of {trainer.total_steps} to {values['save-project']}\n")
        barrier(procs)
    finally:
        backbone.close()


def main(argv: list[str] | None = None) -> int:
    values = vars(train_parser("python -m clora_torch.train").parse_args(argv))
    procs: list[Processes] = []

    def body() -> None:
        procs.append(start(values.get("device") or "auto"))
        try:
            train(values, procs[0])
        finally:
            stop(procs[0])

    return run_main(body, quiet=int(os.environ.get("RANK", "0")) != 0)


if __name__ == "__main__":
    sys.exit(main())
