"""One background job as read from its folder (``dashboard/jobs.py`` launches, lists and stops
them): its state, who started it, its progress and its log's last lines.
"""

from __future__ import annotations

import os
import signal
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from dashboard.formatting import format_eta
from dashboard.processes import may_signal, process_alive
from model.atomic import read_json_object
from model.clock import clock_moment, local_clock
from model.errors import UserError

_CANCEL_GRACE_S = 3.0
# A training run stops after its current step (validation and last.pt included when it ends an
# epoch): killing it sooner loses the steps since its last epoch and leaves it "crashed".
_STOP_GRACE_S = {"train": 60.0}
ACTIVE_STATES = ("running", "stopping")
# How a command ends when a signal the dashboard's Cancel did not send stops it: the model
# commands' 130 ("stopped by SIGTERM; finished work is kept"), a shell's 143, or the signal
# itself. ``systemctl stop`` signals every process of the dashboard's service, its jobs too.
STOPPED_CODES = frozenset({130, 128 + signal.SIGTERM, -signal.SIGTERM, -signal.SIGINT})
LOG_TAIL_BYTES = 64 * 1024
COMMAND_FILE = "command.json"  # the runner writes its command's pid and start tick there


@dataclass
class Job:
    """One background job as read from its folder."""

    folder: Path
    info: dict[str, Any]
    state: str
    returncode: int | None = None
    progress: dict[str, Any] = field(default_factory=dict)
    host: str | None = None  # the machine it runs on, while it runs on another one
    finished: float | None = None  # when it ended (result.json), on the clock that started it
    zone: str | None = None  # the reader's zone its times are written in; None: this machine's
    lost: str = ""  # why a "lost" job's end is unknown here (its outcome's words)
    # (pid, start tick) of a command that still runs though its runner was killed on its own
    orphan: tuple[int, str] | None = None

    @property
    def id(self) -> str:
        return str(self.info["id"])

    @property
    def kind(self) -> str:
        return str(self.info["kind"])

    @property
    def title(self) -> str:
        return str(self.info.get("title") or self.kind)

    @property
    def origin(self) -> str:
        """Who started the job and when: ``started by alice at 14:02:05`` (``at 12-03 14:02:05``
        when not today); once it ended, also when and after how long: ``, ended at 14:09:17
        after 7m 12s`` (a finished panel said only "finished", not whether it was today's).
        A stop asked says when: ``, stop asked at 14:05:40``. Everyone on one dashboard is one
        account, so a class's job stopped by another student read as its starter's own doing."""
        user = self.info.get("user")
        started = self.info.get("started")
        said = f"started {f'by {user} ' if user else ''}at {_clock(started, zone=self.zone)}"
        asked = self.info.get("cancel_requested_at")
        if self.info.get("cancel_requested") and _is_number(asked):
            said += f", stop asked at {_clock(asked, zone=self.zone)}"
        if self.finished is None:
            return said
        took = format_eta(self.finished - float(started)) if _is_number(started) else ""
        ended = _clock(self.finished, zone=self.zone)
        return f"{said}, ended at {ended}" + (f" after {took}" if took else "")

    @property
    def outcome(self) -> str:
        """What the panel of an ended job says about its end: how a failed one ended (its exit
        code or signal), and, for one stopped from outside the dashboard, what stopped it and
        that its finished work is kept (it read "failed (exit code 130)" after a service stop)."""
        if self.state == "stopped":
            return (
                f"{self.title} was stopped from outside the dashboard (SIGTERM or Ctrl-C: the "
                "dashboard's service or this machine was stopped, or someone ended the process); "
                "what it finished is kept: start it again to go on"
            )
        if self.state == "lost" and self.lost:
            return f"{self.title} {self.lost}"
        return f"{self.title} {self.state}{_ending(self.returncode)}"

    @property
    def pid(self) -> int:
        return int(self.info["pid"])

    @property
    def target(self) -> tuple[int, Any]:
        """The process a stop waits for and a force stop kills below: (pid, start tick) of the
        runner, or of its command once the runner alone was killed."""
        return self.orphan or (self.pid, self.info.get("proc_start"))

    @property
    def log_path(self) -> Path:
        return self.folder / "log.txt"

    @property
    def running(self) -> bool:
        return self.state in ACTIVE_STATES or self.host is not None

    @property
    def stopping(self) -> bool:
        """Asked to stop and not yet ended, here or on another machine."""
        return self.running and self.state.startswith("stopping")

    @property
    def stop_overdue(self) -> bool:
        """Stopping for longer than its grace: nothing is left to kill it unless asked (the
        dashboard that ran the grace restarted, or a process ignores its stop request)."""
        if self.state != "stopping":
            return False
        asked = self.info.get("cancel_requested_at")
        if not isinstance(asked, int | float):
            return True  # asked before the request's time was kept
        return time.time() - asked > stop_grace_s(self.kind)

    @property
    def outputs(self) -> dict[str, str]:
        return dict(self.info.get("outputs") or {})

    def log_tail(self, lines: int = 40) -> str:
        """The last ``lines`` lines of the job's log (empty when there is none yet, or when it is
        a link: the runner writes a file, and one planted in a shared data root as a link to a
        private file of the account serving the dashboard would show that file here)."""
        try:
            with open(os.open(self.log_path, os.O_RDONLY | os.O_NOFOLLOW), "rb") as handle:
                return last_lines(handle, lines)
        except OSError:
            return ""


