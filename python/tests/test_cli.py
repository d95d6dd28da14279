"""The entry points as users run them: `python3 -m clora_torch.train` from python/, settings refused before
any training with the engine's sentences, and the adapter's metadata as the engine writes it."""

from __future__ import annotations

import pytest

from clora_torch import train
from clora_torch.safetensors import open_safetensors
from conftest import BACKBONE, DATA, companion

BASE = ["--model", str(BACKBONE), "--data", str(DATA), "--steps", "1", "--batch-size", "6"]


@pytest.mark.parametrize("extra, message", [
    (["--rank", "0"], "rank must be a whole number ≥ 1 (got 0)"),
    (["--spaces", "0"], "spaces must be a whole number ≥ 1"),
    (["--lr", "0"], "learning rate must be greater than 0"),
    (["--targets", "q,attn"], 'Unknown target "attn"'),
    (["--batch-size", "7"], "batch size 7 is larger than the data set (6 images)"),
    (["--method", "prefix"], 'Unknown method "prefix"'),
    (["--optimizer", "adam"], 'Unknown optimizer "adam"'),
    (["--rank", "eight"], '--rank must be a whole number, got "eight"'),
    (["--precision", "f8"], 'Unknown precision "f8": use f32 or f16'),
    (["--precision", "f16"], "trains in f32 only"),
    (["--epochs", "2"], "Give --epochs or --steps, not both."),
])
def test_bad_settings_are_refused_before_training(extra, message, capsys, tmp_path):
    assert train.main([*BASE, *extra, "--out", str(tmp_path / "a.safetensors")]) == 1
    err = capsys.readouterr().err
    assert message in err and "training clora on" not in err and err.startswith("error: ")
    assert not (tmp_path / "a.safetensors").exists()


def test_the_module_runs_from_python_dir(tmp_path):
    out = tmp_path / "a.safetensors"
    result = companion("train", *BASE, "--method", "lora", "--rank", "2", "--log-every", "1", "--out", out)
    assert result.returncode == 0, result.stderr
    assert "training lora on 6 images of 3 classes: 1 steps, " in result.stderr and "step 1/1  loss " in result.stderr
    with open_safetensors(out) as f:
        meta = f.metadata
    assert (meta["format"], meta["format_version"], meta["rank"], meta["targets"], meta["classes"]) == ("lora", "1", "2", "q,v", '["cat","dog","owl"]')
    assert meta["num_heads"] == "3" and '"batchSize":6' in meta["training"] and float(meta["final_loss"]) > 0
    missing = companion("eval", "--model", BACKBONE, "--adapter", tmp_path / "none.safetensors", "--data", DATA)
    assert missing.returncode == 1 and "no such adapter file" in missing.stderr


def test_options_a_method_does_not_use_are_noted_and_ignored(capsys, tmp_path):
    assert train.main([*BASE, "--method", "head", "--rank", "4", "--dropout", "0.3", "--out", str(tmp_path / "a.safetensors")]) == 0
    err = capsys.readouterr().err
    assert "note: --rank does not apply to --method head (it trains only the classifier head); ignored." in err
    assert "note: --dropout does not apply to --method head" in err
    init = str(tmp_path / "a.safetensors")
    assert train.main([*BASE, "--method", "lora", "--rank", "2", "--out", init]) == 0
    assert train.main([*BASE, "--method", "lora", "--rank", "3", "--init", init, "--out", str(tmp_path / "b.safetensors")]) == 1
    assert "--rank 3 differs from the --init adapter's rank 2: leave --rank out to continue with the adapter's own." in capsys.readouterr().err
