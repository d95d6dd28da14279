"""The learning-rate schedule, the engine's (src/train/schedule.ts): with no warm-up the rate is constant
(the contract's exactness rule relies on it); otherwise it rises linearly over the warm-up steps and then
follows a cosine to zero at the last step. `step` counts from 1."""

from __future__ import annotations

import math


def learning_rate(step: int, total_steps: int, base_lr: float, warmup_steps: int) -> float:
    if warmup_steps <= 0:
        return base_lr
    if step <= warmup_steps:
        return base_lr * step / warmup_steps
    span = max(1, total_steps - warmup_steps)
    progress = min(1.0, (step - warmup_steps) / span)
    return base_lr * 0.5 * (1 + math.cos(math.pi * progress))
