"""The engine's seeded generator (src/train/rng.ts), draw for draw: mulberry32 with its whole state in one
32-bit integer, so a checkpoint written by either side continues the same epoch orders and draws.

mulberry32 is counter-based: the k-th draw after state s mixes s + k * 0x6D2B79F5 (mod 2^32). The bulk
draws below use that to draw many values at once with numpy and then advance the state past them.
"""

from __future__ import annotations

import math

import numpy as np

_STEP = 0x6D2B79F5
_MASK = 0xFFFFFFFF


def _mix(a: np.ndarray) -> np.ndarray:
    """mulberry32's output function on uint32 states (numpy's uint32 products wrap mod 2^32, as Math.imul)."""
    u32 = np.uint32
    t = (a ^ (a >> u32(15))) * (a | u32(1))
    t = t ^ (t + (t ^ (t >> u32(7))) * (t | u32(61)))
    return (t ^ (t >> u32(14))).astype(np.float64) / 4294967296.0


class Rng:
    def __init__(self, state: int):
        self.state = int(state) & _MASK

    def _draws(self, count: int) -> np.ndarray:
        """The next `count` uniforms in [0, 1), in order."""
        k = np.arange(1, count + 1, dtype=np.uint64)
        states = ((np.uint64(self.state) + k * np.uint64(_STEP)) & np.uint64(_MASK)).astype(np.uint32)
        self.state = (self.state + count * _STEP) & _MASK
        with np.errstate(over="ignore"):
            return _mix(states)

    def next(self) -> float:
        return float(self._draws(1)[0])

    def uniform(self, low: float, high: float) -> float:
        return low + (high - low) * self.next()

    def uniforms(self, count: int, low: float, high: float) -> np.ndarray:
        """`count` draws of uniform(low, high), as float64 (the engine rounds them to f32 when it stores them)."""
        return low + (high - low) * self._draws(count)

    def normals(self, count: int) -> np.ndarray:
        """`count` draws of normal(): Box-Muller, each from its own pair (u = 1 - next, v = next), float64."""
        draws = self._draws(2 * count)
        return np.sqrt(-2.0 * np.log(1.0 - draws[0::2])) * np.cos(2.0 * math.pi * draws[1::2])

    def truncated_normals(self, count: int, std: float) -> np.ndarray:
        """`count` draws of truncatedNormal(std): Box-Muller pairs (u = 1 - next, v = next), a pair whose
        |z| > 2 is drawn again, exactly as the engine loops."""
        out = np.empty(count, dtype=np.float64)
        filled = 0
        while filled < count:
            pairs = max(16, int((count - filled) * 1.06) + 8)
            start = self.state
            draws = self._draws(2 * pairs)
            u, v = 1.0 - draws[0::2], draws[1::2]
            z = np.sqrt(-2.0 * np.log(u)) * np.cos(2.0 * math.pi * v)
            accepted = np.flatnonzero(np.abs(z) <= 2.0)[: count - filled]
            out[filled:filled + len(accepted)] = z[accepted] * std
            filled += len(accepted)
            if filled == count:  # rewind to just after the pair that completed the count
                self.state = (start + 2 * (int(accepted[-1]) + 1) * _STEP) & _MASK
        return out

    def int(self, n: int) -> int:
        return math.floor(self.next() * n)

    def shuffle(self, items: list[int]) -> list[int]:
        """Fisher-Yates in place, the engine's order of draws (i from the end, j = int(i + 1))."""
        draws = self._draws(max(0, len(items) - 1))
        for step, i in enumerate(range(len(items) - 1, 0, -1)):
            j = math.floor(float(draws[step]) * (i + 1))
            items[i], items[j] = items[j], items[i]
        return items

    def fork(self) -> int:
        """A derived seed for an independent stream (the engine's dropout seed per micro-batch)."""
        return math.floor(self.next() * 4294967296) & _MASK
