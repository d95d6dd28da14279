"""The training checkpoint moves a run between the engine and PyTorch without restarting its optimizer or
its sampler: a checkpoint the engine wrote (tests/fixtures/checkpoint, by tools/make-checkpoint-fixtures.ts)
resumes here and the next steps equal the engine's own next steps (moments, sampler, Rng and history
included); one written here resumes in the engine likewise; and a checkpoint that does not fit the model,
the data or the settings is refused with a sentence."""

from __future__ import annotations

import json

import numpy as np
import pytest

from clora_torch import train
from clora_torch.checkpoint import read_checkpoint, write_checkpoint
from clora_torch.models import open_backbone
from clora_torch.safetensors import open_safetensors, write_safetensors
from conftest import BACKBONE, CHECKPOINTS, DATA, contract_error, engine, tensors

CASES = ("clora_adamw", "lora_adamw", "full_sgd", "head_adamw")
RUN = ["--model", str(BACKBONE), "--data", str(DATA)]


def sampler_state(path):
    with open_safetensors(path) as f:
        meta = f.metadata
        return (f.read_int("sampler.order").tolist(), json.loads(meta["sampler"]), meta["step"], meta["optimizer_step"],
                len(json.loads(meta["history"])))


def assert_same_run(ours, reference, start):
    """Same tensors and moments (contract tolerance, against the reference's change) and the same sampler."""
    ratio, worst = contract_error(tensors(ours), tensors(reference), tensors(start))
    print(f"resumed: {ratio:.2e} of the largest change ({worst})")
    assert ratio <= 1e-4, f"worst tensor {worst} at {ratio:.2e} of the largest change"
    assert sampler_state(ours) == sampler_state(reference)


@pytest.mark.parametrize("case", CASES)
def test_an_engine_checkpoint_resumes_in_pytorch(case, tmp_path):
    step2, step5 = CHECKPOINTS / f"{case}.step2.safetensors", CHECKPOINTS / f"{case}.step5.safetensors"
    ours = tmp_path / "step5.safetensors"
    assert train.main([*RUN, "--resume", str(step2), "--steps", "5", "--out", str(tmp_path / "a.safetensors"), "--save-state", str(ours)]) == 0
    assert_same_run(ours, step5, step2)
    # The adapter written beside it holds the same tensors as the checkpoint's.
    adapter, state = tensors(tmp_path / "a.safetensors"), tensors(ours)
    assert all(np.array_equal(adapter[k], state[k]) for k in adapter)


def test_a_pytorch_checkpoint_resumes_in_the_engine(tmp_path):
    options = ["--method", "clora", "--rank", "3", "--spaces", "2", "--targets", "q,v,proj", "--dropout", "0", "--batch-size", "4",
               "--lr", "0.01", "--warmup", "2", "--seed", "21"]
    step2 = tmp_path / "step2.safetensors"
    assert train.main([*RUN, *options, "--steps", "2", "--out", str(tmp_path / "a2.safetensors"), "--save-state", str(step2)]) == 0
    engine("train", *RUN, "--resume", step2, "--steps", "5", "--out", tmp_path / "e.safetensors", "--save-state", tmp_path / "engine5.safetensors")
    assert train.main([*RUN, "--resume", str(step2), "--steps", "5", "--out", str(tmp_path / "p.safetensors"), "--save-state", str(tmp_path / "ours5.safetensors")]) == 0
    assert_same_run(tmp_path / "ours5.safetensors", tmp_path / "engine5.safetensors", step2)
    # And resuming is the same as never stopping.
    assert train.main([*RUN, *options, "--steps", "5", "--out", str(tmp_path / "whole.safetensors"), "--save-state", str(tmp_path / "whole5.safetensors")]) == 0
    assert_same_run(tmp_path / "ours5.safetensors", tmp_path / "whole5.safetensors", step2)


