"""How many worker processes this machine offers a job (kept free of heavy imports, so the
dashboard's launcher and ``python -m model demo --help`` stay quick)."""

from __future__ import annotations

import os


def usable_cpus() -> int:
    """CPUs this process may run on (its CPU affinity where the OS reports one): the worker
    count the demo build and the dashboard's imports give generate and ingest."""
    if hasattr(os, "sched_getaffinity"):
        return max(1, len(os.sched_getaffinity(0)))
    return max(1, os.cpu_count() or 1)
