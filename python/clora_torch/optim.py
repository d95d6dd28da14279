"""The engine's optimizers as torch.optim (src/train/optimizer.ts follows torch.optim.AdamW, amsgrad off):
AdamW with decoupled weight decay and bias corrections from the step count t (from 1), and the
contract's SGD, p <- p - lr·(g + wd·p) on the decayed tensors and p <- p - lr·g on the rest (torch.optim.SGD
without momentum). Weight decay applies to the group the contract's rule puts a tensor in.

Moments are read and written per native key (checkpoints keep them in the native layout)."""

from __future__ import annotations

from typing import Mapping

import numpy as np
import torch

from .finetune import FineTuneModel
from .settings import TrainOptions


def make_optimizer(model: FineTuneModel, o: TrainOptions) -> torch.optim.Optimizer:
    decayed, plain = model.decay_split()
    groups = [{"params": decayed, "weight_decay": o.weight_decay}, {"params": plain, "weight_decay": 0.0}]
    if o.optimizer == "adamw":
        return torch.optim.AdamW(groups, lr=o.lr, betas=(o.beta1, o.beta2), eps=o.eps, foreach=False)
    return torch.optim.SGD(groups, lr=o.lr, momentum=0.0, foreach=False)


def set_lr(optimizer: torch.optim.Optimizer, lr: float) -> None:
    for group in optimizer.param_groups:
        group["lr"] = lr


def moments(optimizer: torch.optim.Optimizer, model: FineTuneModel) -> tuple[int, dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(AdamW's step count, first moments, second moments) by native key; zeros before the first step."""
    step, m, v = 0, {}, {}
    for key, param in model.trainable().items():
        state = optimizer.state.get(param, {})
        if "exp_avg" in state:
            step = int(state["step"])
            m[key] = state["exp_avg"].detach().cpu().numpy().astype(np.float32, copy=True)
            v[key] = state["exp_avg_sq"].detach().cpu().numpy().astype(np.float32, copy=True)
        else:
            m[key] = np.zeros(tuple(param.shape), np.float32)
            v[key] = np.zeros(tuple(param.shape), np.float32)
    return step, m, v


def load_moments(optimizer: torch.optim.Optimizer, model: FineTuneModel, step: int, m: Mapping[str, np.ndarray], v: Mapping[str, np.ndarray]) -> None:
    """Puts saved moments back (AdamW); the next step is step + 1 for the bias corrections."""
    if not isinstance(optimizer, torch.optim.AdamW):
        return
    for key, param in model.trainable().items():
        optimizer.state[param] = {
            "step": torch.tensor(float(step)),
            "exp_avg": torch.from_numpy(np.array(m[key], np.float32)).to(param.device).reshape(param.shape),
            "exp_avg_sq": torch.from_numpy(np.array(v[key], np.float32)).to(param.device).reshape(param.shape),
        }
