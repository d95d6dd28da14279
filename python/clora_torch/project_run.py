"""`train --project P`: a run of the web app's project (project.py) — its backbone, its training images split as
the page splits them (or --data instead), its settings (or, with a bare --resume, its checkpoint's run carried on
with optimizer moments, sampler and history) — and, with --save-project, the project written back with the new
checkpoint and the page's accuracy curve continued (the training accuracy on up to 128 evenly spread training
images and the validation accuracy, at each epoch end and at the last step, as src/worker/session.ts scores them).
"""

from __future__ import annotations

import math
import tempfile
from pathlib import Path

from . import checkpoint as ckpt
from .backbone import is_point
from .cli import backbone_options, note
from .data import load_data
from .dataset import Dataset
from .evaluate import evaluate
from .models import Backbone, find_known_model, open_backbone
from .predict import predict_logits
from .project import Project, damaged, open_project
from .project_data import ProjectSamples, project_datasets
from .project_settings import clamp_batch, form_from_run, project_augmentation, settings_from, values_with_project
from .project_write import checkpoint_record, new_run_id, write_project
from .safetensors import SafetensorsError
from .settings import SettingsError, TrainOptions, UsageError

TRAIN_ACCURACY_SAMPLES = 128


class ProjectSource:
    """The opened project and what a run takes from it."""

    def __init__(self, values: dict):
        self.values = values
        self.project: Project = open_project(values["project"])
        self.form = settings_from(self.project.json["settings"])
        self.own_data = not values.get("data")
        if values.get("save-project") and not self.own_data:
            raise UsageError("--save-project writes the project's own images with the new checkpoint, but --data replaces them: "
                             "leave --data out, or keep this run's files with --out and --save-state.")
        self.train: Dataset | None = None
        self.validation: Dataset | None = None
        self.samples: ProjectSamples | None = None
        self.resumed_record: dict | None = None  # the project checkpoint's record, when the run continues it

    @property
    def name(self) -> str:
        return self.project.path.name

    def backbone(self) -> Backbone:
        """--model when given; else the project's backbone: a known model id (bundled or downloaded once) or a URL."""
        options = backbone_options(self.values)
        if self.values.get("model"):
            backbone = open_backbone(self.values["model"], **options)
        else:
            b = self.project.json["backbone"]
            # A known model id (the bundled one, a hub model) first, then the address the page loaded it from.
            spec = next((s for s in (b["spec"], b["url"]) if s and (find_known_model(s) or s.startswith(("http://", "https://")))), None)
            where = b["label"] if b["label"] == b["spec"] else f"{b['label']} ({b['spec']})"
            if spec is None:
                raise SettingsError(f"The project was made with the backbone {where}, a file chosen in the page, which the companion cannot "
                                    "find by itself: pass the same weights with --model FILE.")
            try:
                backbone = open_backbone(spec, **options)
            except (UsageError, SafetensorsError) as error:
                raise SettingsError(f"The project was made with the backbone {where}, which cannot be opened here ({error}) Pass its weights "
                                    "with --model FILE (a .safetensors or .pth file, a URL or a known model id): a checkpoint records their "
                                    "fingerprint, so other weights are refused.") from None
        for text in backbone.notes:
            note(text)
        kind = self.project.json["kind"]
        if is_point(backbone.cfg) != (kind == "points"):
            backbone.close()
            held, takes = ("point clouds", "images") if kind == "points" else ("images", "point clouds")
            raise SettingsError(f"{self.name} holds {held}, and {backbone.spec} takes {takes}: pass the project's own backbone with --model.")
        return backbone

    def fresh_values(self) -> dict:
        """The command line's values completed from the project's settings (each replaced value noted)."""
        values, notes = values_with_project(self.form, self.values)
        for text in notes:
            note(text)
        return values

    def fresh_options(self, options: TrainOptions, count: int) -> TrainOptions:
        options = project_augmentation(self.form, self.values, options, points=self.project.json["kind"] == "points")
        return clamp_batch(options, count, from_project=self.values.get("batch-size") is None)

    def load(self, backbone: Backbone, classes: list[str] | None = None) -> Dataset:
        """The training images: the project's own (its split's training part) or --data, for the project's classes."""
        if not self.own_data:
            names = classes or [c["name"] for c in self.project.json["classes"] if c["files"]]
            data = load_data(self.values["data"], backbone, names)
            if data.classes != names:
                raise SettingsError(f"--data has the classes {', '.join(data.classes)}; the project has {', '.join(names)}. "
                                    "Give data of the project's classes, or leave --data out to train on the project's images.")
            return data
        if self.train is None:
            self.train, self.validation, self.samples = project_datasets(self.project, backbone)
        if classes is not None and classes != self.train.classes:
            raise damaged(f"its checkpoint's classes ({', '.join(classes)}) are not its data set's ({', '.join(self.train.classes)})")
        return self.train

    def checkpoint(self, backbone: Backbone) -> ckpt.Checkpoint:
        """The project's checkpoint (a bare --resume), checked as the page checks it on Open project."""
        record = self.project.checkpoint
        if record is None or self.project.checkpoint_bytes is None:
            raise SettingsError(f"{self.name} holds no checkpoint to resume: no run of its images was saved in the page. Leave --resume out "
                                "to start a new run with the project's settings.")
        if not self.own_data:
            raise SettingsError(f"{self.name}'s checkpoint trained on the project's own images, and --data replaces them: leave --data out "
                                "to carry the run on, or --resume out to start a new run with the project's settings on --data.")
        with tempfile.TemporaryDirectory() as folder:
            path = Path(folder) / "checkpoint.safetensors"
            path.write_bytes(self.project.checkpoint_bytes)
            try:
                ck = ckpt.read_checkpoint(path, backbone.cfg)
            except SafetensorsError as error:
                raise damaged(f"its checkpoint cannot be read ({error})") from None
        self.load(backbone)
        if record["fingerprint"] != self.samples.fingerprint:
            raise damaged("its images are not those its checkpoint was trained on")
        if ck.step != record["step"]:
            raise damaged(f"its checkpoint is at step {ck.step}, its project.json says {record['step']}")
        if record["quick"]:
            note("the project's checkpoint is a quick-mode run (the head on the backbone's features): it goes on here as a "
                 "head run on the images, the same steps.")
        self.resumed_record = record
        return ck

    def resumed_options(self, options: TrainOptions, count: int) -> TrainOptions:
        return clamp_batch(options, count, from_project=True)


