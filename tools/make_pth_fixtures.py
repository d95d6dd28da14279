#!/usr/bin/python3
"""PyTorch .pth fixtures for the .pth reader's tests (src/io/pth.ts), made with torch.save.

Run from the repository root with Debian's torch (the `python3` on a pyenv PATH has no torch):

    /usr/bin/python3 tools/make_pth_fixtures.py            # writes tests/fixtures/pth/
    /usr/bin/python3 tools/make_pth_fixtures.py --out DIR  # elsewhere (e.g. to check determinism)

Genuine checkpoints, each written by torch.save exactly as training code writes them:

- vit_timm.pth: the bare state dict of a tiny timm-layout ViT (as timm's own .pth files are);
- pointmae_finetune.pth: Point-MAE's fine-tuning checkpoint layout, {'base_model': state dict with the
  `module.` prefix of DataParallel, 'optimizer': an AdamW state dict after one step (it holds tensors too),
  'epoch', 'metrics', 'best_metrics'}; BatchNorm buffers include the int64 num_batches_tracked;
- pointmae_pretrain.pth: Point-MAE's pretraining layout, {'base_model': {'MAE_encoder.…', 'MAE_decoder.…',
  'mask_token', …}}, saved with pickle protocol 4 (FRAME, MEMOIZE, STACK_GLOBAL, SHORT_BINUNICODE);
- dtypes.pth: {'state_dict': …, 'model_ema': …, 'epoch'} with f16, bf16, f64, int64, int32, uint8 and bool
  tensors, views with storage offsets and strides (a transpose, a strided slice, an expand with stride 0,
  two views sharing one storage), a 0-d and an empty tensor and an nn.Parameter;
- zip64.pth: dtypes.pth with its zip directory rewritten in zip64 form (sizes and offsets in zip64
  extra fields, the end record saturated), as torch writes archives over 4 GB; zipfile and torch.load
  read it back identically.

expected.safetensors holds every tensor the reader should return, keyed "<fixture>/<name>" with the
prefixes (module., base_model., MAE_encoder.) stripped, as F32 (integers and bools converted; every value
here is exact in f32; f64 is rounded to the nearest f32). Its metadata lists each fixture's names in
state-dict order ("<fixture>.names", JSON), their shapes as torch has them ("<fixture>.shapes": the
writer stores 0-d tensors as [1]) and the key under which the state dict sits ("<fixture>.key").

Hostile files in hostile/, each of which the reader must refuse with its own sentence:

- os_system.pth: a torch-layout zip whose data.pkl is hand-assembled opcodes: GLOBAL 'os system',
  an argument, REDUCE — under a 'state_dict' key, next to a real tensor;
- posix_system.pth: pickle.dumps (protocol 2) of an object whose __reduce__ returns (os.system, (...,)):
  on Linux it names posix.system;
- builtins_eval.pth: the same with eval, pickled with protocol 4 (STACK_GLOBAL);
- argparse_namespace.pth: a genuine torch.save of {'state_dict': …, 'args': argparse.Namespace(…)}, as
  many training scripts save their options: a class that is not allowed;
- whole_model.pth: torch.save(nn.Linear(…)): a whole pickled module instead of its weights;
- truncated.pth: a genuine checkpoint whose data.pkl is cut in half;
- no_data_pkl.pth: a zip with the storages and version but no data.pkl;
- missing_storage.pth: a genuine checkpoint with one storage entry removed;
- big_endian.pth: a genuine checkpoint whose byteorder entry says "big";
- legacy.pth: torch.save(..., _use_new_zipfile_serialization=False), the pre-1.6 format;
- two_models.pth: {'encoder': …, 'decoder': …}: two dicts of tensors, neither under a usual name;
- no_state_dict.pth: {'epoch': 3, 'note': …}: no tensors at all.

Deterministic: fixed seeds, zip entries with fixed timestamps; two runs give identical bytes, except
hostile/legacy.pth, whose storage keys the legacy format takes from memory addresses.
"""

from __future__ import annotations

