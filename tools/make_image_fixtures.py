#!/usr/bin/python3
"""Image fixtures for tests/unit/preprocess.test.ts: small images and what timm's eval transform makes of them.

Run from the repository root with Debian's Python (it has PIL from python3-pil, and numpy):

    /usr/bin/python3 tools/make_image_fixtures.py            # writes tests/fixtures/images/
    /usr/bin/python3 tools/make_image_fixtures.py --out DIR  # elsewhere (e.g. to check determinism)

No torch, torchvision or timm: the eval transform is written out below with PIL exactly as
torchvision runs it on PIL images (timm's `transforms_factory.transforms_imagenet_eval`, crop_mode
'center'):

    img = Image.open(f).convert('RGB')             # drops alpha, expands grey and palettes
    s = math.floor(size / crop_pct)                 # timm's scale_size
    Resize(s, BICUBIC): shorter side -> s, longer -> int(s * long / short) (truncated), via img.resize
    CenterCrop(size): top = int(round((h - size) / 2.0)), left likewise (Python's round: half to even)
    ToTensor: uint8 / 255 in float32;  Normalize: (x - mean) / std in float32

Deterministic: seeded numpy images, PIL's encoders with fixed settings, no timestamps.
"""

from __future__ import annotations

import argparse
import io
import json
import math
import struct
import zlib
from pathlib import Path

import numpy as np
import warnings

import PIL
from PIL import Image, ImageOps

# Saving a palette image with tRNS bytes and converting it to RGB warns; timm's convert('RGB') does the same.
warnings.filterwarnings("ignore", message="Palette images with Transparency")

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "tests" / "fixtures" / "images"

IMAGENET = ((0.485, 0.456, 0.406), (0.229, 0.224, 0.225))
HALF = ((0.5, 0.5, 0.5), (0.5, 0.5, 0.5))

# name -> (size, crop_pct, (mean, std))
SETTINGS = {
    "s16_c0875_imagenet": (16, 0.875, IMAGENET),
    "s16_c09_half": (16, 0.9, HALF),
    "s32_c09_half": (32, 0.9, HALF),
    "s32_c0875_imagenet": (32, 0.875, IMAGENET),
}
DOWNSCALE = ["s16_c0875_imagenet", "s16_c09_half"]
UPSCALE = ["s32_c09_half", "s32_c0875_imagenet"]


# ---------------------------------------------------------------------------------------------
# safetensors writer: u64 LE header length, JSON header padded with spaces to a multiple of 8,
# tensors contiguous in header order.

_DTYPES = {np.dtype("<f4"): "F32", np.dtype("uint8"): "U8"}


