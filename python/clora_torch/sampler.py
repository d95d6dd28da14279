"""Which samples each step trains on, the engine's way (src/train/trainer.ts): an epoch is a permutation
of the data (shuffled by the run's Rng unless --no-shuffle), batches are consecutive slices of it and do
not straddle epochs (the last one may be smaller), and a new epoch is drawn when the cursor reaches the end.
Its state (the epoch's order, the cursor, the Rng state) is what a checkpoint keeps.

With several processes every one of them runs the same sampler, so all agree on the global batch; each
takes its shard of it, positions rank, rank + world, ... (DistributedSampler's interleaving, per batch).
"""

from __future__ import annotations

from .rng import Rng


class Sampler:
    def __init__(self, count: int, batch_size: int, seed: int, shuffle: bool):
        self.count, self.batch_size, self.shuffle = count, batch_size, shuffle
        self.rng = Rng(seed)
        self.order: list[int] = []
        self.cursor = 0
        self.new_epoch()

    def new_epoch(self) -> None:
        self.order = list(range(self.count))
        if self.shuffle:
            self.rng.shuffle(self.order)
        self.cursor = 0

    def next_batch(self) -> list[int]:
        if self.cursor >= len(self.order):
            self.new_epoch()
        batch = self.order[self.cursor:self.cursor + self.batch_size]
        self.cursor += len(batch)
        return batch

    def load(self, order: list[int], cursor: int, rng_state: int) -> None:
        self.order, self.cursor, self.rng = list(order), int(cursor), Rng(rng_state)


def shard(positions: int, rank: int, world: int) -> list[int]:
    """This process's positions in a global batch of `positions` samples."""
    return list(range(rank, positions, world))
