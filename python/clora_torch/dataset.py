"""A data set as every loader gives it (the engine's src/data/dataset.ts): class names, the samples as model
input ([N, 3, H, W] images or [N, P, 3] point clouds, float32), the labels, and the files a folder loader
skipped with the reason; and the engine's checks that it can train."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field

import numpy as np


class DatasetError(ValueError):
    """Data that cannot train; the message says what is wrong."""


@dataclass
class Dataset:
    classes: list[str]
    inputs: np.ndarray  # [N, C, H, W] images or [N, P, 3] point clouds, float32 model input
    labels: np.ndarray  # [N] int64
    skipped: list[tuple[str, str]] = field(default_factory=list)

    @property
    def count(self) -> int:
        return int(self.labels.shape[0])

    def labels_sha256(self) -> str:
        """sha256 of the labels as little-endian int32: which sample is which, for checkpoints."""
        return hashlib.sha256(self.labels.astype("<i4").tobytes()).hexdigest()


def check_dataset(data: Dataset) -> None:
    """The engine's checkDataset."""
    if data.count == 0:
        raise DatasetError("The data set holds no usable samples.")
    c = len(data.classes)
    bad = np.flatnonzero((data.labels < 0) | (data.labels >= c))
    if bad.size:
        i = int(bad[0])
        raise DatasetError(f"Label {int(data.labels[i])} of sample {i} is outside the {c} classes (0..{c - 1}).")
    used = np.unique(data.labels)
    if used.size < 2:
        only = int(used[0])
        raise DatasetError(f"The data set has only one class ({data.classes[only] if only < c else only}); training needs at least two.")


def classes_of(file, labels: np.ndarray) -> list[str]:
    """The class names a tensor file's metadata lists, or "0", "1", … up to its largest label."""
    try:
        parsed = json.loads(file.metadata.get("classes", "null"))
        if isinstance(parsed, list) and all(isinstance(c, str) for c in parsed):
            return parsed
    except json.JSONDecodeError:
        pass
    return [str(i) for i in range(int(labels.max(initial=-1)) + 1)]
