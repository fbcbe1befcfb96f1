"""Whether a training run is still going, from its ``status.json``: its writer is checked by pid
and start tick on this machine; a run on another machine sharing the data root is believed from
how recently its status was rewritten there, measured on the file server's clock
(``dashboard.file_clock``: the machines' own clocks need not agree).
"""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Any

from dashboard.file_clock import silent_s
from dashboard.processes import process_alive
from model.clock import local_clock
from model.process_start import host_elsewhere, process_started
from model.relocate import written_elsewhere
from model.training.run_folder import RunFolder

LIVE_STATES = ("running", "queued")
# A live run rewrites status.json after every step (at most every 2 s) and every epoch; its
# longest silences (rank 0's val pass, a checkpoint write, torch.compile's first steps) take
# minutes, and under torchrun at most the process group's 30-minute timeout (PROCESS_GROUP_TIMEOUT
# in model.training.distributed, not imported: it would load torch into the dashboard), after
# which the run records its failure. One on another machine silent twice that long went down.
RUN_SILENCE_S = 3600.0
# A run's last status write comes moments before its process ends and its job's runner records
# the exit; a job whose run ended this long ago without that record went down with its machine.
RUN_ENDED_S = 300.0


def run_state(status: dict[str, Any], run: Path | None = None, zone: str | None = None) -> str:
    """The status' state, or ``crashed`` when it claims to run but its writer is gone: no process
    with its pid, or one that started at another time (a pid reused after the run ended, or a
    folder copied from another machine), or it writes another folder (a data root copied on
    this machine while the run trained there). A run written on another host reads ``running on
    HOST`` (its pid cannot be checked from here) until its status has not been rewritten for
    ``RUN_SILENCE_S``: then ``lost on HOST (last heard ...)``, that machine went down with it.
    The silence is that of ``run``'s status.json on the file server's clock; without ``run``,
    its ``updated`` time on this machine's. The time last heard is written in ``zone`` (the
    reader's, an IANA name), else this machine's."""
    state = str(status.get("state") or "unknown")
    pid = status.get("pid")
    if state not in LIVE_STATES or not pid:
        return state
    host = host_elsewhere(status)
    if host is not None:
        return _state_elsewhere(state, host, _silence(status, run), zone)
    if run is not None and written_elsewhere(status.get("folder"), run):
        return "crashed"  # a run copied with its data root: its writer writes the old place
    return state if _writer_alive(int(pid), status) else "crashed"


def run_is_live(state: str) -> bool:
    """Whether a ``run_state`` is a run still going, here or on another machine."""
    return state.partition(" on ")[0] in LIVE_STATES


def run_ended_since(run: Path, since: float) -> str | None:
    """The state of ``run`` when its status, rewritten after ``since`` (its job's start, so not
    a status left by an earlier session of a resumed run), says it no longer goes: ended, or
    lost with its machine, for ``RUN_ENDED_S`` at least. None while it goes, may still go, or
    has written no status since."""
    status = read_status(run)
    updated = status.get("updated")  # both times of the run's machine: no clocks compared
    if not isinstance(updated, int | float) or updated < since:
        return None
    state = run_state(status, run)
    if run_is_live(state):
        return None
    silent = _silence(status, run)
    return None if silent is None or silent < RUN_ENDED_S else state


def state_with_job(state: str, status: dict[str, Any], job: Any | None) -> str:
    """``state`` as the Train page shows it: with `` (last job failed)`` when the run's latest
    dashboard job (``job``) failed or was lost without the run rewriting its status since that job
    started. A resume refused before training (its status.json unwritable, say) left the earlier
    status ("stopped") standing alone, as if nothing had been tried; the job's log says why."""
    if job is None or job.state not in ("failed", "lost") or run_is_live(state):
        return state
    started, updated = job.info.get("started"), status.get("updated")
    if isinstance(updated, int | float) and isinstance(started, int | float) and updated >= started:
        return state  # the run itself recorded how that job ended
    return f"{state} (last job {job.state})"


def _silence(status: dict[str, Any], run: Path | None) -> float | None:
    """Seconds since the status was last rewritten (None: unknown): for a run on another host,
    on the file server's clock when ``run`` names its folder; for this machine's own runs, on
    the clock that wrote it (no probe file written into a live run's folder)."""
    if run is not None and host_elsewhere(status) is not None:
        silent = silent_s([RunFolder(run).status_path])
        if silent is not None:
            return silent
    updated = status.get("updated")
    return time.time() - updated if isinstance(updated, int | float) else None


def _state_elsewhere(state: str, host: str, silent: float | None, zone: str | None = None) -> str:
    """``STATE on HOST`` while the run's status is rewritten there, else ``lost on HOST``."""
    if silent is None or silent < RUN_SILENCE_S:
        return f"{state} on {host}"
    heard = local_clock(time.time() - silent, "%m-%d %H:%M", zone)
    return f"lost on {host} (last heard {heard})"


def _writer_alive(pid: int, status: dict[str, Any]) -> bool:
    """Whether ``pid`` is the status' writer: its start tick, as a job's is checked."""
    if status.get("proc_start") is not None:
        return process_alive(pid, status["proc_start"])
    if not process_alive(pid):
        return False
    started = process_started(pid)  # a status written before the writer's start was recorded
    updated = status.get("updated")
    return started is None or not isinstance(updated, int | float) or started <= updated + 2.0


def read_status(run: Path) -> dict[str, Any]:
    """status.json of a run ({} before the run wrote one); a file that is not a JSON object
    (damaged, or written by another tool) reads as state ``unreadable`` with a message saying
    why, so one broken run folder costs its own row, not the Train page."""
    try:
        status = RunFolder(run).read_status()
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as err:
        return {"state": "unreadable", "message": f"{run / 'status.json'} is unreadable: {err}"}
    if not isinstance(status, dict):
        return {"state": "unreadable", "message": f"{run / 'status.json'} is not a JSON object"}
    return status
