"""The companion and the engine on a point backbone (clora-spec §4; the fixture backbone of
tests/fixtures/train_points: d 24, depth 2, 48 points in 8 groups of 8, no qkv bias): the same `train`
command gives the same result on both for every method and both optimizers (shuffled batches of 4 of 6 across
epochs, warm-up and cosine, micro-batches, label smoothing, and point augmentation drawn from the same Rng);
a checkpoint moves in both directions and the next steps agree; an adapter trained here gives the engine's
logits and evaluation; two Gloo processes train as one; and a folder of point files packed by the engine
(`pack`) trains here exactly as the engine trains on the folder itself.

Tolerance: the contract's 1e-4 of the engine's largest change, except two AdamW runs where a few gradients are
near zero and AdamW turns their f32 rounding into visible steps (as for images, test_engine_runs.py), both
measured against a float64 run of the companion: `full` AdamW (engine 6.2e-5 and companion 1.6e-4 of the
change away from float64, so held to 2e-3 here like the image case) and CLoRA AdamW with --augment (engine
2.1e-4, companion 9.6e-6; held to 1e-3). The same augmented batches under SGD agree to 7e-7, and the
full-batch exactness fixtures hold 1e-4 for every method (test_point_backbone.py)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from clora_torch import eval as companion_eval
from clora_torch import forward, train
from clora_torch.backbone import backbone_shapes
from clora_torch.files import read_adapter
from clora_torch.finetune import init_seed, initial_tensors
from clora_torch.models import open_backbone
from clora_torch.rng import Rng
from clora_torch.safetensors import open_safetensors, write_safetensors
from conftest import REPO, contract_error, engine, tensors, torchrun
from test_checkpoint import assert_same_run

TRAIN_POINTS = REPO / "tests" / "fixtures" / "train_points"
BACKBONE = TRAIN_POINTS / "backbone.safetensors"
DATA = TRAIN_POINTS / "data.safetensors"
RUN = ["--model", str(BACKBONE), "--data", str(DATA)]
GROUPING = ("num_points", "num_groups", "group_size")
COMMON = [*RUN, "--batch-size", "4", "--steps", "5", "--warmup", "2", "--dropout", "0"]
CLORA = ["--method", "clora", "--rank", "4", "--spaces", "3", "--targets", "q,v,fc1,fc2", "--sade-weight", "0.5"]
CASES = {
    "clora_adamw": ([*CLORA, "--lr", "0.01", "--seed", "7"], 1e-4),
    "clora_adamw_augment": ([*CLORA, "--lr", "0.01", "--seed", "7", "--augment"], 1e-3),
    "clora_sgd_augment_rotate_jitter": ([*CLORA, "--optimizer", "sgd", "--lr", "0.05", "--seed", "7", "--augment", "--rotate", "--jitter"], 1e-4),
    "lora_adamw_micro": (["--method", "lora", "--rank", "3", "--targets", "k,proj", "--micro-batch", "3", "--label-smoothing", "0.1",
                          "--lr", "0.01", "--seed", "4"], 1e-4),
    "lora_sgd_jitter": (["--method", "lora", "--rank", "4", "--optimizer", "sgd", "--lr", "0.05", "--scale", "2", "--seed", "2", "--jitter"], 1e-4),
    "head_adamw_rotate": (["--method", "head", "--lr", "0.02", "--seed", "1", "--rotate"], 1e-4),
    "head_sgd": (["--method", "head", "--optimizer", "sgd", "--lr", "0.1", "--seed", "1"], 1e-4),
    "full_adamw": (["--method", "full", "--lr", "0.003", "--weight-decay", "0.05", "--seed", "6"], 2e-3),
    "full_sgd_augment": (["--method", "full", "--optimizer", "sgd", "--lr", "0.05", "--seed", "6", "--augment"], 1e-4),
}


def start_of(adapter_path, seed: int) -> dict[str, np.ndarray]:
    """Where a run without --init starts: the engine's initialisation from the seed (and the backbone for `full`)."""
    backbone = open_backbone(str(BACKBONE))
    try:
        adapter = read_adapter(adapter_path, backbone.cfg)
        settings = adapter.settings
        start = initial_tensors(backbone.cfg, settings, len(adapter.classes), Rng(init_seed(seed)))
        if settings.method == "full":
            start.update({k: backbone.read(k) for k in backbone_shapes(backbone.cfg)})
        return start
    finally:
        backbone.close()


