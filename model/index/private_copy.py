"""Reading an embedded index folder this account cannot write (a colleague's data root, a
read-only mount): Chroma opens its database for writing even to read it, and fails there with
"attempt to write a readonly database". Such a folder is read from a private copy instead.

``readable_location`` copies the folder, once per state of it (``read_check.folder_state``: what a
writer changes), into a folder of this account's own under the temporary directory (``mkdtemp``:
owner-only, as the index holds report text), and the reader opens the copy; messages still name
the folder itself (``ChromaLocation.copy_of``). A folder written while it is copied is copied
again; one that never settles is a ``UserError``. The copy of an earlier state is removed when a
newer one is made, and every copy when the process exits.
"""

from __future__ import annotations

import atexit
import logging
import os
import shutil
import tempfile
import threading
from pathlib import Path

from model.errors import UserError
from model.index.client import ChromaLocation
from model.index.read_check import folder_state

log = logging.getLogger(__name__)
COPY_ATTEMPTS = 3
_COPIES: dict[Path, tuple[tuple[object, ...], Path]] = {}  # folder -> (its state, the copy)
_COPYING = threading.Lock()  # the dashboard's sessions share one copy per folder


def readable_location(location: ChromaLocation) -> ChromaLocation:
    """``location``, or for an embedded index folder this process cannot write, a private copy
    of it in its present state."""
    if location.is_server or location.path is None or location.copy_of is not None:
        return location
    folder = location.path
    database = folder / "chroma.sqlite3"
    if not database.is_file() or (os.access(folder, os.W_OK) and os.access(database, os.W_OK)):
        return location
    with _COPYING:
        state = folder_state(folder)
        held = _COPIES.get(folder)
        if held is None or held[0] != state or not held[1].is_dir():
            copy, state = _copy(location)
            if held is not None:
                shutil.rmtree(held[1].parent, ignore_errors=True)
            _COPIES[folder] = held = (state, copy)
            log.info(
                "%s is not writable by this account: reading a private copy (%s)",
                location.describe(),
                copy,
            )
        return ChromaLocation(path=held[1], copy_of=folder)


def _copy(location: ChromaLocation) -> tuple[Path, tuple[object, ...]]:
    """A whole copy of the folder (copied again while a writer changes it), and its state."""
    assert location.path is not None
    for _ in range(COPY_ATTEMPTS):
        state = folder_state(location.path)
        scratch = Path(tempfile.mkdtemp(prefix="cmr-index-copy-"))
        copy = scratch / "chroma"
        try:
            try:
                shutil.copytree(location.path, copy, copy_function=_copy_file)
            except _CopyFailed as failed:
                raise failed.error from None
            for path in [copy, *copy.rglob("*")]:  # the copy is this account's to open for writing
                path.chmod(0o700 if path.is_dir() else 0o600)
        except OSError as err:
            shutil.rmtree(scratch, ignore_errors=True)
            where = err.filename2 or err.filename or scratch  # the copy's file (full TMPDIR)
            raise UserError(
                f"{location.describe()} is not writable by this account, and copying it to read "
                f"it failed ({err.strerror or err}: {where}); free some space "
                "in the temporary folder (TMPDIR) or ask its owner to make it group-writable"
            ) from err
        if folder_state(location.path) == state:
            return copy, state
        shutil.rmtree(scratch, ignore_errors=True)
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


@atexit.register
def _remove_copies() -> None:
    with _COPYING:
        for _state, copy in _COPIES.values():
            shutil.rmtree(copy.parent, ignore_errors=True)
        _COPIES.clear()
