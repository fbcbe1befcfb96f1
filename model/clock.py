"""Clock times a person reads, each with its zone, and time stamps in file names, in UTC.

The dashboard is served from one machine and read in a browser that may be in another zone (a
server in Tokyo, a reader in Berlin): "started at 14:02:05" alone was read as the reader's own
time, hours off. Every clock time shown therefore names the zone it was written in (the zone
of that instant, so a time before a daylight-saving change says CET and one after it CEST).

A name made from a local clock (``eval-20261025-023000``) repeats an hour once a year, when
the clocks go back, and its order then disagrees with the order the things were made in; one
made on another machine in another zone is hours off. Names are therefore stamped in UTC, with
a ``Z`` that says so. ``model`` is below the dashboard; both use this module.
"""

from __future__ import annotations

import time
from typing import Any

LOG_DATE_FORMAT = "%Y-%m-%d %H:%M:%S %Z"
"""``asctime`` of a log line: a training log spans days, and its reader may be elsewhere."""


def local_clock(stamp: Any, fmt: str = "%H:%M:%S") -> str:
    """``stamp`` (seconds since the epoch) in this machine's zone as ``fmt``, then the zone's
    name at that instant: ``14:02:05 JST``; ``ValueError`` for a stamp that is no time."""
    try:
        moment = time.localtime(float(stamp))
    except (TypeError, ValueError, OverflowError, OSError) as err:
        raise ValueError(f"not a time: {stamp!r}") from err
    return f"{time.strftime(fmt, moment)} {zone_name(moment)}"


def zone_name(moment: time.struct_time) -> str:
    """The zone's abbreviation at ``moment`` (``JST``, ``PDT``), or its offset from UTC
    (``UTC+05:30``) where the zone has no letters for it (``+0530``, an empty name)."""
    name = moment.tm_zone or ""
    if name.isalpha():
        return name
    offset = moment.tm_gmtoff or 0
    sign = "+" if offset >= 0 else "-"
    hours, minutes = divmod(abs(offset) // 60, 60)
    return f"UTC{sign}{hours:02d}:{minutes:02d}"


def utc_stamp(now: float | None = None) -> str:
    """``20261206-191424Z``: ``now`` (default: this moment) in UTC, for a file or folder name
    whose order is the order things were made in, whatever zone made them."""
    return time.strftime("%Y%m%d-%H%M%SZ", time.gmtime(time.time() if now is None else now))
