"""Training data as the engine takes it (src/data/load-node.ts): a tensor file (§2.5: `pixel_values`
[N,3,H,W] already normalised, `labels` [N] I32/I64, class names from `__metadata__.classes`) or a folder
with one sub-folder of PNG/JPEG images per class, preprocessed with timm's eval transform on PIL; for a
point backbone, a point tensor file (point_data.py).

The folder order is the engine's: class folders sorted by name (dot-folders ignored), files sorted within
each; unusable files are skipped and listed with the reason, the rest trains. Preprocessing is timm's own
pipeline (PIL bicubic with antialiasing, rounding to 8 bits after each pass); the engine does the same on
the GPU in f32 and lands within about one grey level of it (README, Preprocessing).
"""

from __future__ import annotations

import math
import warnings
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from .backbone import check_sample_shape, is_point
from .dataset import Dataset, DatasetError, check_dataset, classes_of  # noqa: F401 (check_dataset: re-exported)
from .models import Backbone, Preprocess
from .point_data import load_point_tensor_dataset, pack_command
from .safetensors import open_safetensors
from .settings import UsageError

MAX_IMAGE_PIXELS = 50_000_000  # the engine's limit, refused from the header before decoding


def load_tensor_dataset(path: Path) -> Dataset:
    with open_safetensors(path) as file:
        if not (file.has("pixel_values") and file.has("labels")):
            raise DatasetError(f'{path} needs "pixel_values" [N,3,H,W] and "labels" [N] tensors (it has: {", ".join(file.names()) or "none"}).')
        shape, label_shape = file.shape("pixel_values"), file.shape("labels")
        if len(shape) != 4 or len(label_shape) != 1 or label_shape[0] != shape[0]:
            raise DatasetError(f"{path}: pixel_values is {list(shape)} and labels {list(label_shape)}; expected [N,3,H,W] and [N].")
        labels = file.read_int("labels")
        classes = classes_of(file, labels)
        return Dataset(classes, file.read_f32("pixel_values"), labels)


def decode_image(path: Path) -> Image.Image:
    """RGB as the engine decodes it: PNG or JPEG only, at most 50 megapixels (checked before decoding),
    16-bit samples keep their high byte, JPEG EXIF orientation applied, alpha dropped."""
    try:
        with open(path, "rb") as f:
            head = f.read(8)
        if not head:
            raise DatasetError(f"{path} is empty (0 bytes): the file did not finish downloading or saving.")
        if not (head.startswith(b"\x89PNG\r\n\x1a\n") or head.startswith(b"\xff\xd8\xff")):
            raise DatasetError(f"{path} is not an image this program reads: only PNG and JPEG are supported, and it starts with bytes {head[:4].hex(' ')}.")
        try:
            image = Image.open(path)
        except Image.DecompressionBombError:  # PIL's own limit (about 179 megapixels) comes first
            raise DatasetError(f"{path} is over the {MAX_IMAGE_PIXELS // 1_000_000}-megapixel limit; scale it down first.") from None
        width, height = image.size
        if width * height > MAX_IMAGE_PIXELS:
            raise DatasetError(f"{path} is {width}×{height} ({width * height / 1e6:.0f} megapixels), over the {MAX_IMAGE_PIXELS // 1_000_000}-megapixel limit; scale it down first.")
        image.load()
        if image.format == "JPEG":
            image = ImageOps.exif_transpose(image)
        if image.mode in ("I;16", "I;16B", "I;16L", "I"):
            image = Image.fromarray((np.asarray(image, dtype=np.uint32) >> 8).astype(np.uint8), "L")
        with warnings.catch_warnings():  # PIL warns that palette transparency is dropped: convert('RGB') drops it, as the engine does
            warnings.simplefilter("ignore", UserWarning)
            return image.convert("RGB")
    except DatasetError:
        raise
    except (OSError, ValueError, SyntaxError) as error:
        raise DatasetError(f"{path} is a corrupt image ({error}).") from None


def timm_eval(image: Image.Image, p: Preprocess) -> np.ndarray:
    """timm's eval transform: shorter side to floor(size / crop_pct) with bicubic (the longer side
    truncated), centre crop at round((h - size) / 2), /255, normalise; [3, size, size] float32."""
    short = math.floor(p.size / p.crop_pct)
    w, h = image.size
    new_w, new_h = (short, int(short * h / w)) if w <= h else (int(short * w / h), short)
    resized = image.resize((new_w, new_h), Image.BICUBIC)
    top, left = int(round((new_h - p.size) / 2.0)), int(round((new_w - p.size) / 2.0))
    pixels = np.asarray(resized.crop((left, top, left + p.size, top + p.size)), dtype=np.uint8).astype(np.float32) / np.float32(255)
    pixels = (pixels - np.asarray(p.mean, np.float32)) / np.asarray(p.std, np.float32)
    return np.ascontiguousarray(pixels.transpose(2, 0, 1))


def load_folder_dataset(folder: Path, p: Preprocess, class_names: list[str] | None = None) -> Dataset:
    dirs = sorted(e.name for e in folder.iterdir() if e.is_dir() and not e.name.startswith("."))
    classes = list(class_names) if class_names is not None else dirs
    if not classes:
        raise DatasetError(f"{folder} has no sub-folders: put the images of each class in a folder named after the class.")
    inputs, labels, skipped = [], [], []
    for label, name in enumerate(classes):
        class_dir = folder / name
        if not class_dir.is_dir():
            continue
        for f in sorted(class_dir.iterdir(), key=lambda e: e.name):
            if not f.is_file() or f.name.startswith("."):
                continue
            try:
                inputs.append(timm_eval(decode_image(f), p))
                labels.append(label)
            except DatasetError as error:
                skipped.append((str(f), str(error)))
    pixels = np.stack(inputs) if inputs else np.zeros((0, 3, p.size, p.size), np.float32)
    return Dataset(classes, pixels, np.asarray(labels, np.int64), skipped)


def load_data(path: str, backbone: Backbone, class_names: list[str] | None = None) -> Dataset:
    """--data as the engine's loadData takes it for this backbone; the sample shape must be one the model takes."""
    source = Path(path)
    if not source.exists():
        raise UsageError(f"--data {path}: no such file or folder.")
    if is_point(backbone.cfg):
        if source.is_dir():
            raise DatasetError(f"--data {path} is a folder of point files, which the companion does not read itself: the engine's readers "
                               f"bring each file to {backbone.cfg.points} points exactly as it trains on them. Pack the folder into a tensor "
                               f"file once with `{pack_command(path, backbone.spec)}` (from the repository root) and pass that file as --data.")
        data = load_point_tensor_dataset(source)
        if data.count:
            check_sample_shape(backbone.cfg, tuple(data.inputs.shape[1:]))
        return data
    p = backbone.preprocess
    channels = backbone.cfg.channels
    data = load_folder_dataset(source, p, class_names) if source.is_dir() else load_tensor_dataset(source)
    shape = tuple(data.inputs.shape[1:])
    if data.count and shape != (channels, p.size, p.size):
        raise DatasetError(f"The data holds images of shape [{', '.join(map(str, shape))}]; the model takes [{channels}, {p.size}, {p.size}].")
    return data
