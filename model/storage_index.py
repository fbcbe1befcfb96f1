"""The case index's part of ``python -m model storage``: the collections of checkpoints no
longer under the data root, and what dead rebuilds and Chroma itself left behind.

The index keeps one collection per checkpoint ever indexed (``cmrclip-<fingerprint>``,
``model/index/collection_spec.py``), in each embedded index folder under the data root
(``DATASET/../chroma``) and on a Chroma server when one is used. A deleted run's collection is
never searched again. ``index_cleaning`` lists, and with ``apply`` deletes:

- collections whose checkpoint is no longer under the data root (no checkpoint there has its
  fingerprint), never the active checkpoint's (``active.json``), and none at all when one
  checkpoint under the root cannot be read (the rule of the embedding caches);
- a dead rebuild's staging and swapping collections (``model.index.rebuild.drop_dead_leftovers``,
  which finishes the swap of one whose old index is gone instead);
- the files of collections Chroma deleted: Chroma 1.5 deletes a collection's rows but leaves
  its vector segment folder (``<uuid>/``) on disk, a rebuild's old index's too.

Listing reads ``chroma.sqlite3`` with sqlite itself, read-only (opening a Chroma client writes
the database, and a damaged collection can crash its reader): a dry run writes nothing.
Deleting takes the folder's ``WriterLock`` (an index run under way is never disturbed: the
folder is left alone, and said so) and runs in a fresh process (``model.index.fresh_process``),
as index writes do. Deleting rows leaves the database file its size (SQLite keeps their pages
free); ``apply`` then compacts it (``compact_database``: ``VACUUM``, as ``forget`` does), and the
bytes counted are the segment folders' and the free pages'. A Chroma server may hold
other data roots' indexes: it is read and cleaned only when asked (``server``), by its own API.
A Chroma server started on an embedded folder caches its collections and HNSW segments: such a
folder (``model.index.folder_users``, from ``/proc``) is never cleaned as files, dry run or
not; the line says how to clean it through the server, and it is when that server is given.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
import shutil
import sqlite3
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

from model.errors import UserError
from model.index.collection_spec import COLLECTION_PREFIX, STAGING_PREFIX, SWAPPING_PREFIX
from model.index.folder_users import FolderUsers, folder_users
from model.index.writer_lock import WriterLock
from model.storage import Cleaning, Removal, human_size

if TYPE_CHECKING:
    from chromadb.api import ClientAPI

    from model.index.client import ChromaLocation

log = logging.getLogger(__name__)

DATABASE = "chroma.sqlite3"
HOST_ENV = "CMR_CHROMA_HOST"  # model.index.client's, read here without importing chromadb
PORT_ENV = "CMR_CHROMA_PORT"
SERVER_WAY = (
    f"clean it through the server: {HOST_ENV}={{host}} {PORT_ENV}={{port}} python -m model "
    "storage --clean-caches --apply --include-server-index"
)
GONE = "case indexes: of a checkpoint no longer under the data root"
DEAD = "case indexes: left by a rebuild that stopped"
ORPHAN = "case indexes: files of a collection Chroma deleted but left on disk"
_SEGMENT = re.compile(r"[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}")
_COLLECTIONS = """
SELECT c.name, (SELECT count(*) FROM embeddings e JOIN segments s ON e.segment_id = s.id
                WHERE s.collection = c.id AND s.scope = 'METADATA'),
       (SELECT s.id FROM segments s WHERE s.collection = c.id AND s.scope = 'VECTOR'),
       (SELECT coalesce(m.float_value, m.int_value) FROM collection_metadata m
                WHERE m.collection_id = c.id AND m.key = 'rebuild_heartbeat')
FROM collections c ORDER BY c.name"""


@dataclass(frozen=True)
class IndexCollection:
    """One collection of an index: its name, study count, the bytes its vector segment folder
    takes (0 on a server) and, for a rebuild's staging one, its heartbeat."""

    name: str
    count: int
    bytes: int = 0
    heartbeat: float | None = None

    @property
    def checkpoint(self) -> str:
        """The fingerprint of the checkpoint it belongs to ("" for none of ours)."""
        name = self.name.removeprefix(SWAPPING_PREFIX).removeprefix(STAGING_PREFIX)
        return name.removeprefix(COLLECTION_PREFIX) if name.startswith(COLLECTION_PREFIX) else ""

    @property
    def is_index(self) -> bool:
        return self.name.startswith(COLLECTION_PREFIX)


@dataclass(frozen=True)
class IndexListing:
    """An index's collections, and (embedded) the segment folders no collection owns."""

    where: str
    collections: list[IndexCollection]
    orphans: list[tuple[Path, int]]
    free: int = 0  # bytes of the database's free pages (reused by its next writes)


