"""Writing an index: idempotent, resumable upserts in batches Chroma accepts.

Every record carries a ``row_hash`` of its vector, metadata and impression. A run reads the stored
hashes first and writes only the records that are new or changed, in batches of at most
``client.get_max_batch_size()``. Each batch is committed by Chroma on its own, so a run killed
mid-way keeps the batches it finished and the next run writes only the rest: upserts by id never
duplicate a study. Studies that disappeared from a re-indexed dataset are deleted, and so are the
fields a study no longer has (a label now blank). At the end the collection's ``revision`` and
``count`` metadata are updated, which tells readers to refresh, with each written dataset's own
label fields and labels fingerprint (``model.index.label_fields``), one writer at a time
(``model.index.metadata_lock``: Chroma replaces a collection's metadata whole).

Only one process may run this against an embedded Chroma folder at a time (hold
``model.index.writer_lock.WriterLock``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np
from chromadb.api.models.Collection import Collection

from model.index.embedding_index import EmbeddingIndex
from model.index.label_fields import recorded_labels, with_labels_recorded
from model.index.metadata_lock import metadata_lock
from model.index.records import IndexRecords
from model.index.snapshot import UNIT_TOLERANCE, check_unit_vectors
from model.progress import Progress

log = logging.getLogger(__name__)

_READ_PAGE = 5000


@dataclass(frozen=True)
class UpsertReport:
    """What one indexing run did; ``total`` is the collection size afterwards and ``labels``
    its record of every dataset's labels then (``label_fields.recorded_labels``: those written
    and those it keeps of datasets not written)."""

    written: int
    unchanged: int
    removed: int
    total: int
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)


def row_hash(vector: np.ndarray, metadata: dict, document: str) -> str:
    """Content hash of one record: float32 [D] vector bytes + sorted metadata + document."""
    digest = hashlib.sha1(np.ascontiguousarray(vector, dtype=np.float32).tobytes())
    digest.update(json.dumps(metadata, sort_keys=True, default=str).encode("utf-8"))
    digest.update(document.encode("utf-8"))
    return digest.hexdigest()[:16]


def _metadatas(collection: Collection, ids: list[str]) -> dict[str, dict]:
    """Stored metadata of those of ``ids`` the collection holds, read a page at a time."""
    found_all: dict[str, dict] = {}
    for start in range(0, len(ids), _READ_PAGE):
        found = collection.get(ids=ids[start : start + _READ_PAGE], include=["metadatas"])
        for sid, meta in zip(found["ids"], found["metadatas"], strict=True):
            found_all[sid] = meta or {}
    return found_all


def _stored_hashes(collection: Collection, ids: list[str]) -> dict[str, str]:
    """The ``row_hash`` of those of ``ids`` the collection holds, their stored vectors checked:
    a damaged index must not pass its studies off as unchanged (``DamagedIndex``)."""
    hashes: dict[str, str] = {}
    for start in range(0, len(ids), _READ_PAGE):
        found = collection.get(
            ids=ids[start : start + _READ_PAGE], include=["metadatas", "embeddings"]
        )
        if found["ids"]:
            check_unit_vectors(found["ids"], np.asarray(found["embeddings"], dtype=np.float32))
        for sid, meta in zip(found["ids"], found["metadatas"], strict=True):
            hashes[sid] = str((meta or {}).get("row_hash", ""))
    return hashes


def _replacing(new: dict, old: dict | None) -> dict:
    """``new`` metadata for an upsert over ``old``: Chroma merges an upsert's metadata into the
    stored one, so a field the study no longer has (a label now blank, a column removed from
    the labels file) is sent as None, which deletes it."""
    return {**dict.fromkeys(set(old or {}) - set(new)), **new}


def _stale_ids(collection: Collection, records: IndexRecords) -> list[str]:
    """Ids indexed earlier from the same datasets that these records no longer contain.

    The same dataset: the same name and the same ``dataset_id`` or ``dataset_folder``
    (``records.dataset_identity``), or a record written before datasets carried them. Another
    dataset that only shares the name (a second site's ``internal`` on a shared server) is left
    alone. Only the departed ids' metadata is read (usually none).
    """
    current = set(records.ids)
    stale: list[str] = []
    identities = {
        (str(m.get("dataset")), m.get("dataset_id"), m.get("dataset_folder"))
        for m in records.metadatas
    }
    for name, dataset_id, folder in sorted(identities, key=str):
        named = collection.get(where={"dataset": name}, include=[])["ids"]
        gone = _metadatas(collection, [sid for sid in named if sid not in current])
        stale += [
            sid
            for sid, meta in gone.items()
            if meta.get("dataset_id", dataset_id) == dataset_id
            or meta.get("dataset_folder") == folder
        ]
    return stale


def upsert_records(
    index: EmbeddingIndex,
    records: IndexRecords,
    batch_size: int | None = None,
    prune: bool = True,
    on_batch: Callable[[Collection], None] | None = None,
) -> UpsertReport:
    """Write ``records`` (vectors float32 [N, D]) into ``index``'s collection; see module doc.
    ``on_batch(collection)`` runs after each batch is written (a rebuild's heartbeat)."""
    if len(set(records.ids)) != len(records.ids):
        raise ValueError("duplicate study ids in the records to index")
    lengths = np.linalg.norm(records.vectors, axis=1)
    if not np.all(np.abs(lengths - 1.0) <= UNIT_TOLERANCE):  # readers take others for damage
        raise ValueError("the vectors to index must be unit vectors")
    collection = index.create_collection(records.vectors.shape[1] if len(records) else 0)
    limit = index.client.get_max_batch_size()
    batch = min(limit, batch_size) if batch_size else limit
    metadatas = [
        {**meta, "row_hash": row_hash(vec, meta, doc)}
        for vec, meta, doc in zip(
            records.vectors, records.metadatas, records.documents, strict=True
        )
    ]
    stored = _stored_hashes(collection, records.ids)
    todo = [i for i, sid in enumerate(records.ids) if stored.get(sid) != metadatas[i]["row_hash"]]
    log.info(
        "%s: %d studies to write, %d unchanged (batches of %d)",
        index.name,
        len(todo),
        len(records) - len(todo),
        batch,
    )
    with Progress("index", total=len(todo), unit="study") as progress:
        for start in range(0, len(todo), batch):
            rows = todo[start : start + batch]
            ids = [records.ids[i] for i in rows]
            old = _metadatas(collection, [sid for sid in ids if sid in stored])
            collection.upsert(
                ids=ids,
                embeddings=records.vectors[rows],
                metadatas=[_replacing(metadatas[i], old.get(records.ids[i])) for i in rows],
                documents=[records.documents[i] for i in rows],
            )
            progress.update(len(rows))
            if on_batch is not None:
                on_batch(collection)
    stale = _stale_ids(collection, records) if prune else []
    for start in range(0, len(stale), batch):
        collection.delete(ids=stale[start : start + batch])
    if stale:
        log.info("removed %d studies no longer in the dataset", len(stale))
    total, recorded = _bump_revision(index, collection, records.labels)
    return UpsertReport(len(todo), len(records) - len(todo), len(stale), total, recorded)


def _bump_revision(
    index: EmbeddingIndex, collection: Collection, labels: dict[str, dict]
) -> tuple[int, dict[str, dict[str, Any]]]:
    """Record the collection's size, the written datasets' label fields and labels fingerprints
    (``model.index.label_fields``) and a new revision so that readers reload their snapshot;
    returns the size and the record of every dataset's labels. The metadata is read afresh and
    written back under ``metadata_lock``: another writer on a server may be recording its
    datasets' labels at the same time."""
    with metadata_lock(index.client, collection.name):
        current = index.client.get_collection(collection.name, embedding_function=None)
        total = current.count()
        meta = with_labels_recorded(current.metadata, labels) if labels else current.metadata
        meta = {**(meta or {}), "revision": f"{time.time():.6f}", "count": int(total)}
        current.modify(metadata=meta)
    return total, recorded_labels(meta)
