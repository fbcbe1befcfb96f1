"""One background job as read from its folder (``dashboard/jobs.py`` launches, lists and stops
them): its state, who started it, its progress and its log's last lines.
"""

from __future__ import annotations

import json
import os
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from dashboard.formatting import format_eta
from model.clock import local_clock

_CANCEL_GRACE_S = 3.0
# A training run stops after its current step (validation and last.pt included when it ends an
# epoch): killing it sooner loses the steps since its last epoch and leaves it "crashed".
_STOP_GRACE_S = {"train": 60.0}
ACTIVE_STATES = ("running", "stopping")
LOG_TAIL_BYTES = 64 * 1024


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
        said = f"started {f'by {user} ' if user else ''}at {_clock(started)}"
        asked = self.info.get("cancel_requested_at")
        if self.info.get("cancel_requested") and _is_number(asked):
            said += f", stop asked at {_clock(asked)}"
        if self.finished is None:
            return said
        took = format_eta(self.finished - float(started)) if _is_number(started) else ""
        return f"{said}, ended at {_clock(self.finished)}" + (f" after {took}" if took else "")

    @property
    def pid(self) -> int:
        return int(self.info["pid"])

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


def stop_grace_s(kind: str) -> float:
    """Seconds a job of ``kind`` is given to end after its SIGTERM before it is killed."""
    return _STOP_GRACE_S.get(kind, _CANCEL_GRACE_S)


def load_json_object(path: Path) -> dict[str, Any]:
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _clock(stamp: Any, now: float | None = None) -> str:
    """``14:02:05 JST`` today; ``12-03 14:02:05 JST`` (month-day) on an earlier day: a training
    job runs for days, and a bare clock time would not say which. The zone is the server's: its
    reader may be in another (``model.clock``)."""
    try:
        started = time.localtime(float(stamp))
    except (TypeError, ValueError, OverflowError, OSError):
        return "an unknown time"
    today = time.localtime(time.time() if now is None else now)
    same_day = started[:3] == today[:3]
    return local_clock(stamp, "%H:%M:%S" if same_day else "%m-%d %H:%M:%S")
