#!/usr/bin/python3
"""Golden fixtures for the point-cloud backbone (clora-spec section 4), computed with PyTorch.

Run from the repository root with Debian's torch (a `python3` from pyenv on PATH has no torch):

    /usr/bin/python3 tools/make_point_fixtures.py            # writes tests/fixtures/points/
    /usr/bin/python3 tools/make_point_fixtures.py --out DIR  # elsewhere (e.g. to check determinism)

Tests never run it; they read what it writes. It holds its OWN PyTorch module for section 4, written from
the contract in Point-MAE's module layout (so `state_dict()` gives Point-MAE's key names): grouping by
farthest point sampling from point 0 and k nearest neighbours (ties: lowest index), the mini-PointNet with
nn.Conv1d(kernel 1) and nn.BatchNorm1d in eval mode, positions of the centres through Linear-GELU-Linear
added before every block, pre-norm blocks without qkv bias and LayerNorm eps 1e-5, features
[x_cls, max over the G tokens] and a linear head on 2d. Nothing is shared with the TypeScript engine.

Writes, per configuration (several point counts, group counts and group sizes):
  points_{name}.safetensors  weights (Point-MAE keys, BatchNorm num_batches_tracked as I64), input points,
                             loss.R, logits, the grouping (centre and neighbour indices, I32) and the gradient
                             of sum(logits * loss.R) w.r.t. every parameter (running statistics are buffers)
and genuine `torch.save` checkpoints of the first configuration's weights for the `.pth` reader's tests:
  pth/finetune_f32.pth       {'base_model': OrderedDict('module.' + key), 'epoch', 'metrics'}, as the
                             official fine-tuned checkpoints (trained with DataParallel) are laid out
  pth/finetune_f16.pth, pth/finetune_bf16.pth   the same with float16 / bfloat16 storages
  pth/pretrain_style.pth     {'base_model': {'MAE_encoder.' + key, 'MAE_decoder.…', 'mask_token'}} without
                             cls_token / cls_pos, as Point-MAE's pretrain.pth

Every expected value is computed in float64 from the float32-rounded weights and inputs, then stored as
F32. The grouping is checked to have clear margins (no near-ties that float32 arithmetic could flip), and
the blocks are cross-checked against torch's own nn.TransformerEncoderLayer. Output is deterministic.
"""

from __future__ import annotations

import argparse
import collections
import io
import json
import sys
import time
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import torch
import torch.nn as nn
import torch.nn.functional as F

sys.path.insert(0, str(Path(__file__).resolve().parent))
from make_fixtures import f32, write_safetensors  # noqa: E402  (the plain safetensors writer)

REPO_ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUT = REPO_ROOT / "tests" / "fixtures" / "points"
GENERATOR = "tools/make_point_fixtures.py"
torch.set_num_threads(1)

# Grouping margins: the runner-up must be this much (relative) away, or float32 could pick it instead.
MARGIN = 1e-5


@dataclass(frozen=True)
class PointConfig:
    dim: int
    depth: int
    heads: int
    mlp: int
    tokenizer: tuple[int, int, int]  # first_conv.0 out, first_conv.3 out, second_conv.0 out (128, 256, 512)
    position: int  # hidden width of pos_embed (128)
    points: int
    groups: int
    group_size: int
    classes: int
    qkv_bias: bool = False

    def metadata(self) -> dict[str, str]:
        return {
            "num_heads": str(self.heads), "num_points": str(self.points), "num_groups": str(self.groups),
            "group_size": str(self.group_size), "embed_dim": str(self.dim), "depth": str(self.depth),
            "mlp_dim": str(self.mlp), "tokenizer": ",".join(map(str, self.tokenizer)),
            "position_width": str(self.position), "num_classes": str(self.classes), "qkv_bias": str(self.qkv_bias).lower(),
        }


# ---------------------------------------------------------------------------------------------
# Grouping (no weights), from section 4's definitions.


def squared_distances(xyz: torch.Tensor, centre: torch.Tensor) -> torch.Tensor:
    return ((xyz - centre) ** 2).sum(-1)


def farthest_point_sample(xyz: torch.Tensor, groups: int) -> tuple[list[int], float]:
    """Centre indices for one cloud [P, 3] and the smallest relative margin of any round's choice."""
    nearest = torch.full((xyz.shape[0],), float("inf"), dtype=xyz.dtype)
    chosen = [0]
    margin = float("inf")
    while len(chosen) < groups:
        nearest = torch.minimum(nearest, squared_distances(xyz, xyz[chosen[-1]]))
        best = float(nearest.max())
        index = int(torch.nonzero(nearest == best)[0])  # the lowest index reaching the maximum
        rest = torch.cat([nearest[:index], nearest[index + 1:]])
        if rest.numel():
            margin = min(margin, (best - float(rest.max())) / max(best, 1e-30))
        chosen.append(index)
    return chosen, margin