@pytest.mark.parametrize("name", sorted(CASES))
def test_engine_and_pytorch_train_alike_on_points(name, tmp_path):
    options, tolerance = CASES[name]
    ours, theirs = tmp_path / "ours.safetensors", tmp_path / "engine.safetensors"
    assert train.main([*COMMON, *options, "--out", str(ours)]) == 0
    engine("train", *COMMON, *options, "--out", theirs)
    reference = tensors(theirs)
    start = {k: v for k, v in start_of(theirs, int(options[options.index("--seed") + 1])).items() if k in reference}
    assert set(start) == set(reference) == set(tensors(ours))
    ratio, worst = contract_error(tensors(ours), reference, start)
    print(f"{name}: {ratio:.2e} of the largest change ({worst})")
    assert ratio <= tolerance, f"{name}: worst tensor {worst} at {ratio:.2e} of the engine's largest change"
    with open_safetensors(ours) as a, open_safetensors(theirs) as b:
        keys = ("format", "num_heads", "num_points", "num_groups", "group_size", "classes")
        assert {k: a.metadata[k] for k in keys} == {k: b.metadata[k] for k in keys}
        assert json.loads(a.metadata["training"]).get("augment") == json.loads(b.metadata["training"]).get("augment")


RESUMED = {
    "clora_adamw_augment_rotate_jitter": [*CLORA, "--lr", "0.01", "--augment", "--rotate", "--jitter"],
    "full_sgd": ["--method", "full", "--optimizer", "sgd", "--lr", "0.05"],
}


@pytest.mark.parametrize("case", sorted(RESUMED))
def test_an_engine_point_checkpoint_resumes_in_pytorch(case, tmp_path):
    """The engine's steps 1-2 and its own steps 3-5 (a new epoch order drawn at step 3); steps 3-5 here from its step-2 file."""
    run = [*RUN, "--batch-size", "4", "--warmup", "2", "--dropout", "0", "--seed", "11"]
    step2, step5, ours = tmp_path / "engine2.safetensors", tmp_path / "engine5.safetensors", tmp_path / "ours5.safetensors"
    engine("train", *run, *RESUMED[case], "--steps", "2", "--out", tmp_path / "e2.safetensors", "--save-state", step2)
    engine("train", *RUN, "--resume", step2, "--steps", "5", "--out", tmp_path / "e5.safetensors", "--save-state", step5)
    assert train.main([*RUN, "--resume", str(step2), "--steps", "5", "--out", str(tmp_path / "p5.safetensors"), "--save-state", str(ours)]) == 0
    assert_same_run(ours, step5, step2)
    with open_safetensors(ours) as a, open_safetensors(step5) as b:
        assert json.loads(a.metadata["train"])["augment"] == json.loads(b.metadata["train"])["augment"]
        assert a.metadata["backbone_sha256"] == b.metadata["backbone_sha256"]
        # The grouping the weights do not fix, recorded by both.
        assert [a.metadata[k] for k in GROUPING] == [b.metadata[k] for k in GROUPING] == ["48", "8", "8"]


def test_a_pytorch_point_checkpoint_resumes_in_the_engine(tmp_path, capsys):
    options = [*RUN, "--method", "lora", "--rank", "3", "--targets", "q,v,proj", "--dropout", "0", "--batch-size", "4", "--lr", "0.01",
               "--warmup", "2", "--seed", "21", "--augment"]
    step2 = tmp_path / "step2.safetensors"
    assert train.main([*options, "--steps", "2", "--out", str(tmp_path / "a2.safetensors"), "--save-state", str(step2)]) == 0
    engine("train", *RUN, "--resume", step2, "--steps", "5", "--out", tmp_path / "e.safetensors", "--save-state", tmp_path / "engine5.safetensors")
    assert train.main([*RUN, "--resume", str(step2), "--steps", "5", "--out", str(tmp_path / "p.safetensors"),
                       "--save-state", str(tmp_path / "ours5.safetensors")]) == 0
    assert_same_run(tmp_path / "ours5.safetensors", tmp_path / "engine5.safetensors", step2)
    # Refusals a point run adds: an augmentation the run did not use; another grouping than the run's, here and in the engine.
    assert train.main([*RUN, "--resume", str(step2), "--steps", "5", "--rotate", "--out", str(tmp_path / "x.safetensors")]) == 1
    regrouped = "The checkpoint's run grouped 48 points into 8 groups of 8; this backbone is read with 48 points in 6 groups of 8. Pass --points 48 --groups 8 --group-size 8."
    capsys.readouterr()
    assert train.main([*RUN, "--groups", "6", "--resume", str(step2), "--steps", "5", "--out", str(tmp_path / "x.safetensors")]) == 1
    assert regrouped in capsys.readouterr().err
    result = engine("train", *RUN, "--groups", "6", "--resume", step2, "--steps", "5", "--out", tmp_path / "x.safetensors", check=False)
    assert result.returncode == 1 and regrouped in result.stderr


