"""The training loop, step for step the engine's (src/train/trainer.ts), on one process or many.

A step: the sampler's next global batch; the learning rate of the schedule at this step; then, per
micro-batch of the engine's (--micro-batch, else the whole batch), the augmentation draws and one forked
seed, so the Rng stream, and every later epoch order, is the engine's. The loss is the mean cross-entropy
over the global batch plus λ·SADE. Then the inert key-bias gradient of `full` is cleared and the optimizer
steps.

Many processes (DistributedDataParallel): each trains on its shard of the same global batch and weighs
its summed cross-entropy by world / batch, so DDP's gradient average is exactly the global batch's mean
gradient whatever the number of processes; SADE is added by every process and averaged back to λ·SADE.
"""

from __future__ import annotations

import contextlib
import math
import time
from typing import Callable

import numpy as np
import torch
import torch.nn.functional as F
from torch.nn.parallel import DistributedDataParallel

from .augment import apply_crop, draw_crops
from .point_augment import apply_point_augment, draw_point_augments
from .checkpoint import Checkpoint
from .data import Dataset
from .distributed import Processes, all_sum
from .finetune import FineTuneModel
from .optim import load_moments, make_optimizer, moments, set_lr
from .sampler import Sampler, shard
from .schedule import learning_rate
from .settings import TrainOptions


class TrainingDiverged(RuntimeError):
    pass


class Trainer:
    def __init__(self, model: FineTuneModel, data: Dataset, options: TrainOptions, procs: Processes):
        self.model, self.data, self.options, self.procs = model, data, options, procs
        model.to(procs.device)
        self.steps_per_epoch = math.ceil(data.count / options.batch_size)
        self.total_steps = options.steps if options.steps is not None else self.steps_per_epoch * int(options.epochs or 0)
        self.sampler = Sampler(data.count, options.batch_size, options.seed, options.shuffle)
        self.optimizer = make_optimizer(model, options)
        self.net: torch.nn.Module = DistributedDataParallel(model) if procs.world > 1 else model
        self.step = 0
        self.history: list[dict] = []
        self.inputs = torch.from_numpy(data.inputs)
        self.labels = torch.from_numpy(data.labels)

    def load(self, ck: Checkpoint) -> None:
        """Continues from a checkpoint: tensors, AdamW moments and step, sampler, history."""
        self.model.load_native(ck.tensors)
        if ck.m is not None and ck.v is not None:
            load_moments(self.optimizer, self.model, ck.optimizer_step, ck.m, ck.v)
        self.step = ck.step
        self.sampler.load(ck.order, ck.cursor, ck.rng_state)
        self.history = list(ck.history)

    def state(self) -> dict:
        """What a checkpoint keeps of the run (the file's own fields are added by the caller)."""
        step, m, v = moments(self.optimizer, self.model)
        adamw = self.options.optimizer == "adamw"
        return {"step": self.step, "optimizer_step": step if adamw else self.step, "tensors": self.model.native_tensors(),
                "m": m if adamw else None, "v": v if adamw else None, "order": list(self.sampler.order),
                "cursor": self.sampler.cursor, "rng_state": self.sampler.rng.state, "history": list(self.history)}

    @property
    def done(self) -> bool:
        return self.step >= self.total_steps

    def run(self, on_metrics: Callable[[dict], None] | None = None) -> None:
        start, images = time.perf_counter(), 0
        while not self.done:
            metrics = self.train_step()
            images += metrics.pop("images")
            rate = images / max(time.perf_counter() - start, 1e-9)
            metrics.update(images_per_second=rate, eta_seconds=(self.total_steps - self.step) * self.options.batch_size / max(rate, 1e-9))
            self.history.append(metrics)
            if on_metrics is not None:
                on_metrics(metrics)

    def _draw_augments(self, count: int) -> list:
        """The engine's augmentation draws for `count` samples (crops and flips, or point transforms)."""
        o, rng, shape = self.options, self.sampler.rng, self.data.inputs.shape[1:]
        if len(shape) == 2:
            return draw_point_augments(rng, count, shape[0], o.augment_scale_translate, o.augment_rotate, o.augment_jitter)
        return draw_crops(rng, count, shape[1], shape[2], o.augment_crop, o.augment_flip)

    def _batch(self, indices: list[int], augments: list | None) -> tuple[torch.Tensor, torch.Tensor]:
        x = self.inputs[indices]
        if augments is not None and indices:  # a process whose share of a short last batch is empty has nothing to augment
            apply = apply_point_augment if self.data.inputs.ndim == 3 else apply_crop
            x = torch.from_numpy(np.stack([apply(self.data.inputs[i], a) for i, a in zip(indices, augments)]))
        return x.to(self.procs.device), self.labels[indices].to(self.procs.device)

    def train_step(self) -> dict:
        o, procs, model = self.options, self.procs, self.model
        batch = self.sampler.next_batch()
        lr = learning_rate(self.step + 1, self.total_steps, o.lr, o.warmup)
        set_lr(self.optimizer, lr)
        # The engine's draws: per engine micro-batch, its augmentation, then one forked seed.
        chunk = o.micro_batch_size or len(batch)
        augments: list | None = [] if (o.image_augment or o.point_augment) else None
        seeds = []
        for begin in range(0, len(batch), chunk):
            count = min(chunk, len(batch) - begin)
            if augments is not None:
                augments += self._draw_augments(count)
            seeds.append(self.sampler.rng.fork())
        # This process's shard of the global batch, in forward passes of at most --micro-batch samples.
        mine = shard(len(batch), procs.rank, procs.world)
        passes = [mine[i:i + chunk] for i in range(0, len(mine), chunk)] or [[]]
        weight = procs.world / len(batch)
        self.optimizer.zero_grad(set_to_none=False)
        ce_sum = torch.zeros((), device=procs.device)
        sade_value = 0.0
        for k, positions in enumerate(passes):
            x, y = self._batch([batch[i] for i in positions], [augments[i] for i in positions] if augments is not None else None)
            seed = seeds[k % len(seeds)] ^ ((procs.rank * 0x9E3779B1) & 0xFFFFFFFF)
            last = k == len(passes) - 1
            sync = self.net.no_sync() if (procs.world > 1 and not last) else contextlib.nullcontext()
            with sync:
                logits = self.net(x, training=True, dropout_seed=seed)
                ce = F.cross_entropy(logits, y, reduction="sum", label_smoothing=o.label_smoothing)
                loss = ce * weight
                if k == 0 and model.settings.sade_weight > 0:
                    sade = model.sade()
                    if sade is not None:
                        loss = loss + model.settings.sade_weight * sade
                        sade_value = float(sade.detach())
                loss.backward()
            ce_sum += ce.detach()
        ce_mean = float(all_sum(procs, ce_sum)) / len(batch)
        loss_value = ce_mean + model.settings.sade_weight * sade_value
        if not math.isfinite(loss_value):
            raise TrainingDiverged(f"Training diverged at step {self.step + 1}: the loss became {loss_value}. "
                                   "Nothing was written for this step; lower the learning rate and train again, or resume from a checkpoint.")
        model.zero_inert_gradients()
        self.optimizer.step()
        self.step += 1
        return {"step": self.step, "total_steps": self.total_steps, "epoch": self.step / self.steps_per_epoch,
                "loss": loss_value, "cross_entropy": ce_mean, "sade": sade_value, "lr": lr, "images": len(batch)}

