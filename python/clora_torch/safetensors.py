"""safetensors files (clora-spec §2) with numpy only: Debian bookworm ships no `safetensors` package.

Layout: u64 little-endian header length, a JSON header (tensor name -> dtype, shape, data_offsets, plus
an optional `__metadata__` object of strings), then the data section, tiled exactly by the tensors.
The reader refuses what the spec lists (header past the file or over 100 MB, invalid JSON, unknown dtype,
overlaps, gaps, data running past the end, byte counts that do not match dtype x shape) with a sentence.
The writer writes F32 (and I32 for integer tensors), pads the header with spaces to a multiple of 8 and
lays tensors out in the order given, into a temporary file renamed into place once complete.
"""

from __future__ import annotations

import json
import mmap
import os
import struct
from dataclasses import dataclass
from pathlib import Path
from typing import Iterable, Mapping

import numpy as np

MAX_HEADER_BYTES = 100_000_000

# dtype -> (numpy dtype as stored, bytes per element); BF16 is widened by hand.
_DTYPES: dict[str, tuple[str, int]] = {
    "BOOL": ("|b1", 1), "U8": ("|u1", 1), "I8": ("|i1", 1), "U16": ("<u2", 2), "I16": ("<i2", 2),
    "F16": ("<f2", 2), "BF16": ("<u2", 2), "U32": ("<u4", 4), "I32": ("<i4", 4), "F32": ("<f4", 4),
    "U64": ("<u8", 8), "I64": ("<i8", 8), "F64": ("<f8", 8),
}
_FLOATS = ("F32", "F16", "BF16", "F64")
_INTS = ("I32", "I64")


class SafetensorsError(ValueError):
    """A file that is not a readable safetensors file; the message says what is wrong."""


@dataclass(frozen=True)
class TensorInfo:
    dtype: str
    shape: tuple[int, ...]
    begin: int  # absolute byte offsets in the file
    end: int


class SafetensorsFile:
    """An opened file: `metadata`, `tensors` (name -> TensorInfo, in data order); tensors read on demand."""

    def __init__(self, path: Path, metadata: dict[str, str], tensors: dict[str, TensorInfo], data: mmap.mmap | bytes):
        self.path = path
        self.metadata = metadata
        self.tensors = tensors
        self._data = data

    def names(self) -> list[str]:
        return list(self.tensors)

    def has(self, name: str) -> bool:
        return name in self.tensors

    def shape(self, name: str) -> tuple[int, ...]:
        return self._info(name).shape

    def _info(self, name: str) -> TensorInfo:
        info = self.tensors.get(name)
        if info is None:
            raise SafetensorsError(f'"{self.path}" has no tensor named "{name}".')
        return info

    def _raw(self, info: TensorInfo) -> np.ndarray:
        stored, _ = _DTYPES[info.dtype]
        return np.frombuffer(self._data, dtype=np.dtype(stored), count=int(np.prod(info.shape, dtype=np.int64)),
                             offset=info.begin).reshape(info.shape)

    def read_f32(self, name: str) -> np.ndarray:
        """The tensor as a new float32 array (F32, F16, BF16 and F64 are accepted)."""
        info = self._info(name)
        if info.dtype not in _FLOATS:
            raise SafetensorsError(f'Tensor "{name}" in "{self.path}" is {info.dtype}; only {", ".join(_FLOATS)} tensors can be read as floats.')
        raw = self._raw(info)
        if info.dtype == "BF16":
            return (raw.astype(np.uint32) << 16).view(np.float32).copy()
        return raw.astype(np.float32, copy=True)

    def read_array(self, name: str) -> np.ndarray:
        """The tensor as stored (a new array of its own dtype; BF16 as raw uint16)."""
        return self._raw(self._info(name)).copy()

    def read_int(self, name: str) -> np.ndarray:
        """An I32 or I64 tensor (labels) as int64."""
        info = self._info(name)
        if info.dtype not in _INTS:
            raise SafetensorsError(f'Tensor "{name}" in "{self.path}" is {info.dtype}; integer tensors (labels) must be I32 or I64.')
        return self._raw(info).astype(np.int64, copy=True)

    def close(self) -> None:
        if isinstance(self._data, mmap.mmap):
            self._data.close()

    def __enter__(self) -> "SafetensorsFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _fail(message: str) -> None:
    raise SafetensorsError(message)


def open_safetensors(path: str | os.PathLike[str]) -> SafetensorsFile:
    """Reads and checks the header; the data stays memory-mapped until close()."""
    path = Path(path)
    if not path.is_file():
        _fail(f"{path}: no such file.")
    size = path.stat().st_size
    if size == 0:
        _fail(f'"{path}" is empty (0 bytes): the download or save did not complete. Download or export it again.')
    if size < 8:
        _fail(f'"{path}" is only {size} bytes, too short to be a safetensors file (its header length alone takes 8).')
    with open(path, "rb") as f:
        data = mmap.mmap(f.fileno(), 0, access=mmap.ACCESS_READ)
    try:
        (length,) = struct.unpack("<Q", data[:8])
        if length > MAX_HEADER_BYTES:
            _fail(f'"{path}" declares a header of {length} bytes, over the {MAX_HEADER_BYTES // 1_000_000} MB limit: it is not a safetensors file or it is corrupt.')
        if 8 + length > size:
            _fail(f'"{path}" declares a header of {length} bytes, beyond the end of the file ({size} bytes): the file is truncated or not a safetensors file.')
        try:
            header = json.loads(data[8:8 + length].decode("utf-8").rstrip("\0"))
        except (UnicodeDecodeError, json.JSONDecodeError) as error:
            raise SafetensorsError(f'"{path}" has a header that is not valid JSON ({error}): the file is corrupt or not a safetensors file.') from None
        if not isinstance(header, dict):
            _fail(f'"{path}" has a header that is not a JSON object: the file is corrupt or not a safetensors file.')
        metadata, tensors = _parse_header(header, path, 8 + length, size - 8 - length)
        return SafetensorsFile(path, metadata, tensors, data)
    except BaseException:
        data.close()
        raise


