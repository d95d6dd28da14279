"""DistributedDataParallel under torchrun, two Gloo processes on CPU: --batch-size is the global batch, each
process trains on its shard, and the run gives the same adapter as one process on the whole batch —
including batches with fewer images than processes (the last batch of an epoch, 5 = 4 + 1 here) and
gradient accumulation over micro-batches. Rank 0 alone writes the files; its checkpoint resumes in one
process."""

from __future__ import annotations

from clora_torch import train
from clora_torch.safetensors import open_safetensors, write_safetensors
from clora_torch.settings import AdapterSettings
from conftest import BACKBONE, DATA, contract_error, initial, tensors, torchrun


def test_two_gloo_processes_train_as_one(tmp_path):
    with open_safetensors(DATA) as f:
        write_safetensors(tmp_path / "five.safetensors", [("pixel_values", f.read_f32("pixel_values")[:5]), ("labels", f.read_int("labels")[:5])], f.metadata)
    run = ["--model", str(BACKBONE), "--data", str(tmp_path / "five.safetensors"), "--method", "clora", "--rank", "4", "--spaces", "2",
           "--dropout", "0", "--batch-size", "4", "--micro-batch", "1", "--lr", "0.01", "--seed", "5", "--device", "cpu"]
    two = torchrun(2, "train", *run, "--steps", "4", "--out", tmp_path / "two.safetensors", "--save-state", tmp_path / "two4.safetensors")
    assert two.returncode == 0, two.stderr[-3000:]
    assert "2 processes (gloo), global batch 4" in two.stderr
    assert two.stderr.count("wrote clora adapter") == 1 and two.stderr.count("wrote the training state") == 1
    assert sorted(p.name for p in tmp_path.iterdir()) == ["five.safetensors", "two.safetensors", "two4.safetensors"]

    assert train.main([*run, "--steps", "4", "--out", str(tmp_path / "one.safetensors"), "--save-state", str(tmp_path / "one4.safetensors")]) == 0
    start = initial(AdapterSettings("clora", 4, 2, ("q", "v"), 1.0, 0.1, 0.0), seed=5)
    ratio, worst = contract_error(tensors(tmp_path / "two.safetensors"), tensors(tmp_path / "one.safetensors"), start)
    assert ratio <= 1e-4, f"{worst} at {ratio:.2e} of the largest change"

    # The two-process checkpoint continues in one process as the one-process run's checkpoint does.
    for name in ("one4", "two4"):
        assert train.main(["--model", str(BACKBONE), "--data", str(tmp_path / "five.safetensors"), "--resume", str(tmp_path / f"{name}.safetensors"),
                           "--steps", "6", "--out", str(tmp_path / f"{name}-6.safetensors")]) == 0
    ratio, worst = contract_error(tensors(tmp_path / "two4-6.safetensors"), tensors(tmp_path / "one4-6.safetensors"), tensors(tmp_path / "one.safetensors"))
    assert ratio <= 1e-4, f"{worst} at {ratio:.2e} of the change over steps 5-6"