class AccuracyCurve:
    """The page's accuracy points (train on a fixed, evenly spread subset of ≤ 128 training images; validation on
    every held-out image) at each epoch end and the last step, continuing the resumed checkpoint's."""

    def __init__(self, source: ProjectSource, earlier: list[dict]):
        self.source = source
        self.points = list(earlier)

    def after_step(self, trainer, step: int) -> None:
        if step % trainer.steps_per_epoch != 0 and step != trainer.total_steps:
            return
        if self.points and self.points[-1]["step"] == step:
            return
        train, validation, model = self.source.train, self.source.validation, trainer.model
        n = min(TRAIN_ACCURACY_SAMPLES, train.count)
        subset = [math.floor(k * train.count / n) for k in range(n)]
        device = trainer.procs.device
        train_accuracy = evaluate(predict_logits(model, train.inputs[subset], device), train.labels[subset], model.classes)["accuracy"]
        held = None
        if validation is not None:
            held = evaluate(predict_logits(model, validation.inputs, device), validation.labels, model.classes)["accuracy"]
        epoch = step // trainer.steps_per_epoch if step % trainer.steps_per_epoch == 0 else step / trainer.steps_per_epoch  # 2, as JSON.stringify writes it
        self.points.append({"step": step, "epoch": epoch, "train": train_accuracy, "validation": held})


def save_project(out: str, source: ProjectSource, trainer, backbone: Backbone, checkpoint: ckpt.Checkpoint, curve: AccuracyCurve) -> None:
    """Writes --save-project: the project with the run's checkpoint and curve."""
    earlier = source.resumed_record
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "checkpoint.safetensors"
        ckpt.write_checkpoint(path, backbone.cfg, checkpoint)
        data = path.read_bytes()
    record = checkpoint_record(
        run_id=earlier["runId"] if earlier else new_run_id(), step=trainer.step, total_steps=trainer.total_steps,
        checkpoint_every=earlier["checkpointEvery"] if earlier else source.form["checkpointEvery"], quick=bool(earlier and earlier["quick"]),
        fingerprint=source.samples.fingerprint, accuracy=curve.points)
    settings = form_from_run(source.project.json["settings"], trainer.model.settings, trainer.options)
    write_project(out, source.project, settings, data, record)

