"""``EmbeddingIndex``: the case index of one model checkpoint, stored in ChromaDB.

One collection per checkpoint (``cmrclip-<checkpoint fingerprint>``), cosine space, ids =
study_id, the impression as the document, metadata as in ``model.index.records``. We always pass
our own vectors (``embedding_function=None``), so Chroma never loads or downloads a model.
Indexing a new checkpoint builds a new collection; the old one stays searchable until the
dashboard switches its active checkpoint. A ``--rebuild`` writes a staging collection and swaps
it in when it is whole (``model.index.rebuild``); readers wait out the swap's milliseconds, and
read the new collection when the old one was deleted under a read (``model.index.swap_wait``).

The class never imports torch: it takes vectors, metadata, a ``text_encoder`` callable
(``str -> float32 [D]`` unit-norm) and its Chroma client (``model.index.client.open_client``)
from the caller. One process at a time writes an embedded folder (``model.index.writer_lock``);
any number read, each keeping the HNSW graph it loaded in memory: a long-lived reader passes
``reopen`` (``lambda: reopen_client(location)``), reopened when a writer bumped the revision.

Search paths: a query without a filter goes to Chroma's HNSW graph (tuned by ``HnswParams``:
recall@10 1.00 at 100,000 studies). With ``exact_filters=True`` (the default for the CLI and the
dashboard) a filtered query is exact, scored in memory over a snapshot of the collection
(``model.index.snapshot``); otherwise Chroma filters inside its own search (slower at scale, and
approximate: recall@10 0.99 at 100,000 studies), except for filters with ``$ne`` / ``$nin``,
which Chroma would let match studies without the field (``model.index.filters.negates``).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
from chromadb.api import ClientAPI
from chromadb.api.models.Collection import Collection
from chromadb.errors import NotFoundError

from model.errors import CheckpointError, UserError
from model.index.collection_spec import (
    COLLECTION_PREFIX,
    CollectionInfo,
    HnswParams,
    collection_name,
)
from model.index.filters import Where, check_k, check_query, negates, normalize_where
from model.index.label_fields import label_fields
from model.index.snapshot import CollectionSnapshot, check_unit_vectors
from model.index.swap_wait import SwapWaiting

log = logging.getLogger(__name__)

INTERNAL_FIELDS = ("row_hash",)

TextEncoder = Callable[[str], np.ndarray]


@dataclass(frozen=True)
class SearchHit:
    """One search result: cosine ``similarity`` in [-1, 1], rank 1 = best."""

    rank: int
    study_id: str
    similarity: float
    impression: str
    metadata: dict[str, Any]


def clean_metadata(meta: dict[str, Any] | None) -> dict[str, Any]:
    return {k: v for k, v in (meta or {}).items() if k not in INTERNAL_FIELDS}


class EmbeddingIndex(SwapWaiting):
    """Search and write access to the index of one checkpoint; see the module docstring."""

    def __init__(
        self,
        client: ClientAPI,
        checkpoint_fingerprint: str,
        text_encoder: TextEncoder | None = None,
        hnsw: HnswParams | None = None,
        exact_filters: bool = True,
        reopen: Callable[[], ClientAPI] | None = None,
        name: str | None = None,
        unreadable: frozenset[str] = frozenset(),  # collections never to read: they crash
    ):
        self.client = client
        self.checkpoint = str(checkpoint_fingerprint)
        self.name = name or collection_name(self.checkpoint)
        self.text_encoder = text_encoder
        self.hnsw = hnsw or HnswParams()
        self.exact_filters = exact_filters
        self.reopen = reopen
        self._revision: str | None = None
        self._snapshot: CollectionSnapshot | None = None
        self._stalled_swap: str | None = None  # id of a swap that exists() waited out in vain
        self.unreadable = unreadable

    # ---- collections -------------------------------------------------------------------------
    def collections(self) -> list[CollectionInfo]:
        """Every checkpoint index held by this client (this one included), largest first,
        except those named in ``unreadable`` (``model.index.read_check``), which are not read."""
        infos = []
        for collection in self.client.list_collections():
            if not collection.name.startswith(COLLECTION_PREFIX):
                continue
            if collection.name in self.unreadable:
                continue
            meta = collection.metadata or {}
            try:
                count = collection.count()
            except NotFoundError:  # deleted since listed: a rebuild's swap, its new one follows
                continue
            infos.append(
                CollectionInfo(
                    name=collection.name,
                    checkpoint=str(
                        meta.get("checkpoint", collection.name[len(COLLECTION_PREFIX) :])
                    ),
                    count=count,
                    dim=meta.get("dim"),
                    revision=str(meta.get("revision", "")),
                )
            )
        return sorted(infos, key=lambda info: (-info.count, info.name))

    def collection(self) -> Collection:
        """This checkpoint's collection, or a ``CheckpointError`` listing the indexes there are.

        When another process finished writing since the last call (a new ``revision``) and a
        ``reopen`` callable was given, the client is reopened first to see the new vectors.
        """
        try:
            collection = self._get_collection()
        except NotFoundError:
            others = [f"{c.checkpoint[:12]} ({c.count} studies)" for c in self.collections()]
            hint = f"; indexes exist for checkpoints: {', '.join(others)}" if others else ""
            raise CheckpointError(
                f"no index for checkpoint {self.checkpoint[:12]}: run `python -m model index "
                f"--checkpoint CKPT --data DATASET` first{hint}"
            ) from None
        revision = str((collection.metadata or {}).get("revision", ""))
        if self._revision is not None and revision != self._revision and self.reopen:
            log.info("index %s changed on disk; reopening it", self.name)
            self.client = self.reopen()
            collection = self._get_collection()
        self._revision = revision
        return collection

    def create_collection(self, dim: int) -> Collection:
        """Get or create this checkpoint's collection for ``dim``-d vectors (checked)."""
        collection = self.client.get_or_create_collection(
            self.name,
            configuration=self.hnsw.configuration(),
            metadata={"checkpoint": self.checkpoint, "dim": int(dim), "revision": "empty"},
            embedding_function=None,
        )
        stored = (collection.metadata or {}).get("dim")
        if stored is not None and int(stored) != int(dim):
            raise CheckpointError(
                f"the index of checkpoint {self.checkpoint[:12]} holds {stored}-d vectors, "
                f"these are {dim}-d"
            )
        return collection

    def drop(self) -> None:
        """Delete this checkpoint's collection, if any (to rebuild a damaged one); other
        checkpoints' collections stay. Nothing of it is read first: reading a collection whose
        writer crashed replays that writer's log into the damaged graph, which crashes again."""
        if any(c.name == self.name for c in self.client.list_collections()):
            self.client.delete_collection(self.name)
        self._revision, self._snapshot = None, None

    def count(self) -> int:
        """Studies indexed; a 0 from a collection a rebuild's swap replaced is read again."""
        return self.read(lambda collection: collection.count(), missing=lambda n: n == 0)

    def revision(self) -> str:
        return str((self.collection().metadata or {}).get("revision", ""))

    def label_fields(self) -> frozenset[str]:
        """Its own label fields (``model.index.label_fields``), which filters may name."""
        return label_fields(self.collection().metadata)

    # ---- reading -----------------------------------------------------------------------------
    def get_studies(self, study_ids: list[str]) -> list[SearchHit]:
        """Metadata and impression of the given studies (in that order; unknown ids left out)."""
        if not study_ids:
            return []
        found = self.read(
            lambda collection: self._studies(collection, list(study_ids)),
            missing=lambda found: not found,
        )
        return [SearchHit(0, sid, float("nan"), *found[sid]) for sid in study_ids if sid in found]

    @staticmethod
    def _studies(collection: Collection, ids: list[str]) -> dict[str, tuple[str, dict[str, Any]]]:
        """study_id -> (impression, metadata) for the ids that are indexed."""
        if not ids:
            return {}
        found = collection.get(ids=ids, include=["metadatas", "documents"])
        rows = zip(found["ids"], found["documents"], found["metadatas"], strict=True)
        return {sid: (doc or "", clean_metadata(meta)) for sid, doc, meta in rows}

    def search_text(self, query: str, k: int = 10, where: Any = None) -> list[SearchHit]:
        """Top-k studies for a free-text query, embedded by the model's text tower."""
        if self.text_encoder is None:
            raise UserError("text search needs the checkpoint's text encoder")
        text = check_query(query)
        vector = np.asarray(self.text_encoder(text), dtype=np.float32).reshape(-1)
        return self.search_vector(vector, k=k, where=where)

    def search_like(self, study_id: str, k: int = 10, where: Any = None) -> list[SearchHit]:
        """Top-k studies most like ``study_id`` (by its study embedding), itself left out."""
        study_id = str(study_id).strip()
        found = self.read(
            lambda c: c.get(ids=[study_id], include=["embeddings"]),
            missing=lambda found: not found["ids"],
        )
        if not found["ids"]:
            raise UserError(
                f"study {study_id!r} is not in the index of checkpoint {self.checkpoint[:12]}"
            )
        vector = np.asarray(found["embeddings"][0], dtype=np.float32)
        check_unit_vectors([study_id], vector[None, :])
        k = check_k(k)
        hits = self._search_vector(vector, k + 1, where)  # one more: the study itself
        others = [hit for hit in hits if hit.study_id != study_id][:k]
        return [
            SearchHit(i + 1, h.study_id, h.similarity, h.impression, h.metadata)
            for i, h in enumerate(others)
        ]

    def search_vector(self, vector: np.ndarray, k: int = 10, where: Any = None) -> list[SearchHit]:
        """Top-k studies by cosine similarity to ``vector`` float32 [D], optionally filtered.

        Fewer than ``k`` hits come back when fewer studies are indexed or match the filter.
        """
        return self._search_vector(vector, check_k(k), where)

    def _search_vector(self, vector: np.ndarray, k: int, where: Any) -> list[SearchHit]:
        return self.read(
            lambda collection: self._search_in(collection, vector, k, where),
            missing=lambda hits: not hits,
        )

    def _search_in(
        self, collection: Collection, vector: np.ndarray, k: int, where: Any
    ) -> list[SearchHit]:
        where = normalize_where(where, label_fields(collection.metadata))
        vector = np.asarray(vector, dtype=np.float32).reshape(-1)
        dim = (collection.metadata or {}).get("dim")
        if dim is not None and vector.shape != (int(dim),):
            raise CheckpointError(
                f"the index of checkpoint {self.checkpoint[:12]} holds {dim}-d vectors but the "
                f"query is {vector.shape[-1]}-d: it was built by another model"
            )
        maybe_empty = dim is None or (collection.metadata or {}).get("count") == 0
        if maybe_empty and collection.count() == 0:
            return []
        vector = vector / max(float(np.linalg.norm(vector)), 1e-12)
        if where is not None and (self.exact_filters or negates(where)):
            return self._search_snapshot(collection, vector, k, where)
        return self._search_chroma(collection, vector, k, where)

    def _search_chroma(
        self, collection: Collection, vector: np.ndarray, k: int, where: Where | None
    ) -> list[SearchHit]:
        result = collection.query(
            query_embeddings=vector[None, :],
            n_results=k,
            where=where,
            include=["metadatas", "documents", "distances"],
        )
        rows = zip(
            result["ids"][0],
            result["distances"][0],
            result["documents"][0],
            result["metadatas"][0],
            strict=True,
        )
        return [
            SearchHit(i + 1, sid, 1.0 - float(dist), doc or "", clean_metadata(meta))
            for i, (sid, dist, doc, meta) in enumerate(rows)
        ]

    def _search_snapshot(
        self, collection: Collection, vector: np.ndarray, k: int, where: Where
    ) -> list[SearchHit]:
        snapshot = self.snapshot(collection)
        best = snapshot.top_k(vector, where, k)
        ids = [str(snapshot.ids[row]) for row, _ in best]
        found = self._studies(collection, ids)
        return [
            SearchHit(rank, sid, score, *found[sid])
            for rank, (sid, (_, score)) in enumerate(zip(ids, best, strict=True), start=1)
            if sid in found
        ]

    def snapshot(self, collection: Collection | None = None) -> CollectionSnapshot:
        """The in-memory copy used for exact filtered search, reloaded when the revision changes."""
        if collection is None:
            return self.read(self.snapshot, missing=lambda snapshot: len(snapshot.ids) == 0)
        revision = str((collection.metadata or {}).get("revision", ""))
        if self._snapshot is None or self._snapshot.revision != revision:
            started = time.perf_counter()
            self._snapshot = CollectionSnapshot.load(collection, revision)
            log.debug("snapshot loaded in %.1f s", time.perf_counter() - started)
        return self._snapshot