def _parse_header(header: dict, path: Path, data_start: int, data_size: int) -> tuple[dict[str, str], dict[str, TensorInfo]]:
    metadata: dict[str, str] = {}
    entries: list[tuple[int, int, str, str, tuple[int, ...]]] = []
    for name, entry in header.items():
        if name == "__metadata__":
            if not isinstance(entry, dict) or not all(isinstance(v, str) for v in entry.values()):
                _fail(f'"{path}" has a "__metadata__" entry that is not an object of strings; the file is corrupt.')
            metadata = dict(entry)
            continue
        if not isinstance(entry, dict):
            _fail(f'Tensor "{name}" in "{path}" has a header entry that is not an object; the file is corrupt.')
        dtype, shape, offsets = entry.get("dtype"), entry.get("shape"), entry.get("data_offsets")
        if dtype not in _DTYPES:
            _fail(f'Tensor "{name}" in "{path}" has unknown dtype {json.dumps(dtype)}; known dtypes are {", ".join(_DTYPES)}.')
        if not isinstance(shape, list) or not all(isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape):
            _fail(f'Tensor "{name}" in "{path}" has shape {json.dumps(shape)}, which is not a list of non-negative integers.')
        if (not isinstance(offsets, list) or len(offsets) != 2 or not all(isinstance(o, int) and o >= 0 for o in offsets)
                or offsets[0] > offsets[1]):
            _fail(f'Tensor "{name}" in "{path}" has data_offsets {json.dumps(offsets)}, not [begin, end] with 0 <= begin <= end.')
        expected = int(np.prod(shape, dtype=np.int64)) * _DTYPES[dtype][1]
        if offsets[1] - offsets[0] != expected:
            _fail(f'Tensor "{name}" in "{path}" ({dtype} {shape}) should take {expected} bytes but its data_offsets hold {offsets[1] - offsets[0]}; the file is corrupt.')
        entries.append((offsets[0], offsets[1], name, dtype, tuple(shape)))
    entries.sort()
    covered, previous = 0, None
    for begin, end, name, _, _ in entries:
        if begin < covered:
            _fail(f'Tensor "{name}" in "{path}" overlaps tensor "{previous}"; the file is corrupt.')
        if begin > covered:
            _fail(f'In "{path}" there is a gap of {begin - covered} bytes before tensor "{name}"; the file is corrupt.')
        covered, previous = end, name
    if covered > data_size:
        _fail(f'"{path}" is truncated: its tensors need {covered} data bytes but the file holds {data_size}. Download or export it again.')
    if covered < data_size:
        _fail(f'"{path}" has {data_size - covered} unused bytes after the last tensor; the file is corrupt.')
    tensors = {name: TensorInfo(dtype, shape, data_start + begin, data_start + end) for begin, end, name, dtype, shape in entries}
    return metadata, tensors


def write_safetensors(path: str | os.PathLike[str], tensors: Iterable[tuple[str, np.ndarray]], metadata: Mapping[str, str] | None = None) -> None:
    """Writes float tensors as F32 and integer tensors as I32, in the order given."""
    path = Path(path)
    header: dict[str, object] = {}
    if metadata is not None:
        for key, value in metadata.items():
            if not isinstance(value, str):
                raise SafetensorsError(f'Metadata value for "{key}" is {value!r}; safetensors metadata values must be strings.')
        header["__metadata__"] = dict(metadata)
    blobs: list[bytes] = []
    offset = 0
    for name, array in tensors:
        if name in header or name == "":
            raise SafetensorsError(f"Tensor {name!r} is given twice or has a reserved name.")
        array = np.asarray(array)
        if np.issubdtype(array.dtype, np.floating):
            stored, dtype = array.astype("<f4"), "F32"
        elif np.issubdtype(array.dtype, np.integer):
            if array.size and (array.min() < -2**31 or array.max() >= 2**31):
                raise SafetensorsError(f'Tensor "{name}" holds values outside the 32-bit integer range.')
            stored, dtype = array.astype("<i4"), "I32"
        else:
            raise SafetensorsError(f'Tensor "{name}" has dtype {array.dtype}; write floats or integers.')
        data = np.ascontiguousarray(stored).tobytes()
        header[name] = {"dtype": dtype, "shape": list(array.shape), "data_offsets": [offset, offset + len(data)]}
        blobs.append(data)
        offset += len(data)
    text = json.dumps(header, separators=(",", ":"), ensure_ascii=False).encode("utf-8")
    text += b" " * (-len(text) % 8)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(path.name + ".partial")
    with open(partial, "wb") as f:
        f.write(struct.pack("<Q", len(text)))
        f.write(text)
        for data in blobs:
            f.write(data)
    os.replace(partial, path)  # a reader never sees a half-written file under the final name
