"""Processes of a background job as Linux's ``/proc`` shows them: alive, and the whole tree
below a job's runner, which a force stop kills (start times: ``model.process_start``).

A job's command may leave the runner's process group: ``torchrun`` starts every rank in a
session of its own, so a signal to the runner's group never reaches the ranks. The tree is found
by parent links (read before anything is killed, while every rank still has its launcher as
parent) and each process is matched by its start tick, so a reused pid is never signalled.
"""

from __future__ import annotations

import contextlib
import getpass
import os
import signal
from pathlib import Path
from typing import Any

from model.process_start import START_TICK, stat_fields

_STATE, _PARENT, _GROUP = 0, 1, 2  # fields of /proc/PID/stat after the name


def process_alive(pid: int, start_tick: Any = None) -> bool:
    """True while ``pid`` runs and is not a zombie (and is still the process we started)."""
    fields = stat_fields(pid)
    if not fields or fields[_STATE] == "Z":
        return False
    return start_tick is None or len(fields) <= START_TICK or fields[START_TICK] == str(start_tick)


def descendants(pid: int) -> list[tuple[int, int, str]]:
    """Every live process below ``pid``: (pid, process group, start tick), parents first."""
    children: dict[int, list[tuple[int, int, str]]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        fields = stat_fields(int(entry.name))
        if fields is None or len(fields) <= START_TICK or fields[_STATE] == "Z":
            continue
        child = (int(entry.name), int(fields[_GROUP]), fields[START_TICK])
        children.setdefault(int(fields[_PARENT]), []).append(child)
    found: list[tuple[int, int, str]] = []
    queue = [pid]
    while queue:
        below = children.get(queue.pop(0), [])
        found.extend(below)
        queue.extend(child for child, _, _ in below)
    return found


def kill_tree(pid: int, start_tick: Any) -> None:
    """SIGKILL ``pid``'s process group and every process below it, in whichever group or session
    it runs (and the groups those lead, e.g. a torchrun rank's data loader workers)."""
    if not process_alive(pid, start_tick):
        return
    below = descendants(pid)
    # a group led by one of the job's processes is the job's (setpgid cannot leave a session)
    groups = {pid} | {group for _, group, _ in below if group in {child for child, _, _ in below}}
    for group in groups:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(group, signal.SIGKILL)
    with contextlib.suppress(ProcessLookupError, PermissionError):  # not a group's leader: a
        os.kill(pid, signal.SIGKILL)  # job's command, its runner gone (``Job.orphan``)
    for child, _, tick in below:
        if process_alive(child, tick):
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.kill(child, signal.SIGKILL)


def current_user() -> str:
    """The account this process runs as (its uid when the account has no name)."""
    try:
        return getpass.getuser()
    except (KeyError, OSError):
        return f"uid {os.getuid()}"


def may_signal(pid: int) -> bool:
    """False when ``pid``'s process group belongs to another account (True once it ended)."""
    try:
        os.killpg(pid, 0)
    except PermissionError:
        return False
    except ProcessLookupError:
        pass
    return True
