"""2-D maps of study embeddings: UMAP (cosine) fitted on a sample, or PCA.

UMAP is fitted on at most ``fit_sample`` studies; every other study, and every prompt embedding,
is placed at the similarity-weighted mean position of its ``place_neighbors`` most similar fitted
studies (one matrix product), which is how UMAP's own ``transform`` initialises new points but
without its per-point optimisation (the slow part at 10,000 studies). UMAP compiles its numba
kernels on first use in a process, so the dashboard keeps each fitted map on disk
(``model/projection_store.py``); PCA is the instant linear alternative.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import numpy as np

from model.errors import DataError

log = logging.getLogger(__name__)
METHODS = ("UMAP", "PCA")
MIN_STUDIES = {"UMAP": 5, "PCA": 2}  # UMAP's neighbour graph needs a few; a line needs two


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
    reducer = _umap(config, len(sample)) if config.method == "UMAP" else _pca(config)
    vectors = np.asarray(vectors, np.float32)
    anchor_coords = np.asarray(reducer.fit_transform(vectors[sample]), np.float32)
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


def _umap(config: ProjectionConfig, n_fit: int) -> Any:
    import umap

    return umap.UMAP(
        n_neighbors=max(2, min(config.n_neighbors, n_fit - 1)),
        min_dist=config.min_dist,
        n_epochs=config.n_epochs,
        metric="cosine",
        random_state=config.seed,
        init="random" if n_fit < 50 else "spectral",
        n_jobs=1,
    )
