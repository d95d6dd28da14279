"""Data as the engine takes it: a folder of class folders decoded and preprocessed with timm's eval
transform (PIL), which reproduces timm's own values exactly on the image fixtures (tests/fixtures/images,
made with PIL by tools/make_image_fixtures.py) and lands within about one grey level of the engine's GPU
preprocessing of the same folder; unusable files skipped with the reason; the engine's folder order."""

from __future__ import annotations

import json
import shutil

import numpy as np
import pytest

from clora_torch.data import DatasetError, decode_image, load_folder_dataset, timm_eval
from clora_torch.models import Preprocess
from clora_torch.safetensors import open_safetensors
from conftest import REPO, engine_script

IMAGES = REPO / "tests" / "fixtures" / "images"


def read_expected():
    with open_safetensors(IMAGES / "expected.safetensors") as f:
        settings, files = json.loads(f.metadata["settings"]), json.loads(f.metadata["files"])
        return {name: f.read_array(name) for name in f.names()}, settings, files


def test_decoding_and_timm_eval_reproduce_timm_exactly():
    arrays, settings, files = read_expected()
    checked = 0
    for image, file in files.items():
        rgb = decode_image(IMAGES / file)
        want = arrays.get(f"decoded.{'grey' if image == 'grey16' else image}")
        assert np.array_equal(np.asarray(rgb), want), f"{file} decodes differently"
        for key, s in settings.items():
            if f"expected.{image}.{key}" in arrays:
                p = Preprocess(s["size"], s["crop_pct"], tuple(s["mean"]), tuple(s["std"]))
                assert np.array_equal(timm_eval(rgb, p), arrays[f"expected.{image}.{key}"]), f"{file} {key}"
                checked += 1
    assert checked == 26  # 13 images with timm's values, two settings each


def make_folder(root):
    """Two classes of PNGs from the fixtures, plus files the loader must skip."""
    for label, names in {"bird": ["rgb.png", "grey.png", "palette.png", "rgba.png"], "cat": ["small.png", "rgb16.png", "grey_alpha.png", "rgb_trns.png"]}.items():
        (root / label).mkdir(parents=True)
        for name in names:
            shutil.copy(IMAGES / name, root / label / name)
    (root / "cat" / "notes.txt").write_text("not an image")
    (root / "cat" / "empty.png").write_bytes(b"")
    (root / "bird" / "broken.png").write_bytes((IMAGES / "rgb.png").read_bytes()[:120])
    (root / ".hidden").mkdir()
    return root


def test_a_folder_loads_in_the_engines_order_and_skips_what_it_cannot_use(tmp_path):
    p = Preprocess(16, 0.9, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5))
    data = load_folder_dataset(make_folder(tmp_path / "data"), p)
    assert data.classes == ["bird", "cat"] and data.labels.tolist() == [0] * 4 + [1] * 4
    assert data.inputs.shape == (8, 3, 16, 16)
    reasons = {path.split("/")[-1]: reason for path, reason in data.skipped}
    assert sorted(reasons) == ["broken.png", "empty.png", "notes.txt"]
    assert "empty (0 bytes)" in reasons["empty.png"] and "only PNG and JPEG are supported" in reasons["notes.txt"]
    assert "corrupt" in reasons["broken.png"]
    # Sorted by file name within a class, as the engine reads them: grey, palette, rgb, rgba.
    assert np.array_equal(data.inputs[2], timm_eval(decode_image(tmp_path / "data" / "bird" / "rgb.png"), p))


def test_within_about_one_grey_level_of_the_engines_gpu_preprocessing(tmp_path):
    folder = make_folder(tmp_path / "data")
    out = tmp_path / "engine.safetensors"
    engine_script(f"""
import {{ writeFileSync }} from 'node:fs';
import {{ createNodeGpuContext }} from './src/gpu/node';
import {{ loadFolderDataset }} from './src/data/load-node';
import {{ writeSafetensors }} from './src/io/safetensors';
(async () => {{
  const ctx = await createNodeGpuContext();
  const d = await loadFolderDataset(ctx, {json.dumps(str(folder))}, {{ size: 16, cropPct: 0.9, mean: [0.5, 0.5, 0.5], std: [0.5, 0.5, 0.5] }});
  writeFileSync({json.dumps(str(out))}, writeSafetensors([{{ name: 'pixel_values', shape: [d.count, ...d.sampleShape], data: d.inputs as Float32Array }},
    {{ name: 'labels', shape: [d.count], data: d.labels }}], {{ classes: JSON.stringify(d.classes), skipped: String(d.skipped.length) }}));
  ctx.destroy();
}})();
""")
    ours = load_folder_dataset(folder, Preprocess(16, 0.9, (0.5, 0.5, 0.5), (0.5, 0.5, 0.5)))
    with open_safetensors(out) as f:
        theirs, labels, meta = f.read_f32("pixel_values"), f.read_int("labels"), f.metadata
    assert json.loads(meta["classes"]) == ours.classes and labels.tolist() == ours.labels.tolist() and meta["skipped"] == "3"
    levels = np.abs(theirs - ours.inputs) * 0.5 * 255  # normalised units back to 8-bit levels (std 0.5)
    print(f"engine vs PIL preprocessing: max {levels.max():.2f} levels, mean {levels.mean():.3f}")
    assert levels.max() <= 1.1 and levels.mean() <= 0.4


def test_an_oversized_image_is_refused_from_its_header(tmp_path):
    import struct
    import zlib
    header = struct.pack(">IIBBBBB", 20000, 10000, 8, 2, 0, 0, 0)
    chunk = lambda kind, body: struct.pack(">I", len(body)) + kind + body + struct.pack(">I", zlib.crc32(kind + body))
    (tmp_path / "huge.png").write_bytes(b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IEND", b""))
    with pytest.raises(DatasetError, match="over the 50-megapixel limit"):
        decode_image(tmp_path / "huge.png")
