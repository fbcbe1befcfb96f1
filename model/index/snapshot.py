"""An in-memory copy of one index collection for exact filtered search.

Chroma evaluates metadata filters in SQLite; at 100,000 studies a two-field filter costs about
200 ms before any vector is scored, and filtered HNSW can miss true neighbours. A long-lived reader
(the dashboard) instead keeps ids, vectors and metadata in memory (about 110 MB per 100,000
studies of 256-d vectors), evaluates the filter with ``model.index.filters`` and scores
every matching study exactly with one matrix product: exact results in a few milliseconds.

The copy is tied to the collection's ``revision`` (bumped by every indexing run), so a reader
reloads it after the writer finishes.

Every stored vector is a unit vector (``IndexRecords`` holds unit vectors). Chroma keeps each one as a
direction in ``data_level0.bin`` and its length in ``length.bin``; a truncated or zeroed
``length.bin`` (a disk fault, a copy cut short) makes Chroma hand back zero vectors without an
error, which would rank every study alike. ``check_unit_vectors`` turns that into ``DamagedIndex``.
"""

from __future__ import annotations

import json
import logging
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd
from chromadb.api.models.Collection import Collection

from model.errors import DamagedIndex
from model.index.filters import Where, evaluate_where

log = logging.getLogger(__name__)

PAGE_SIZE = 5000  # Chroma's SQLite refuses very large IN (...) lists; read in pages
CACHED_FILTERS = 4
UNIT_TOLERANCE = 1e-3  # float32 unit vectors are within 1e-6 of length 1


def check_unit_vectors(ids: list[str] | np.ndarray, vectors: np.ndarray) -> None:
    """Raise ``DamagedIndex`` unless every row of ``vectors`` float32 [N, D] has length 1."""
    if not len(ids):
        return
    lengths = np.linalg.norm(np.asarray(vectors, dtype=np.float64), axis=1)
    bad = np.flatnonzero(~(np.abs(lengths - 1.0) <= UNIT_TOLERANCE))  # NaN counts as bad
    if bad.size:
        raise DamagedIndex(
            f"{bad.size:,} of {len(ids):,} stored study vectors are damaged (study "
            f"{ids[bad[0]]} has length {lengths[bad[0]]:.3g}, not 1): the index files were cut "
            "short or overwritten"
        )


@dataclass
class CollectionSnapshot:
    """ids [N], ``vectors`` float32 [N, D] unit-norm, ``metadata`` frame [N, fields]."""

    revision: str
    ids: np.ndarray
    vectors: np.ndarray
    metadata: pd.DataFrame
    _candidates: dict[str, tuple[np.ndarray, np.ndarray]] = field(default_factory=dict)

    @classmethod
    def load(cls, collection: Collection, revision: str) -> CollectionSnapshot:
        """Read every record of ``collection`` page by page."""
        ids: list[str] = []
        vectors: list[np.ndarray] = []
        metadatas: list[dict[str, Any]] = []
        offset = 0
        while True:
            page = collection.get(
                include=["embeddings", "metadatas"], limit=PAGE_SIZE, offset=offset
            )
            if not page["ids"]:
                break
            ids.extend(page["ids"])
            vectors.append(np.asarray(page["embeddings"], dtype=np.float32))
            metadatas.extend(dict(m or {}) for m in page["metadatas"] or [])
            offset += len(page["ids"])
        metadata = pd.DataFrame.from_records(metadatas, index=range(len(ids)))
        for column in metadata.columns:
            if metadata[column].dtype == object:  # categories make equality filters ~10x faster
                metadata[column] = metadata[column].astype("category")
        dim = vectors[0].shape[1] if vectors else 0
        matrix = np.concatenate(vectors) if vectors else np.zeros((0, dim), dtype=np.float32)
        check_unit_vectors(ids, matrix)
        log.info("loaded %d indexed studies into memory for exact filtered search", len(ids))
        return cls(
            revision=revision,
            ids=np.asarray(ids, dtype=object),
            vectors=matrix,
            metadata=metadata,
        )

    def candidates(self, where: Where) -> tuple[np.ndarray, np.ndarray]:
        """Rows matching ``where`` (int [M]) and their vectors (float32 [M, D]), cached per filter.

        A dashboard asks many queries under one filter, so the filter is evaluated and the
        matching vectors gathered once.
        """
        key = json.dumps(where, sort_keys=True)
        if key not in self._candidates:
            if len(self._candidates) >= CACHED_FILTERS:
                self._candidates.pop(next(iter(self._candidates)))
            rows = np.flatnonzero(evaluate_where(where, self.metadata))
            self._candidates[key] = (rows, np.take(self.vectors, rows, axis=0))
        return self._candidates[key]

    def top_k(self, query: np.ndarray, where: Where, k: int) -> list[tuple[int, float]]:
        """Exact cosine top-k among the rows matching ``where`` (canonical filter).

        ``query`` float32 [D] unit-norm; returns (row, similarity) pairs, best first.
        """
        rows, matrix = self.candidates(where)
        if rows.size == 0:
            return []
        # einsum's own loop, not multi-threaded BLAS: on a busy 2-core machine OpenBLAS threads
        # contend and one matrix-vector product takes 20 ms instead of under 1 ms
        scores = np.einsum("ij,j->i", matrix, query)
        k = min(k, rows.size)
        best = np.argpartition(-scores, k - 1)[:k]
        best = best[np.lexsort((rows[best], -scores[best]))]
        return [(int(rows[i]), float(scores[i])) for i in best]
