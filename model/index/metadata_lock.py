"""One index writer at a time updates a collection's metadata, on a server as in a folder.

Chroma replaces a collection's metadata whole on ``modify``. An index run reads it, adds its
datasets' record of labels (``model.index.label_fields``) and writes it back; two runs doing that
at once on a Chroma server (two datasets indexed into one shared collection, a page's index job
and a colleague's) could each write back what it had read, and the later one would drop the
earlier one's record. An embedded folder's writer lock (``model.index.writer_lock``) serialises
whole runs, but a server's writers hold no lock of ours, so ``metadata_lock`` takes one in Chroma
itself: creating a collection is atomic (a second create of the same name fails), so the empty
collection ``metalock-<name>`` is a mutex every client of the server sees. It is held for the
milliseconds of one read and one write. One left by a writer killed while holding it (older than
``STALE_AFTER_S`` on the server's clock) is taken over; it is renamed away by its id before it
is deleted, so two writers that both judged it stale cannot both take it, and a writer whose
lock was taken over never releases the next holder's. An embedded folder's writer, which alone
writes the folder while it holds the writer lock, drops any lock it finds at once
(``drop_left_locks``): it can only have been left by a writer killed while holding it, and
waiting ``STALE_AFTER_S`` for it would only stall the run.
"""

from __future__ import annotations

import contextlib
import logging
import time
import uuid
from collections.abc import Iterator

from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.errors import ChromaError, NotFoundError

from model.errors import UserError

log = logging.getLogger(__name__)

LOCK_PREFIX = "metalock-"  # never listed as an index (``collection_spec.COLLECTION_PREFIX``)
STALE_AFTER_S = 60.0  # one metadata read and write take milliseconds
WAIT_S = 120.0
_POLL_S = 0.05
_SINCE = "locked_since"  # the lock's metadata: when it was taken (server time, s)


@contextlib.contextmanager
def metadata_lock(client: ClientAPI, name: str, wait_s: float = WAIT_S) -> Iterator[None]:
    """``with metadata_lock(client, collection_name):`` -- the only writer of that collection's
    metadata while the block runs; a ``UserError`` after ``wait_s`` seconds of waiting."""
    lock = LOCK_PREFIX + name
    deadline = time.monotonic() + wait_s
    while (held := _take(client, lock)) is None:
        if time.monotonic() >= deadline:
            raise UserError(
                f"another index writer has been updating the index {name} for over "
                f"{wait_s:.0f} s (it holds {lock}); run the index command again later"
            )
        time.sleep(_POLL_S)
    try:
        yield
    finally:
        _discard(client, held)


def drop_left_locks(client: ClientAPI) -> int:
    """Delete every metadata lock of ``client``'s indexes; returns how many. Only for a caller
    that alone writes them (an embedded folder's ``WriterLock`` held), for which a lock can only
    have been left by a writer killed while it held it."""
    left = [c for c in client.list_collections() if c.name.startswith(LOCK_PREFIX)]
    for held in left:
        log.warning("dropping %s, left by an index writer that stopped holding it", held.name)
        _discard(client, held)
    return len(left)


def _take(client: ClientAPI, lock: str) -> Collection | None:
    """The lock collection, created by us now; None while another writer holds it (a stale
    one is discarded, to be taken on the next try)."""
    try:
        return client.create_collection(
            lock, metadata={_SINCE: _server_time(client)}, embedding_function=None
        )
    except ChromaError:  # it exists (or the server failed: getting it says which)
        pass
    try:
        held = client.get_collection(lock, embedding_function=None)
    except NotFoundError:  # released meanwhile
        return None
    since = (held.metadata or {}).get(_SINCE)
    if isinstance(since, int | float) and _server_time(client) - since > STALE_AFTER_S:
        log.warning("taking over %s, left by an index writer that stopped holding it", lock)
        _discard(client, held)
    return None


def _discard(client: ClientAPI, held: Collection) -> None:
    """Delete the lock ``held`` unless it is already gone: renamed by its id first, so that a
    lock taken over meanwhile and taken again by another writer is never deleted."""
    gone = f"{held.name}-gone-{uuid.uuid4().hex}"
    try:
        held.modify(name=gone)
    except NotFoundError:
        return
    with contextlib.suppress(NotFoundError):  # renamed again by a writer that took it over
        client.delete_collection(gone)


def _server_time(client: ClientAPI) -> float:
    """Now on the Chroma server's clock (seconds since the epoch; this machine's, embedded)."""
    return client.heartbeat() / 1e9
