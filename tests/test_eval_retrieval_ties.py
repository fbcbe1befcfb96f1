"""Retrieval with tied similarities: ties are broken at random, in expectation, never in the
query's favour (a collapsed model, every embedding alike, scored R@1 = 1) nor by position."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from model.evaluation.retrieval import (
    QueryRanks,
    bidirectional_retrieval,
    label_consistent_precision,
    label_precision_bounds,
    retrieval_ranks,
    summarise_ranks,
)
from model.evaluation.retrieval_intervals import rank_intervals


def _reference(similarity: np.ndarray, correct: np.ndarray, k: int) -> tuple[float, float]:
    """(P(rank <= k), expected rank) of one query, written out: every order of the candidates
    tied at each score is equally likely; the rank is the position of the first correct one."""
    scores = sorted(set(similarity.tolist()), reverse=True)
    groups = [np.flatnonzero(similarity == s).tolist() for s in scores]
    orders = [list(itertools.permutations(g)) for g in groups]
    ranks = []
    for choice in itertools.product(*orders):
        ranking = [c for group in choice for c in group]
        ranks.append(1 + next(i for i, c in enumerate(ranking) if correct[c]))
    ranks_array = np.array(ranks, dtype=float)
    return float((ranks_array <= k).mean()), float(ranks_array.mean())


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_tied_ranks_equal_every_order_of_the_ties_written_out(seed: int) -> None:
    rng = np.random.default_rng(seed)
    similarity = rng.integers(0, 3, size=(6, 7)).astype(float)  # coarse: many ties
    correct = rng.random((6, 7)) < 0.3
    correct[np.arange(6), rng.integers(0, 7, 6)] = True
    ranks = retrieval_ranks(similarity, correct)
    for q in range(6):
        for k in (1, 2, 3, 5):
            within, expected = _reference(similarity[q], correct[q], k)
            assert ranks.within(k)[q] == pytest.approx(within), (q, k)
        assert ranks.expected()[q] == pytest.approx(expected), q


def test_a_collapsed_model_retrieves_at_chance_not_perfectly() -> None:
    """Every study and report embedded alike: every candidate ties, so R@1 is the chance of
    drawing a correct report first, 1 / n with distinct impressions."""
    n = 20
    vectors = np.ones((n, 4)) / 2.0
    texts = [f"impression {i}" for i in range(n)]
    result = bidirectional_retrieval(vectors, vectors, texts)
    for direction in ("report_to_study", "study_to_report"):
        assert result[direction].recall[1] == pytest.approx(1 / n)
        assert result[direction].recall[10] == pytest.approx(10 / n)
        assert result[direction].median_rank == pytest.approx((n + 1) / 2)


def test_untied_ranks_are_whole_ranks() -> None:
    similarity = np.array([[0.9, 0.5, 0.1], [0.8, 0.7, 0.9], [0.1, 0.2, 0.3]])
    ranks = retrieval_ranks(similarity, np.eye(3, dtype=bool))
    np.testing.assert_array_equal(ranks.expected(), [1, 3, 1])
    assert summarise_ranks(ranks) == summarise_ranks(np.array([1, 3, 1]))
    assert ranks.within(2).tolist() == [1.0, 0.0, 1.0]


def test_rank_intervals_of_tied_ranks_average_the_chance_of_each_query() -> None:
    ranks = QueryRanks(
        above=np.array([0, 0, 1, 3]),
        tied_wrong=np.array([1, 3, 0, 2]),
        tied_correct=np.array([1, 1, 1, 2]),
    )
    groups = np.array(["a", "b", "c", "d"])
    row = rank_intervals(ranks, groups, resamples=300, seed=4)
    drawn = np.random.default_rng(4).integers(0, 4, size=(300, 4))
    within = ranks.within(1)  # 1/2, 1/4, 0, 0
    np.testing.assert_allclose(within, [0.5, 0.25, 0.0, 0.0])
    low, high = np.percentile(within[drawn].mean(axis=1), [2.5, 97.5])
    assert (row["R@1_lo"], row["R@1_hi"]) == pytest.approx((low, high))


def test_precision_of_tied_neighbours_is_their_expected_share() -> None:
    """A report whose candidates all tie picked its top 10 by position in the dataset: the
    first 10 studies, consistent or not. With the ties in random order its precision is the
    consistent share of the tied candidates, its chance level."""
    n = 30
    consistent = np.zeros((n, n), dtype=bool)
    consistent[:, :12] = True  # the first studies agree with every query, the rest with none
    similarity = np.zeros((n, n))
    precision = label_consistent_precision(similarity, consistent)
    _, chance = label_precision_bounds(consistent)
    np.testing.assert_allclose(precision, chance)
    # a tie only at the edge of the top 3: two above it, then one of three tied candidates
    row = np.array([[9.0, 5.0, 4.0, 1.0, 1.0, 1.0, 0.0]])
    agree = np.array([[False, True, False, True, False, False, True]])
    assert label_consistent_precision(row, agree, at=3)[0] == pytest.approx((1 + 1 / 3) / 3)
