"""Erasing withdrawn studies from the case index (ChromaDB, embedded folder or server).

Each checkpoint's collection (``cmrclip-<fp>``), and a rebuild's collection being written
(``rebuilding-`` / ``swapping-``), holds a record per study: its vector, metadata and report
impression, under the study_id. Every collection at the location is searched for the withdrawn
study ids, and a record is removed only when it is of this dataset (its ``dataset_id`` is the
dataset's salt id, or it was written before records carried one): another dataset on a shared
server never loses a study. The collection's revision is bumped, so readers reload.

An embedded folder is written under its writer lock (``model.index.writer_lock``) from a fresh
process (a damaged folder can crash the process reading it, ``model.index.fresh_process``), then
each collection that held a withdrawn study is copied into a new one and the old one deleted
(``_write_afresh``): Chroma's HNSW graph, its id map and its write-ahead log keep a deleted
record's vector and id until it compacts them, which may be never. The old graph's folder is
removed and the database compacted (``VACUUM``: SQLite keeps deleted rows' bytes in free pages),
so neither the study_id nor its impression text stays in the folder's files. A server's records
are deleted through its API: what its files keep is the server's to compact (the erasure record
says so). An embedded folder a Chroma server serves (``model.index.folder_users``) is never
written as files: it is erased through the server when that one is given (``through_servers``),
else ``forget`` stops before anything changes.
"""

from __future__ import annotations

import contextlib
import logging
import shutil
import sqlite3
import time
from dataclasses import dataclass, field
from pathlib import Path

from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection

from model.errors import DamagedIndex
from model.index.client import ChromaLocation, index_failures, open_client
from model.index.collection_spec import COLLECTION_PREFIX, STAGING_PREFIX, SWAPPING_PREFIX
from model.index.folder_users import FolderUsers, folder_users
from model.index.fresh_process import ChildDied, run_in_fresh_process
from model.index.metadata_lock import metadata_lock
from model.index.writer_lock import WriterLock
from model.storage_index import compact_database

log = logging.getLogger(__name__)

_PREFIXES = (COLLECTION_PREFIX, STAGING_PREFIX, SWAPPING_PREFIX)
_PAGE = 500
ERASE_WAY = "erase through the server: --chroma-host {host} --chroma-port {port}"


@dataclass
class IndexErasure:
    """Records of the withdrawn studies per collection at ``where`` (removed when applied)."""

    where: str
    found: dict[str, int] = field(default_factory=dict)
    note: str = ""


def erase_from_index(
    location: ChromaLocation, study_ids: list[str], salt_id: str, apply: bool
) -> IndexErasure:
    """Find (and with ``apply`` remove) the records of ``study_ids`` of the dataset with
    ``salt_id`` in every collection at ``location``; see the module docstring."""
    if not location.is_server:
        assert location.path is not None
        if not (location.path / "chroma.sqlite3").is_file():
            return IndexErasure(location.describe(), note="no index there")
        lock = WriterLock(location.path) if apply else contextlib.nullcontext()
        with lock:
            before = _segments(location.path)
            try:
                found = run_in_fresh_process(_erase_here, location, study_ids, salt_id, apply)
            except ChildDied as err:
                raise DamagedIndex(f"reading {location.describe()} {err}") from err
            if apply and any(found.values()):
                _compact(location.path, before - _segments(location.path))
        return IndexErasure(location.describe(), found)
    with index_failures(location):
        return IndexErasure(location.describe(), _erase_here(location, study_ids, salt_id, apply))


def through_servers(
    locations: list[ChromaLocation],
) -> tuple[list[ChromaLocation], dict[Path, FolderUsers]]:
    """``locations`` less the embedded folders that the given Chroma server (the one of them
    that is a server) serves, which are erased through it, and the processes using each
    embedded folder left (``folder_users``, read once)."""
    server = next((loc for loc in locations if loc.is_server), None)
    users = folder_users([loc.path for loc in locations if loc.path is not None])
    kept = []
    for loc in locations:
        found = users.get(loc.path) if loc.path is not None else None
        if server and found and any(s.answers_at(server.host, server.port) for s in found.servers):
            log.info("%s: erased through %s, which serves it", loc.path, server.describe())
            continue
        kept.append(loc)
    return kept, users


