"""How long ago a file of the data root was last written, on the clock that stamped it.

A data root shared by several machines lives on a file server, which stamps every file written
there with its own clock. A run or job on another machine is judged silent (gone down with that
machine) from how long its files have gone unwritten; comparing their stamps, or a time the
other machine wrote into them, with this machine's ``time.time()`` would make that judgement
depend on the machines' clocks agreeing, and a lab's need not (no time server on a hospital
network, a clock set an hour off). So the file server's "now" is read the same way: the stamp of
a probe file written beside the judged one (or in a folder above it on the same file system, when
that one is another account's) and deleted at once. Where none of those folders can be written,
this machine's clock stands in, as before.
"""

from __future__ import annotations

import contextlib
import logging
import os
import tempfile
import time
from pathlib import Path

log = logging.getLogger(__name__)

# the file's folder and two above it: a run's (a job's) folder, runs/ (jobs/), the data root
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
    ``folder``): the stamp of a probe written in ``folder`` or a folder above it on that file
    system; this machine's clock where none of them can be written."""
    for candidate in [folder, *folder.parents][:_PROBE_LEVELS]:
        try:
            if os.stat(candidate).st_dev != device:
                break  # another file system, with other stamps
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
