"""Check that an embedded index folder reads without crashing or hanging, from a child process.

Chroma's native code segfaults the process that reads a damaged HNSW graph (a zeroed
``link_lists.bin``), and any read replays a writer's log, so even ``count()`` after a writer that
crashed mid-write can take the reading process down. A long-lived reader (the dashboard's server,
one process for every user) must not be that process: before it reads a folder in a state it has
not seen, ``damaged_collections`` opens every checkpoint's collection there, counts it and runs a
small query in a fresh child (``model.index.fresh_process``), the way the reader would (a listing
of the indexes counts each). A child killed by a signal (the segfault), or one that has not
finished within ``READ_CHECK_TIMEOUT_S`` (it is stopped), names the collection it was reading:
that one is damaged, and a new child checks the rest. A Chroma server holds its index in its own
process and needs no check.

``folder_state`` says when a folder changed: any write adds to the log in ``chroma.sqlite3`` or
changes the segment folders' files, so the check runs once per state, not once per read; a
verdict that a read hung (``ReadCheck.hung``) is worth checking again in a while.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from chromadb.api.models.Collection import Collection

from model.errors import DamagedIndex
from model.index.client import REBUILD_HINT, ChromaLocation, open_client
from model.index.collection_spec import COLLECTION_PREFIX, collection_name
from model.index.fresh_process import ChildDied, ChildTimedOut, run_in_fresh_process

log = logging.getLogger(__name__)
PROBE_RESULTS = 3
READ_CHECK_TIMEOUT_S = 30.0  # the check reads a 1,300-study index in about 1 s
FOLDER = "*"  # damaged_collections' name for the folder itself (no collection is named so)


def folder_state(folder: Path) -> tuple[object, ...]:
    """The database's inode and log position, and (name, inode, size, mtime ns) of every segment
    file in ``folder``: what a writer changes. Not the database's mtime: opening a client
    (the check's own included) writes it."""
    database = folder / "chroma.sqlite3"
    segments = []
    for path in sorted(folder.glob("*/*")):
        try:
            stat = path.stat()
        except OSError:  # removed while listed (a rebuild swapping segments)
            continue
        segments.append(
            (path.relative_to(folder).as_posix(), stat.st_ino, stat.st_size, stat.st_mtime_ns)
        )
    try:
        inode = database.stat().st_ino
    except OSError:
        inode = 0
    return (inode, _log_position(database), *segments)


def _log_position(database: Path) -> object:
    """The last record of Chroma's write log (every add, update and delete is one), read with
    sqlite itself, read-only; the file's mtime when Chroma's tables are not as expected."""
    try:
        uri = f"{database.absolute().as_uri()}?mode=ro"  # a relative folder given too
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            return db.execute("SELECT max(seq_id) FROM embeddings_queue").fetchone()[0]
    except sqlite3.Error:
        try:
            return database.stat().st_mtime_ns
        except OSError:
            return None


def _probe(location: ChromaLocation, skip: list[str], started: str) -> None:
    """In the child: count and query each checkpoint's collection not in ``skip``, its name
    appended to the file ``started`` first (so a crash or hang names it)."""
    client = open_client(location, create=False)
    names = sorted(
        c.name for c in client.list_collections() if c.name.startswith(COLLECTION_PREFIX)
    )
    with open(started, "a", encoding="utf-8") as progress:
        for name in (name for name in names if name not in skip):
            progress.write(name + "\n")
            progress.flush()
            try:
                _probe_collection(client.get_collection(name, embedding_function=None))
            except Exception as err:  # an error, not a crash: its reader reports it
                log.info("index read check of %s: %s", name, err)


def _probe_collection(collection: Collection) -> None:
    if collection.count() == 0:
        return
    first = collection.get(limit=1, include=["embeddings"])["embeddings"]
    collection.query(query_embeddings=[first[0]], n_results=PROBE_RESULTS, include=[])


@dataclass(frozen=True)
class ReadCheck:
    """What ``check_folder`` found: collection name -> why, for each that crashes or hangs a
    reader, and whether any of them only hung (a timeout is no proof of damage: a machine badly
    overloaded reads as slowly), which is worth checking again, unlike a crash."""

    damaged: dict[str, str]
    hung: bool = False
    checked: float = field(default_factory=time.time)


def damaged_collections(location: ChromaLocation, timeout_s: float | None = None) -> dict[str, str]:
    """Collection name -> why, for each collection at the embedded ``location`` whose reading
    crashes or hangs a process (``FOLDER`` when opening the folder itself does). Any other
    failure is left to the reader, which reports it as it would without the check."""
    return check_folder(location, timeout_s).damaged


def check_folder(location: ChromaLocation, timeout_s: float | None = None) -> ReadCheck:
    """``damaged_collections``, saying too whether a verdict is a read that did not finish
    within ``timeout_s`` (default ``READ_CHECK_TIMEOUT_S``)."""
    timeout_s = READ_CHECK_TIMEOUT_S if timeout_s is None else timeout_s
    damaged: dict[str, str] = {}
    hung = False
    with tempfile.TemporaryDirectory(prefix="cmr-read-check-") as scratch:
        started = Path(scratch) / "started"
        started.touch()
        while True:
            done = started.read_text(encoding="utf-8").split()
            try:
                run_in_fresh_process(_probe, location, done, str(started), timeout_s=timeout_s)
                return ReadCheck(damaged, hung)
            except ChildDied as err:
                timed_out = isinstance(err, ChildTimedOut)
                if not timed_out and (err.exitcode is None or err.exitcode >= 0):
                    log.warning("index read check of %s: %s", location.describe(), err)
                    return ReadCheck(damaged, hung)  # it did not start (exited): no verdict
                reading = started.read_text(encoding="utf-8").split()[len(done) :]
                name = reading[-1] if reading else FOLDER
                damaged[name] = _problem(location, name, err)
                hung = hung or timed_out
                if name == FOLDER:
                    return ReadCheck(damaged, hung)
            except Exception as err:  # e.g. no index yet: nothing that crashes a reader
                log.info("index read check of %s: %s", location.describe(), err)
                return ReadCheck(damaged, hung)


def _problem(location: ChromaLocation, name: str, err: ChildDied) -> str:
    what = "the folder" if name == FOLDER else f"the index {name}"
    if isinstance(err, ChildTimedOut):
        return (
            f"{location.describe()}: reading {what} did not finish within {err.timeout_s:g} s "
            "(the process reading it was stopped)"
        )
    return f"{location.describe()}: {what} crashed a process that read it ({err})"


def check_readable(location: ChromaLocation, checkpoint: str) -> frozenset[str]:
    """Raise ``DamagedIndex`` (with the rebuild to run) when reading ``checkpoint``'s index at the
    embedded ``location`` crashes or hangs a process (``damaged_collections``), else return the
    other collections that do, which its reader must leave unread (``EmbeddingIndex.unreadable``):
    what a one-off reader (``python -m model search``) asks before it reads."""
    damaged = damaged_collections(location)
    problem = unreadable(damaged, checkpoint)
    if problem:
        raise DamagedIndex(f"{problem}; {REBUILD_HINT}")
    return frozenset(damaged)


def unreadable(damaged: dict[str, str], checkpoint: str) -> str:
    """Why ``checkpoint``'s index cannot be read, from ``damaged_collections``; "" when it can."""
    return damaged.get(FOLDER) or damaged.get(collection_name(checkpoint), "")