def served_refusal(users: FolderUsers | None) -> str | None:
    """The line refusing to erase from a folder's files while a Chroma server serves it."""
    return users.refusal("erasing from its files", ERASE_WAY) if users else None


def _erase_here(
    location: ChromaLocation, study_ids: list[str], salt_id: str, apply: bool
) -> dict[str, int]:
    """Collection name -> how many of the dataset's ``study_ids`` it holds (removed if
    ``apply``)."""
    client = open_client(location, create=False)
    found: dict[str, int] = {}
    for listed in client.list_collections():
        if not listed.name.startswith(_PREFIXES):
            continue
        collection = client.get_collection(listed.name, embedding_function=None)
        ours = []
        for start in range(0, len(study_ids), _PAGE):
            got = collection.get(ids=study_ids[start : start + _PAGE], include=["metadatas"])
            ours += [
                sid
                for sid, meta in zip(got["ids"], got["metadatas"] or [], strict=True)
                if (meta or {}).get("dataset_id", salt_id) == salt_id
            ]
        if not ours:
            continue
        found[listed.name] = len(ours)
        if apply:
            collection.delete(ids=ours)
            if not location.is_server:
                _write_afresh(client, collection)
            if listed.name.startswith(COLLECTION_PREFIX):
                _bump_revision(client, listed.name)
    return found


def _write_afresh(client: ClientAPI, collection: Collection) -> None:
    """Copy the embedded ``collection`` into a new one of the same name, and delete it: the
    old one's files (its HNSW graph, its id map, its write-ahead log entries) still hold the
    removed records until Chroma compacts them, and that may be never. The copy is written
    under a staging name first, so a kill leaves the old one whole (an index run deletes the
    leftover); readers that miss it during the swap wait for it (``model.index.swap_wait``)."""
    name, rows = collection.name, _all_rows(collection)
    staging = STAGING_PREFIX + "erasure-" + name
    if staging in {c.name for c in client.list_collections()}:
        client.delete_collection(staging)
    fresh = client.create_collection(
        staging, configuration=collection.configuration, metadata=collection.metadata
    )
    for start in range(0, len(rows["ids"]), _PAGE):
        fresh.add(**{key: values[start : start + _PAGE] for key, values in rows.items()})
    client.delete_collection(name)
    fresh.modify(name=name)


def _all_rows(collection: Collection) -> dict[str, list]:
    """Every record of ``collection``: ids, embeddings, metadatas, documents."""
    rows: dict[str, list] = {"ids": [], "embeddings": [], "metadatas": [], "documents": []}
    offset = 0
    while True:
        page = collection.get(
            include=["embeddings", "metadatas", "documents"], limit=_PAGE, offset=offset
        )
        for key in rows:
            rows[key] += list(page[key])  # type: ignore[literal-required]
        if len(page["ids"]) < _PAGE:
            return rows
        offset += _PAGE


def _bump_revision(client: ClientAPI, name: str) -> None:
    """A new revision and count in the collection's metadata, so readers reload their snapshot
    (read afresh and written under ``metadata_lock``, as an index writer does)."""
    with metadata_lock(client, name):
        current = client.get_collection(name, embedding_function=None)
        meta = {**(current.metadata or {}), "revision": f"{time.time():.6f}"}
        current.modify(metadata={**meta, "count": int(current.count())})


def _segments(folder: Path) -> set[str]:
    """The ids of the segments the embedded index at ``folder`` holds (its HNSW graphs lie in
    folders of these names)."""
    with contextlib.closing(sqlite3.connect(folder / "chroma.sqlite3", timeout=60)) as db:
        return {str(row[0]) for row in db.execute("SELECT id FROM segments")}


def _compact(folder: Path, dropped: set[str]) -> None:
    """Remove the graph folders of the segments the rewrite dropped (Chroma leaves them) and
    ``VACUUM`` the index database, so the removed records' bytes leave the files. Done under
    the writer lock, after the writing process has ended."""
    for segment in dropped:
        if (folder / segment).is_dir():
            shutil.rmtree(folder / segment, ignore_errors=True)
    if not compact_database(folder):
        log.warning("%s: the removed records' bytes may remain in its free pages", folder)
