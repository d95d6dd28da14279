"""What the companion's tests share: paths, running the engine's command line (src/cli/main.ts's `main`, in one
process kept running for the whole session: tests/helpers/cli-server.ts; on lavapipe a second or two per
run here), running the companion's entry points in-process or as
`python3 -m ...` from python/, and comparing files the way the contract does."""

from __future__ import annotations

import atexit
import json
import os
import select
import socket
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from clora_torch.finetune import init_seed, initial_tensors
from clora_torch.models import open_backbone
from clora_torch.rng import Rng
from clora_torch.safetensors import open_safetensors
from clora_torch.settings import AdapterSettings

PYTHON_DIR = Path(__file__).resolve().parents[1]
REPO = PYTHON_DIR.parent
TRAIN = REPO / "tests" / "fixtures" / "train"
CHECKPOINTS = REPO / "tests" / "fixtures" / "checkpoint"
BACKBONE = TRAIN / "backbone.safetensors"
DATA = TRAIN / "data.safetensors"
TSX = REPO / "node_modules" / ".bin" / "tsx"


class _EngineServer:
    """The engine's command line kept running (tests/helpers/cli-server.ts): each call is one `main(argv)` of
    src/cli/main.ts, the very function `npm run clora` runs, without paying tsx's and Dawn's start-up again."""

    def __init__(self) -> None:
        self.process: subprocess.Popen | None = None

    def _start(self) -> subprocess.Popen:
        if self.process is None or self.process.poll() is not None:
            self.process = subprocess.Popen([str(TSX), "tests/helpers/cli-server.ts"], cwd=REPO, stdin=subprocess.PIPE, stdout=subprocess.PIPE,
                                            stderr=subprocess.DEVNULL, text=True, bufsize=1)
        return self.process

    def run(self, args: list[str], timeout: float = 300) -> subprocess.CompletedProcess:
        process = self._start()
        process.stdin.write(json.dumps(args) + "\n")
        process.stdin.flush()
        ready, _, _ = select.select([process.stdout], [], [], timeout)
        line = process.stdout.readline() if ready else ""
        if not line:
            process.kill()
            self.process = None
            pytest.fail(f"engine {' '.join(args)} gave no answer ({'timed out' if not ready else 'the process ended'}).")
        answer = json.loads(line)
        return subprocess.CompletedProcess(["clora", *args], answer["code"], answer["stdout"], answer["stderr"])

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.stdin.close()  # the server ends when its input does
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:  # still inside a run (the session was interrupted)
                self.process.kill()


_ENGINE = _EngineServer()
atexit.register(_ENGINE.close)


def engine(*args: str, check: bool = True) -> subprocess.CompletedProcess:
    """The engine's CLI (`npm run clora -- ...`) from the repository root."""
    if not TSX.exists():
        pytest.fail("node_modules/.bin/tsx is missing: run `npm install` at the repository root first.")
    result = _ENGINE.run([str(a) for a in args])
    if check and result.returncode != 0:
        pytest.fail(f"engine {' '.join(map(str, args))} exited with {result.returncode}:\n{result.stderr[-3000:]}")
    return result


def engine_script(code: str) -> str:
    """Runs a TypeScript snippet with the engine's sources (tsx, from the repository root); its stdout."""
    result = subprocess.run([str(TSX), "-e", code], cwd=REPO, capture_output=True, text=True, timeout=300)
    if result.returncode != 0:
        pytest.fail(f"engine script failed:\n{result.stderr[-3000:]}")
    return result.stdout


def companion(module: str, *args: str) -> subprocess.CompletedProcess:
    """`python3 -m clora_torch.<module> ...` run from python/, as a user runs it."""
    return subprocess.run([sys.executable, "-m", f"clora_torch.{module}", *map(str, args)], cwd=PYTHON_DIR,
                          capture_output=True, text=True, timeout=300)


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def torchrun(nproc: int, module: str, *args: str) -> subprocess.CompletedProcess:
    """`torchrun --nproc_per_node N -m clora_torch.<module> ...` (as python -m torch.distributed.run), Gloo on
    CPU. --redirects 1 --tee 1: Debian's torch 1.13 launcher fails on Python 3.11 without them (README)."""
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "torch.distributed.run", "--nproc_per_node", str(nproc), "--master_port", str(free_port()),
               "--monitor_interval", "0.2", "--redirects", "1", "--tee", "1", "-m", f"clora_torch.{module}", *map(str, args)]
    return subprocess.run(command, cwd=PYTHON_DIR, capture_output=True, text=True, timeout=300, env=env)


def tensors(path: Path, prefix: str | None = None) -> dict[str, np.ndarray]:
    """Every float tensor of a file (optionally only names starting with `prefix`)."""
    with open_safetensors(path) as f:
        return {n: f.read_f32(n) for n in f.names() if f.tensors[n].dtype.startswith(("F", "B")) and (prefix is None or n.startswith(prefix))}


def contract_error(ours: dict[str, np.ndarray], reference: dict[str, np.ndarray], start: dict[str, np.ndarray]) -> tuple[float, str]:
    """max |ours - reference| / the largest |reference - start| (clora-spec §3), and the worst tensor."""
    change = max(float(np.abs(reference[k].astype(np.float64) - start[k]).max()) for k in start)
    worst, name = 0.0, ""
    for k in start:
        err = float(np.abs(ours[k].astype(np.float64) - reference[k]).max())
        if err > worst:
            worst, name = err, k
    assert change > 0, "the reference did not move"
    return worst / change, name


def initial(settings: AdapterSettings, seed: int, classes: int = 3) -> dict[str, np.ndarray]:
    """Where a run without --init starts on the fixture backbone: the engine's initialisation for this seed
    (and the backbone itself for `full`)."""
    backbone = open_backbone(str(BACKBONE))
    try:
        start = initial_tensors(backbone.cfg, settings, classes, Rng(init_seed(seed)))
        if settings.method == "full":
            start.update({k: backbone.read(k) for k in backbone.file.names()})
        return start
    finally:
        backbone.close()