METHODS = {
    "clora": ["--method", "clora", "--rank", "4", "--spaces", "2", "--targets", "q,k,v,proj,fc1,fc2", "--dropout", "0.1"],
    "lora": ["--method", "lora", "--rank", "4", "--targets", "q,v,fc1", "--scale", "2"],
    "head": ["--method", "head"],
    "full": ["--method", "full", "--lr", "0.003"],
}


@pytest.fixture(scope="module")
def clouds(tmp_path_factory):
    """The six training clouds and six more moved around them (the adapter has not seen those)."""
    path = tmp_path_factory.mktemp("clouds") / "points.safetensors"
    with open_safetensors(DATA) as f:
        points = f.read_f32("points")
    moved = points * np.float32(0.9) + np.random.default_rng(0).normal(0, 0.05, points.shape).astype(np.float32)
    write_safetensors(path, [("points", np.concatenate([points, moved]))])
    return path


@pytest.mark.parametrize("method", sorted(METHODS))
def test_a_pytorch_point_adapter_gives_the_same_logits_in_the_engine(method, clouds, tmp_path):
    adapter = tmp_path / "adapter.safetensors"
    assert train.main([*RUN, *METHODS[method], "--steps", "3", "--batch-size", "4", "--lr", "0.02", "--seed", "3", "--augment",
                       "--out", str(adapter)]) == 0
    ours, theirs = tmp_path / "ours.safetensors", tmp_path / "engine.safetensors"
    assert forward.main(["--model", str(BACKBONE), "--adapter", str(adapter), "--input", str(clouds), "--output", str(ours)]) == 0
    engine("forward", "--model", BACKBONE, "--adapter", adapter, "--input", clouds, "--output", theirs)
    with open_safetensors(ours) as a, open_safetensors(theirs) as b:
        mine, reference = a.read_f32("logits"), b.read_f32("logits")
    assert mine.shape == reference.shape == (12, 3)
    print(f"{method} logits: {np.abs(mine - reference).max() / max(1.0, np.abs(reference).max()):.2e}")
    assert np.abs(mine - reference).max() <= 1e-5 * max(1.0, np.abs(reference).max())


def test_point_eval_prints_what_the_engine_prints(tmp_path, capsys):
    adapter = tmp_path / "adapter.safetensors"
    assert train.main([*RUN, *METHODS["full"], "--steps", "4", "--batch-size", "6", "--out", str(adapter)]) == 0
    capsys.readouterr()
    for flag in ([], ["--json"]):
        assert companion_eval.main(["--model", str(BACKBONE), "--adapter", str(adapter), "--data", str(DATA), *flag]) == 0
        ours, theirs = capsys.readouterr().out, engine("eval", "--model", BACKBONE, "--adapter", adapter, "--data", DATA, *flag).stdout
        assert ours == theirs and ('"count": 6' if flag else "accuracy ") in ours  # the same bytes, text and JSON


def test_two_gloo_processes_train_as_one_on_points(tmp_path):
    with open_safetensors(DATA) as f:
        write_safetensors(tmp_path / "five.safetensors", [("points", f.read_f32("points")[:5]), ("labels", f.read_int("labels")[:5])], f.metadata)
    run = ["--model", str(BACKBONE), "--data", str(tmp_path / "five.safetensors"), *CLORA[:8], "--dropout", "0", "--batch-size", "4",
           "--micro-batch", "1", "--optimizer", "sgd", "--lr", "0.05", "--seed", "5", "--augment", "--jitter", "--device", "cpu", "--steps", "4"]
    two = torchrun(2, "train", *run, "--out", tmp_path / "two.safetensors")
    assert two.returncode == 0, two.stderr[-3000:]
    assert "training clora on 5 point clouds of 3 classes: 4 steps" in two.stderr and "2 processes (gloo), global batch 4" in two.stderr
    assert train.main([*run, "--out", str(tmp_path / "one.safetensors")]) == 0
    ratio, worst = contract_error(tensors(tmp_path / "two.safetensors"), tensors(tmp_path / "one.safetensors"), start_of(tmp_path / "one.safetensors", 5))
    print(f"two processes against one: {ratio:.2e} of the largest change ({worst})")
    assert ratio <= 1e-4, f"{worst} at {ratio:.2e} of the largest change"


