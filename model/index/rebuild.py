"""``python -m model index --rebuild``: write a checkpoint's index afresh while others search it.

The records go into a staging collection (``rebuilding-cmrclip-<fingerprint>``, never listed as
an index), so searchers (another dashboard, a colleague on the same server, this machine's
embedded folder) keep the old index, whole, until the new one is whole too. Then the new one is
renamed ``swapping-...``, the old one deleted without being read (reading a damaged collection
can crash the reader) and the new one renamed to the checkpoint's collection: readers that miss
it in those milliseconds wait for it, and a read of the old one deleted under it is done again on
the new one (``model.index.swap_wait``). Two rebuilds of one checkpoint
at once (on a server) share the staging name: the later one starts afresh and the earlier one
stops with a message saying so. What another index run writes to the live collection while the
rebuild runs is carried into the new one before the swap (``model.index.carry_over``).

A rebuild that is killed leaves the old index as it was, and its staging collection behind. The
rebuild stamps that collection's metadata with a ``HEARTBEAT`` (the time, after every batch it
writes), so a leftover is told from a rebuild under way without asking who wrote it. The time is
the Chroma server's (``server_time``), written and judged on that one clock: the clocks of a
lab's machines sharing the server may disagree by more than ``LEFTOVER_AFTER_S``. Every index
run (``drop_dead_leftovers``) deletes the staging collections of every checkpoint whose heartbeat
is older than ``LEFTOVER_AFTER_S`` (of a server, any writer's; of an embedded folder, whose writer
lock rules out a rebuild under way, all of them). A rebuild killed between deleting the old index
and renaming the new one leaves the new one, whole, as ``swapping-...``: it is renamed to the
checkpoint's collection instead. A staging collection without a heartbeat (written by an earlier
version) is left to the next rebuild of its checkpoint, which deletes it first.
"""

from __future__ import annotations

import logging
from dataclasses import replace
from typing import Any

from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.errors import NotFoundError

from model.errors import UserError
from model.index.carry_over import carry_over, live_state
from model.index.collection_spec import (
    STAGING_PREFIX,
    SWAPPING_PREFIX,
    staging_name,
    swapping_name,
)
from model.index.embedding_index import EmbeddingIndex
from model.index.records import IndexRecords
from model.index.writer import UpsertReport, upsert_records

log = logging.getLogger(__name__)

HEARTBEAT = "rebuild_heartbeat"  # staging metadata: when its rebuild last wrote (server time, s)
LEFTOVER_AFTER_S = 15 * 60  # a batch takes seconds


def rebuild_index(
    client: ClientAPI,
    fingerprint: str,
    records: IndexRecords,
    batch_size: int | None = None,
    shared: bool = False,
) -> UpsertReport:
    """Replace the checkpoint's collection by one holding exactly ``records``; see module doc.
    ``shared``: a Chroma server, whose other writers' records are carried over. An embedded
    folder has one writer (``WriterLock``), and its live collection's records are not read: a
    rebuild is the way back from a damaged graph, which crashed the reader."""
    live = EmbeddingIndex(client, fingerprint)
    staging = EmbeddingIndex(client, fingerprint, name=staging_name(fingerprint))
    drop_leftovers(client, fingerprint)
    started = live_state(client, live.name) if shared else None  # others' records are kept
    log.info("writing the index of checkpoint %s afresh into %s", fingerprint[:12], staging.name)
    try:
        own = staging.create_collection(records.vectors.shape[1] if len(records) else 0)

        def beat(collection: Collection) -> None:  # still writing it (``drop_dead_leftovers``)
            collection.modify(metadata=_stamped(collection.metadata, server_time(client)))

        beat(own)
        report = upsert_records(staging, records, batch_size=batch_size, prune=False, on_batch=beat)
        rebuilt = client.get_collection(staging.name, embedding_function=None)
        if rebuilt.id != own.id:  # another rebuild's, still being written
            raise NotFoundError(staging.name)
        if started is not None and carry_over(client, live.name, rebuilt, started, records):
            report = replace(report, total=rebuilt.count())
        swapping = _stamped(rebuilt.metadata, server_time(client))
        rebuilt.modify(name=swapping_name(fingerprint), metadata=swapping)
    except NotFoundError:
        raise UserError(
            f"another rebuild of the index of checkpoint {fingerprint[:12]} started while this "
            "one was writing and replaced its new index; that rebuild's index is the one kept"
        ) from None
    live.drop()
    rebuilt.modify(name=live.name, metadata=_unstamped(rebuilt.metadata))
    log.info("the rebuilt index of checkpoint %s replaced the old one", fingerprint[:12])
    return report


def drop_leftovers(client: ClientAPI, fingerprint: str) -> None:
    """Delete what a killed rebuild of the checkpoint left behind (nothing of it is read)."""
    names = {c.name for c in client.list_collections()}
    for name in (staging_name(fingerprint), swapping_name(fingerprint)):
        if name in names:
            log.info("deleting %s, left by a rebuild that did not finish", name)
            client.delete_collection(name)


def drop_dead_leftovers(client: ClientAPI, older_than_s: float | None = None) -> None:
    """Delete the staging collections, of any checkpoint, whose rebuild last wrote more than
    ``older_than_s`` (default ``LEFTOVER_AFTER_S``) ago, and finish the swap of a dead rebuild
    whose old index is gone."""
    older_than_s = LEFTOVER_AFTER_S if older_than_s is None else older_than_s
    collections = client.list_collections()
    names = {c.name for c in collections}
    now = server_time(client)
    for collection in collections:
        if not collection.name.startswith((STAGING_PREFIX, SWAPPING_PREFIX)):
            continue
        beat = (collection.metadata or {}).get(HEARTBEAT)
        if not isinstance(beat, int | float) or now - beat < older_than_s:
            continue  # a rebuild under way, or one that left no heartbeat to judge it by
        live = collection.name.removeprefix(SWAPPING_PREFIX)
        if collection.name.startswith(SWAPPING_PREFIX) and live not in names:
            log.warning("%s: finishing the swap of a rebuild that stopped during it", live)
            collection.modify(name=live, metadata=_unstamped(collection.metadata))
            continue
        log.info("deleting %s, left by a rebuild that stopped", collection.name)
        client.delete_collection(collection.name)


def server_time(client: ClientAPI) -> float:
    """Now on the Chroma server's clock (seconds since the epoch; this machine's, embedded)."""
    return client.heartbeat() / 1e9


def _stamped(metadata: dict[str, Any] | None, now: float) -> dict[str, Any]:
    return {**(metadata or {}), HEARTBEAT: now}


def _unstamped(metadata: dict[str, Any] | None) -> dict[str, Any]:
    return {key: value for key, value in (metadata or {}).items() if key != HEARTBEAT}
