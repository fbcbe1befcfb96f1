"""UMAP maps from our own neighbour graph: ``cosine_knn`` against scikit-learn's brute-force
cosine neighbours on seeded random data, and ``fit_projection``'s UMAP keeping separate groups
apart, reproducibly, without warnings."""

from __future__ import annotations

import warnings

import numpy as np
import pytest
from sklearn.neighbors import NearestNeighbors

from model import projection
from model.projection import ProjectionConfig, cosine_knn, fit_projection


@pytest.mark.parametrize(("n", "k"), [(7, 3), (60, 15), (300, 15)])
def test_cosine_knn_matches_brute_force_neighbours(n: int, k: int) -> None:
    rng = np.random.default_rng(n)
    vectors = (rng.standard_normal((n, 24)) * rng.uniform(0.1, 5.0, (n, 1))).astype(np.float32)
    indices, distances = cosine_knn(vectors, k)
    reference = NearestNeighbors(n_neighbors=k, metric="cosine", algorithm="brute").fit(vectors)
    ref_distances, ref_indices = reference.kneighbors(vectors)
    assert indices.shape == distances.shape == (n, k) and distances.dtype == np.float32
    assert (indices[:, 0] == np.arange(n)).all() and (distances[:, 0] == 0).all()
    np.testing.assert_allclose(distances, ref_distances, atol=1e-5)
    assert (np.diff(distances, axis=1) >= 0).all()
    same = [set(a) == set(b) for a, b in zip(indices, ref_indices, strict=True)]
    assert np.mean(same) > 0.95  # a row may differ only where two distances tie in float32


def test_cosine_knn_in_row_blocks_finds_what_one_block_does(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    vectors = np.random.default_rng(1).standard_normal((60, 8)).astype(np.float32)
    whole = cosine_knn(vectors, 10)
    monkeypatch.setattr(projection, "KNN_ROWS", 7)  # 9 blocks, the last one short
    blocks = cosine_knn(vectors, 10)
    np.testing.assert_array_equal(blocks[0], whole[0])
    np.testing.assert_allclose(blocks[1], whole[1], atol=1e-6)  # a product of another shape


def test_cosine_knn_reads_a_zero_vector_as_far_from_everything() -> None:
    vectors = np.array([[1, 0], [0.9, 0.1], [0, 0], [0, 1]], np.float32)
    indices, distances = cosine_knn(vectors, 2)
    assert indices[0].tolist() == [0, 1] and np.isfinite(distances).all()
    assert distances[2, 1] == pytest.approx(1.0)


def _two_groups(n: int) -> np.ndarray:
    """``n`` vectors [n, 32]: the first half around one direction, the rest around another."""
    rng = np.random.default_rng(0)
    centres = np.eye(32, dtype=np.float32)[[0, 1]]
    vectors = centres[(np.arange(n) >= n // 2).astype(int)] + 0.15 * rng.standard_normal((n, 32))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


@pytest.mark.parametrize("n", [24, 80])
def test_a_umap_map_keeps_separate_groups_apart_the_same_way_each_time(n: int) -> None:
    vectors = _two_groups(n)
    ids = [f"s{i}" for i in range(n)]
    with warnings.catch_warnings():
        warnings.simplefilter("error", UserWarning)
        first = fit_projection(ids, vectors, ProjectionConfig(n_epochs=100))
    again = fit_projection(ids, vectors, ProjectionConfig(n_epochs=100))
    np.testing.assert_array_equal(first.coords, again.coords)
    groups = np.arange(n) >= n // 2
    centres = np.stack([first.coords[~groups].mean(0), first.coords[groups].mean(0)])
    nearest = np.linalg.norm(first.coords[:, None] - centres[None], axis=2).argmin(1)
    assert (nearest == groups).all()
