"""How long ago a file of the data root was last written, on the clock that stamped it.

A data root shared by several machines lives on a file server, which stamps every file written
there with its own clock. A run or job on another machine is judged silent (gone down with that
machine) from how long its files have gone unwritten; comparing their stamps, or a time the
other machine wrote into them, with this machine's ``time.time()`` would make that judgement
depend on the machines' clocks agreeing, and a lab's need not (no time server on a hospital
network, a clock set an hour off). So the file server's "now" is read the same way: the stamp of
a probe file written in a folder above the judged one on the same file system (or beside it, when
those are another account's) and deleted at once: a probe beside it would move its folder's
modification time, which lists a run folder as the newest (``Settings.runs``), so a run gone
silent on another machine would rise to the top, and be the default checkpoint, whenever a page
looked at it. Where none of those folders can be written, this machine's clock stands in.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)

# the two folders above the file's, then its own: runs/ (jobs/), the data root, a run's (a job's)
_PROBE_LEVELS = 3


def silent_s(paths: list[Path]) -> float | None:
    """Seconds since the newest of ``paths`` was last written, on the clock that stamps files
    there; None when none of them exists."""
    stamps = {}
    for path in paths:
        with contextlib.suppress(OSError):
            stamps[path] = os.stat(path)
    if not stamps:
        return None
    newest = max(stamps, key=lambda path: stamps[path].st_mtime)
    now = file_server_now(newest.parent, stamps[newest].st_dev)
    return now - stamps[newest].st_mtime


def file_server_now(folder: Path, device: int) -> float:
    """Now on the clock that stamps files written on ``device`` (the ``st_dev`` of a file in
    ``folder``): the stamp of a probe written in one of the two folders above ``folder``, else in
    ``folder`` itself, on that file system; this machine's clock where none can be written."""
    above = list(folder.parents)[: _PROBE_LEVELS - 1]
    for candidate in [*above, folder]:
        try:
            if os.stat(candidate).st_dev != device:
                continue  # another file system, with other stamps
            return _probe_stamp(candidate)
        except OSError:
            continue
    log.debug(
        "cannot write a probe near %s; judging its files' age by this machine's clock", folder
    )
    return time.time()


def _probe_stamp(folder: Path) -> float:
    """The modification time the file system gives a file written in ``folder`` now. The probe
    is named as ``model.atomic``'s temporaries, so one a killed process left is cleared with them."""
    handle, name = tempfile.mkstemp(prefix=".clock-probe.", suffix=".tmp", dir=folder)
    try:
        with open(handle, "wb") as probe:
            probe.write(b"\n")  # a write: a network file system stamps it with its own clock
        return os.stat(name).st_mtime
    finally:
        with contextlib.suppress(OSError):
            os.unlink(name)
