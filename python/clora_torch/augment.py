"""Training-time augmentation, the engine's (src/data/augment.ts) draw for draw: random resized crop
(scale 0.5-1, aspect 3/4-4/3, bilinear back to the input size) and horizontal flip, on preprocessed images.

The draws come from the run's Rng in the engine's order (per image: area, log-ratio, x, y, then the flip),
so the sampler's stream and every later epoch order stay the engine's. Each process of a distributed run
draws for the whole global batch and applies the draws to its own shard only.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .rng import Rng


@dataclass(frozen=True)
class Crop:
    x: float
    y: float
    w: float
    h: float
    flip: bool


def draw_crops(rng: Rng, count: int, h: int, w: int, crop: bool, flip: bool) -> list[Crop]:
    crops = []
    for _ in range(count):
        x, y, cw, ch = 0.0, 0.0, float(w), float(h)
        if crop:
            area = rng.uniform(0.5, 1) * w * h
            ratio = math.exp(rng.uniform(math.log(3 / 4), math.log(4 / 3)))
            cw = min(w, max(1.0, math.sqrt(area * ratio)))
            ch = min(h, max(1.0, math.sqrt(area / ratio)))
            x = rng.uniform(0, w - cw)
            y = rng.uniform(0, h - ch)
        crops.append(Crop(x, y, cw, ch, flip and rng.next() < 0.5))
    return crops


def apply_crop(image: np.ndarray, crop: Crop) -> np.ndarray:
    """[C, H, W] -> the crop resampled bilinearly (half-pixel centres, clamped) to [C, H, W], mirrored if flip."""
    _, h, w = image.shape
    sy = np.clip(crop.y + (np.arange(h) + 0.5) * crop.h / h - 0.5, 0, h - 1)
    xs = np.arange(w)
    ox = w - 1 - xs if crop.flip else xs
    sx = np.clip(crop.x + (ox + 0.5) * crop.w / w - 0.5, 0, w - 1)
    y0, x0 = np.floor(sy).astype(int), np.floor(sx).astype(int)
    y1, x1 = np.minimum(h - 1, y0 + 1), np.minimum(w - 1, x0 + 1)
    fy, fx = (sy - y0)[:, None], (sx - x0)[None, :]
    src = image.astype(np.float64)
    top = src[:, y0][:, :, x0] * (1 - fx) + src[:, y0][:, :, x1] * fx
    bottom = src[:, y1][:, :, x0] * (1 - fx) + src[:, y1][:, :, x1] * fx
    return (top * (1 - fy) + bottom * fy).astype(np.float32)
