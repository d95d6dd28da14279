"""The companion's safetensors reader and writer (clora-spec §2): the engine's files read back, F16 and
BF16 widened to f32, the writer's layout (F32/I32, header padded to 8 with spaces, tensors in the given
order), and every malformed file the spec lists refused with a sentence."""

from __future__ import annotations

import json
import struct

import numpy as np
import pytest

from clora_torch.safetensors import SafetensorsError, open_safetensors, write_safetensors
from conftest import BACKBONE, engine_script


def raw_file(path, header: dict, data: bytes = b"") -> None:
    text = json.dumps(header).encode()
    path.write_bytes(struct.pack("<Q", len(text)) + text + data)


def test_round_trip_and_layout(tmp_path):
    path = tmp_path / "t.safetensors"
    a, b = np.arange(6, dtype=np.float64).reshape(2, 3) / 7, np.array([3, -1, 2**31 - 1])
    write_safetensors(path, [("z.last", a), ("a.first", b)], {"k": "v"})
    data = path.read_bytes()
    (length,) = struct.unpack("<Q", data[:8])
    text = data[8:8 + length]
    end = text.rindex(b"}") + 1
    assert length % 8 == 0 and text[end:] == b" " * (length - end)  # padded with spaces
    header = json.loads(data[8:8 + length])
    assert list(header) == ["__metadata__", "z.last", "a.first"]
    assert header["z.last"] == {"dtype": "F32", "shape": [2, 3], "data_offsets": [0, 24]}
    assert header["a.first"]["dtype"] == "I32"
    with open_safetensors(path) as f:
        assert f.names() == ["z.last", "a.first"] and f.metadata == {"k": "v"}
        assert np.array_equal(f.read_f32("z.last"), a.astype(np.float32)) and f.read_int("a.first").tolist() == b.tolist()
    assert not list(tmp_path.glob("*.partial"))


def test_the_engine_reads_what_we_write(tmp_path):
    path = tmp_path / "ours.safetensors"
    write_safetensors(path, [("x", np.array([[1.5, -2.25]], np.float32)), ("n", np.array([7, 8], np.int64))], {"format": "test"})
    printed = engine_script(f"""
import {{ readFileSync }} from 'node:fs';
import {{ bytesSource, openSafetensors }} from './src/io/safetensors';
(async () => {{
  const f = await openSafetensors(bytesSource(new Uint8Array(readFileSync({json.dumps(str(path))}))));
  console.log(JSON.stringify({{ meta: f.metadata, x: [...await f.readF32('x')], n: [...await f.readInt('n')] }}));
}})();""")
    assert json.loads(printed) == {"meta": {"format": "test"}, "x": [1.5, -2.25], "n": [7, 8]}


def test_half_precision_is_widened(tmp_path):
    values = np.array([1.0, -0.5, 3.140625, 65504.0], np.float32)
    bf16 = (values.view(np.uint32) >> 16).astype("<u2").tobytes()
    path = tmp_path / "h.safetensors"
    raw_file(path, {"h": {"dtype": "F16", "shape": [4], "data_offsets": [0, 8]}, "b": {"dtype": "BF16", "shape": [4], "data_offsets": [8, 16]}},
             values.astype("<f2").tobytes() + bf16)
    with open_safetensors(path) as f:
        assert f.read_f32("h").tolist() == values.tolist()
        assert f.read_f32("b").tolist() == [1.0, -0.5, 3.140625, 65280.0]


def test_the_engine_files_open():
    with open_safetensors(BACKBONE) as f:
        assert f.shape("blocks.1.mlp.fc1.weight") == (96, 24) and f.metadata["num_heads"] == "3"


@pytest.mark.parametrize("header, data, message", [
    ({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 4, "truncated"),
    ({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 8]}}, b"\0" * 12, "unused bytes"),
    ({"x": {"dtype": "F32", "shape": [2], "data_offsets": [0, 4]}}, b"\0" * 4, "should take 8 bytes"),
    ({"x": {"dtype": "Q8", "shape": [1], "data_offsets": [0, 1]}}, b"\0", "unknown dtype"),
    ({"x": {"dtype": "F32", "shape": [1], "data_offsets": [0, 4]}, "y": {"dtype": "F32", "shape": [1], "data_offsets": [2, 6]}}, b"\0" * 6, "overlaps"),
    ({"x": {"dtype": "F32", "shape": [1], "data_offsets": [4, 8]}}, b"\0" * 8, "gap of 4 bytes"),
    ({"x": {"dtype": "F32", "shape": [-1], "data_offsets": [0, 4]}}, b"\0" * 4, "not a list of non-negative integers"),
    ({"__metadata__": {"a": 1}}, b"", "not an object of strings"),
])
def test_malformed_files_are_refused(tmp_path, header, data, message):
    path = tmp_path / "bad.safetensors"
    raw_file(path, header, data)
    with pytest.raises(SafetensorsError, match=message):
        open_safetensors(path)


def test_broken_headers_are_refused(tmp_path):
    path = tmp_path / "bad.safetensors"
    path.write_bytes(struct.pack("<Q", 10_000) + b"{}")
    with pytest.raises(SafetensorsError, match="beyond the end of the file"):
        open_safetensors(path)
    path.write_bytes(struct.pack("<Q", 200_000_000) + b"{}")
    with pytest.raises(SafetensorsError, match="over the 100 MB limit"):
        open_safetensors(path)
    path.write_bytes(struct.pack("<Q", 4) + b"{no}")
    with pytest.raises(SafetensorsError, match="not valid JSON"):
        open_safetensors(path)
    path.write_bytes(b"")
    with pytest.raises(SafetensorsError, match="is empty"):
        open_safetensors(path)
