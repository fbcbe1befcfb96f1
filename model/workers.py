"""How many worker processes this machine offers a job (kept free of heavy imports, so the
dashboard's launcher and ``python -m model demo --help`` stay quick)."""

from __future__ import annotations

import contextlib
import os
import signal
import threading
from collections.abc import Iterator
from typing import Any


def usable_cpus() -> int:
    """CPUs this process may run on (its CPU affinity where the OS reports one): the worker
    count the demo build and the dashboard's imports give generate and ingest."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)


@contextlib.contextmanager
def sigterm_interrupts() -> Iterator[None]:
    """Inside the block, SIGTERM (a dashboard job's Cancel, ``kill``) raises KeyboardInterrupt,
    as Ctrl-C does: a worker pool's ``with`` then terminates its workers and the interpreter's
    exit handlers unlink the pool's semaphores. Ended by SIGTERM's default action instead, a
    spawn pool's resource tracker found them leaked and wrote warnings into the job's log.
    Outside the main thread (no signal handlers there) the block runs unchanged."""
    if threading.current_thread() is not threading.main_thread():
        yield
        return
    previous = signal.signal(signal.SIGTERM, _interrupt)
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)


def _interrupt(signum: int, _frame: Any) -> None:
    raise KeyboardInterrupt(f"stopped by signal {signum}")
