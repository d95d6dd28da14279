"""An adapter trained in PyTorch loads in the engine and gives the same logits (`clora forward`), for every
method; and the engine's `eval` and the companion's print the same evaluation of it."""

from __future__ import annotations

import json

import numpy as np
import pytest

from clora_torch import eval as companion_eval
from clora_torch import forward, train
from clora_torch.safetensors import open_safetensors, write_safetensors
from conftest import BACKBONE, DATA, engine

METHODS = {
    "clora": ["--method", "clora", "--rank", "4", "--spaces", "2", "--targets", "q,k,v,proj,fc1,fc2", "--dropout", "0.1"],
    "lora": ["--method", "lora", "--rank", "4", "--targets", "q,v,fc1", "--scale", "2"],
    "head": ["--method", "head"],
    "full": ["--method", "full", "--lr", "0.003"],
}


@pytest.fixture(scope="module")
def inputs(tmp_path_factory):
    """The six training images and six more drawn around them (the adapter has not seen those)."""
    path = tmp_path_factory.mktemp("inputs") / "pixels.safetensors"
    with open_safetensors(DATA) as f:
        pixels = f.read_f32("pixel_values")
    rng = np.random.default_rng(0)
    write_safetensors(path, [("pixel_values", np.concatenate([pixels, pixels + rng.normal(0, 0.5, pixels.shape).astype(np.float32)]))])
    return path


@pytest.mark.parametrize("method", sorted(METHODS))
def test_a_pytorch_adapter_gives_the_same_logits_in_the_engine(method, inputs, tmp_path):
    adapter = tmp_path / "adapter.safetensors"
    assert train.main(["--model", str(BACKBONE), "--data", str(DATA), *METHODS[method], "--steps", "3", "--batch-size", "4", "--lr", "0.02",
                       "--seed", "3", "--out", str(adapter)]) == 0
    ours, theirs = tmp_path / "ours.safetensors", tmp_path / "engine.safetensors"
    assert forward.main(["--model", str(BACKBONE), "--adapter", str(adapter), "--input", str(inputs), "--output", str(ours)]) == 0
    engine("forward", "--model", BACKBONE, "--adapter", adapter, "--input", inputs, "--output", theirs)
    with open_safetensors(ours) as a, open_safetensors(theirs) as b:
        mine, reference = a.read_f32("logits"), b.read_f32("logits")
        assert json.loads(a.metadata["classes"]) == json.loads(b.metadata["classes"]) == ["cat", "dog", "owl"]
    assert mine.shape == reference.shape == (12, 3)
    assert np.abs(mine - reference).max() <= 1e-5 * max(1.0, np.abs(reference).max())


def test_eval_prints_what_the_engine_prints(tmp_path, capsys):
    adapter = tmp_path / "adapter.safetensors"
    assert train.main(["--model", str(BACKBONE), "--data", str(DATA), *METHODS["clora"], "--steps", "4", "--batch-size", "6", "--lr", "0.05",
                       "--out", str(adapter)]) == 0
    capsys.readouterr()
    printed = {}
    for flag in ("", "--json"):
        assert companion_eval.main(["--model", str(BACKBONE), "--adapter", str(adapter), "--data", str(DATA), *filter(None, [flag])]) == 0
        printed[flag] = (capsys.readouterr().out, engine("eval", "--model", BACKBONE, "--adapter", adapter, "--data", DATA, *filter(None, [flag])).stdout)
    ours, theirs = printed[""]
    assert ours == theirs and "confusion matrix (rows: true class, columns: predicted):" in ours
    ours, theirs = (json.loads(text) for text in printed["--json"])
    assert ours == theirs and sum(map(sum, ours["confusion"])) == 6