def clean_indexes(
    folders: list[Path],
    owners: set[str] | None,
    apply: bool,
    cleaning: Cleaning,
    server: ChromaLocation | None = None,
) -> None:
    """Add to ``cleaning`` what of the embedded index ``folders`` (and of ``server`` when given)
    can go (see the module's docstring), and delete it when ``apply``."""
    users = folder_users(folders)
    for folder in folders:
        if _served(users[folder], server, cleaning):
            continue
        try:  # applied, it is read under the writer lock: what is listed is what goes
            with WriterLock(folder, wait_s=0) if apply else contextlib.nullcontext():
                listing = read_folder(folder)
                planned = _planned(listing, owners, time.time(), 0.0, folder)
                planned += [Removal(path, size, ORPHAN) for path, size in listing.orphans]
                if apply and planned:
                    cleaning.freed += drop_from_folder(folder, _named(planned, GONE))
                    listing = read_folder(folder)
                given_back = (
                    listing.free if apply and listing.free and compact_database(folder) else 0
                )
                listing = read_folder(folder) if given_back else listing
        except UserError as err:
            cleaning.skipped.append(f"{folder}: left as it is ({err})")
            continue
        cleaning.removals += planned
        cleaning.freed += given_back
        if planned or listing.free or given_back:
            cleaning.databases.append(_database_note(folder, listing.free, given_back, apply))
    host = os.environ.get(HOST_ENV)
    if server is None and host:
        cleaning.skipped.append(
            f"the Chroma server {host} ({HOST_ENV}): not read, as it may hold other data roots' "
            "indexes; add --include-server-index to clean it too"
        )
    elif server is not None:
        _clean_server(server, owners, apply, cleaning)


def _served(users: FolderUsers, server: ChromaLocation | None, cleaning: Cleaning) -> bool:
    """Whether a Chroma server serves the folder of ``users``, which is then left alone, said
    in ``cleaning`` (the dry run says it too); what could not be checked is noted."""
    if note := users.note():
        cleaning.notes.append(note)
    said = users.refusal("deleting its collections and files", SERVER_WAY)
    if said is None:
        return False
    if server is not None and any(s.answers_at(server.host, server.port) for s in users.servers):
        said = f"{users.folder}: cleaned through the Chroma server that serves it, not as files"
    cleaning.skipped.append(said)
    return True


def _clean_server(
    server: ChromaLocation, owners: set[str] | None, apply: bool, cleaning: Cleaning
) -> None:
    from model.index.rebuild import LEFTOVER_AFTER_S

    try:
        listing, now = read_server(server)
        planned = _planned(listing, owners, now, LEFTOVER_AFTER_S, None)
        if apply and planned:
            drop_from_server(server, _named(planned, GONE))
    except UserError as err:
        cleaning.skipped.append(f"{server.describe()}: left as it is ({err})")
        return
    cleaning.removals += planned


def _planned(
    listing: IndexListing, owners: set[str] | None, now: float, dead_s: float, folder: Path | None
) -> list[Removal]:
    """The collections of ``listing`` that go, as removals named ``folder/<name>`` (a server's
    as ``<server>/<name>``), their study counts said."""
    where = folder or Path(listing.where)
    place = "" if folder else ", on the server (its disk is not counted)"
    planned = []
    for why, chosen in ((GONE, gone(listing, owners)), (DEAD, dead(listing, now, dead_s))):
        planned += [
            Removal(where / c.name, c.bytes, why, f"{c.count:,} studies{place}") for c in chosen
        ]
    return planned


def _database_note(folder: Path, free: int, given_back: int, apply: bool) -> str:
    """What becomes of the database file: deleting rows leaves free pages (``free`` now), which
    compacting gives back (``given_back``, by ``--apply``)."""
    if given_back:
        return f"{folder / DATABASE}: compacted, {human_size(given_back)} of free pages given back"
    if apply:
        busy = "could not be compacted (busy: see the log); "
        return f"{folder / DATABASE}: {busy}{human_size(free)} of it stays free pages"
    said = f"{folder / DATABASE}: {human_size(free)} of it is free pages (deleted rows' bytes): "
    return said + "--apply gives them back, and the pages of what it deletes, by compacting it"


def compact_database(folder: Path) -> bool:
    """``VACUUM`` the embedded index database of ``folder``, so deleted rows' bytes (free pages,
    which SQLite keeps) leave the file; False (logged) when it cannot (a reader held it over the
    60 s SQLite waits). The caller holds the folder's ``WriterLock``, after the writing process
    has ended, and no Chroma server serves the folder (``folder_users``): SQLite's own locking
    keeps out a dashboard's reads meanwhile."""
    try:
        with contextlib.closing(sqlite3.connect(folder / DATABASE, timeout=60)) as db:
            db.execute("VACUUM")
    except sqlite3.Error as err:
        log.warning("could not compact %s (%s): its free pages stay", folder / DATABASE, err)
        return False
    return True


def _named(planned: list[Removal], why: str) -> list[str]:
    return [r.path.name for r in planned if r.why == why]