import argparse
import io
import json
import os
import pickle
import struct
import sys
import zipfile
from collections import OrderedDict
from pathlib import Path

import torch
import torch.nn as nn

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_fixtures import write_safetensors  # noqa: E402  (the project's one safetensors writer)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "tests" / "fixtures" / "pth"
PREFIXES = ("module.", "base_model.", "MAE_encoder.")

torch.set_num_threads(1)


def seeded(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def randn(g: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.randn(*shape, generator=g)


# ---------------------------------------------------------------------------------------------
# State dicts


def timm_vit_state(g: torch.Generator) -> OrderedDict[str, torch.Tensor]:
    """timm VisionTransformer keys: d 8, 2 blocks, patch 4, 8x8 images (5 tokens), MLP 16, 3 classes."""
    d, mlp = 8, 16
    sd: OrderedDict[str, torch.Tensor] = OrderedDict()
    sd["cls_token"] = randn(g, 1, 1, d)
    sd["pos_embed"] = randn(g, 1, 5, d)
    sd["patch_embed.proj.weight"] = randn(g, d, 3, 4, 4)
    sd["patch_embed.proj.bias"] = randn(g, d)
    for i in range(2):
        p = f"blocks.{i}."
        sd[p + "norm1.weight"] = 1 + 0.1 * randn(g, d)
        sd[p + "norm1.bias"] = randn(g, d)
        sd[p + "attn.qkv.weight"] = randn(g, 3 * d, d)
        sd[p + "attn.qkv.bias"] = randn(g, 3 * d)
        sd[p + "attn.proj.weight"] = randn(g, d, d)
        sd[p + "attn.proj.bias"] = randn(g, d)
        sd[p + "norm2.weight"] = 1 + 0.1 * randn(g, d)
        sd[p + "norm2.bias"] = randn(g, d)
        sd[p + "mlp.fc1.weight"] = randn(g, mlp, d)
        sd[p + "mlp.fc1.bias"] = randn(g, mlp)
        sd[p + "mlp.fc2.weight"] = randn(g, d, mlp)
        sd[p + "mlp.fc2.bias"] = randn(g, d)
    sd["norm.weight"] = 1 + 0.1 * randn(g, d)
    sd["norm.bias"] = randn(g, d)
    sd["head.weight"] = randn(g, 3, d)
    sd["head.bias"] = randn(g, 3)
    return sd


class MiniPointMAE(nn.Module):
    """Point-MAE's fine-tuning module names (clora-spec §4) at toy widths, so the state dict is a real one."""

    def __init__(self, d: int = 8, classes: int = 4) -> None:
        super().__init__()
        self.cls_token = nn.Parameter(torch.zeros(1, 1, d))
        self.cls_pos = nn.Parameter(torch.zeros(1, 1, d))
        self.encoder = nn.Module()
        self.encoder.first_conv = nn.Sequential(nn.Conv1d(3, 8, 1), nn.BatchNorm1d(8), nn.ReLU(), nn.Conv1d(8, 16, 1))
        self.encoder.second_conv = nn.Sequential(nn.Conv1d(32, 16, 1), nn.BatchNorm1d(16), nn.ReLU(), nn.Conv1d(16, d, 1))
        self.pos_embed = nn.Sequential(nn.Linear(3, 8), nn.GELU(), nn.Linear(8, d))
        self.blocks = nn.Module()
        block = nn.Module()
        block.norm1 = nn.LayerNorm(d)
        block.attn = nn.Module()
        block.attn.qkv = nn.Linear(d, 3 * d, bias=False)
        block.attn.proj = nn.Linear(d, d)
        block.norm2 = nn.LayerNorm(d)
        block.mlp = nn.Module()
        block.mlp.fc1 = nn.Linear(d, 4 * d)
        block.mlp.fc2 = nn.Linear(4 * d, d)
        self.blocks.blocks = nn.ModuleList([block])
        self.norm = nn.LayerNorm(d)
        self.cls_head_finetune = nn.Sequential(nn.Linear(2 * d, 8), nn.BatchNorm1d(8), nn.ReLU(), nn.Linear(8, classes))


def randomize(module: nn.Module, g: torch.Generator) -> None:
    with torch.no_grad():
        for t in list(module.parameters()) + [b for b in module.buffers() if b.is_floating_point()]:
            t.copy_(randn(g, *t.shape) if t.dim() > 0 else randn(g))
        for m in module.modules():
            if isinstance(m, nn.BatchNorm1d):
                m.running_var.abs_().add_(0.5)
                m.num_batches_tracked.fill_(1234)


def point_mae_finetune(g: torch.Generator) -> dict:
    model = MiniPointMAE()
    randomize(model, g)
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-3)
    model.train()
    x = randn(g, 2, 2 * 8)
    model.cls_head_finetune(x).sum().backward()
    optimizer.step()
    # DataParallel's state dict: every key starts with "module.".
    state = OrderedDict((f"module.{k}", v) for k, v in model.state_dict().items())
    return {
        "base_model": state,
        "optimizer": optimizer.state_dict(),
        "epoch": 7,
        "metrics": {"acc": torch.tensor(91.5)},
        "best_metrics": {"acc": 92.25},
    }


def point_mae_pretrain(g: torch.Generator) -> dict:
    encoder = MiniPointMAE()
    randomize(encoder, g)
    state: OrderedDict[str, torch.Tensor] = OrderedDict()
    for k, v in encoder.state_dict().items():
        if k.startswith(("cls_", "cls_head")):
            continue  # the pretraining encoder has no class token or head
        state[f"MAE_encoder.{k}"] = v
    state["mask_token"] = randn(g, 1, 1, 8)
    state["MAE_decoder.blocks.blocks.0.norm1.weight"] = randn(g, 8)
    state["increase_dim.0.weight"] = randn(g, 6, 8, 1)
    return {"base_model": state}


def dtype_zoo(g: torch.Generator) -> dict:
    base = randn(g, 4, 6)
    shared = randn(g, 20)
    sd: OrderedDict[str, torch.Tensor] = OrderedDict()
    sd["half"] = randn(g, 3, 5).half()
    sd["bfloat16"] = randn(g, 7).bfloat16()
    sd["double"] = (randn(g, 2, 3).double() / 3)
    sd["long"] = torch.tensor([[-3, 0, 2**40], [5, -2**20, 7]], dtype=torch.int64)  # 2**40 is exact in f32
    sd["int"] = torch.tensor([1, -2, 3], dtype=torch.int32)
    sd["uint8"] = torch.tensor([0, 255, 7], dtype=torch.uint8)
    sd["bool"] = torch.tensor([True, False, True])
    sd["transposed"] = base.t()  # strides (1, 6)
    sd["sliced"] = base[1:, ::2]  # offset 6, strides (6, 2)
    sd["expanded"] = randn(g, 1, 3).expand(4, 3)  # stride 0 along the first axis
    sd["shared_a"] = shared[2:8].view(2, 3)  # offset 2 in a storage of 20
    sd["shared_b"] = shared[10:18:2]  # the same storage: offset 10, stride 2
    sd["scalar"] = torch.tensor(3.5)
    sd["empty"] = torch.zeros(0, 3)
    sd["parameter"] = nn.Parameter(randn(g, 2, 2))
    sd["half_view"] = randn(g, 4, 4).half()[:, 1]  # a strided half view
    ema = OrderedDict((k, v.clone()) for k, v in [("half", sd["half"]), ("int", sd["int"])])
    return {"state_dict": sd, "model_ema": ema, "epoch": 1}


# ---------------------------------------------------------------------------------------------
# Files


def torch_bytes(obj, **kwargs) -> bytes:
    buf = io.BytesIO()
    torch.save(obj, buf, **kwargs)
    return buf.getvalue()


def read_zip(data: bytes) -> list[tuple[str, bytes]]:
    with zipfile.ZipFile(io.BytesIO(data)) as z:
        return [(info.filename, z.read(info)) for info in z.infolist()]


def write_zip(entries: list[tuple[str, bytes]]) -> bytes:
    """A stored (uncompressed) zip with fixed timestamps, like torch's."""
    buf = io.BytesIO()
    with zipfile.ZipFile(buf, "w", zipfile.ZIP_STORED) as z:
        for name, data in entries:
            info = zipfile.ZipInfo(name, date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_STORED
            z.writestr(info, data)
    return buf.getvalue()


def to_zip64(data: bytes) -> bytes:
    """Rewrites a zip's central directory in zip64 form: each entry's sizes and local-header offset moved
    into a zip64 extra field (0x0001) with the 32-bit fields saturated, then a zip64 end record and locator
    and a saturated classic end record."""
    eocd = data.rfind(b"PK\x05\x06")
    count, cd_size, cd_offset = struct.unpack_from("<HII", data, eocd + 10)
    entries = []
    at = cd_offset
    for _ in range(count):
        fixed = bytearray(data[at : at + 46])
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", fixed, 28)
        name = data[at + 46 : at + 46 + name_len]
        comp, size = struct.unpack_from("<II", fixed, 20)
        (offset,) = struct.unpack_from("<I", fixed, 42)
        struct.pack_into("<II", fixed, 20, 0xFFFFFFFF, 0xFFFFFFFF)
        struct.pack_into("<I", fixed, 42, 0xFFFFFFFF)
        extra = struct.pack("<HHQQQ", 0x0001, 24, size, comp, offset)
        struct.pack_into("<HHH", fixed, 28, name_len, len(extra), 0)
        entries.append(bytes(fixed) + name + extra)
        at += 46 + name_len + extra_len + comment_len
    directory = b"".join(entries)
    body = data[:cd_offset]
    record_offset = len(body) + len(directory)
    record = struct.pack("<IQHHIIQQQQ", 0x06064B50, 44, 45, 45, 0, 0, count, count, len(directory), len(body))
    locator = struct.pack("<IIQI", 0x07064B50, 0, record_offset, 1)
    end = struct.pack("<IHHHHIIH", 0x06054B50, 0, 0, 0xFFFF, 0xFFFF, 0xFFFFFFFF, 0xFFFFFFFF, 0)
    return body + directory + record + locator + end


def stripped(name: str) -> str:
    changed = True
    while changed:
        changed = False
        for p in PREFIXES:
            if name.startswith(p) and len(name) > len(p):
                name, changed = name[len(p) :], True
    return name


def expected_entries(fixture: str, state: dict) -> list[tuple[str, object]]:
    out = []
    for k, v in state.items():
        value = v.detach().to(torch.float32).contiguous()  # f64: rounded to nearest, as the reader does
        assert v.dtype == torch.float64 or torch.equal(value.to(v.dtype), v.detach()), f"{fixture}/{k}: not exact in f32"
        out.append((f"{fixture}/{stripped(k)}", value.numpy()))
    return out


class Evil:
    """An object whose pickle runs a function on load (what the hostile fixtures stand for)."""

    def __init__(self, fn, arg: str) -> None:
        self.fn, self.arg = fn, arg

    def __reduce__(self):
        return (self.fn, (self.arg,))


def torch_layout(pkl: bytes, storages: list[tuple[str, bytes]] = ()) -> bytes:
    return write_zip([("archive/data.pkl", pkl), *[(f"archive/data/{k}", v) for k, v in storages], ("archive/version", b"3\n")])


def hostile_files() -> dict[str, bytes]:
    files: dict[str, bytes] = {}
    # {'state_dict': os.system('echo pwned')} assembled opcode by opcode.
    pkl = (
        b"\x80\x02}q\x00X\n\x00\x00\x00state_dictq\x01"
        + b"cos\nsystem\nq\x02X\x0a\x00\x00\x00echo pwnedq\x03\x85q\x04Rq\x05"
        + b"s."
    )
    files["os_system.pth"] = torch_layout(pkl)
    files["posix_system.pth"] = torch_layout(pickle.dumps({"state_dict": Evil(os.system, "echo pwned")}, protocol=2))
    files["builtins_eval.pth"] = torch_layout(pickle.dumps({"model": Evil(eval, "__import__('os')")}, protocol=4))
    small = OrderedDict(weight=torch.arange(6.0).view(2, 3), bias=torch.tensor([0.5, -0.5]))
    files["argparse_namespace.pth"] = torch_bytes({"state_dict": small, "args": argparse.Namespace(lr=0.1, epochs=3)})
    torch.manual_seed(5)
    files["whole_model.pth"] = torch_bytes(nn.Linear(3, 2))
    genuine = read_zip(torch_bytes({"state_dict": small}))
    files["truncated.pth"] = write_zip([(n, d[: len(d) // 2] if n.endswith("data.pkl") else d) for n, d in genuine])
    files["no_data_pkl.pth"] = write_zip([(n, d) for n, d in genuine if not n.endswith("data.pkl")])
    storage_names = [n for n, _ in genuine if "/data/" in n]
    files["missing_storage.pth"] = write_zip([(n, d) for n, d in genuine if n != storage_names[-1]])
    order = [(n, b"big" if n.endswith("byteorder") else d) for n, d in genuine]
    if not any(n.endswith("byteorder") for n, _ in genuine):  # torch < 1.13 wrote none
        order.insert(1, (genuine[0][0].split("/")[0] + "/byteorder", b"big"))
    files["big_endian.pth"] = write_zip(order)
    files["legacy.pth"] = torch_bytes({"state_dict": small}, _use_new_zipfile_serialization=False)
    files["two_models.pth"] = torch_bytes({"encoder": small, "decoder": OrderedDict(w=torch.ones(2))})
    files["no_state_dict.pth"] = torch_bytes({"epoch": 3, "note": "no weights"})
    return files


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT)
    args = parser.parse_args(argv)
    out: Path = args.out
    (out / "hostile").mkdir(parents=True, exist_ok=True)

    checkpoints: dict[str, tuple[dict, str, dict]] = {}
    vit = timm_vit_state(seeded(1))
    checkpoints["vit_timm"] = (vit, "", {})
    finetune = point_mae_finetune(seeded(2))
    checkpoints["pointmae_finetune"] = (finetune, "base_model", {})
    pretrain = point_mae_pretrain(seeded(3))
    checkpoints["pointmae_pretrain"] = (pretrain, "base_model", {"pickle_protocol": 4})
    zoo = dtype_zoo(seeded(4))
    checkpoints["dtypes"] = (zoo, "state_dict", {})

    expected: list[tuple[str, object]] = []
    metadata: dict[str, str] = {"generator": "tools/make_pth_fixtures.py", "torch": torch.__version__}
    for name, (obj, key, save_args) in checkpoints.items():
        data = torch_bytes(obj, **save_args)
        (out / f"{name}.pth").write_bytes(data)
        state = obj[key] if key else obj
        loaded = torch.load(io.BytesIO(data))
        again = loaded[key] if key else loaded
        assert all(torch.equal(again[k], v) for k, v in state.items())
        expected += expected_entries(name, state)
        metadata[f"{name}.names"] = json.dumps([stripped(k) for k in state])
        # The shapes as torch has them (the writer stores a 0-d tensor as [1]).
        metadata[f"{name}.shapes"] = json.dumps([list(v.shape) for v in state.values()])
        metadata[f"{name}.key"] = key
        print(f"{name}.pth: {len(state)} tensors, {len(data)} bytes")

    zip64 = to_zip64(torch_bytes(zoo))
    with zipfile.ZipFile(io.BytesIO(zip64)) as z:
        assert z.testzip() is None
    loaded = torch.load(io.BytesIO(zip64))
    assert all(torch.equal(loaded["state_dict"][k], v) for k, v in zoo["state_dict"].items())
    (out / "zip64.pth").write_bytes(zip64)
    print(f"zip64.pth: {len(zip64)} bytes (zipfile and torch.load read it back)")

    size = write_safetensors(out / "expected.safetensors", expected, metadata)
    print(f"expected.safetensors: {len(expected)} tensors, {size} bytes")

    for name, data in hostile_files().items():
        (out / "hostile" / name).write_bytes(data)
        print(f"hostile/{name}: {len(data)} bytes")
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
