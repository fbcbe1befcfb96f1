"""Check that an embedded index folder reads without crashing, from a child process.

Chroma's native code segfaults the process that reads a damaged HNSW graph (a zeroed
``link_lists.bin``), and any read replays a writer's log, so even ``count()`` after a writer that
crashed mid-write can take the reading process down. A long-lived reader (the dashboard's server,
one process for every user) must not be that process: before it reads a folder in a state it has
not seen, ``check_readable`` opens the checkpoint's collection, counts it and runs a small query in
a fresh child (``model.index.fresh_process``). A child killed by a signal (the segfault) is
``DamagedIndex``. A Chroma
server holds its index in its own process and needs no check.

``folder_state`` says when a folder changed: any write adds to the log in ``chroma.sqlite3`` or
changes the segment folders' files, so the check runs once per state, not once per read.
"""

from __future__ import annotations

import contextlib
import logging
import sqlite3
from pathlib import Path

from model.errors import DamagedIndex
from model.index.client import ChromaLocation, open_client
from model.index.fresh_process import ChildDied, run_in_fresh_process

log = logging.getLogger(__name__)
PROBE_RESULTS = 3


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
        with contextlib.closing(sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)) as db:
            return db.execute("SELECT max(seq_id) FROM embeddings_queue").fetchone()[0]
    except sqlite3.Error:
        try:
            return database.stat().st_mtime_ns
        except OSError:
            return None


def _probe(location: ChromaLocation, checkpoint: str) -> None:
    """In the child: open the checkpoint's collection, count it, and query it with a stored vector."""
    from model.index.embedding_index import EmbeddingIndex

    index = EmbeddingIndex(open_client(location, create=False), checkpoint)
    if not index.exists():
        return
    collection = index.collection()
    if collection.count() == 0:
        return
    first = collection.get(limit=1, include=["embeddings"])["embeddings"]
    collection.query(query_embeddings=[first[0]], n_results=PROBE_RESULTS, include=[])


def check_readable(location: ChromaLocation, checkpoint: str) -> None:
    """Raise ``DamagedIndex`` when reading ``checkpoint``'s index at the embedded ``location``
    crashes (or reads back wrong) in a child process. Any other failure is left to the reader,
    which reports it as it would without the check."""
    try:
        run_in_fresh_process(_probe, location, checkpoint)
    except ChildDied as err:
        if err.exitcode is None or err.exitcode >= 0:  # it did not start (exited): no verdict
            log.warning("index read check of %s: %s", location.describe(), err)
            return
        raise DamagedIndex(f"{location.describe()} crashed a process that read it ({err})") from err
    except DamagedIndex:
        raise
    except Exception as err:  # e.g. no index yet: nothing that crashes a reader
        log.info("index read check of %s: %s", location.describe(), err)
