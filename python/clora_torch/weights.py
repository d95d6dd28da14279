"""A backbone's weights file, opened by its content as the engine's openWeightsFile does: a zip or a pickle
is a PyTorch checkpoint (`.pth`), anything else safetensors. Both give the same small interface (`metadata`,
`tensors` name -> info with `.shape`, `names()`, `has()`, `read_f32()`, `close()`).

A `.pth` is read with torch.load(weights_only=True), PyTorch's own loader that builds only tensors and plain
data and runs nothing. Debian's torch 1.13 has a gap there: its weights-only unpickler does not know a few
ordinary pickle instructions (BINFLOAT, which any float beside the weights — Point-MAE's saved accuracy —
uses; FRAME, which protocol 4 uses), so on that refusal alone the file is read again through pickle's
documented way of restricting what a pickle may name (find_class), allowing exactly what the engine's reader
allows (src/io/pth.ts): OrderedDict, torch's tensor and parameter rebuild functions and the storage types.
That second reading calls torch.serialization's zip reader directly, because torch 1.13's torch.load replaces
any pickle_module it is given by the unrestricted `pickle` (checked by python/tests/test_point_backbone.py,
which opens a pickle that asks for builtins.eval). Anything else a pickle asks for is refused with the
engine's sentence. The state dict is found and its prefixes stripped as the engine does.
"""

from __future__ import annotations

import pickle
import re
import types
from dataclasses import dataclass
from pathlib import Path
from typing import Union

import numpy as np
import torch

from .safetensors import SafetensorsError, SafetensorsFile, open_safetensors

STRIPPED_PREFIXES = ("module.", "base_model.", "MAE_encoder.")
STATE_DICT_KEYS = ("state_dict", "model_state_dict", "model", "base_model", "module", "net", "network", "model_state", "weights", "params")
_NOT_MODEL = re.compile(r"optim|sched|scaler|ema|swa", re.IGNORECASE)
_STORAGES = ("FloatStorage", "HalfStorage", "BFloat16Storage", "DoubleStorage", "LongStorage", "IntStorage", "ShortStorage",
             "CharStorage", "ByteStorage", "BoolStorage")
ALLOWED_GLOBALS = {
    ("collections", "OrderedDict"), ("torch._utils", "_rebuild_tensor_v2"), ("torch._utils", "_rebuild_tensor"),
    ("torch._utils", "_rebuild_parameter"), ("torch._utils", "_rebuild_parameter_with_state"), ("torch._tensor", "_rebuild_from_type_v2"),
    ("torch", "Tensor"), ("torch.nn.parameter", "Parameter"), *(("torch", s) for s in _STORAGES),
}


class PthError(SafetensorsError):
    """A PyTorch checkpoint that cannot be used; the message says what is wrong and what to do."""


class _Refused(pickle.UnpicklingError):
    def __init__(self, found: str):
        super().__init__(found)
        self.found = found


class _RestrictedUnpickler(pickle.Unpickler):
    def find_class(self, module: str, name: str):  # noqa: ANN201 (pickle's signature)
        if (module, name) not in ALLOWED_GLOBALS:
            raise _Refused(f"{module}.{name}")
        return super().find_class(module, name)


_RESTRICTED_PICKLE = types.SimpleNamespace(Unpickler=_RestrictedUnpickler, load=pickle.load, __name__="restricted_pickle")


def _refusal(file: str, found: str) -> PthError:
    whole_model = re.match(r"^(torch\.nn\.|__main__\.|models?\.|timm\.)", found) is not None
    hint = ("It looks like a whole pickled model rather than its weights: in Python, save model.state_dict() with torch.save, or as .safetensors."
            if whole_model else
            "Only open checkpoints from sources you trust; if you trust this one, load it in Python and save its state dict as .safetensors.")
    return PthError(f"{file} asks for {found}, which a weights file never needs: refused, and nothing in it was run. {hint}")


def load_checkpoint(path: Path) -> object:
    """What torch.save wrote, built without running anything it names."""
    file = f'"{path}"'
    try:
        return torch.load(path, map_location="cpu", weights_only=True)
    except pickle.UnpicklingError as error:
        text = str(error)
        unsupported = re.search(r"Unsupported class (\S+)", text)
        if unsupported:
            raise _refusal(file, unsupported.group(1)) from None
        if "Unsupported operand" not in text:
            raise PthError(f"{file} is a damaged PyTorch checkpoint ({text.split('WeightsUnpickler error: ')[-1]}). Download or save it again.") from None
    except (RuntimeError, EOFError, OSError, ValueError) as error:
        raise PthError(f"{file} is not a PyTorch checkpoint this program can read ({error}). Download or save it again.") from None
    try:  # torch 1.13's weights-only unpickler lacks an instruction the file uses: pickle restricted to the allowed names
        with open(path, "rb") as opened:
            if not torch.serialization._is_zipfile(opened):
                raise PthError(f"{file} is a PyTorch checkpoint in the legacy format (before PyTorch 1.6) that uses pickle instructions "
                               "this PyTorch's safe loader does not know. Load it in Python and save it again with torch.save, or as .safetensors.")
            with torch.serialization._open_zipfile_reader(opened) as archive:
                return torch.serialization._load(archive, "cpu", _RESTRICTED_PICKLE, encoding="utf-8")
    except _Refused as refused:
        raise _refusal(file, refused.found) from None
    except (pickle.UnpicklingError, RuntimeError, EOFError, OSError, ValueError, AttributeError, TypeError) as error:
        raise PthError(f"{file} is a damaged PyTorch checkpoint ({error}). Download or save it again.") from None


