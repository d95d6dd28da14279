"""A project's samples as the page trains on them: the same samples in the same order with the same labels and the
same validation split (src/data/intake.ts: packSamples, validationFlags, datasetFingerprint), and the same model
input (src/worker/images.ts unpackSamples, src/data/dataset.ts copyImage; src/data/point-samples.ts unpackClouds).

- Order: the classes in project.json's order, those without images left out (label = position among the rest);
  within a class its images by sequence number, as the page sorts its sample keys "<class id>/<9-digit seq>".
- Split: in each class, sample i (0-based) is held out for validation when floor((i+1)·share) > floor(i·share),
  unless that would hold out every sample of the class (then the first trains): an evenly spread share.
- Input: each PNG decoded exactly (8-bit RGB, alpha dropped); v·(1/(255·std)) − mean/std per channel in float64,
  rounded to float32, as the engine computes it. A stored image of another size than the model's is resized
  first (bicubic, as timm's PIL pipeline, which the engine's GPU resize matches within about one grey level).
- A point project's clouds: each .npy holds the stored cloud's values (q / 32767 in float32, the page's 16-bit
  storage), which are exactly the page's model input when the cloud has the backbone's P points. A cloud stored at
  another count (added under another point backbone) the page resamples with farthest point sampling; the
  companion refuses it with a sentence instead.
"""

from __future__ import annotations

import io
import math
import warnings
from dataclasses import dataclass

import numpy as np
from PIL import Image

from .dataset import Dataset
from .models import Preprocess
from .backbone import is_point
from .models import Backbone
from .project import Project, damaged, sample_path, seq_of_sample_file


def validation_flags(count: int, share: float) -> list[bool]:
    flags = [math.floor((i + 1) * share) > math.floor(i * share) for i in range(count)]
    if count > 0 and all(flags):
        flags[0] = False
    return flags


def js_string(x: float) -> str:
    """JavaScript's String(x) for a finite number: 1 not 1.0, 0.05, 1e-7 not 1e-07, 1e+21."""
    if float(x).is_integer() and abs(x) < 1e21:
        return str(int(x))
    text = repr(float(x))
    if "e" not in text:
        return text
    mantissa, exponent = text.split("e")
    return f"{mantissa}e{'-' if exponent.startswith('-') else '+'}{int(exponent.lstrip('+-'))}"


def dataset_fingerprint(classes: list[tuple[str, str]], keys: list[str], share: float) -> str:
    """The page's datasetFingerprint: FNV-1a over UTF-16 units of "<id>=<name>" per class, every sample key and the
    share, each text closed by 0x1f; "<8 hex digits>-<number of keys>". Equal exactly when the data set is."""
    h = 0x811C9DC5

    def feed(text: str) -> None:
        nonlocal h
        units = text.encode("utf-16-le")
        for i in range(0, len(units), 2):
            h = ((h ^ (units[i] | units[i + 1] << 8)) * 0x01000193) & 0xFFFFFFFF
        h = ((h ^ 0x1F) * 0x01000193) & 0xFFFFFFFF

    for cid, name in classes:
        feed(f"{cid}={name}")
    for key in keys:
        feed(key)
    feed(js_string(share))
    return f"{h:08x}-{len(keys)}"


@dataclass
class ProjectSamples:
    """Every sample in the page's order: its zip path and key, label and whether the split holds it out."""

    classes: list[str]  # names of the classes with images: the labels' order
    class_ids: list[str]
    paths: list[str]
    keys: list[str]
    labels: np.ndarray  # int64
    validation: np.ndarray  # bool
    fingerprint: str

    @property
    def train_labels(self) -> np.ndarray:
        return self.labels[~self.validation]


def project_samples(project: Project) -> ProjectSamples:
    p = project.json
    kind = p["kind"]
    used = [c for c in p["classes"] if c["files"]]
    paths, keys, labels, validation = [], [], [], []
    for label, c in enumerate(used):
        files = sorted(c["files"], key=lambda f: seq_of_sample_file(kind, f))
        flags = validation_flags(len(files), p["validationShare"])
        for f, held in zip(files, flags):
            paths.append(sample_path(kind, c["folder"], f))
            keys.append(f"{c['id']}/{seq_of_sample_file(kind, f):09d}")
            labels.append(label)
            validation.append(held)
    return ProjectSamples(classes=[c["name"] for c in used], class_ids=[c["id"] for c in used], paths=paths, keys=keys,
                          labels=np.asarray(labels, np.int64), validation=np.asarray(validation, bool),
                          fingerprint=dataset_fingerprint([(c["id"], c["name"]) for c in used], keys, p["validationShare"]))


