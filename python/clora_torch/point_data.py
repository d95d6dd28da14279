"""Point-cloud data as the engine takes it (src/data/points/tensor-file.ts): a tensor file holding `points`
[N, P, 3] float32 — each cloud already centred on its centroid and scaled into the unit sphere (clora-spec §4)
— and `labels` [N] I32/I64, class names in the metadata key `classes`.

Folders of point files (.ply, .obj, .off, .xyz/.txt/.pts, .npy) are not read here: the engine's readers bring
each file to P points (a seeded reservoir while streaming, seeded area-weighted sampling on mesh faces,
farthest point sampling or repetition, centring and scaling), and `npm run clora -- pack` writes exactly what
they give as such a tensor file, once, for every process and every run to read. README, "Scale out".
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from .dataset import Dataset, DatasetError, classes_of
from .safetensors import open_safetensors


def pack_command(folder: str, model: str) -> str:
    return f"npm run clora -- pack --model {model} --data {folder} --out points.safetensors"


def load_point_tensor_dataset(path: Path) -> Dataset:
    with open_safetensors(path) as file:
        if not (file.has("points") and file.has("labels")):
            raise DatasetError(f'{path} needs "points" [N, P, 3] and "labels" [N] tensors (it has: {", ".join(file.names()) or "none"}).')
        shape, label_shape = file.shape("points"), file.shape("labels")
        if len(shape) != 3 or shape[2] != 3 or len(label_shape) != 1 or label_shape[0] != shape[0]:
            raise DatasetError(f"{path}: points is {list(shape)} and labels {list(label_shape)}; expected [N, P, 3] and [N].")
        points = file.read_f32("points")
        bad = np.flatnonzero(~np.isfinite(points.reshape(len(points), -1)).all(axis=1))
        if bad.size:
            cloud = int(bad[0])
            value = points[cloud][~np.isfinite(points[cloud])][0]
            raise DatasetError(f"{path}: cloud {cloud} holds a coordinate that is not a finite number ({value}); repair or remove that cloud.")
        labels = file.read_int("labels")
        classes = classes_of(file, labels)
        return Dataset(classes, points, labels)
