"""Process-group helpers: the same training entry point runs alone or under ``torchrun``.

Under ``torchrun --nproc_per_node N`` the environment carries ``RANK``, ``WORLD_SIZE`` and
``LOCAL_RANK``; under ``srun`` with several tasks they are derived from SLURM_* (``slurm.py``).
We then join a process group with NCCL on CUDA or gloo on CPU. Every helper is a no-op in a single
process, so the training code reads the same either way.
"""

from __future__ import annotations

import contextlib
import datetime
import logging
import os
from collections.abc import Iterator
from dataclasses import dataclass

import torch
import torch.distributed as dist

from model.errors import UserError
from model.training.launch import stop_with_launcher
from model.training.slurm import apply_slurm_environment

log = logging.getLogger(__name__)
PROCESS_GROUP_TIMEOUT = datetime.timedelta(minutes=30)  # a collective waits this long for a rank
_GLOO_PEER_FAILURES = ("closed by peer", "reset by peer", "broken pipe", "timed out")


class PeerLost(UserError):
    """Another process of a torchrun run ended or stopped answering mid-run, so this one cannot
    go on: its collectives fail (gloo, NCCL) with a transport message that says neither. Its
    own exit status, so that ``train --nproc`` names the process that failed, not the first
    of those that stopped with it."""

    exit_status = 3


@dataclass(frozen=True)
class DistContext:
    """Where this process sits in the run: rank, world size and its device."""

    rank: int
    world_size: int
    local_rank: int
    device: torch.device

    @property
    def is_main(self) -> bool:
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def resolve_device(choice: str, local_rank: int = 0) -> torch.device:
    """``auto`` -> CUDA when available (this process's local GPU), else CPU."""
    if choice not in ("auto", "cpu", "cuda"):
        raise UserError(f"--device must be auto, cpu or cuda, not {choice!r}")
    if choice == "cuda" and not torch.cuda.is_available():
        raise UserError("--device cuda was asked for but no CUDA GPU is visible")
    if choice == "cpu" or (choice == "auto" and not torch.cuda.is_available()):
        return torch.device("cpu")
    return torch.device("cuda", local_rank % max(torch.cuda.device_count(), 1))


def usable_device(device: str | torch.device) -> torch.device:
    """``device`` as a ``torch.device`` this machine has, else ``UserError`` naming the problem
    (a notebook's ``load_checkpoint(path, device="cuda")`` on a CPU box raised deep in torch)."""
    try:
        device = torch.device(device)
    except (RuntimeError, TypeError) as err:
        raise UserError(
            f"device {device!r} is not one torch knows (cpu, cuda, cuda:0, ...)"
        ) from err
    if device.type == "cuda" and not torch.cuda.is_available():
        raise UserError(f"device {str(device)!r} was asked for but no CUDA GPU is visible; use cpu")
    if device.type == "cuda" and (device.index or 0) >= torch.cuda.device_count():
        count = torch.cuda.device_count()
        raise UserError(f"device {str(device)!r} was asked for but this machine has {count} GPU(s)")
    return device


def init_distributed(device_choice: str = "auto") -> DistContext:
    """Join the ``torchrun`` (or ``srun``) process group if there is one (gloo on CPU, NCCL on
    CUDA). The device is this node's ``LOCAL_RANK``-th GPU; rank 0 alone writes the run."""
    apply_slurm_environment()
    world_size = int(os.environ.get("WORLD_SIZE", "1"))
    rank = int(os.environ.get("RANK", "0"))
    local_rank = int(os.environ.get("LOCAL_RANK", "0"))
    device = resolve_device(device_choice, local_rank)
    if world_size > 1 and not dist.is_initialized():
        stop_with_launcher()
        backend = "nccl" if device.type == "cuda" else "gloo"
        if device.type == "cuda":
            torch.cuda.set_device(device)
        dist.init_process_group(
            backend=backend,
            rank=rank,
            world_size=world_size,
            timeout=PROCESS_GROUP_TIMEOUT,
            # the rank's GPU, bound: otherwise NCCL's barrier() warns on rank 0's terminal (and the
            # Train page's job log) that it uses "the device under current context"
            device_id=device if device.type == "cuda" else None,
        )
        log.info("joined process group: rank %d of %d (%s)", rank, world_size, backend)
    return DistContext(rank=rank, world_size=world_size, local_rank=local_rank, device=device)


def shutdown(ctx: DistContext) -> None:
    if ctx.distributed and dist.is_initialized():
        dist.destroy_process_group()


@contextlib.contextmanager
def peer_loss_as_user_error(ctx: DistContext) -> Iterator[None]:
    """Turn a collective that failed because another rank is gone into ``PeerLost``."""
    try:
        yield
    except RuntimeError as err:
        if not ctx.distributed or not _collective_failure(err):
            raise
        minutes = int(PROCESS_GROUP_TIMEOUT.total_seconds() // 60)
        what = (
            f"sent nothing for {minutes} minutes (it hangs, or its machine went down)"
            if any(word in str(err).lower() for word in ("timed out", "timing out", "timeout"))
            else "ended (it failed, or was killed: the run's console output says which)"
        )
        raise PeerLost(
            f"another process of this {ctx.world_size}-process run {what}; "
            f"rank {ctx.rank} stopped with it"
        ) from err


def _collective_failure(err: RuntimeError) -> bool:
    """Whether ``err`` is a process group's transport or timeout failure (not a bug of ours)."""
    text = str(err).lower()
    return isinstance(err, dist.DistError) or (
        "gloo" in text and any(mark in text for mark in _GLOO_PEER_FAILURES)
    )


def barrier(ctx: DistContext) -> None:
    if ctx.distributed:
        dist.barrier()


def mean_across(ctx: DistContext, values: torch.Tensor) -> torch.Tensor:
    """Element-wise mean of a small tensor over all processes (detached; a copy)."""
    values = values.detach().clone().float()
    if ctx.distributed:
        dist.all_reduce(values, op=dist.ReduceOp.SUM)
        values /= ctx.world_size
    return values


def any_across(ctx: DistContext, flag: bool) -> bool:
    """True when ``flag`` is set in any process (e.g. a stop request seen by one rank)."""
    if not ctx.distributed:
        return flag
    value = torch.tensor([1.0 if flag else 0.0], device=ctx.device)
    dist.all_reduce(value, op=dist.ReduceOp.MAX)
    return bool(value.item() > 0)


def broadcast_object(ctx: DistContext, obj: object) -> object:
    """Rank 0's ``obj`` on every process."""
    if not ctx.distributed:
        return obj
    holder = [obj]
    dist.broadcast_object_list(holder, src=0)
    return holder[0]


def gather_objects(ctx: DistContext, obj: object) -> list[object]:
    """Every rank's ``obj``, in rank order, on every rank (``[obj]`` outside DDP)."""
    if not ctx.distributed:
        return [obj]
    out: list[object] = [None] * ctx.world_size
    torch.distributed.all_gather_object(out, obj)
    return out


def global_batch_size(batch_size: int, n_train: int, ctx: DistContext) -> int:
    """The batch a step trains on: ``batch_size`` (at most the train set), split evenly by rank."""
    if batch_size % ctx.world_size:
        raise UserError(
            f"batch size {batch_size} must split evenly over {ctx.world_size} processes"
        )
    batch = min(batch_size, n_train)
    batch -= batch % ctx.world_size
    if batch < ctx.world_size:
        raise UserError(
            f"{n_train} train studies cannot fill a batch on each of {ctx.world_size} processes"
        )
    return batch
