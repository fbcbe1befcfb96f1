"""When an evaluation ran and how long it took: ``OUT/run.json``, beside ``summary.json``.

A reviewer asks when the figures were computed; a repeat of the same evaluation must still
write the same ``summary.json``, reports and tables, byte for byte. The times are therefore
kept apart from them, in one small file of their own that a comparison of two runs leaves out::

    {"started": "2026-12-07T03:10:02Z", "finished": "2026-12-07T03:14:40Z", "duration_s": 278.4}

UTC with a ``Z``, the duration from a monotonic clock (a clock set during the run does not
change it); nothing of the machine it ran on. ``run.json`` is moved into place with the other
outputs, before ``summary.json``: a finished evaluation has both. An evaluation written before
2026-12 has none; its summary's ``created`` (when the summary was built) stands in for it.
"""

from __future__ import annotations

import calendar
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.atomic import atomic_write_json, read_json_object

RUN_FILE = "run.json"
ISO_UTC = "%Y-%m-%dT%H:%M:%SZ"


def iso_utc(seconds: float) -> str:
    """Seconds since the epoch as ISO 8601 in UTC (``2026-12-07T03:10:02Z``)."""
    return time.strftime(ISO_UTC, time.gmtime(seconds))


@dataclass(frozen=True)
class RunClock:
    """Started when the evaluation starts; ``record`` says when it finished and how long it
    took."""

    wall: float = field(default_factory=time.time)
    monotonic: float = field(default_factory=time.monotonic)

    def record(self) -> dict[str, Any]:
        """``run.json``'s content, finished now."""
        elapsed = max(time.monotonic() - self.monotonic, 0.0)
        return {
            "started": iso_utc(self.wall),
            "finished": iso_utc(self.wall + elapsed),
            "duration_s": round(elapsed, 1),
        }


def write_run_times(folder: Path, clock: RunClock) -> Path:
    """Write ``folder/run.json``, finished now; returns its path."""
    path = Path(folder) / RUN_FILE
    atomic_write_json(path, clock.record())
    return path


@dataclass(frozen=True)
class RunTimes:
    """An evaluation's times as read back: ``finished`` seconds since the epoch, and its
    duration when ``run.json`` recorded one."""

    finished: float
    duration_s: float | None = None


def _seconds(stamp: Any) -> float | None:
    try:
        return float(calendar.timegm(time.strptime(str(stamp), ISO_UTC)))
    except (TypeError, ValueError, OverflowError):
        return None


def read_run_times(folder: Path, summary: dict[str, Any]) -> RunTimes | None:
    """When the evaluation in ``folder`` finished: ``run.json``'s record, else ``summary``'s
    ``created`` (an evaluation written before run.json); None when neither says (damaged or
    hand-edited)."""
    record = read_json_object(Path(folder) / RUN_FILE)
    finished = _seconds(record.get("finished"))
    duration = record.get("duration_s")
    if finished is not None:
        valid = isinstance(duration, int | float) and not isinstance(duration, bool)
        return RunTimes(finished, float(duration) if valid and duration >= 0 else None)
    created = _seconds(summary.get("created")) if isinstance(summary, dict) else None
    return None if created is None else RunTimes(created)