def last_lines(handle: BinaryIO, lines: int) -> str:
    """The last ``lines`` lines of the open log ``handle``, read from at most its last
    ``LOG_TAIL_BYTES``: a page showing a long run's log every few seconds reads no more."""
    handle.seek(0, os.SEEK_END)
    handle.seek(max(0, handle.tell() - LOG_TAIL_BYTES))
    return "\n".join(handle.read().decode("utf-8", errors="replace").splitlines()[-lines:])


# What a running job's panel says once its runner alone was killed (``Job.orphan``).
RUNNER_LOST = (
    "Its runner was lost (killed on its own), but its command still runs: Cancel still stops "
    "it; how it ends will not be recorded here"
)


def orphaned_command(folder: Path) -> tuple[int, str] | None:
    """(pid, start tick) of the job's command as its runner recorded it, while that very
    process still runs (the tick guards against a reused pid); None otherwise. A runner killed
    on its own (``kill -9`` of its pid) leaves its command running, still in the job's process
    group: the job is still running, blocks its kind, and its Cancel must reach it."""
    record = read_json_object(folder / COMMAND_FILE)
    pid, tick = record.get("pid"), record.get("proc_start")
    if not isinstance(pid, int) or isinstance(pid, bool) or not isinstance(tick, str):
        return None
    return (pid, tick) if process_alive(pid, tick) else None


def check_here(job: Job) -> None:
    """UserError when ``job`` runs on another machine: its pid there is not a process here."""
    if job.host is not None:
        raise UserError(
            f"cannot stop {job.title} from here: it is running on {job.host} and can only be "
            f"stopped on {job.host} (from a dashboard there)"
        )


def check_may_stop(job: Job) -> None:
    """UserError when this process may not signal ``job`` (another account started it)."""
    if not may_signal(job.pid):
        raise UserError(
            f"cannot stop {job.title}: it was {job.origin} and runs as another account; "
            "ask them to stop it from their dashboard"
        )


# A "lost" job's outcome, by why its end is unknown here (``dashboard.jobs``).
VANISHED = (
    "stopped unexpectedly: it ended without recording how (killed with kill -9 or by the "
    "out-of-memory killer, or this machine restarted); what it finished is kept: start it "
    "again to go on"
)
WENT_DOWN = "was lost: the machine running it went silent (it went down with the job)"
COPIED = "runs, or ran, where this data root was copied from: its end is recorded there"


def ended_state(returncode: int, cancel_requested: bool) -> str:
    """The state of a job whose runner recorded ``returncode``: a signal nobody here sent that
    kills (the out-of-memory killer's SIGKILL) is a failure, one that asks to stop is not."""
    if cancel_requested:
        return "cancelled"
    if returncode == 0:
        return "finished"
    return "stopped" if returncode in STOPPED_CODES else "failed"


def _ending(returncode: int | None) -> str:
    """How a job's process ended, for its panel: an exit code or the signal that killed it."""
    if returncode is None:
        return ""
    if returncode >= 0:
        return f" (exit code {returncode})"
    try:
        name = signal.Signals(-returncode).name
    except ValueError:
        name = f"signal {-returncode}"
    memory = ", as when the machine runs out of memory" if name == "SIGKILL" else ""
    return f" (killed by {name}{memory})"


def busy_refusal(kind: str, job: Job, started_here: bool) -> str:
    """Why a ``kind`` job cannot start while ``job`` runs: which job, who started it and when.
    "Cancel it first" is said only to the page session that started it: on a shared server
    everyone is one account, and a class's students cancelled each other's jobs as told."""
    where = f" on {job.host}" if job.host else ""
    if started_here:
        then = "you started it: wait for it or cancel it first"
    else:
        then = "wait for it to finish, or ask whoever started it"
    return f"another {kind} job is already running{where} ({job.title}, {job.origin}); {then}"


def stop_grace_s(kind: str) -> float:
    """Seconds a job of ``kind`` is given to end after its SIGTERM before it is killed."""
    return _STOP_GRACE_S.get(kind, _CANCEL_GRACE_S)


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _clock(stamp: Any, now: float | None = None, zone: str | None = None) -> str:
    """``14:02:05 CET`` today; ``12-03 14:02:05 CET`` (month-day) on an earlier day: a training
    job runs for days, and a bare clock time would not say which. The time, its day and the
    zone named are ``zone``'s (the reader's, ``dashboard.reader_clock``), else this machine's."""
    try:
        started = clock_moment(stamp, zone)
        today = clock_moment(time.time() if now is None else now, zone)
    except ValueError:
        return "an unknown time"
    same_day = started.date() == today.date()
    return local_clock(stamp, "%H:%M:%S" if same_day else "%m-%d %H:%M:%S", zone)
