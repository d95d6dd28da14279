"""clora-spec §3 for the companion: `train --steps K --batch-size N --no-shuffle --dropout 0 --warmup 0`
changes every tensor as the independent float64 reference does (tests/fixtures/train, made by
tools/make_fixtures.py — the same files the engine's tests/unit/exactness.test.ts passes), within
max |ours - reference| <= 1e-4 x the largest |reference change|, for every method and both optimizers.
The exact command stored in each fixture is run, as the engine's test runs it."""

from __future__ import annotations

import pytest

from clora_torch import train
from clora_torch.safetensors import open_safetensors
from conftest import REPO, TRAIN, contract_error, tensors

CASES = sorted(p.name for p in TRAIN.glob("expected_*.safetensors"))


def test_every_method_and_optimizer_is_covered():
    for method in ("clora", "lora", "head", "full"):
        for optimizer in ("adamw", "sgd"):
            for k in (1, 3):
                assert f"expected_{method}_{optimizer}_k{k}.safetensors" in CASES


def fixture_args(command: str, out: str) -> list[str]:
    words = command.split()
    return [out if w == "OUT.safetensors" else str(REPO / w) if w.startswith("tests/") else w for w in words[words.index("train") + 1:]]


@pytest.mark.parametrize("name", CASES)
def test_matches_the_float64_reference(name, tmp_path):
    with open_safetensors(TRAIN / name) as f:
        meta = dict(f.metadata)
    out = tmp_path / "adapter.safetensors"
    assert train.main(fixture_args(meta["command"], str(out))) == 0
    expected = {k: v for k, v in tensors(TRAIN / name).items() if not k.startswith(("loss.", "logits."))}
    start = tensors(REPO / meta["init"])
    ratio, worst = contract_error(tensors(out), expected, start)
    assert ratio <= 1e-4, f"{name}: worst tensor {worst} at {ratio:.2e} of the largest change"
