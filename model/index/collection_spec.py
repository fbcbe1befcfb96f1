"""The case index's Chroma collections: their names, HNSW settings, and what a listing says of
one. One collection per checkpoint (``cmrclip-<checkpoint fingerprint>``), and the two names a
``--rebuild`` writes under before it swaps one in (``model.index.rebuild``), which readers never
list as an index."""

from __future__ import annotations

import re
from dataclasses import dataclass
from typing import Any

from model.errors import CheckpointError

COLLECTION_PREFIX = "cmrclip-"
STAGING_PREFIX = "rebuilding-"  # a rebuild's new collection while it is written
SWAPPING_PREFIX = "swapping-"  # the same, while the old collection is deleted


@dataclass(frozen=True)
class HnswParams:
    """HNSW settings of new collections (Chroma's defaults give recall@10 ~0.88 at 100k).

    ``sync_threshold``: the writer saves the HNSW files once this many records are added.
    Chroma's 1,000 left an index of fewer studies (the demo's) unsaved: every reader then
    rebuilt it from Chroma's log and rewrote its files, so the dashboard's read check, keyed on
    those files, ran again on every page rerun. At 2 every write batch is saved (no slower to
    write, ``bench/RESULTS.md``, session 54)."""

    ef_construction: int = 200
    max_neighbors: int = 32
    ef_search: int = 128
    sync_threshold: int = 2

    def configuration(self) -> dict[str, Any]:
        return {
            "hnsw": {
                "space": "cosine",
                "ef_construction": self.ef_construction,
                "max_neighbors": self.max_neighbors,
                "ef_search": self.ef_search,
                "sync_threshold": self.sync_threshold,
            }
        }


@dataclass(frozen=True)
class CollectionInfo:
    """One index collection in the client: the checkpoint it belongs to and its size."""

    name: str
    checkpoint: str
    count: int
    dim: int | None
    revision: str


def collection_name(checkpoint_fingerprint: str) -> str:
    """The collection of a checkpoint; raises ``CheckpointError`` for an unusable fingerprint."""
    fingerprint = str(checkpoint_fingerprint).strip()
    if not re.fullmatch(r"[A-Za-z0-9][A-Za-z0-9._-]{0,490}[A-Za-z0-9]|[A-Za-z0-9]", fingerprint):
        raise CheckpointError(f"checkpoint fingerprint {fingerprint!r} cannot name an index")
    return COLLECTION_PREFIX + fingerprint


def staging_name(checkpoint_fingerprint: str) -> str:
    """The collection a ``--rebuild`` writes before it replaces the checkpoint's
    (``model.index.rebuild``); readers never list it as an index."""
    return STAGING_PREFIX + collection_name(checkpoint_fingerprint)


def swapping_name(checkpoint_fingerprint: str) -> str:
    """The rebuilt collection's name while the old one is deleted (readers wait for it)."""
    return SWAPPING_PREFIX + collection_name(checkpoint_fingerprint)