def read_folder(folder: Path) -> IndexListing:
    """The collections of the embedded index ``folder``, read-only; ``UserError`` when its
    database cannot be read as Chroma's."""
    uri = f"{(folder / DATABASE).absolute().as_uri()}?mode=ro"  # a relative --data-root too
    try:
        with contextlib.closing(sqlite3.connect(uri, uri=True)) as db:
            rows = db.execute(_COLLECTIONS).fetchall()
            owned = {str(row[0]) for row in db.execute("SELECT id FROM segments")}
            free = db.execute("PRAGMA freelist_count").fetchone()[0]
            free *= db.execute("PRAGMA page_size").fetchone()[0]
    except sqlite3.Error as err:
        raise UserError(f"{folder / DATABASE} cannot be read as a Chroma index ({err})") from err
    collections = [
        IndexCollection(str(name), int(count), _bytes(folder / str(vector)) if vector else 0, beat)
        for name, count, vector, beat in rows
    ]
    orphans = [
        (path, _bytes(path))
        for path in sorted(folder.iterdir())
        if path.is_dir() and _SEGMENT.fullmatch(path.name) and path.name not in owned
    ]
    return IndexListing(str(folder), collections, orphans, int(free))


def gone(listing: IndexListing, owners: set[str] | None) -> list[IndexCollection]:
    """The checkpoint indexes in ``listing`` whose checkpoint is not one of ``owners`` (none
    when ``owners`` is None: a checkpoint could not be read)."""
    if owners is None:
        return []
    return [c for c in listing.collections if c.is_index and c.checkpoint not in owners]


def dead(listing: IndexListing, now: float, older_than_s: float) -> list[IndexCollection]:
    """The staging and swapping collections whose rebuild last wrote over ``older_than_s``
    ago (those ``drop_dead_leftovers`` deletes or, for a swap whose index is gone, renames)."""
    names = {c.name for c in listing.collections}
    return [
        c
        for c in listing.collections
        if c.name.startswith((STAGING_PREFIX, SWAPPING_PREFIX))
        and c.heartbeat is not None
        and now - c.heartbeat >= older_than_s
        and c.name.removeprefix(SWAPPING_PREFIX) in names  # else its swap is finished, not lost
    ]


def drop_from_folder(folder: Path, names: list[str]) -> int:
    """Delete the collections ``names`` of the embedded index ``folder``, end its dead rebuilds,
    and remove the segment folders no collection owns; the bytes freed. The caller holds the
    folder's ``WriterLock``. Chroma is opened in a fresh process (a damaged index can crash
    it)."""
    from model.index.fresh_process import ChildDied, run_in_fresh_process

    try:
        run_in_fresh_process(_drop_here, folder, names)
    except ChildDied as err:
        raise UserError(f"the process deleting from {folder} {err}") from err
    freed = 0
    for path, size in read_folder(folder).orphans:
        try:
            shutil.rmtree(path)
        except OSError as err:
            log.warning("cannot remove %s: %s", path, err.strerror or err)
            continue
        freed += size
    return freed


def _drop_here(folder: Path, names: list[str]) -> None:
    from model.index.client import ChromaLocation, index_failures, open_client
    from model.index.rebuild import drop_dead_leftovers

    location = ChromaLocation(path=folder)
    with index_failures(location):
        client = open_client(location, create=False)
        drop_dead_leftovers(client, older_than_s=0)  # the writer lock: no rebuild under way
        _delete(client, names, location)


def read_server(location: ChromaLocation) -> tuple[IndexListing, float]:
    """The collections on the Chroma server ``location``, and the time on its clock."""
    from model.index.client import index_failures, open_client
    from model.index.rebuild import HEARTBEAT, server_time

    with index_failures(location):
        client = open_client(location)
        found = [
            IndexCollection(c.name, c.count(), 0, _number((c.metadata or {}).get(HEARTBEAT)))
            for c in client.list_collections()
        ]
        now = server_time(client)
    return IndexListing(location.describe(), sorted(found, key=lambda c: c.name), []), now


def drop_from_server(location: ChromaLocation, names: list[str]) -> None:
    """Delete the collections ``names`` on the server and its rebuilds dead for
    ``LEFTOVER_AFTER_S`` (another writer's may be under way)."""
    from model.index.client import index_failures, open_client
    from model.index.rebuild import drop_dead_leftovers

    with index_failures(location):
        client = open_client(location)
        drop_dead_leftovers(client)
        _delete(client, names, location)


def _delete(client: ClientAPI, names: list[str], location: ChromaLocation) -> None:
    from chromadb.errors import NotFoundError

    for name in names:
        log.info("deleting %s from %s", name, location.describe())
        with contextlib.suppress(NotFoundError):  # deleted meanwhile (a server's other user)
            client.delete_collection(name)


def _number(value: object) -> float | None:
    return float(value) if isinstance(value, int | float) else None


def _bytes(path: Path) -> int:
    """The blocks the files under ``path`` take on disk."""
    total = 0
    for entry in path.rglob("*"):
        with contextlib.suppress(OSError):
            total += entry.lstat().st_blocks * 512
    return total