def nearest_neighbours(xyz: torch.Tensor, centre: torch.Tensor, k: int) -> tuple[list[int], float]:
    """The k nearest point indices (nearest first, ties: lowest index) and the smallest relative gap between
    consecutive distances among the first k + 1 (order and membership both depend on them)."""
    d = squared_distances(xyz, centre).tolist()
    order = sorted(range(len(d)), key=lambda i: (d[i], i))
    ds = [d[i] for i in order[: k + 1]]
    margin = min(((b - a) / max(b, 1e-30) for a, b in zip(ds, ds[1:])), default=float("inf"))
    return order[:k], margin


def group(points: torch.Tensor, cfg: PointConfig) -> tuple[torch.Tensor, torch.Tensor, np.ndarray, np.ndarray, float]:
    """(neighbourhood [B, G, K, 3], centres [B, G, 3], centre indices, neighbour indices, smallest margin)."""
    hoods, centres, centre_idx, neighbour_idx = [], [], [], []
    margin = float("inf")
    for cloud in points:
        chosen, m = farthest_point_sample(cloud, cfg.groups)
        margin = min(margin, m)
        centre_idx.append(chosen)
        rows = []
        for c in chosen:
            idx, m = nearest_neighbours(cloud, cloud[c], cfg.group_size)
            margin = min(margin, m)
            rows.append(idx)
        neighbour_idx.append(rows)
        index = torch.tensor(rows)
        hoods.append(cloud[index] - cloud[torch.tensor(chosen)][:, None, :])
        centres.append(cloud[torch.tensor(chosen)])
    return (torch.stack(hoods), torch.stack(centres), np.array(centre_idx, np.int32),
            np.array(neighbour_idx, np.int32), margin)


def check_grouping_against_cdist(points: torch.Tensor, centre_idx: np.ndarray, neighbour_idx: np.ndarray) -> None:
    """Membership of every group against torch.cdist + topk (an independent route to the same sets)."""
    for b, cloud in enumerate(points):
        centres = cloud[torch.from_numpy(centre_idx[b]).long()]
        k = neighbour_idx.shape[2]
        top = torch.cdist(centres, cloud).topk(k, dim=1, largest=False).indices
        for g in range(centres.shape[0]):
            if set(top[g].tolist()) != set(neighbour_idx[b, g].tolist()):
                raise AssertionError(f"cloud {b} group {g}: kNN sets differ from torch.cdist/topk")


# ---------------------------------------------------------------------------------------------
# The model, in Point-MAE's module layout.


class Encoder(nn.Module):
    """Mini-PointNet per group: Conv1d(k=1) stacks with BatchNorm1d, max over the group's points."""

    def __init__(self, cfg: PointConfig):
        super().__init__()
        c1, c2, c3 = cfg.tokenizer
        self.first_conv = nn.Sequential(nn.Conv1d(3, c1, 1), nn.BatchNorm1d(c1), nn.ReLU(), nn.Conv1d(c1, c2, 1))
        self.second_conv = nn.Sequential(nn.Conv1d(2 * c2, c3, 1), nn.BatchNorm1d(c3), nn.ReLU(), nn.Conv1d(c3, cfg.dim, 1))

    def forward(self, neighbourhood: torch.Tensor) -> torch.Tensor:
        b, g, k, _ = neighbourhood.shape
        x = neighbourhood.reshape(b * g, k, 3).transpose(2, 1)  # [BG, 3, K]
        feature = self.first_conv(x)  # [BG, c2, K]
        pooled = feature.max(dim=2, keepdim=True)[0]
        feature = torch.cat([pooled.expand(-1, -1, k), feature], dim=1)  # [global, per-point]
        feature = self.second_conv(feature)
        return feature.max(dim=2)[0].reshape(b, g, -1)


