"""What other index runs wrote to a checkpoint's index while a ``--rebuild`` of it ran.

A rebuild writes a staging collection from the datasets it was given and then replaces the live
collection with it (``model.index.rebuild``). On a shared Chroma server nothing stops a
colleague's plain index run from writing the live collection meanwhile (another dataset, or new
studies of this one): the swap dropped what it wrote, though that run had reported success. The
rebuild on a server therefore notes the live collection's ids and labels records as it starts
(``LiveState``) and, just before it swaps, copies into its staging collection every study the
live one gained since that is not among its own records, with the labels records of datasets
written meanwhile. Studies that were there at the start and are not given stay dropped: those
are what the rebuild was asked to drop (``--drop-others``, or studies gone from the dataset).
What a writer adds in the milliseconds between the copy and the swap is not seen, and a writer
still writing when the swap deletes the live collection fails on its next batch and says so.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import Any

from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.errors import NotFoundError

from model.index.label_fields import recorded_labels, with_labels_recorded
from model.index.metadata_lock import metadata_lock
from model.index.records import IndexRecords

log = logging.getLogger(__name__)
_PAGE = 1000


@dataclass(frozen=True)
class LiveState:
    """The live collection's ids and labels records (dataset_folder -> record) at one moment."""

    ids: frozenset[str] = frozenset()
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)


def live_state(client: ClientAPI, name: str) -> LiveState:
    """The collection ``name``'s ids and labels records now (empty when there is none)."""
    try:
        live = client.get_collection(name, embedding_function=None)
    except NotFoundError:
        return LiveState()
    return LiveState(frozenset(live.get(include=[])["ids"]), recorded_labels(live.metadata))


def carry_over(
    client: ClientAPI, name: str, staging: Collection, started: LiveState, records: IndexRecords
) -> int:
    """Copy into ``staging`` the studies the live collection ``name`` gained since ``started``
    that ``records`` do not hold, and the labels records of datasets written meanwhile that
    ``records`` do not record; returns how many studies were copied."""
    try:
        live = client.get_collection(name, embedding_function=None)
    except NotFoundError:
        return 0
    given = set(records.ids)
    gained = [
        sid for sid in live.get(include=[])["ids"] if sid not in started.ids and sid not in given
    ]
    for start in range(0, len(gained), _PAGE):
        found = live.get(
            ids=gained[start : start + _PAGE], include=["embeddings", "metadatas", "documents"]
        )
        staging.upsert(
            ids=found["ids"],
            embeddings=found["embeddings"],
            metadatas=found["metadatas"],
            documents=found["documents"],
        )
    written = {
        folder: record
        for folder, record in recorded_labels(live.metadata).items()
        if folder not in records.labels and started.labels.get(folder) != record
    }
    if gained or written:
        log.warning(
            "another index run wrote %d studies to %s while it was rebuilt: kept in the "
            "rebuilt index",
            len(gained),
            name,
        )
        with metadata_lock(client, staging.name):
            meta = with_labels_recorded(staging.metadata, written)
            staging.modify(metadata={**meta, "count": staging.count()})
    return len(gained)
