"""The companion's Rng is the engine's (src/train/rng.ts) draw for draw: the same uniforms, truncated
normals, shuffles and forked seeds from the same state, and the same state afterwards — what makes a fresh
run's initialisation and every epoch order the engine's, and a checkpoint's Rng state portable."""

from __future__ import annotations

import json

import numpy as np

from clora_torch.rng import Rng
from conftest import engine_script

SEEDS = [0, 7, 0x5EED, 0xFFFFFFFF, 2271577899]

ENGINE = """
import { Rng } from './src/train/rng';
const out = [];
for (const seed of %s) {
  const r = new Rng(seed);
  const next = Array.from({ length: 5 }, () => r.next());
  const uniform = Array.from({ length: 7 }, () => r.uniform(-0.3, 0.3));
  const normals = Array.from({ length: 200 }, () => r.truncatedNormal(0.02));
  const order = r.shuffle(Array.from({ length: 23 }, (_, i) => i));
  const forks = [r.fork(), r.fork(), r.fork()];
  out.push({ next, uniform, normals, order, forks, state: r.state });
}
console.log(JSON.stringify(out));
"""


def test_the_same_draws_as_the_engine():
    expected = json.loads(engine_script(ENGINE % json.dumps(SEEDS)))
    for seed, want in zip(SEEDS, expected):
        r = Rng(seed)
        assert [r.next() for _ in range(5)] == want["next"]
        assert r.uniforms(7, -0.3, 0.3).tolist() == want["uniform"]
        # Box-Muller goes through log and cos: V8's and glibc's may differ in the last bit of a double.
        np.testing.assert_allclose(r.truncated_normals(200, 0.02), want["normals"], rtol=1e-14, atol=0)
        assert r.shuffle(list(range(23))) == want["order"]
        assert [r.fork(), r.fork(), r.fork()] == want["forks"]
        assert r.state == want["state"]


def test_bulk_draws_equal_one_at_a_time():
    a, b = Rng(99), Rng(99)
    assert a.uniforms(1000, 0, 1).tolist() == [b.next() for _ in range(1000)]
    assert a.state == b.state