def _is_tensor_dict(value: object) -> bool:
    return isinstance(value, dict) and len(value) > 0 and all(isinstance(k, str) and isinstance(v, torch.Tensor) for k, v in value.items())


def find_state_dict(root: object, file: str) -> tuple[dict, str]:
    """The model's state dict and where it was (the engine's findStateDict): the checkpoint itself when it is a dict
    of tensors; else under the first usual key (or one level further down); else the only top-level dict of
    tensors not named like an optimizer, scheduler or EMA copy."""
    if _is_tensor_dict(root):
        return root, ""
    if not isinstance(root, dict):
        raise PthError(f"{file} holds a {type(root).__name__}, not a dict of tensors (a state dict): it is not a weights checkpoint.")
    for key in STATE_DICT_KEYS:
        value = root.get(key)
        if _is_tensor_dict(value):
            return value, key
        if isinstance(value, dict):
            for inner in STATE_DICT_KEYS:
                if _is_tensor_dict(value.get(inner)):
                    return value[inner], f"{key}.{inner}"
    candidates = [(k, v) for k, v in root.items() if isinstance(k, str) and not _NOT_MODEL.search(k) and _is_tensor_dict(v)]
    if len(candidates) == 1:
        return candidates[0][1], candidates[0][0]
    if not candidates:
        keys = ", ".join(f'"{k}"' for k in root)
        raise PthError(f"{file} holds no state dict (no dict of tensors at its top level or under {', '.join(STATE_DICT_KEYS[:4])}, …); "
                       f"its keys are {keys}. Save model.state_dict() in Python.")
    raise PthError(f"{file} holds several sets of weights ({', '.join(f'{chr(34)}{k}{chr(34)}' for k, _ in candidates)}) and none under a usual name; "
                   "save the one you want on its own with torch.save(checkpoint[name], path).")


def strip_prefixes(name: str) -> str:
    again = True
    while again:
        again = False
        for prefix in STRIPPED_PREFIXES:
            if name.startswith(prefix) and len(name) > len(prefix):
                name, again = name[len(prefix):], True
    return name


@dataclass(frozen=True)
class PthTensorInfo:
    dtype: str
    shape: tuple[int, ...]


class PthFile:
    """A `.pth` checkpoint's state dict, prefixes stripped; no metadata (a .pth carries none)."""

    def __init__(self, path: Path):
        self.path = path
        file = f'"{path}"'
        state, self.state_dict_key = find_state_dict(load_checkpoint(path), file)
        self.metadata: dict[str, str] = {}
        self._tensors: dict[str, torch.Tensor] = {}
        for name, tensor in state.items():
            stripped = strip_prefixes(name)
            if stripped in self._tensors:
                raise PthError(f'{file} has two tensors that are both "{stripped}" once the prefixes {", ".join(STRIPPED_PREFIXES)} are removed; it mixes two models.')
            self._tensors[stripped] = tensor
        self.tensors = {n: PthTensorInfo(str(t.dtype).replace("torch.", ""), tuple(t.shape)) for n, t in self._tensors.items()}

    def names(self) -> list[str]:
        return list(self._tensors)

    def has(self, name: str) -> bool:
        return name in self._tensors

    def shape(self, name: str) -> tuple[int, ...]:
        return self.tensors[name].shape

    def read_f32(self, name: str) -> np.ndarray:
        if name not in self._tensors:
            raise PthError(f'"{self.path}" has no tensor named "{name}".')
        return self._tensors[name].detach().to(torch.float32).numpy().copy()

    def close(self) -> None:
        self._tensors.clear()

    def __enter__(self) -> "PthFile":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


WeightsFile = Union[SafetensorsFile, PthFile]


def open_weights(path: str | Path) -> WeightsFile:
    """Opens by content: a zip (`PK`) or a pickle (0x80) is a PyTorch checkpoint, anything else safetensors."""
    path = Path(path)
    with open(path, "rb") as f:
        head = f.read(2)
    if head == b"PK" or head[:1] == b"\x80":
        return PthFile(path)
    return open_safetensors(path)