def write_safetensors(path: Path, tensors: list[tuple[str, np.ndarray]], metadata: dict[str, str]) -> int:
    header: dict[str, object] = {"__metadata__": {str(k): str(v) for k, v in metadata.items()}}
    blobs: list[bytes] = []
    offset = 0
    for name, array in tensors:
        if name in header:
            raise ValueError(f"duplicate or reserved tensor name {name!r}")
        little = np.ascontiguousarray(array, dtype=array.dtype.newbyteorder("<") if array.dtype.itemsize > 1 else array.dtype)
        dtype = _DTYPES.get(little.dtype)
        if dtype is None:
            raise ValueError(f"{name}: dtype {array.dtype} not supported (F32 or U8)")
        data = little.tobytes()
        header[name] = {"dtype": dtype, "shape": list(little.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=True).encode("utf-8")
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for data in blobs:
            f.write(data)
    return 8 + len(text) + offset


# ---------------------------------------------------------------------------------------------
# Synthetic pictures: smooth gradients (what resizing mostly sees) plus sharp detail (edges, a
# checker and noise, where bicubic overshoots and PIL's clipping and rounding show).


def picture(w: int, h: int, seed: int) -> np.ndarray:
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    r = 255 * x / max(w - 1, 1)
    g = 255 * y / max(h - 1, 1)
    b = 127.5 + 127.5 * np.sin(x * 0.9 + y * 0.45)
    img = np.stack([r, g, b], axis=-1)
    img[(x // 3 + y // 3) % 2 == 0] *= 0.6  # checker: edges every 3 pixels
    img[h // 3 : h // 3 + 2, :, :] = 255.0  # a white band
    img[:, w // 2, :] = 0.0  # a black column
    img += rng.normal(0.0, 12.0, img.shape)
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def photo_like(w: int, h: int, seed: int) -> np.ndarray:
    """Smooth colour regions with soft edges and luminance-only noise: chroma as in photographs, which
    JPEG's 4:2:0 subsampling assumes (the `picture` above has per-channel noise, a worst case for it)."""
    rng = np.random.RandomState(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float64)
    img = np.stack([60 + 150 * x / w, 90 + 100 * y / h, 180 - 80 * x / w], axis=-1)
    for _ in range(3):
        cx, cy, radius = rng.uniform(0, w), rng.uniform(0, h), rng.uniform(4, 9)
        colour = rng.uniform(20, 235, 3)
        inside = 1 / (1 + np.exp((np.hypot(x - cx, y - cy) - radius) * 1.5))  # a soft-edged disc
        img = img * (1 - inside[..., None]) + colour * inside[..., None]
    img += rng.normal(0.0, 6.0, (h, w, 1))
    return np.clip(np.round(img), 0, 255).astype(np.uint8)


def encode(img: Image.Image, fmt: str, **options: object) -> bytes:
    buf = io.BytesIO()
    img.save(buf, format=fmt, **options)
    return buf.getvalue()


def png_chunk(kind: bytes, data: bytes) -> bytes:
    return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)


def png16(samples: np.ndarray) -> bytes:
    """A 16-bit grey ([H, W]) or RGB ([H, W, 3]) PNG written by hand (PIL cannot write 16-bit RGB)."""
    h, w = samples.shape[:2]
    raw = b"".join(b"\x00" + samples[row].astype(">u2").tobytes() for row in range(h))
    ihdr = struct.pack(">IIBBBBB", w, h, 16, 2 if samples.ndim == 3 else 0, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + png_chunk(b"IHDR", ihdr) + png_chunk(b"IDAT", zlib.compress(raw, 9)) + png_chunk(b"IEND", b"")


def with_exif_orientation(img: Image.Image, orientation: int) -> bytes:
    exif = Image.Exif()
    exif[0x0112] = orientation
    return encode(img, "JPEG", quality=95, subsampling=0, exif=exif.tobytes())


def make_images() -> dict[str, tuple[str, bytes, list[str]]]:
    """name -> (file name, bytes, settings to run)."""
    rgb = picture(37, 23, 1)
    out: dict[str, tuple[str, bytes, list[str]]] = {}
    out["rgb"] = ("rgb.png", encode(Image.fromarray(rgb, "RGB"), "PNG"), DOWNSCALE)
    out["rgb_q95_444"] = ("rgb_q95_444.jpg", encode(Image.fromarray(rgb, "RGB"), "JPEG", quality=95, subsampling=0), DOWNSCALE)
    out["rgb_q90_420"] = ("rgb_q90_420.jpg", encode(Image.fromarray(rgb, "RGB"), "JPEG", quality=90, subsampling=2), DOWNSCALE)
    photo = Image.fromarray(photo_like(37, 23, 12), "RGB")
    out["photo_q90_420"] = ("photo_q90_420.jpg", encode(photo, "JPEG", quality=90, subsampling=2), DOWNSCALE)
    out["photo_q90_422"] = ("photo_q90_422.jpg", encode(photo, "JPEG", quality=90, subsampling=1), DOWNSCALE)

    grey = picture(23, 37, 2)[..., 1]  # portrait, so the other orientation of Resize is covered
    out["grey"] = ("grey.png", encode(Image.fromarray(grey, "L"), "PNG"), DOWNSCALE)
    out["grey_q95"] = ("grey_q95.jpg", encode(Image.fromarray(grey, "L"), "JPEG", quality=95), DOWNSCALE)

    alpha = picture(37, 23, 3)[..., 2]  # alpha 0 included: colours under it must survive
    la = np.stack([picture(37, 23, 4)[..., 0], alpha], axis=-1)
    out["grey_alpha"] = ("grey_alpha.png", encode(Image.fromarray(la, "LA"), "PNG"), DOWNSCALE)
    rgba = np.concatenate([picture(37, 23, 5), alpha[..., None]], axis=-1)
    out["rgba"] = ("rgba.png", encode(Image.fromarray(rgba, "RGBA"), "PNG"), DOWNSCALE)

    # Palette with per-entry transparency (tRNS): the colours of transparent entries still count.
    pal = Image.fromarray(picture(37, 23, 6), "RGB").quantize(colors=29, method=Image.Quantize.MEDIANCUT, dither=Image.Dither.NONE)
    out["palette"] = ("palette.png", encode(pal, "PNG", transparency=bytes([0, 128] + [255] * 27)), DOWNSCALE)

    # RGB with a tRNS transparent colour: PIL keeps the colour (pngjs alone would zero it).
    trns_rgb = picture(37, 23, 7)
    trns_rgb[5:9, 5:9] = (10, 20, 30)
    out["rgb_trns"] = ("rgb_trns.png", encode(Image.fromarray(trns_rgb, "RGB"), "PNG", transparency=(10, 20, 30)), DOWNSCALE)

    # 16-bit RGB: low bytes that would round differently from truncation, so the rule is tested.
    hi = picture(37, 23, 8).astype(np.uint16)
    lo = np.random.RandomState(9).randint(0, 256, hi.shape).astype(np.uint16)
    out["rgb16"] = ("rgb16.png", png16(hi * 256 + lo), DOWNSCALE)

    # 16-bit grey with grey.png's values as high bytes. PIL opens it as mode "I" and convert('RGB') clips
    # 0–65535 to 0–255 (nearly all white), so it gets no PIL tensors: Node must decode it to decoded.grey.
    grey_lo = np.random.RandomState(13).randint(0, 256, grey.shape).astype(np.uint16)
    out["grey16"] = ("grey16.png", png16(grey.astype(np.uint16) * 256 + grey_lo), [])

    small = picture(13, 9, 10)
    out["small"] = ("small.png", encode(Image.fromarray(small, "RGB"), "PNG"), UPSCALE)

    oriented = Image.fromarray(picture(11, 7, 11), "RGB")
    for o in range(1, 9):
        out[f"orient{o}"] = (f"orient{o}.jpg", with_exif_orientation(oriented, o), [])
    return out


# ---------------------------------------------------------------------------------------------
# timm's eval transform on PIL images


def resized_size(w: int, h: int, short_new: int) -> tuple[int, int]:
    if w <= h:
        return short_new, int(short_new * h / w)
    return int(short_new * w / h), short_new


def timm_eval(rgb: Image.Image, size: int, crop_pct: float, mean: tuple, std: tuple) -> np.ndarray:
    new_w, new_h = resized_size(*rgb.size, math.floor(size / crop_pct))
    resized = rgb.resize((new_w, new_h), Image.BICUBIC)
    top = int(round((new_h - size) / 2.0))
    left = int(round((new_w - size) / 2.0))
    cropped = np.asarray(resized.crop((left, top, left + size, top + size)), dtype=np.uint8)
    x = cropped.astype(np.float32) / np.float32(255)
    x = (x - np.asarray(mean, np.float32)) / np.asarray(std, np.float32)
    return np.ascontiguousarray(x.transpose(2, 0, 1), dtype=np.float32)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args()
    args.out.mkdir(parents=True, exist_ok=True)

    tensors: list[tuple[str, np.ndarray]] = []
    files: dict[str, str] = {}
    modes: dict[str, str] = {}
    for name, (file_name, data, settings) in make_images().items():
        (args.out / file_name).write_bytes(data)
        files[name] = file_name
        opened = Image.open(io.BytesIO(data))
        modes[name] = opened.mode
        if name == "grey16":
            continue
        if name.startswith("orient"):
            opened = ImageOps.exif_transpose(opened)  # what a browser shows; timm itself ignores EXIF
        rgb = opened.convert("RGB")
        tensors.append((f"decoded.{name}", np.asarray(rgb, dtype=np.uint8)))
        for setting in settings:
            size, crop_pct, (mean, std) = SETTINGS[setting]
            tensors.append((f"expected.{name}.{setting}", timm_eval(rgb, size, crop_pct, mean, std)))

    metadata = {
        "generator": "tools/make_image_fixtures.py",
        "pil": PIL.__version__,
        "numpy": np.__version__,
        "files": json.dumps(files, sort_keys=True),
        "pil_modes": json.dumps(modes, sort_keys=True),
        "settings": json.dumps({k: {"size": s, "crop_pct": c, "mean": m, "std": d} for k, (s, c, (m, d)) in SETTINGS.items()}),
        "decoded": "decoded.<image>: U8 [H, W, 3], Image.open(bytes).convert('RGB') (orient*: after ImageOps.exif_transpose)",
        "expected": "expected.<image>.<setting>: F32 [3, size, size], timm's eval transform on decoded.<image> (see the generator's docstring)",
    }
    size = write_safetensors(args.out / "expected.safetensors", tensors, metadata)
    total = size + sum((args.out / f).stat().st_size for f in files.values())
    print(f"wrote {len(files)} images and expected.safetensors ({size} bytes); {total} bytes in all")


if __name__ == "__main__":
    main()