def point_folder(root):
    """Two classes of point files in every format the engine reads, with more and fewer points than the backbone's
    48: scans (.xyz with a header row, ASCII .ply, .npy) and meshes (.off, .obj) that are sampled on their faces."""
    rng = np.random.default_rng(5)
    for name in ("rings", "slabs"):
        (root / name).mkdir(parents=True)
    for i in range(3):
        t = rng.uniform(0, 2 * np.pi, 70 + 20 * i)
        ring = np.stack([np.cos(t), np.sin(t), rng.normal(0, 0.05, t.size)], axis=1)
        (root / "rings" / f"{i}.xyz").write_text("x,y,z\n" + "\n".join(",".join(f"{v:.5f}" for v in p) for p in ring) + "\n")
        slab = rng.uniform([-1, -0.3, -0.1], [1, 0.3, 0.1], (30 + 40 * i, 3))
        body = "\n".join(" ".join(f"{v:.5f}" for v in p) for p in slab)
        (root / "slabs" / f"{i}.ply").write_text(f"ply\nformat ascii 1.0\nelement vertex {len(slab)}\nproperty float x\nproperty float y\nproperty float z\nend_header\n{body}\n")
    np.save(root / "rings" / "3.npy", (ring * [1.2, 0.8, 1]).astype(np.float32))
    cube = [(x, y, z) for x in (-1, 1) for y in (-0.4, 0.4) for z in (-0.2, 0.2)]
    faces = [(0, 1, 3, 2), (4, 6, 7, 5), (0, 4, 5, 1), (2, 3, 7, 6), (0, 2, 6, 4), (1, 5, 7, 3)]
    (root / "slabs" / "3.off").write_text("OFF\n8 6 0\n" + "".join(f"{x} {y} {z}\n" for x, y, z in cube) + "".join(f"4 {' '.join(map(str, f))}\n" for f in faces))
    (root / "rings" / "4.obj").write_text("v 1 0 0\nv 0 1 0\nv -1 0 0.1\nv 0 -1 -0.1\nf 1 2 3\nf 1 3 4\n")
    return root


def test_a_folder_of_point_files_packed_by_the_engine_trains_here_as_the_engine_trains_on_the_folder(tmp_path, capsys):
    folder = point_folder(tmp_path / "clouds")
    options = [*CLORA, "--optimizer", "sgd", "--lr", "0.05", "--seed", "3", "--batch-size", "4", "--steps", "4", "--dropout", "0", "--augment"]
    # The companion does not read the folder itself: it says how to pack it.
    assert train.main(["--model", str(BACKBONE), "--data", str(folder), *options, "--out", str(tmp_path / "x.safetensors")]) == 1
    assert f"npm run clora -- pack --model {BACKBONE} --data {folder} --out points.safetensors" in capsys.readouterr().err
    packed = tmp_path / "points.safetensors"
    result = engine("pack", "--model", BACKBONE, "--data", folder, "--out", packed)
    assert "packed 9 point clouds of 2 classes [48, 3]" in result.stderr
    assert train.main(["--model", str(BACKBONE), "--data", str(packed), *options, "--out", str(tmp_path / "ours.safetensors")]) == 0
    engine("train", "--model", BACKBONE, "--data", folder, *options, "--out", tmp_path / "engine.safetensors")
    reference = tensors(tmp_path / "engine.safetensors")
    start = {k: v for k, v in start_of(tmp_path / "engine.safetensors", 3).items() if k in reference}
    ratio, worst = contract_error(tensors(tmp_path / "ours.safetensors"), reference, start)
    print(f"packed folder: {ratio:.2e} of the largest change ({worst})")
    assert ratio <= 1e-4, f"{worst} at {ratio:.2e} of the largest change"
    with open_safetensors(tmp_path / "ours.safetensors") as f:
        assert json.loads(f.metadata["classes"]) == ["rings", "slabs"]
