"""The point backbone in the companion (clora-spec §4), without the engine's training: the model against the
PyTorch golden fixtures (tests/fixtures/points, made by tools/make_point_fixtures.py: logits, the grouping's
centre and neighbour indices, every gradient), the contract's exactness fixtures on a point backbone
(tests/fixtures/train_points, the same files the engine passes), genuine torch.save `.pth` checkpoints read
as the engine reads them and hostile ones refused without running anything, where each setting comes from,
and the point augmentation draw for draw against the engine's augmentPointsInto."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from clora_torch import train
from clora_torch.finetune import FineTuneModel
from clora_torch.grouping import farthest_point_sample, nearest_neighbours
from clora_torch.models import open_backbone
from clora_torch.point_augment import apply_point_augment, draw_point_augments
from clora_torch.rng import Rng
from clora_torch.safetensors import open_safetensors
from clora_torch.settings import AdapterSettings
from clora_torch.vit import ShapeError
from clora_torch.weights import PthError
from conftest import REPO, contract_error, engine_script, tensors

POINTS = REPO / "tests" / "fixtures" / "points"
TRAIN_POINTS = REPO / "tests" / "fixtures" / "train_points"
GOLDEN = sorted(p.name for p in POINTS.glob("points_*.safetensors"))
# The golden file's settings, which a .pth (no metadata) needs as options.
GOLDEN_OPTIONS = {"heads": 3, "points": 64, "groups": 8, "group_size": 8}


def golden_model(path):
    backbone = open_backbone(str(path))
    model = FineTuneModel(backbone.cfg, AdapterSettings("head"), [str(i) for i in range(backbone.cfg.classes)])
    model.load_backbone(backbone.read)
    model.load_native({"head.weight": backbone.read("head.weight"), "head.bias": backbone.read("head.bias")})
    model.backbone.requires_grad_(True)  # every gradient is checked, not only the head's
    return backbone, model


@pytest.mark.parametrize("name", GOLDEN)
def test_the_model_gives_the_golden_logits_grouping_and_gradients(name):
    backbone, model = golden_model(POINTS / name)
    f = backbone.file
    cfg = backbone.cfg
    assert (cfg.points, cfg.groups, cfg.group_size) == tuple(int(f.metadata[k]) for k in ("num_points", "num_groups", "group_size"))
    points = torch.from_numpy(f.read_f32("input.points"))
    indices, centres = farthest_point_sample(points, cfg.groups)
    assert np.array_equal(indices.numpy(), f.read_int("output.centre_index"))
    assert np.array_equal(nearest_neighbours(points, centres, cfg.group_size).numpy(), f.read_int("output.neighbour_index"))
    logits = model(points)
    expected = f.read_f32("output.logits")
    assert np.abs(logits.detach().numpy() - expected).max() <= 1e-5 * np.abs(expected).max()
    (logits * torch.from_numpy(f.read_f32("loss.R"))).sum().backward()
    params = {**dict(model.backbone.named_parameters()), "head.weight": model.head.weight, "head.bias": model.head.bias}
    grads = [n for n in f.names() if n.startswith("grad.")]
    assert {n[5:] for n in grads} == set(params)  # running statistics are buffers: no gradient, none expected
    for n in grads:
        want = f.read_f32(n)
        assert np.abs(params[n[5:]].grad.numpy() - want).max() <= 1e-5 * max(1e-6, np.abs(want).max()), n
    backbone.close()


@pytest.mark.parametrize("dtype, tolerance", [("f32", 1e-5), ("f16", 2e-2), ("bf16", 1e-1)])
def test_torch_save_checkpoints_read_as_the_engine_reads_them(dtype, tolerance):
    """Point-MAE's fine-tuned layout ({'base_model': {'module.' + key}, 'epoch', 'metrics'}); no metadata, so the
    grouping comes as options. f32 gives the golden logits; f16 and bf16 within their rounding."""
    _, reference = golden_model(POINTS / "points_p64_g8_k8.safetensors")
    points = torch.from_numpy(open_safetensors(POINTS / "points_p64_g8_k8.safetensors").read_f32("input.points"))
    backbone = open_backbone(str(POINTS / "pth" / f"finetune_{dtype}.pth"), **GOLDEN_OPTIONS)
    assert backbone.file.state_dict_key == "base_model" and backbone.cfg.classes == 5 and backbone.describe()["num_points"] == "64"
    model = FineTuneModel(backbone.cfg, AdapterSettings("head"), list("abcde"))
    model.load_backbone(backbone.read)
    model.load_native({"head.weight": backbone.read("head.weight"), "head.bias": backbone.read("head.bias")})
    want = reference(points).detach().numpy()
    assert np.abs(model(points).detach().numpy() - want).max() <= tolerance * np.abs(want).max()


def test_what_a_point_checkpoint_cannot_be_is_refused_with_a_sentence():
    with pytest.raises(ShapeError, match="look like a pre-training checkpoint"):
        open_backbone(str(POINTS / "pth" / "pretrain_style.pth"), **GOLDEN_OPTIONS)
    hostile = REPO / "tests" / "fixtures" / "pth" / "hostile"
    # os.system is refused by torch's own weights-only loader; builtins.eval comes in a protocol-4 pickle that
    # torch 1.13's weights-only loader cannot parse, so it is the restricted fallback that refuses it.
    for name, found in (("os_system", "os.system"), ("builtins_eval", "builtins.eval"), ("argparse_namespace", "argparse.Namespace")):
        with pytest.raises(PthError, match=f"asks for {found}, which a weights file never needs: refused, and nothing in it was run"):
            open_backbone(str(hostile / f"{name}.pth"))
    with pytest.raises(PthError, match="save model.state_dict"):
        open_backbone(str(hostile / "whole_model.pth"))
    with pytest.raises(PthError, match='several sets of weights \\("encoder", "decoder"\\)'):
        open_backbone(str(hostile / "two_models.pth"))


def test_settings_come_from_the_option_then_the_metadata_then_section_4s_defaults():
    backbone = open_backbone(str(TRAIN_POINTS / "backbone.safetensors"))
    assert (backbone.cfg.heads, backbone.cfg.points, backbone.cfg.groups, backbone.cfg.group_size, backbone.notes) == (3, 48, 8, 8, [])
    backbone = open_backbone(str(TRAIN_POINTS / "backbone.safetensors"), points=40, groups=6)
    assert (backbone.cfg.points, backbone.cfg.groups) == (40, 6)
    assert backbone.notes == ["--points 40 replaces the backbone's num_points 48.", "--groups 6 replaces the backbone's num_groups 8."]
    defaults = open_backbone(str(POINTS / "pth" / "finetune_f32.pth"))  # no metadata: d/64 heads (at least 1), 1024 points, 64 groups of 32
    assert (defaults.cfg.heads, defaults.cfg.points, defaults.cfg.groups, defaults.cfg.group_size) == (1, 1024, 64, 32)
    with pytest.raises(ShapeError, match="100 groups cannot be chosen from 48 points"):
        open_backbone(str(TRAIN_POINTS / "backbone.safetensors"), groups=100)


def fixture_args(command: str, out: str) -> list[str]:
    words = command.split()
    return [out if w == "OUT.safetensors" else str(REPO / w) if w.startswith("tests/") else w for w in words[words.index("train") + 1:]]


@pytest.mark.parametrize("name", sorted(p.name for p in TRAIN_POINTS.glob("expected_*.safetensors")))
def test_the_exactness_contract_on_a_point_backbone(name, tmp_path):
    """K = 2 full-batch steps of every method and both optimizers against the float64 reference (§3, §4)."""
    with open_safetensors(TRAIN_POINTS / name) as f:
        meta = dict(f.metadata)
    out = tmp_path / "adapter.safetensors"
    assert train.main(fixture_args(meta["command"], str(out))) == 0
    expected = {k: v for k, v in tensors(TRAIN_POINTS / name).items() if not k.startswith(("loss.", "logits."))}
    start = {k: v for k, v in tensors(REPO / meta["init"]).items() if k in expected}
    assert set(tensors(out)) == set(expected)  # a `full` file holds the BatchNorm statistics too, unchanged
    ratio, worst = contract_error(tensors(out), expected, start)
    assert ratio <= 1e-4, f"{name}: worst tensor {worst} at {ratio:.2e} of the largest change"
    if "full" in name:
        backbone = tensors(TRAIN_POINTS / "backbone.safetensors")
        for key in ("encoder.first_conv.1.running_mean", "encoder.second_conv.1.running_var"):
            assert np.array_equal(tensors(out)[key], backbone[key])


def test_point_augmentation_is_the_engines_draw_for_draw():
    rng_seed, n, p = 12345, 3, 50
    clouds = np.random.default_rng(0).uniform(-1, 1, (n, p, 3)).astype(np.float32)
    flags = [(True, False, False), (True, True, True), (False, True, False), (False, False, True)]
    script = f"""
