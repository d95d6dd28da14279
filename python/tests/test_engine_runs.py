"""The same `train` command on the engine and in PyTorch gives the same adapter, from the same seed and no
--init: the initialisation drawn from the engine's Rng, the shuffled epochs (batches of 4 out of 6, so
runs cross epoch boundaries and draw new orders), the warm-up and cosine schedule, micro-batches (one
forked seed each), label smoothing, augmentation, and both optimizers on every method. The engine runs
on lavapipe; the tolerance is the contract's, against the engine's change from the common start.

One exception, measured and stated: `full` with AdamW on these shuffled batches of 4. Some weights get
gradients near zero there, whose f32 rounding AdamW's normalisation turns into visible updates: each f32
implementation (the engine and this one) lands up to about 1e-3 of the largest change away from the same
run in float64, so that case is held to 2e-3. The contract's 1e-4 for `full` holds on its full-batch
fixtures (test_exactness.py); a wrong decay group or key-bias rule would move `full` by 1e-2 or more."""

from __future__ import annotations

import pytest

from clora_torch import train
from clora_torch.settings import AdapterSettings
from conftest import BACKBONE, DATA, contract_error, engine, initial, tensors

COMMON = ["--model", str(BACKBONE), "--data", str(DATA), "--batch-size", "4", "--steps", "5", "--warmup", "2", "--dropout", "0"]
TOLERANCE = {"full_adamw": 2e-3}
CASES = {
    "clora_adamw": (["--method", "clora", "--rank", "4", "--spaces", "3", "--targets", "q,v,fc1,fc2", "--sade-weight", "0.5",
                     "--lr", "0.01", "--seed", "7"], AdapterSettings("clora", 4, 3, ("q", "v", "fc1", "fc2"), 1.0, 0.5, 0.0)),
    "clora_sgd_augment": (["--method", "clora", "--rank", "2", "--spaces", "2", "--optimizer", "sgd", "--lr", "0.05", "--seed", "9",
                           "--augment"], AdapterSettings("clora", 2, 2, ("q", "v"), 1.0, 0.1, 0.0)),
    "lora_adamw_micro": (["--method", "lora", "--rank", "3", "--targets", "k,proj", "--micro-batch", "3", "--label-smoothing", "0.1",
                          "--lr", "0.01", "--seed", "4"], AdapterSettings("lora", 3, 1, ("k", "proj"), 1.0, 0.1, 0.0)),
    "lora_sgd": (["--method", "lora", "--rank", "4", "--optimizer", "sgd", "--lr", "0.05", "--scale", "2", "--seed", "2"],
                 AdapterSettings("lora", 4, 1, ("q", "v"), 2.0, 0.1, 0.0)),
    "head_adamw": (["--method", "head", "--lr", "0.02", "--seed", "1"], AdapterSettings("head")),
    "head_sgd": (["--method", "head", "--optimizer", "sgd", "--lr", "0.1", "--seed", "1"], AdapterSettings("head")),
    "full_adamw": (["--method", "full", "--lr", "0.003", "--weight-decay", "0.05", "--seed", "6"], AdapterSettings("full")),
    "full_sgd": (["--method", "full", "--optimizer", "sgd", "--lr", "0.05", "--seed", "6"], AdapterSettings("full")),
}


@pytest.mark.parametrize("name", sorted(CASES))
def test_engine_and_pytorch_train_alike(name, tmp_path):
    options, settings = CASES[name]
    ours, theirs = tmp_path / "ours.safetensors", tmp_path / "engine.safetensors"
    assert train.main([*COMMON, *options, "--out", str(ours)]) == 0
    engine("train", *COMMON, *options, "--out", theirs)
    seed = int(options[options.index("--seed") + 1])
    reference = tensors(theirs)
    start = {k: v for k, v in initial(settings, seed).items() if k in reference}
    assert set(start) == set(reference), "the runs start from other tensors than the file holds"
    ratio, worst = contract_error(tensors(ours), reference, start)
    print(f"{name}: {ratio:.2e} of the largest change ({worst})")
    assert ratio <= TOLERANCE.get(name, 1e-4), f"{name}: worst tensor {worst} at {ratio:.2e} of the engine's largest change"
