"""Training-time augmentation of point clouds, the engine's augmentPointsInto (src/data/points/augment.ts)
draw for draw: Point-MAE's fine-tuning transform, per cloud a scale of each axis by U(2/3, 3/2) and a
translation by U(−0.2, 0.2) (--augment); optionally first a rotation about the up axis y by U(0, 2π)
(--rotate: x' = x·c − z·s, z' = x·s + z·c) and last a jitter of every coordinate by N(0, 0.01²) clipped to
±0.05 (--jitter).

Per cloud the draws come in the engine's order (the angle, three scales, three shifts, then two draws per
coordinate for the jitter); the arithmetic is the engine's, in float64 on the float32 coordinates, rounded to
float32 after the affine part and again after the jitter. Each process of a distributed run draws for the
whole global batch and applies the draws to its own shard only, as for images (augment.py).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from .rng import Rng

SCALE_RANGE = (2 / 3, 3 / 2)
TRANSLATE_RANGE = 0.2
JITTER_STD = 0.01
JITTER_CLIP = 0.05


@dataclass(frozen=True)
class PointAugment:
    cos: float
    sin: float
    scale: tuple[float, float, float]
    shift: tuple[float, float, float]
    jitter: np.ndarray | None  # [P, 3] float64 offsets, already clipped


def draw_point_augments(rng: Rng, count: int, points: int, scale_translate: bool, rotate: bool, jitter: bool) -> list[PointAugment]:
    out = []
    for _ in range(count):
        cos, sin = 1.0, 0.0
        if rotate:
            angle = rng.next() * 2 * math.pi
            cos, sin = math.cos(angle), math.sin(angle)
        scale, shift = (1.0, 1.0, 1.0), (0.0, 0.0, 0.0)
        if scale_translate:
            scale = tuple(rng.uniform(*SCALE_RANGE) for _ in range(3))
            shift = tuple(rng.uniform(-TRANSLATE_RANGE, TRANSLATE_RANGE) for _ in range(3))
        noise = np.clip(JITTER_STD * rng.normals(3 * points), -JITTER_CLIP, JITTER_CLIP).reshape(points, 3) if jitter else None
        out.append(PointAugment(cos, sin, scale, shift, noise))
    return out


def apply_point_augment(cloud: np.ndarray, a: PointAugment) -> np.ndarray:
    """[P, 3] float32 -> the augmented cloud, [P, 3] float32."""
    x, y, z = (cloud[:, k].astype(np.float64) for k in range(3))
    out = np.stack([(x * a.cos - z * a.sin) * a.scale[0] + a.shift[0], y * a.scale[1] + a.shift[1],
                    (x * a.sin + z * a.cos) * a.scale[2] + a.shift[2]], axis=1).astype(np.float32)
    if a.jitter is not None:
        out = (out.astype(np.float64) + a.jitter).astype(np.float32)
    return out
