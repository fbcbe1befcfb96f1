"""When a process started, as Linux's ``/proc`` shows it: the kernel's start tick and the time.

A pid is reused once its process ends (sooner still after a restart), so a pid written down
(a job's runner, a training run's writer in ``status.json``) names the same process only while
one with that pid started at the time recorded with it, and only on the machine that wrote it
down (a data root may be shared by several).
"""

from __future__ import annotations

import os
import socket
from collections.abc import Mapping
from pathlib import Path
from typing import Any

START_TICK = 19  # field of /proc/PID/stat after the command name


def stat_fields(pid: int) -> list[str] | None:
    """The fields of ``/proc/PID/stat`` after the command name (state first, start tick at 19),
    or None when there is no such process."""
    try:
        stat = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    return stat.rsplit(")", 1)[1].split()


def proc_start(pid: int) -> str | None:
    """The kernel's start tick of ``pid`` (guards against a reused pid after a restart)."""
    fields = stat_fields(pid)
    return fields[START_TICK] if fields is not None and len(fields) > START_TICK else None


def process_started(pid: int) -> float | None:
    """When ``pid`` started (seconds since the epoch, within a second), or None if unknown."""
    tick = proc_start(pid)
    try:
        boot = next(
            float(line.split()[1])
            for line in Path("/proc/stat").read_text().splitlines()
            if line.startswith("btime ")
        )
    except (OSError, StopIteration, IndexError, ValueError):
        return None
    return None if tick is None else boot + int(tick) / os.sysconf("SC_CLK_TCK")


def this_host() -> str:
    """The name of this machine, as a record of a process it runs (``host``) gives it."""
    return socket.gethostname()


def host_elsewhere(record: Mapping[str, Any]) -> str | None:
    """The ``host`` of a record of a process (a run's ``status.json``, a job's ``job.json``) when
    it names another machine sharing the data root: that process's pid (and start) mean nothing
    here, so it is believed to run until its record says it ended. None for this machine, or for
    a record written before hosts were kept (its pid is checked here, as it always was)."""
    host = record.get("host")
    return host if isinstance(host, str) and host and host != this_host() else None