def test_the_file_reads_back_as_written(tmp_path):
    backbone = open_backbone(str(BACKBONE))
    try:
        ck = read_checkpoint(CHECKPOINTS / "clora_adamw.step5.safetensors", backbone.cfg)
        ck.extra["app"] = '{"checkpoint_every":50}'
        write_checkpoint(tmp_path / "again.safetensors", backbone.cfg, ck)
        again = read_checkpoint(tmp_path / "again.safetensors", backbone.cfg)
    finally:
        backbone.close()
    assert (again.settings, again.classes, again.options, again.total_steps, again.step) == (ck.settings, ck.classes, ck.options, ck.total_steps, ck.step)
    assert (again.order, again.cursor, again.rng_state, again.data, again.backbone, again.history) == (ck.order, ck.cursor, ck.rng_state, ck.data, ck.backbone, ck.history)
    assert again.extra["app"] == '{"checkpoint_every":50}'
    for key in ck.tensors:
        assert np.array_equal(again.tensors[key], ck.tensors[key]) and np.array_equal(again.m[key], ck.m[key]) and np.array_equal(again.v[key], ck.v[key])
    assert ck.settings.method == "clora" and ck.options.label_smoothing == 0.1 and ck.step == 5 and ck.optimizer_step == 5


def refused(capsys, args) -> str:
    assert train.main(args) == 1
    return capsys.readouterr().err


def test_a_checkpoint_that_does_not_fit_is_refused(capsys, tmp_path):
    step2 = str(CHECKPOINTS / "clora_adamw.step2.safetensors")
    out = ["--out", str(tmp_path / "a.safetensors")]
    assert "--lr 0.02 differs from the checkpoint's 0.01: a resumed run keeps its settings" in refused(capsys, [*RUN, "--resume", step2, "--lr", "0.02", *out])
    assert "--targets v,q differs from the checkpoint's q,v,fc2" in refused(capsys, [*RUN, "--resume", step2, "--targets", "v,q", *out])
    assert "it is finished. Pass --steps N with N > 2" in refused(capsys, [*RUN, "--resume", step2, "--steps", "2", *out])
    with open_safetensors(DATA) as f:
        pixels, labels, meta = f.read_f32("pixel_values"), f.read_int("labels"), f.metadata
    write_safetensors(tmp_path / "five.safetensors", [("pixel_values", pixels[:5]), ("labels", labels[:5])], meta)
    write_safetensors(tmp_path / "shuffled.safetensors", [("pixel_values", pixels), ("labels", labels[::-1].copy())], meta)
    other_data = ["--model", str(BACKBONE), "--resume", step2, *out]
    assert "trains on 6 images; --data holds 5" in refused(capsys, [*other_data, "--data", str(tmp_path / "five.safetensors")])
    assert "not with the same labels in the same order" in refused(capsys, [*other_data, "--data", str(tmp_path / "shuffled.safetensors")])
    with open_safetensors(BACKBONE) as f:
        weights = {n: f.read_f32(n) for n in f.names()}
        meta = f.metadata
    weights["norm.weight"] = weights["norm.weight"] + 0.01
    write_safetensors(tmp_path / "other.safetensors", list(weights.items()), meta)
    message = refused(capsys, ["--model", str(tmp_path / "other.safetensors"), "--data", str(DATA), "--resume", step2, *out])
    assert "trained on another backbone" in message and "Resume with the run's own backbone" in message
    assert "is not a training checkpoint" in refused(capsys, [*RUN, "--resume", str(tmp_path / "five.safetensors"), *out])
    assert "(a training checkpoint: pass it to --resume)" in refused(capsys, [*RUN, "--method", "clora", "--steps", "1", "--batch-size", "6", "--init", step2, *out])
    assert "Give --init or --resume, not both" in refused(capsys, [*RUN, "--resume", step2, "--init", step2, *out])


def test_an_f16_engine_run_resumes_here_in_f32(capsys, tmp_path):
    backbone = open_backbone(str(BACKBONE))
    try:
        ck = read_checkpoint(CHECKPOINTS / "lora_adamw.step2.safetensors", backbone.cfg)
        ck.options = ck.options.with_(precision="f16")
        write_checkpoint(tmp_path / "f16.safetensors", backbone.cfg, ck)
    finally:
        backbone.close()
    args = [*RUN, "--resume", str(tmp_path / "f16.safetensors"), "--steps", "5", "--out", str(tmp_path / "a.safetensors")]
    assert "Use --precision f32 (also to resume an f16 checkpoint)" in refused(capsys, args)
    assert train.main([*args, "--precision", "f32", "--save-state", str(tmp_path / "s5.safetensors")]) == 0
    assert json.loads(open_safetensors(tmp_path / "s5.safetensors").metadata["train"])["precision"] == "f32"
