"""A run started by Slurm's ``srun`` (no torchrun): each process's rank and rendezvous from SLURM_*.

``srun --ntasks N python -m model train ...`` starts the N processes itself. Each gets
``SLURM_PROCID`` (its rank), ``SLURM_NTASKS`` (``SLURM_STEP_NUM_TASKS``: the step's count),
``SLURM_LOCALID`` (its index on its node, which picks its GPU) and the step's node list, but none
of torchrun's ``RANK``, ``WORLD_SIZE``, ``LOCAL_RANK``, ``MASTER_ADDR``, ``MASTER_PORT``: without
them every task trained alone, N copies of the run writing one run folder. They are derived here
as open_clip does: rank 0 runs on the step's first host (Slurm's block and cyclic distributions
both put task 0 there), which hosts the rendezvous. torchrun's own variables always win.
"""

from __future__ import annotations

import logging
import os
import re
from collections.abc import Mapping, MutableMapping
from dataclasses import dataclass

from model.errors import UserError

log = logging.getLogger(__name__)
DEFAULT_PORT = 29500  # torchrun's, outside a Slurm job
_JOB_PORT_BASE = 15000  # + the job id's last 4 digits: two jobs sharing a node pick two ports
_MAX_NORMAL_STEP_ID = 0xFFFFFFF0  # slurm.h: the ids above are reserved (batch, extern, ...)
_NODELISTS = ("SLURM_STEP_NODELIST", "SLURM_JOB_NODELIST", "SLURM_NODELIST")


@dataclass(frozen=True)
class SlurmTask:
    """Where this ``srun`` task sits in the run, and where rank 0 waits for the others."""

    rank: int
    world_size: int
    local_rank: int
    master_addr: str
    master_port: int


def slurm_task(environ: Mapping[str, str]) -> SlurmTask | None:
    """This process's place in an ``srun``-started run of several tasks; None under torchrun
    (its ``WORLD_SIZE`` wins), outside Slurm, in a step of one task, or in the batch script
    itself (``python -m model train`` run there without ``srun``: one process, not N)."""
    if "WORLD_SIZE" in environ or "SLURM_PROCID" not in environ:
        return None
    if not _in_srun_step(environ):
        return None
    world = _number(
        environ, "SLURM_STEP_NUM_TASKS" if "SLURM_STEP_NUM_TASKS" in environ else "SLURM_NTASKS", 1
    )
    if world <= 1:
        return None
    rank = _number(environ, "SLURM_PROCID", 0)
    if not 0 <= rank < world:
        raise UserError(f"SLURM_PROCID={rank} is not a rank of a {world}-task step")
    return SlurmTask(
        rank=rank,
        world_size=world,
        local_rank=_number(environ, "SLURM_LOCALID", 0),
        master_addr=_master_addr(environ),
        master_port=_master_port(environ),
    )


def apply_slurm_environment(environ: MutableMapping[str, str] = os.environ) -> SlurmTask | None:
    """Under ``srun`` with several tasks, set torchrun's variables from SLURM_* (those already set
    are kept) so that the process group and every later reader see one run; the task, or None."""
    task = slurm_task(environ)
    if task is None:
        if "WORLD_SIZE" not in environ and _number(environ, "SLURM_NTASKS", 1) > 1:
            log.warning(  # the batch script's own process: SLURM_NTASKS is the job's
                "SLURM_NTASKS=%s, but this process was not started by srun: training as one "
                "process (start it with srun to train on the job's tasks)",
                environ["SLURM_NTASKS"],
            )
        return None
    environ["RANK"], environ["WORLD_SIZE"] = str(task.rank), str(task.world_size)
    environ["LOCAL_RANK"] = str(task.local_rank)
    environ.setdefault("MASTER_ADDR", task.master_addr)
    environ.setdefault("MASTER_PORT", str(task.master_port))
    log.info(
        "started by srun: task %d of %d (local %d); meeting the others at %s:%s",
        task.rank,
        task.world_size,
        task.local_rank,
        environ["MASTER_ADDR"],
        environ["MASTER_PORT"],
    )
    return task


def _in_srun_step(environ: Mapping[str, str]) -> bool:
    """Whether this process is a task of a step ``srun`` started: its SLURM_STEP_ID is a normal
    step's. The batch script has none, or a reserved one (batch, extern, interactive), though
    it sees the job's SLURM_NTASKS and SLURM_PROCID=0: taking those for a step of N tasks,
    its one process would wait for N - 1 that never come."""
    step = environ.get("SLURM_STEP_ID", environ.get("SLURM_STEPID", "")).strip()
    return step.isdigit() and int(step) <= _MAX_NORMAL_STEP_ID


def first_host(nodelist: str) -> str | None:
    """The first host of a Slurm host list: ``gpu[03-05,9],cpu1`` -> ``gpu03`` (None if empty)."""
    depth, end = 0, len(nodelist)
    for index, char in enumerate(nodelist):
        depth += {"[": 1, "]": -1}.get(char, 0)
        if char == "," and depth == 0:
            end = index
            break
    head = nodelist[:end].strip()
    host = re.sub(r"\[([^\]]*)\]", lambda m: re.split(r"[-,]", m.group(1))[0], head)
    return host or None


def _master_addr(environ: Mapping[str, str]) -> str:
    """``MASTER_ADDR``, else the step's first host, else the node ``srun`` was started on."""
    if environ.get("MASTER_ADDR"):
        return environ["MASTER_ADDR"]
    for name in _NODELISTS:
        host = first_host(environ.get(name, ""))
        if host:
            return host
    if environ.get("SLURM_LAUNCH_NODE_IPADDR"):
        return environ["SLURM_LAUNCH_NODE_IPADDR"]
    raise UserError(
        "srun started this run but set no SLURM_NODELIST: set MASTER_ADDR to the host of task 0"
    )


def _master_port(environ: Mapping[str, str]) -> int:
    """``MASTER_PORT``, else one fixed by the job's id (every task computes the same)."""
    if "MASTER_PORT" in environ:
        port = _number(environ, "MASTER_PORT", DEFAULT_PORT)
        if not 0 < port < 65536:
            raise UserError(f"MASTER_PORT={port} is not a port (1 to 65535)")
        return port
    job = environ.get("SLURM_JOB_ID", "")
    return _JOB_PORT_BASE + int(job[-4:]) if job.isdigit() else DEFAULT_PORT


def _number(environ: Mapping[str, str], name: str, default: int) -> int:
    value = environ.get(name, str(default)).strip()
    try:
        return int(value)
    except ValueError:
        raise UserError(f"{name}={value!r} is not a whole number") from None
