"""One process or many under torchrun / python -m torch.distributed.run: NCCL between GPUs, Gloo between
CPU processes. torchrun sets RANK, WORLD_SIZE, LOCAL_RANK and the rendezvous address; without them the
run is one process and nothing is initialised."""

from __future__ import annotations

import os
from dataclasses import dataclass

import torch
import torch.distributed as dist


@dataclass(frozen=True)
class Processes:
    rank: int
    world: int
    device: torch.device

    @property
    def main(self) -> bool:
        """Rank 0: the one process that prints and writes files."""
        return self.rank == 0


def start(device: str) -> Processes:
    """`device`: auto (a GPU when there is one), cpu or cuda."""
    use_cuda = device == "cuda" or (device == "auto" and torch.cuda.is_available())
    if use_cuda and not torch.cuda.is_available():
        raise RuntimeError("--device cuda: this PyTorch sees no CUDA GPU; use --device cpu.")
    world = int(os.environ.get("WORLD_SIZE", "1"))
    if world <= 1:
        return Processes(0, 1, torch.device("cuda" if use_cuda else "cpu"))
    local = int(os.environ.get("LOCAL_RANK", "0"))
    if use_cuda:
        torch.cuda.set_device(local)
    dist.init_process_group("nccl" if use_cuda else "gloo")
    return Processes(dist.get_rank(), dist.get_world_size(), torch.device(f"cuda:{local}" if use_cuda else "cpu"))


def stop(p: Processes) -> None:
    if p.world > 1 and dist.is_initialized():
        dist.destroy_process_group()


def all_sum(p: Processes, value: torch.Tensor) -> torch.Tensor:
    if p.world > 1:
        dist.all_reduce(value, op=dist.ReduceOp.SUM)
    return value


def barrier(p: Processes) -> None:
    if p.world > 1:
        dist.barrier()
