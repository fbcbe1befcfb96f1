"""Reading an embedded index folder this account cannot write (a colleague's data root, a
read-only mount) or one on a full disk: Chroma opens its database for writing even to read it,
and fails there with "attempt to write a readonly database", or "database or disk is full"
(its SQLite journal needs room). Such a folder is read from a private copy instead, when the
temporary folder has room for one (a disk full for both leaves the folder to fail as it does,
with the message that says to free some space).

``readable_location`` copies the folder, once per state of it (``read_check.folder_state``: what a
writer changes), into a folder of this account's own under the temporary directory (``mkdtemp``:
owner-only, as the index holds report text), and the reader opens the copy; messages still name
the folder itself (``ChromaLocation.copy_of``). A folder written while it is copied is copied
again; one that never settles is a ``UserError``. The copy of an earlier state is removed when a
newer one is made, and every copy when the process exits. A process killed before it could do so
(``atexit`` never runs then) leaves its copies behind; the process holds a lock in each of its
copies while it lives, so the next copy this account makes removes those nobody holds.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
import threading
import time
from pathlib import Path

from model.errors import UserError, full_disk
from model.file_lock import FileLock
from model.index.client import ChromaLocation
from model.index.read_check import folder_state

log = logging.getLogger(__name__)
COPY_ATTEMPTS = 3
_COPIES: dict[Path, tuple[tuple[object, ...], Path]] = {}  # folder -> (its state, the copy)
_COPYING = threading.Lock()  # the dashboard's sessions share one copy per folder
PREFIX = "cmr-index-copy-"
_IN_USE = ".in-use"  # the lock a live process holds in each of its copies
_IN_USE_LOCKS: dict[Path, FileLock] = {}  # this process's copies (their scratch folders)
_LEFTOVER_AFTER_S = 60.0  # a copy just made may not hold its lock yet


def readable_location(location: ChromaLocation) -> ChromaLocation:
    """``location``, or for an embedded index folder this process cannot write, a private copy
    of it in its present state."""
    if location.is_server or location.path is None or location.copy_of is not None:
        return location
    folder = location.path
    reason = _why_copy(folder)
    if reason is None:
        return location
    with _COPYING:
        state = folder_state(folder)
        held = _COPIES.get(folder)
        if held is None or held[0] != state or not held[1].is_dir():
            _remove_leftovers()
            copy, state = _copy(location, reason)
            if held is not None:
                _discard(held[1].parent)
            _COPIES[folder] = held = (state, copy)
            log.info("%s %s: reading a private copy (%s)", location.describe(), reason, copy)
        return ChromaLocation(path=held[1], copy_of=folder)


def _why_copy(folder: Path) -> str | None:
    """Why an index folder is read from a copy: it is not writable by this account, or its disk
    is (nearly) full while the temporary folder's has room; None to read it in place."""
    database = folder / "chroma.sqlite3"
    if not database.is_file():
        return None
    if not (os.access(folder, os.W_OK) and os.access(database, os.W_OK)):
        return "is not writable by this account"
    if full_disk(folder) is not None and full_disk(tempfile.gettempdir()) is None:
        return "is on a full disk"
    return None


def _copy(location: ChromaLocation, reason: str) -> tuple[Path, tuple[object, ...]]:
    """A whole copy of the folder (copied again while a writer changes it), and its state;
    ``reason`` says why it is copied (``_why_copy``), in the message of a copy that failed."""
    assert location.path is not None
    for _ in range(COPY_ATTEMPTS):
        state = folder_state(location.path)
        scratch = Path(tempfile.mkdtemp(prefix=PREFIX))
        copy = scratch / "chroma"
        try:
            _IN_USE_LOCKS[scratch] = FileLock(scratch / _IN_USE, str)
            _IN_USE_LOCKS[scratch].acquire()
            try:
                shutil.copytree(location.path, copy, copy_function=_copy_file)
            except _CopyFailed as failed:
                raise failed.error from None
            for path in [copy, *copy.rglob("*")]:  # the copy is this account's to open for writing
                path.chmod(0o700 if path.is_dir() else 0o600)
        except OSError as err:
            _discard(scratch)
            where = err.filename2 or err.filename or scratch  # the copy's file (full TMPDIR)
            raise UserError(
                f"{location.describe()} {reason}, and copying it to read "
                f"it failed ({err.strerror or err}: {where}); free some space "
                "in the temporary folder (TMPDIR) or ask its owner to make it group-writable"
            ) from err
        if folder_state(location.path) == state:
            return copy, state
        _discard(scratch)
    raise UserError(
        f"{location.describe()} kept changing while it was copied to read it (an index run is "
        "writing it); search again when that run has finished"
    )


class _CopyFailed(Exception):
    """A file of the folder that could not be copied: ends ``copytree`` at once (it would go on
    copying into a full TMPDIR, and report every file that failed in one message)."""

    def __init__(self, error: OSError):
        super().__init__(str(error))
        self.error = error


def _copy_file(source: str, target: str) -> None:
    try:
        shutil.copyfile(source, target)
    except OSError as err:
        raise _CopyFailed(err) from err


def _discard(scratch: Path) -> None:
    """Remove one of this process's copies (its scratch folder) and let go of its lock."""
    shutil.rmtree(scratch, ignore_errors=True)
    lock = _IN_USE_LOCKS.pop(scratch, None)
    if lock is not None:
        lock.release()


def _remove_leftovers() -> None:
    """Remove the copies in the temporary folder that no live process holds: those of this
    account's processes that were killed. Another account's are not this one's to open."""
    for scratch in Path(tempfile.gettempdir()).glob(f"{PREFIX}*"):
        lock = FileLock(scratch / _IN_USE, str)
        try:
            if (
                scratch in _IN_USE_LOCKS
                or time.time() - scratch.stat().st_mtime < _LEFTOVER_AFTER_S
            ):
                continue
            lock.acquire()
        except (UserError, OSError):  # a live process's copy, or another account's
            continue
        log.info("removing %s, an index copy left by a process that was killed", scratch)
        shutil.rmtree(scratch, ignore_errors=True)
        lock.release()


@atexit.register
def _remove_copies() -> None:
    with _COPYING:
        for scratch in list(_IN_USE_LOCKS):
            _discard(scratch)
        _COPIES.clear()