class Attention(nn.Module):
    def __init__(self, cfg: PointConfig):
        super().__init__()
        self.heads = cfg.heads
        self.qkv = nn.Linear(cfg.dim, 3 * cfg.dim, bias=cfg.qkv_bias)
        self.proj = nn.Linear(cfg.dim, cfg.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        b, n, d = x.shape
        q, k, v = self.qkv(x).reshape(b, n, 3, self.heads, d // self.heads).permute(2, 0, 3, 1, 4)
        att = ((q @ k.transpose(-2, -1)) * (d // self.heads) ** -0.5).softmax(dim=-1)
        return self.proj((att @ v).transpose(1, 2).reshape(b, n, d))


class Mlp(nn.Module):
    def __init__(self, cfg: PointConfig):
        super().__init__()
        self.fc1 = nn.Linear(cfg.dim, cfg.mlp)
        self.fc2 = nn.Linear(cfg.mlp, cfg.dim)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.fc2(F.gelu(self.fc1(x)))


class Block(nn.Module):
    def __init__(self, cfg: PointConfig):
        super().__init__()
        self.norm1 = nn.LayerNorm(cfg.dim)  # eps 1e-5, PyTorch's default
        self.attn = Attention(cfg)
        self.norm2 = nn.LayerNorm(cfg.dim)
        self.mlp = Mlp(cfg)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.attn(self.norm1(x))
        return x + self.mlp(self.norm2(x))


class TransformerEncoder(nn.Module):
    def __init__(self, cfg: PointConfig):
        super().__init__()
        self.blocks = nn.ModuleList([Block(cfg) for _ in range(cfg.depth)])

    def forward(self, x: torch.Tensor, pos: torch.Tensor) -> torch.Tensor:
        for block in self.blocks:
            x = block(x + pos)  # positions before every block
        return x


class PointTransformer(nn.Module):
    def __init__(self, cfg: PointConfig):
        super().__init__()
        self.cfg = cfg
        self.cls_token = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.cls_pos = nn.Parameter(torch.zeros(1, 1, cfg.dim))
        self.encoder = Encoder(cfg)
        self.pos_embed = nn.Sequential(nn.Linear(3, cfg.position), nn.GELU(), nn.Linear(cfg.position, cfg.dim))
        self.blocks = TransformerEncoder(cfg)
        self.norm = nn.LayerNorm(cfg.dim)
        self.head = nn.Linear(2 * cfg.dim, cfg.classes)

    def tokens(self, neighbourhood: torch.Tensor, centres: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        b = neighbourhood.shape[0]
        x = torch.cat([self.cls_token.expand(b, -1, -1), self.encoder(neighbourhood)], dim=1)
        pos = torch.cat([self.cls_pos.expand(b, -1, -1), self.pos_embed(centres)], dim=1)
        return x, pos

    def features(self, neighbourhood: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
        x, pos = self.tokens(neighbourhood, centres)
        x = self.norm(self.blocks(x, pos))
        return torch.cat([x[:, 0], x[:, 1:].max(dim=1)[0]], dim=-1)

    def forward(self, neighbourhood: torch.Tensor, centres: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(neighbourhood, centres))


def random_weights(cfg: PointConfig, gen: torch.Generator) -> dict[str, np.ndarray]:
    """Spread wide enough that every path counts: matrices N(0, 1/fan_in), cls_token / cls_pos N(0, 0.5²),
    biases 0.1·N, LayerNorm and BatchNorm weights 1 + 0.1·N, running means 0.2·N, running variances
    0.5 + U(0, 1); num_batches_tracked a count. Drawn in state_dict order, rounded to float32."""
    weights = {}
    for name, value in PointTransformer(cfg).state_dict().items():
        shape = tuple(value.shape)
        if name.endswith("num_batches_tracked"):
            weights[name] = np.array(1234, dtype=np.int64)
            continue
        noise = torch.randn(shape, generator=gen, dtype=torch.float64)
        if name in ("cls_token", "cls_pos"):
            v = 0.5 * noise
        elif name.endswith("running_mean"):
            v = 0.2 * noise
        elif name.endswith("running_var"):
            v = 0.5 + torch.rand(shape, generator=gen, dtype=torch.float64)
        elif name.endswith(".bias"):
            v = 0.1 * noise
        elif len(shape) >= 2:
            v = noise / np.sqrt(np.prod(shape[1:]))
        else:  # LayerNorm / BatchNorm weights
            v = 1.0 + 0.1 * noise
        weights[name] = v.to(torch.float32).numpy()
    return weights


def build(cfg: PointConfig, weights: dict[str, np.ndarray]) -> PointTransformer:
    """A float64 model in eval mode (BatchNorm uses its running statistics) holding exactly these weights."""
    model = PointTransformer(cfg).double()
    state = model.state_dict()
    if set(state) != set(weights):
        raise ValueError(f"weights do not match the module's keys: {sorted(set(state) ^ set(weights))}")
    model.load_state_dict({k: torch.from_numpy(np.asarray(weights[k])).to(state[k].dtype) for k in state})
    return model.eval()


def cross_check_blocks(model: PointTransformer, x: torch.Tensor, pos: torch.Tensor) -> float:
    """The same blocks through torch's own pre-norm nn.TransformerEncoderLayer (zero in-projection bias when
    qkv has none): max |difference| of the block stack's output."""
    cfg = model.cfg
    out = x
    for block in model.blocks.blocks:
        layer = nn.TransformerEncoderLayer(cfg.dim, cfg.heads, cfg.mlp, dropout=0.0, activation="gelu",
                                           layer_norm_eps=1e-5, batch_first=True, norm_first=True).double()
        with torch.no_grad():
            layer.self_attn.in_proj_weight.copy_(block.attn.qkv.weight)
            layer.self_attn.in_proj_bias.copy_(block.attn.qkv.bias if cfg.qkv_bias else torch.zeros(3 * cfg.dim))
            layer.self_attn.out_proj.load_state_dict(block.attn.proj.state_dict())
            layer.linear1.load_state_dict(block.mlp.fc1.state_dict())
            layer.linear2.load_state_dict(block.mlp.fc2.state_dict())
            layer.norm1.load_state_dict(block.norm1.state_dict())
            layer.norm2.load_state_dict(block.norm2.state_dict())
        layer.train()  # the plain composite path (no fused fast path)
        with torch.no_grad():
            out = layer(out + pos)
    with torch.no_grad():
        return float((out - model.blocks(x, pos)).abs().max())


# ---------------------------------------------------------------------------------------------
# Golden forward/backward fixtures.

MODEL = dict(dim=24, depth=2, heads=3, mlp=48, tokenizer=(16, 24, 40), position=16, classes=5)
CONFIGS = {  # name: (points, groups, group size, batch, qkv bias)
    "p64_g8_k8": (64, 8, 8, 2, False),
    "p100_g13_k16": (100, 13, 16, 2, False),
    "p257_g32_k5": (257, 32, 5, 1, True),
}
SEED = 20250401


@dataclass
class Golden:
    name: str
    cfg: PointConfig
    weights: dict[str, np.ndarray]
    points: np.ndarray
    seed: int


def draw(name: str, index: int) -> Golden:
    """Weights and clouds from the first seed (SEED + 100·index + tries) whose grouping has clear margins."""
    points_n, groups, k, batch, bias = CONFIGS[name]
    cfg = PointConfig(points=points_n, groups=groups, group_size=k, qkv_bias=bias, **MODEL)
    for tries in range(100):
        seed = SEED + 100 * index + tries
        gen = torch.Generator().manual_seed(seed)
        weights = random_weights(cfg, gen)
        points = torch.randn(batch, points_n, 3, generator=gen, dtype=torch.float64).float()
        *_, margin = group(points.double(), cfg)
        if margin > MARGIN:
            return Golden(name, cfg, weights, points.numpy(), seed)
    raise AssertionError(f"{name}: no seed gave a grouping with margins over {MARGIN}")


def golden_fixture(g: Golden) -> tuple[str, list[tuple[str, np.ndarray]], dict[str, str], str]:
    cfg = g.cfg
    model = build(cfg, g.weights)
    points = torch.from_numpy(g.points).double()
    neighbourhood, centres, centre_idx, neighbour_idx, margin = group(points, cfg)
    check_grouping_against_cdist(points, centre_idx, neighbour_idx)
    gen = torch.Generator().manual_seed(g.seed + 50)
    r32 = torch.randn(points.shape[0], cfg.classes, generator=gen, dtype=torch.float64).float()
    logits = model(neighbourhood, centres)
    loss = (logits * r32.double()).sum()
    params = dict(model.named_parameters())  # running statistics are buffers: no gradient
    grads = torch.autograd.grad(loss, list(params.values()))
    with torch.no_grad():
        x, pos = model.tokens(neighbourhood, centres)
    drift = cross_check_blocks(model, x, pos)
    if drift > 1e-10:
        raise AssertionError(f"{g.name}: blocks disagree with nn.TransformerEncoderLayer by {drift}")
    tensors: list[tuple[str, np.ndarray]] = [(k, v) for k, v in g.weights.items()]
    tensors += [("input.points", g.points), ("loss.R", r32.numpy()), ("output.logits", f32(logits)),
                ("output.loss", f32(loss.reshape(1))), ("output.centre_index", centre_idx),
                ("output.neighbour_index", neighbour_idx)]
    tensors += [(f"grad.{k}", f32(v)) for k, v in zip(params, grads)]
    metadata = {
        **cfg.metadata(), "batch": str(points.shape[0]), "torch": torch.__version__, "seed": str(g.seed),
        "generator": GENERATOR, "loss": "sum(output.logits * loss.R)",
        "compute": "float64 from the stored float32 weights and points, BatchNorm in eval mode; stored as float32",
        "grouping_margin": f"{margin:.3g}",
        "init": "state_dict order: matrices N(0,1/fan_in); cls_token, cls_pos N(0,0.5^2); biases 0.1*N; LayerNorm and "
                "BatchNorm weights 1+0.1*N; running_mean 0.2*N; running_var 0.5+U(0,1); then points N(0,1) [B,P,3]; "
                "loss.R N(0,1) from seed+50",
    }
    summary = (f"{cfg.points} points, {cfg.groups} groups of {cfg.group_size}, batch {points.shape[0]}, qkv bias "
               f"{cfg.qkv_bias}: logits std {float(logits.std()):.3f}, grouping margin {margin:.1e}, "
               f"vs nn.TransformerEncoderLayer {drift:.1e}")
    return f"points_{g.name}.safetensors", tensors, metadata, summary


# ---------------------------------------------------------------------------------------------
# Genuine torch.save checkpoints for the .pth reader.


def torch_state(weights: dict[str, np.ndarray], dtype: torch.dtype) -> "collections.OrderedDict[str, torch.Tensor]":
    return collections.OrderedDict(
        (k, torch.from_numpy(np.array(v)) if v.dtype == np.int64 else torch.from_numpy(v).to(dtype)) for k, v in weights.items())


def saved(obj: object) -> bytes:
    """torch.save's own bytes (its zip writer stamps no dates, so two runs give identical files)."""
    buffer = io.BytesIO()
    torch.save(obj, buffer)
    return buffer.getvalue()


def pth_files(g: Golden) -> dict[str, bytes]:
    files = {}
    for label, dtype in (("f32", torch.float32), ("f16", torch.float16), ("bf16", torch.bfloat16)):
        state = torch_state(g.weights, dtype)
        files[f"pth/finetune_{label}.pth"] = saved({
            "base_model": collections.OrderedDict((f"module.{k}", v) for k, v in state.items()),
            "epoch": 300, "metrics": {"acc": 93.5},
        })
    # Point-MAE's pretrain.pth: the encoder under MAE_encoder. (no class token or its position), a decoder.
    state = torch_state(g.weights, torch.float32)
    encoder = collections.OrderedDict((f"MAE_encoder.{k}", v) for k, v in state.items()
                                      if k not in ("cls_token", "cls_pos") and not k.startswith("head."))
    encoder["mask_token"] = torch.zeros(1, 1, g.cfg.dim)
    encoder["MAE_decoder.norm.weight"] = torch.ones(g.cfg.dim)
    files["pth/pretrain_style.pth"] = saved({"base_model": encoder, "epoch": 300})
    return files


def check_pth(files: dict[str, bytes], g: Golden) -> None:
    """torch.load gives back exactly the weights (in each storage type)."""
    for name, data in files.items():
        loaded = torch.load(io.BytesIO(data))["base_model"]
        if "finetune" not in name:
            continue
        for k, v in g.weights.items():
            t = loaded[f"module.{k}"]
            expect = torch.from_numpy(np.array(v)) if v.dtype == np.int64 else torch.from_numpy(v).to(t.dtype)
            if not torch.equal(t, expect):
                raise AssertionError(f"{name}: {k} does not round-trip")


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="output folder (default tests/fixtures/points)")
    args = parser.parse_args(argv)
    start = time.perf_counter()
    goldens = [draw(name, i) for i, name in enumerate(CONFIGS)]
    for g in goldens:
        filename, tensors, metadata, summary = golden_fixture(g)
        size = write_safetensors(args.out / filename, tensors, metadata)
        print(f"{filename}: {len(tensors)} tensors, {size} bytes; {summary}", flush=True)
    files = pth_files(goldens[0])
    check_pth(files, goldens[0])
    for name, data in files.items():
        path = args.out / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(data)
        print(f"{name}: {len(data)} bytes", flush=True)
    meta = {"source": f"points_{goldens[0].name}.safetensors", "generator": GENERATOR, "torch": torch.__version__,
            "keys": sorted(goldens[0].weights)}
    (args.out / "pth" / "README.json").write_text(json.dumps(meta, indent=1) + "\n")
    print(f"done in {time.perf_counter() - start:.1f} s", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
