"""2-D maps of study embeddings: UMAP (cosine) fitted on a sample, or PCA.

UMAP is fitted on at most ``fit_sample`` studies; every other study, and every prompt embedding,
is placed at the similarity-weighted mean position of its ``place_neighbors`` most similar fitted
studies (one matrix product), which is how UMAP's own ``transform`` initialises new points but
without its per-point optimisation (the slow part at 10,000 studies). UMAP compiles its numba
kernels on first use in a process, so the dashboard keeps each fitted map on disk
(``model/projection_store.py``); PCA is the instant linear alternative.

UMAP is handed its neighbour graph (``cosine_knn``: exact, one matrix product over the at most
``fit_sample`` fitted studies) rather than finding it itself: its own search compiled another
set of numba kernels: a fresh process's first fit of 2,000 studies took 17.8 s, now 7.0 s on a
2-core machine (``bench/bench_map_first_fit.py``, ``bench/RESULTS.md`` session 55). The graph is
the one UMAP builds from the same neighbours; the layout is another draw of the same seeded
optimisation.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import Any

import numpy as np

from model.errors import DataError

log = logging.getLogger(__name__)
METHODS = ("UMAP", "PCA")
MIN_STUDIES = {"UMAP": 5, "PCA": 2}  # UMAP's neighbour graph needs a few; a line needs two
KNN_ROWS = 1024  # rows of the distance matrix ``cosine_knn`` holds at once


@dataclass(frozen=True)
class ProjectionConfig:
    """Map settings; ``fit_sample`` bounds how many studies the reducer is fitted on."""

    method: str = "UMAP"
    n_neighbors: int = 15
    min_dist: float = 0.1
    fit_sample: int = 2000
    n_epochs: int = 200
    place_neighbors: int = 10
    seed: int = 0


@dataclass
class Projection:
    """Study coordinates float32 [N, 2] (rows follow ``ids``) and what places new vectors.

    ``anchors`` [S, D] unit-norm are the fitted studies (rows ``sample`` of the embeddings),
    ``anchor_coords`` [S, 2] their positions.
    """

    ids: list[str]
    coords: np.ndarray
    sample: np.ndarray
    anchors: np.ndarray
    anchor_coords: np.ndarray
    neighbors: int = 10

    def place(self, vectors: np.ndarray) -> np.ndarray:
        """Coordinates float32 [M, 2] of unit-norm vectors [M, D] (e.g. prompt embeddings)."""
        return knn_place(
            np.asarray(vectors, np.float32), self.anchors, self.anchor_coords, self.neighbors
        )


def knn_place(
    vectors: np.ndarray, anchors: np.ndarray, anchor_coords: np.ndarray, k: int
) -> np.ndarray:
    """Similarity-weighted mean position of each vector's ``k`` most similar anchors.

    vectors [M, D], anchors [S, D] (unit-norm), anchor_coords [S, 2] -> float32 [M, 2].
    """
    if len(vectors) == 0:
        return np.zeros((0, 2), np.float32)
    k = max(1, min(k, len(anchors)))
    out = np.empty((len(vectors), 2), np.float32)
    for start in range(0, len(vectors), 2048):
        sims = vectors[start : start + 2048] @ anchors.T
        top = np.argpartition(-sims, k - 1, axis=1)[:, :k]
        weights = np.exp(10.0 * np.take_along_axis(sims, top, axis=1))
        weights /= weights.sum(axis=1, keepdims=True)
        out[start : start + 2048] = np.einsum("mk,mkc->mc", weights, anchor_coords[top])
    return out


def fit_projection(
    ids: list[str], vectors: np.ndarray, config: ProjectionConfig | None = None
) -> Projection:
    """UMAP (cosine) or PCA of ``vectors`` float32 [N, D] -> coords [N, 2]; needs ``MIN_STUDIES``."""
    config = config or ProjectionConfig()
    n = len(ids)
    if config.method not in METHODS:
        raise DataError(f"unknown map method {config.method!r}; use one of {', '.join(METHODS)}")
    if n < MIN_STUDIES[config.method]:
        fewer = [m for m in METHODS if MIN_STUDIES[m] <= n]
        raise DataError(
            f"a {config.method} map needs at least {MIN_STUDIES[config.method]} studies; this "
            f"dataset has {n}" + (f" (choose {fewer[0]})" if fewer else "")
        )
    rng = np.random.default_rng(config.seed)
    sample = np.sort(rng.choice(n, size=min(n, config.fit_sample), replace=False))
    vectors = np.asarray(vectors, np.float32)
    if config.method == "UMAP":
        anchor_coords = _fit_umap(config, vectors[sample])
    else:
        anchor_coords = np.asarray(_pca(config).fit_transform(vectors[sample]), np.float32)
    coords = np.zeros((n, 2), np.float32)
    coords[sample] = anchor_coords
    rest = np.setdiff1d(np.arange(n), sample)
    coords[rest] = knn_place(vectors[rest], vectors[sample], anchor_coords, config.place_neighbors)
    log.info("%s of %d studies (fitted on %d)", config.method, n, len(sample))
    return Projection(
        list(ids), coords, sample, vectors[sample], anchor_coords, config.place_neighbors
    )


def _pca(config: ProjectionConfig) -> Any:
    from sklearn.decomposition import PCA

    return PCA(n_components=2, random_state=config.seed)


def cosine_knn(vectors: np.ndarray, k: int) -> tuple[np.ndarray, np.ndarray]:
    """Exact cosine neighbours, as UMAP finds them: vectors [N, D] (any norm) -> (indices
    int64 [N, k], cosine distances float32 [N, k]), nearest first: the study itself, at
    distance 0 (unless it has exact duplicates). Rows go ``KNN_ROWS`` at a time, so memory
    stays [KNN_ROWS, N] whatever ``fit_sample`` is."""
    norms = np.linalg.norm(vectors, axis=1, keepdims=True)
    unit = (vectors / np.where(norms > 0, norms, 1.0)).astype(np.float32)
    n = len(unit)
    indices = np.empty((n, k), np.int64)
    distances = np.empty((n, k), np.float32)
    for start in range(0, n, KNN_ROWS):
        rows = np.arange(start, min(start + KNN_ROWS, n))
        block = np.clip(1.0 - unit[rows] @ unit.T, 0.0, 2.0)
        block[np.arange(len(rows)), rows] = 0.0  # its own distance, free of rounding
        nearest = np.argpartition(block, k - 1, axis=1)[:, :k]
        near = np.take_along_axis(block, nearest, axis=1)
        order = np.lexsort((nearest, near), axis=1)  # by distance, then by index
        indices[rows] = np.take_along_axis(nearest, order, axis=1)
        distances[rows] = np.take_along_axis(near, order, axis=1)
    return indices, distances


def _fit_umap(config: ProjectionConfig, vectors: np.ndarray) -> np.ndarray:
    """UMAP (cosine) of vectors [S, D] -> coords float32 [S, 2], from ``cosine_knn``."""
    import umap

    k = max(2, min(config.n_neighbors, len(vectors) - 1))
    indices, distances = cosine_knn(vectors, k)
    reducer = umap.UMAP(
        n_neighbors=k,
        min_dist=config.min_dist,
        n_epochs=config.n_epochs,
        metric="cosine",
        random_state=config.seed,
        init="random" if len(vectors) < 50 else "spectral",
        n_jobs=1,
        precomputed_knn=(indices, distances, None),
    )
    with warnings.catch_warnings():  # no search index: only UMAP's transform needs one
        warnings.filterwarnings("ignore", message=r"precomputed_knn\[2\]", category=UserWarning)
        return np.asarray(reducer.fit_transform(vectors), np.float32)
