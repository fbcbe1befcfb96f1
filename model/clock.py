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

import calendar
import re
import time
from datetime import datetime, tzinfo
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

LOG_DATE_FORMAT = "%Y-%m-%d %H:%M:%S %Z"
"""``asctime`` of a log line: a training log spans days, and its reader may be elsewhere."""


def local_clock(stamp: Any, fmt: str = "%H:%M:%S", zone: str | None = None) -> str:
    """``stamp`` (seconds since the epoch) as ``fmt`` in ``zone`` (an IANA name, the reader's:
    ``Europe/Berlin``; None: this machine's zone), then the zone's name at that instant:
    ``14:02:05 JST``; ``ValueError`` for a stamp that is no time."""
    moment = clock_moment(stamp, zone)
    return f"{moment.strftime(fmt)} {moment_zone_name(moment)}"


def clock_moment(stamp: Any, zone: str | None = None) -> datetime:
    """``stamp`` as an aware datetime in ``zone`` (None: this machine's zone, the offset and
    name of that instant); ``ValueError`` for a stamp that is no time or a zone that is none."""
    where = None if zone is None else named_zone(zone)
    try:
        seconds = float(stamp)
        if where is None:
            return datetime.fromtimestamp(seconds).astimezone()
        return datetime.fromtimestamp(seconds, where)
    except (TypeError, ValueError, OverflowError, OSError) as err:
        raise ValueError(f"not a time: {stamp!r}") from err


def named_zone(name: str) -> tzinfo:
    """The zone an IANA ``name`` (a browser's: ``Asia/Tokyo``) names; ``ValueError`` for a name
    no zone has (a browser may report anything)."""
    try:
        return ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError, TypeError) as err:
        raise ValueError(f"not a time zone: {name!r}") from err


def zone_name(moment: time.struct_time) -> str:
    """The zone's abbreviation at ``moment`` (``JST``, ``PDT``), or its offset from UTC
    (``UTC+05:30``) where the zone has no letters for it (``+0530``, an empty name)."""
    return _named(moment.tm_zone or "", moment.tm_gmtoff or 0)


def moment_zone_name(moment: datetime) -> str:
    """``zone_name`` of an aware datetime."""
    offset = moment.utcoffset()
    return _named(moment.tzname() or "", int(offset.total_seconds()) if offset else 0)


def _named(name: str, offset: int) -> str:
    if name.isalpha():
        return name
    sign = "+" if offset >= 0 else "-"
    hours, minutes = divmod(abs(offset) // 60, 60)
    return f"UTC{sign}{hours:02d}:{minutes:02d}"


def utc_stamp(now: float | None = None) -> str:
    """``20261206-191424Z``: ``now`` (default: this moment) in UTC, for a file or folder name
    whose order is the order things were made in, whatever zone made them."""
    return time.strftime("%Y%m%d-%H%M%SZ", time.gmtime(time.time() if now is None else now))


_STAMP = re.compile(r"(\d{8}-\d{6})(Z?)$")


def stamped_at(name: str) -> float | None:
    """When a name ending in a stamp was made, in seconds since the epoch: ``...-091000Z`` is
    UTC (``utc_stamp``); ``...-013000`` without its ``Z`` is this machine's clock, as names were
    stamped before (``eval-20261101-013000``); None for a name without a stamp."""
    found = _STAMP.search(name)
    if found is None:
        return None
    try:
        parts = time.strptime(found[1], "%Y%m%d-%H%M%S")
    except ValueError:  # digits that are no date: eval-20261399-250000
        return None
    if found[2]:
        return float(calendar.timegm(parts))
    return time.mktime(parts[:8] + (-1,))  # -1: whichever of summer or winter time it was


def made_at(path: Path) -> float:
    """When a file or folder named with a stamp was made (``stamped_at`` of its name), else its
    modification time. Not the modification time alone: a data root copied without times
    (``cp -r``, most zips) gives every folder the copy's, in no order; nor the name's letters:
    an older ``eval-20261205-180000`` named in JST sorts after ``eval-20261205-100000Z``."""
    stamped = stamped_at(path.name)
    if stamped is not None:
        return stamped
    try:
        return path.stat().st_mtime
    except OSError:  # removed while listed
        return 0.0