def decode_stored(path: str, data: bytes) -> np.ndarray:
    """A stored sample: [S, S, 3] uint8, decoded exactly as saved; a sentence when it is no square PNG."""
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise damaged(f"{path} is not a PNG image")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)
            image = Image.open(io.BytesIO(data))
            image.load()
            if image.mode in ("I;16", "I;16B", "I;16L", "I"):
                image = Image.fromarray((np.asarray(image, dtype=np.uint32) >> 8).astype(np.uint8), "L")
            image = image.convert("RGB")
    except (OSError, ValueError, SyntaxError, Image.DecompressionBombError) as error:
        raise damaged(f"{path} cannot be read ({error})") from None
    width, height = image.size
    if width != height:
        raise damaged(f"{path} is {width} × {height}, but a project's images are square")
    return np.asarray(image, dtype=np.uint8)


def model_input(rgb: np.ndarray, p: Preprocess) -> np.ndarray:
    """[3, S, S] float32 model input of a stored sample, as the engine normalises 8-bit pixels."""
    if rgb.shape[0] != p.size:
        rgb = np.asarray(Image.fromarray(rgb, "RGB").resize((p.size, p.size), Image.BICUBIC), dtype=np.uint8)
    scale = 1.0 / (255.0 * np.asarray(p.std, np.float64))
    shift = np.asarray(p.mean, np.float64) / np.asarray(p.std, np.float64)
    planes = rgb.transpose(2, 0, 1).astype(np.float64)
    return (planes * scale[:, None, None] - shift[:, None, None]).astype(np.float32)


def decode_cloud(path: str, data: bytes, points: int) -> np.ndarray:
    """A stored cloud: [P, 3] float32 as saved; a sentence when it is no float32 [P, 3] .npy of a normalised cloud."""
    try:
        cloud = np.load(io.BytesIO(data), allow_pickle=False)
    except (OSError, ValueError, EOFError) as error:
        raise damaged(f"{path} cannot be read as a NumPy .npy file ({error})") from None
    if cloud.dtype != np.dtype("<f4") or cloud.ndim != 2 or cloud.shape[1] != 3:
        raise damaged(f"{path} holds {cloud.dtype} {list(cloud.shape)}, not the float32 [N, 3] cloud the page saves")
    if not np.isfinite(cloud).all() or np.abs(cloud).max(initial=0) > 1 + 1e-6:
        raise damaged(f"{path} has coordinates that are not finite or lie outside -1 to 1, so it is not a cloud the page stored")
    if cloud.shape[0] != points:
        raise damaged(f"{path} holds {cloud.shape[0]} points, and the backbone takes {points}: the page stored it for another point "
                      "backbone. Open the project in the page with this backbone and add that class's point files again, then save it")
    return np.ascontiguousarray(cloud)


def project_datasets(project: Project, backbone: Backbone) -> tuple[Dataset, Dataset | None, ProjectSamples]:
    """The training and validation sets the page builds from the project (validation None when nothing is held out)."""
    s = project_samples(project)
    cfg = backbone.cfg
    if is_point(cfg):
        inputs = np.stack([decode_cloud(path, project.files[path], cfg.points) for path in s.paths]) if s.paths \
            else np.zeros((0, cfg.points, 3), np.float32)
    else:
        p = backbone.preprocess
        inputs = np.stack([model_input(decode_stored(path, project.files[path]), p) for path in s.paths]) if s.paths \
            else np.zeros((0, 3, p.size, p.size), np.float32)
    train = Dataset(list(s.classes), np.ascontiguousarray(inputs[~s.validation]), s.labels[~s.validation])
    held = Dataset(list(s.classes), np.ascontiguousarray(inputs[s.validation]), s.labels[s.validation]) if s.validation.any() else None
    return train, held, s
