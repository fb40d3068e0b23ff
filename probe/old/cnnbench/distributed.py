"""Runs under torchrun: one process per GPU (NCCL) or per CPU worker (gloo).

Outside torchrun (no WORLD_SIZE in the environment) everything here is a no-op for one process.
NVLink multicast settings are left as the machine has them.
"""

import os
from dataclasses import dataclass
from datetime import timedelta

import torch
import torch.distributed as dist

from .device import resolve_device
from .errors import UserError


@dataclass
class DistContext:
    rank: int = 0
    world_size: int = 1
    local_rank: int = 0
    local_world_size: int = 1     # processes on this machine, which share its cores
    backend: str = None

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def active(self) -> bool:
        return self.world_size > 1


def init_from_env(device_arg: str):
    """(context, device): under torchrun, join the process group and take the GPU LOCAL_RANK."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size <= 1:
        return DistContext(), resolve_device(device_arg)
    rank, local_rank = int(os.environ["RANK"]), int(os.environ.get("LOCAL_RANK", "0"))
    local_world_size = int(os.environ.get("LOCAL_WORLD_SIZE", world_size))
    wants_cuda = device_arg in ("auto", "cuda") and torch.cuda.is_available()
    if wants_cuda:
        torch.cuda.set_device(local_rank)
        device, backend = torch.device("cuda", local_rank), "nccl"
    else:
        device, backend = resolve_device("cpu" if device_arg == "auto" else device_arg), "gloo"
    # A rank that dies is reported by torchrun, which stops the others; the timeout bounds a stuck peer.
    dist.init_process_group(backend=backend, timeout=timedelta(minutes=10))
    return DistContext(rank, world_size, local_rank, local_world_size, backend), device


def refuse_torchrun(script: str) -> None:
    """A script that measures one process on one device would, under torchrun, run once per rank on
    the same device, each distorting the others' figures."""
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    if world_size > 1:
        raise UserError(f"{script} measures one process: run it with python, not torchrun "
                        f"(WORLD_SIZE={world_size}); only alexnet_benchmark.py runs on several GPUs")


def shard(indices: list, context: DistContext) -> list:
    """This rank's disjoint share: every chosen index on exactly one rank, none padded or dropped."""
    return indices[context.rank::context.world_size]


def all_sum(values, context: DistContext, device) -> list:
    """Element-wise sum over ranks (float64, so image counts stay exact)."""
    tensor = torch.tensor(values, dtype=torch.float64, device=device)
    if context.active:
        dist.all_reduce(tensor)
    return tensor.tolist()


def all_gather_object(value, context: DistContext) -> list:
    if not context.active:
        return [value]
    gathered = [None] * context.world_size
    dist.all_gather_object(gathered, value)
    return gathered


def barrier(context: DistContext, device) -> None:
    if not context.active:
        return
    if device.type == "cuda":
        dist.barrier(device_ids=[device.index])
    else:
        dist.barrier()


def shutdown(context: DistContext) -> None:
    if context.active and dist.is_initialized():
        dist.destroy_process_group()