import {{ augmentPointsInto }} from './src/data/points/augment';
import {{ Rng }} from './src/train/rng';
const inputs = Float32Array.from({json.dumps(clouds.ravel().tolist())});
const data = {{ classes: ['a'], sampleShape: [{p}, 3], count: {n}, inputs, labels: new Int32Array({n}), skipped: [] }};
const out = [];
for (const [scaleAndTranslate, rotate, jitter] of {json.dumps(flags)}) {{
  const rng = new Rng({rng_seed});
  const points = new Float32Array({n * p * 3});
  augmentPointsInto(data, [2, 0, 1], points, new Float32Array({n}), rng, {{ scaleAndTranslate, rotate, jitter }});
  out.push({{ points: Array.from(points), state: rng.state }});
}}
console.log(JSON.stringify(out));
"""
    theirs = json.loads(engine_script(script))
    for (scale, rotate, jitter), engine in zip(flags, theirs):
        rng = Rng(rng_seed)
        draws = draw_point_augments(rng, n, p, scale, rotate, jitter)
        ours = np.stack([apply_point_augment(clouds[i], a) for i, a in zip([2, 0, 1], draws)])
        assert rng.state == engine["state"], (scale, rotate, jitter)
        assert np.array_equal(ours.ravel(), np.asarray(engine["points"], np.float32)), (scale, rotate, jitter)
