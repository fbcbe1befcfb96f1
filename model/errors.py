"""Errors that carry a message meant for the user (bad input, missing files).

The CLI prints them as one line and exits non-zero; the dashboard shows them as an error box.
Anything else is a bug and keeps its traceback in the log, except an ``OSError`` the machine
causes (a full disk, a read-only or forbidden folder): ``storage_problem`` words it as one line.
"""

from __future__ import annotations

import errno
import os
import re
import reprlib
from collections.abc import Iterable
from pathlib import Path

# A header cell that a message may quote: short, one line, no long number or "Field:" (a file
# without its header row has a first row of data there: an accession number, a whole report).
_NOT_A_NAME = re.compile(r"\d{4}|[:\n\r]")
_FULL = "free some space (or choose a folder on another disk) and try again"
NEARLY_FULL = 64 << 20  # bytes free: below, a write that failed unexplained likely ran out
_STORAGE_HINTS = {
    errno.ENOSPC: _FULL,
    errno.EDQUOT: _FULL,
    errno.EFBIG: "the file is larger than that disk (or your account) allows; choose another disk",
    errno.EROFS: "choose a folder on a writable disk",
    errno.EACCES: "check its permissions or choose another folder",
    errno.EPERM: "check its permissions or choose another folder",
    errno.EIO: "the disk may be failing or disconnected",
}


class UserError(Exception):
    """A problem with the user's input, described in plain words; ``python -m model`` says it in
    a line and exits ``exit_status``."""

    exit_status = 2


class Stopped(UserError):  # noqa: N818 - what happened to the command, as the user asked
    """A command that ended early because a stop was asked (Ctrl-C, SIGTERM) and a step inside
    it took the request and returned (a training run saves ``last.pt`` first): ``python -m model``
    exits 130, as for every stop, so its dashboard job reads "stopped", not "failed"."""

    exit_status = 130


class WorkerLost(UserError):  # noqa: N818 - what happened to the command, as Stopped
    """A worker process of the command was killed from outside (the out-of-memory killer's
    SIGKILL): a failure (exit 1), said in one line instead of the pool's traceback."""

    exit_status = 1


class DataError(UserError):
    """A dataset, DICOM folder, labels or prompts file that cannot be used as given."""


class DamagedIndex(DataError):  # noqa: N818 - named for what the user has, as DataError
    """A case index whose stored files Chroma reads back wrong: it has to be rebuilt."""


class CheckpointError(UserError):
    """A checkpoint that is missing, foreign, corrupted or from another model family."""


class OutOfDeviceMemory(UserError):
    """A training step ran out of GPU memory; the run stops and keeps its last checkpoint.

    Its message starts with ``PREFIX``, which a run's status keeps, so the dashboard can tell
    this failure from others and offer to resume with gradient checkpointing.
    """

    PREFIX = "out of GPU memory"


_SHORT = reprlib.Repr()
_SHORT.maxlevel, _SHORT.maxlist, _SHORT.maxdict, _SHORT.maxstring = 2, 4, 4, 60


def short_repr(value: object) -> str:
    """``repr(value)`` cut short (two levels deep, four items, 60 characters a string), for a
    message quoting a value read from a file: a YAML alias of nested lists (a "billion laughs" of
    a few hundred bytes) written out in full was hundreds of MB, or a MemoryError."""
    return _SHORT.repr(value)


def storage_problem(err: OSError) -> str | None:
    """``err`` as one line naming the file and what to do, when the disk or the folder's
    permissions caused it (full, quota, read-only, forbidden, I/O error); None otherwise. Notes
    the writer added (``err.add_note``: what it kept, how to resume) end the line."""
    hint = _STORAGE_HINTS.get(err.errno) if err.errno is not None else None
    if hint is None:
        return None
    where = f": {err.filename}" if err.filename else ""
    notes = "".join(f"; {note}" for note in getattr(err, "__notes__", ()))
    return f"{err.strerror or 'cannot write'}{where}; {hint}{notes}"


def full_disk(folder: str | Path | None) -> str | None:
    """Says the disk holding ``folder`` is nearly full (under 64 MiB free) and what to do; None
    when it has room or cannot be checked. For failures that do not say why (Chroma's SQLite
    writes fail as "Error in compaction"): read as damage, they send the user to rebuild what
    freeing some space lets work again."""
    if folder is None:
        return None
    try:
        stat = os.statvfs(folder)
    except OSError:
        return None
    free = stat.f_bavail * stat.f_frsize
    if free >= NEARLY_FULL:
        return None
    return f"the disk holding {folder} has only {free // 1024} KB free; {_FULL}"


def not_found(what: str, path: str | Path, folder: bool = False) -> str:
    """Why ``path`` (a file, or a folder when ``folder``) cannot be read: it does not exist, or it
    is a folder where a file is wanted (or the other way round)."""
    path = Path(path)
    if path.is_dir() and not folder:
        return f"{what} {path} is a folder; give the file"
    if path.exists() and folder:
        return f"{what} {path} is a file, not a folder"
    return f"{what} {path} does not exist"


def header_names(columns: Iterable[object]) -> str:
    """A CSV's header cells for an error message, each quoted unless it looks like data rather
    than a column name (then ``[not shown]``: a headerless file's first row may be patient data).
    """
    shown = [
        repr(name) if len(name) <= 40 and not _NOT_A_NAME.search(name) else "[not shown]"
        for name in map(str, columns)
    ]
    hint = "; is the header row missing?" if "[not shown]" in shown else ""
    return ", ".join(shown) + hint
