"""``python -m model index --rebuild``: write a checkpoint's index afresh while others search it.

The records go into a staging collection (``rebuilding-cmrclip-<fingerprint>``, never listed as
an index), so searchers (another dashboard, a colleague on the same server, this machine's
embedded folder) keep the old index, whole, until the new one is whole too. Then the new one is
renamed ``swapping-...``, the old one deleted without being read (reading a damaged collection
can crash the reader) and the new one renamed to the checkpoint's collection: readers that miss
it in those milliseconds wait for it (``EmbeddingIndex.exists``). A rebuild that is killed leaves
the old index as it was; the next rebuild of that checkpoint deletes the leftover staging
collection first (in an embedded folder, whose writer lock rules out a rebuild under way, any
next index run does). Two rebuilds of one checkpoint at once (on a server) share the staging name:
the later one starts afresh and the earlier one stops with a message saying so.
"""

from __future__ import annotations

import logging

from chromadb.api import ClientAPI
from chromadb.errors import NotFoundError

from model.errors import UserError
from model.index.collection_spec import staging_name, swapping_name
from model.index.embedding_index import EmbeddingIndex
from model.index.records import IndexRecords
from model.index.writer import UpsertReport, upsert_records

log = logging.getLogger(__name__)


def rebuild_index(
    client: ClientAPI, fingerprint: str, records: IndexRecords, batch_size: int | None = None
) -> UpsertReport:
    """Replace the checkpoint's collection by one holding exactly ``records``; see module doc."""
    live = EmbeddingIndex(client, fingerprint)
    staging = EmbeddingIndex(client, fingerprint, name=staging_name(fingerprint))
    drop_leftovers(client, fingerprint)
    log.info("writing the index of checkpoint %s afresh into %s", fingerprint[:12], staging.name)
    try:
        report = upsert_records(staging, records, batch_size=batch_size, prune=False)
        rebuilt = client.get_collection(staging.name, embedding_function=None)
        rebuilt.modify(name=swapping_name(fingerprint))
    except NotFoundError:
        raise UserError(
            f"another rebuild of the index of checkpoint {fingerprint[:12]} started while this "
            "one was writing and replaced its new index; that rebuild's index is the one kept"
        ) from None
    live.drop()
    rebuilt.modify(name=live.name)
    log.info("the rebuilt index of checkpoint %s replaced the old one", fingerprint[:12])
    return report


def drop_leftovers(client: ClientAPI, fingerprint: str) -> None:
    """Delete what a killed rebuild of the checkpoint left behind (nothing of it is read)."""
    names = {c.name for c in client.list_collections()}
    for name in (staging_name(fingerprint), swapping_name(fingerprint)):
        if name in names:
            log.info("deleting %s, left by a rebuild that did not finish", name)
            client.delete_collection(name)
