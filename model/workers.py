"""How many worker processes this machine offers a job (kept free of heavy imports, so the
dashboard's launcher and ``python -m model demo --help`` stay quick)."""

from __future__ import annotations

import contextlib
import ctypes
import functools
import multiprocessing
import os
import signal
import sys
import threading
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from concurrent.futures import Executor

_PR_SET_PDEATHSIG = 1  # prctl(2): the signal a process gets when its parent dies


def usable_cpus() -> int:
    """CPUs this process may run on (its CPU affinity where the OS reports one): the worker
    count the demo build and the dashboard's imports give generate and ingest."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Inside the block, SIGTERM (a dashboard job's Cancel, ``kill``) raises KeyboardInterrupt,
    as Ctrl-C does: the command's own ``finally`` and ``with`` blocks run (a worker pool
    terminates its workers and unlinks its semaphores, an atomic write removes its temporary
    file) and ``python -m model`` ends with its "stopped; finished work is kept" line, where
    SIGTERM's default action ended it without a word in the job's log. A process forked inside
    the block (a pool worker, before ``leave_process_group`` takes it out of the signalled
    group) inherits the handler but takes SIGTERM's default action: the parent reports the
    stop, once. A SIGTERM after the first is ignored until the block ends (its clean-up runs
    whole). Outside the main thread (no signal handlers there) the block runs unchanged."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, functools.partial(_interrupt, os.getpid()))
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def process_pool(workers: int, start: str = "fork") -> Executor | None:
    """A pool of ``workers`` processes (None for one: work in this process), each out of the
    command's process group (``leave_process_group``) and killed with it. ``start``: fork for
    ingest, where available (workers start at once; they never touch torch), spawn for
    generate (its renderers' threads do not survive a fork)."""
    from concurrent.futures import ProcessPoolExecutor

    if workers <= 1:
        return None
    methods = multiprocessing.get_all_start_methods()
    context = multiprocessing.get_context(start if start in methods else "spawn")
    initializer = functools.partial(leave_process_group, os.getpid())
    return ProcessPoolExecutor(workers, mp_context=context, initializer=initializer)


@contextlib.contextmanager
def worker_losses(command: str) -> Iterator[None]:
    """A pool worker killed inside the block (the out-of-memory killer picks the largest
    process, often a worker) ends ``command`` with one line saying so, not the pool's
    ``BrokenProcessPool`` traceback; what it finished is kept (its writes are atomic)."""
    from concurrent.futures.process import BrokenProcessPool

    from model.errors import WorkerLost

    try:
        yield
    except BrokenProcessPool:
        raise WorkerLost(
            f"a worker process of {command} was killed (by the out-of-memory killer, or "
            "kill -9); what it finished is kept: run the same command again to go on, with "
            "fewer --workers if memory ran out"
        ) from None


def leave_process_group(parent: int | None = None) -> None:
    """A pool worker's initializer: a process group of its own, so that a signal to the
    command's group (a dashboard job's Cancel, Ctrl-C on a terminal) reaches only the parent,
    which then stops the pool between tasks (``shutdown(cancel_futures=True)``). A
    ProcessPoolExecutor worker killed while writing a result left part of a message in the
    result pipe, and the parent's shutdown waited for the rest forever. SIGTERM keeps its
    default action: a pool's own terminate() still ends a worker, and so does Force stop,
    which kills every process below the job by parent links.

    Out of the group, a ``kill -9`` of it (the out-of-memory killer, a force stop by group)
    missed the workers: they waited for work from their dead ``parent`` forever, holding the
    locks they were forked with (ingest's ``.ingest.lock``), and every rerun was refused. So a
    worker is killed when ``parent`` dies (Linux)."""
    if hasattr(os, "setpgrp"):
        os.setpgrp()
    signal.signal(signal.SIGTERM, signal.SIG_DFL)
    if parent is not None:  # nothing is left to take its results, and it may hold locks
        signal_when_parent_dies(parent, signal.SIGKILL)


def signal_when_parent_dies(parent: int, signum: int) -> None:
    """Have the kernel send this process ``signum`` when ``parent``, which started it, dies
    (Linux's parent-death signal; nothing elsewhere), or send it now if it already has. It
    must be called in the thread-free start of a process: the kernel watches the thread that
    started it, and ``parent``'s main thread did."""
    if not sys.platform.startswith("linux"):
        return
    ctypes.CDLL(None).prctl(_PR_SET_PDEATHSIG, signum)
    if os.getppid() != parent:  # it died before the request took effect
        os.kill(os.getpid(), signum)


def _interrupt(owner: int, signum: int, _frame: Any) -> None:
    if os.getpid() != owner:  # a forked worker: die as SIGTERM would have it
        signal.signal(signum, signal.SIG_DFL)
        os.kill(os.getpid(), signum)
        return
    # one stop, asked once: a second SIGTERM interrupted the first's clean-up (an evaluation's
    # hidden staging folder stayed behind). systemctl stop sends two: to the job's runner, which
    # passes it on, and to the command itself. Force stop and systemd's timeout use SIGKILL.
    signal.signal(signal.SIGTERM, signal.SIG_IGN)
    raise KeyboardInterrupt(f"stopped by {signal.Signals(signum).name}")
