"""Patient-bootstrap intervals of the retrieval figures (R@k, median rank, precision@10)."""

from __future__ import annotations

import numpy as np
import pytest

from model.evaluation.metrics import percentile_ci, resampling_units
from model.evaluation.retrieval import blank_by_construction
from model.evaluation.retrieval_intervals import (
    precision_intervals,
    rank_intervals,
    weighted_medians,
)


def _reference_resamples(groups: np.ndarray, resamples: int, seed: int) -> list[np.ndarray]:
    """Each resample's queries, written out: patients drawn one resample at a time with the
    bootstrap's generator, every query of a drawn patient taken once per draw."""
    units = resampling_units(len(groups), groups)
    n_units = int(units.max()) + 1
    rng = np.random.default_rng(seed)
    members = [np.flatnonzero(units == u) for u in range(n_units)]
    drawn = []
    for _ in range(resamples):
        patients = rng.integers(0, n_units, size=n_units)
        drawn.append(np.concatenate([members[p] for p in patients]))
    return drawn


def _case(seed: int = 3, n: int = 40) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    ranks = rng.integers(1, 25, size=n)
    groups = np.array([f"p{k}" for k in rng.integers(0, 15, size=n)])  # 1 to several studies
    return ranks, groups


def test_rank_intervals_equal_a_loop_over_resampled_patients() -> None:
    ranks, groups = _case()
    row = rank_intervals(ranks, groups, resamples=200, seed=11)
    drawn = _reference_resamples(groups, 200, 11)
    for k in (1, 5, 10):
        expected = percentile_ci(np.array([(ranks[q] <= k).mean() for q in drawn]))
        assert (row[f"R@{k}_lo"], row[f"R@{k}_hi"]) == pytest.approx(expected)
    expected = percentile_ci(np.array([np.median(ranks[q]) for q in drawn]))
    assert (row["median_rank_lo"], row["median_rank_hi"]) == pytest.approx(expected)
    assert row["R@10_lo"] < row["R@10_hi"]  # an interval, not a point


def test_precision_intervals_equal_a_loop_over_the_used_queries() -> None:
    """Queries without labels, or without a precision (NaN), are carried by their patient's
    draws but never averaged: the reference drops them from each resample."""
    rng = np.random.default_rng(4)
    _, groups = _case(seed=4)
    precision = rng.integers(0, 11, size=len(groups)) / 10.0
    precision[[2, 9]] = np.nan
    used = rng.random(len(groups)) > 0.2
    row = precision_intervals({"p": precision}, used, groups, resamples=150, seed=2)
    drawn = _reference_resamples(groups, 150, 2)
    counted = used & np.isfinite(precision)
    expected = percentile_ci(
        np.array([precision[q[counted[q]]].mean() if counted[q].any() else np.nan for q in drawn])
    )
    assert (row["p_lo"], row["p_hi"]) == pytest.approx(expected)


def test_one_study_per_patient_is_a_study_bootstrap() -> None:
    ranks, _ = _case(seed=8, n=30)
    patients = np.array([f"patient-{i}" for i in range(30)])
    by_patient = rank_intervals(ranks, patients, resamples=100, seed=5)
    by_study = rank_intervals(ranks, np.arange(30), resamples=100, seed=5)
    assert by_patient == pytest.approx(by_study)
    drawn = np.random.default_rng(5).integers(0, 30, size=(100, 30))  # studies drawn directly
    expected = percentile_ci(np.array([(ranks[q] <= 5).mean() for q in drawn]))
    assert (by_patient["R@5_lo"], by_patient["R@5_hi"]) == pytest.approx(expected)


def test_weighted_median_is_the_median_of_the_repeated_values() -> None:
    rng = np.random.default_rng(0)
    values = rng.integers(1, 9, size=12).astype(float)
    weights = rng.integers(0, 3, size=(30, 12))
    weights[0] = 0
    weights[0, 3] = 2  # a single value drawn twice
    expected = [np.median(np.repeat(values, w)) if w.sum() else np.nan for w in weights]
    assert weighted_medians(values, weights) == pytest.approx(np.array(expected), nan_ok=True)


def test_no_resamples_or_one_query_give_blank_intervals() -> None:
    ranks, groups = _case()
    assert all(np.isnan(v) for v in rank_intervals(ranks, groups, 0, 0).values())
    assert all(np.isnan(v) for v in rank_intervals(ranks[:1], groups[:1], 50, 0).values())


def test_a_figure_blank_by_construction_has_a_blank_interval() -> None:
    row = {"R@1": 0.5, "R@10": 1.0, "R@10_lo": 1.0, "R@10_hi": 1.0, "R@1_lo": 0.2}
    row |= {"label_precision@10": 0.4, "label_precision@10_lo": 0.3}
    blanked = blank_by_construction(row, 8)
    assert blanked == ["R@10", "label_precision@10"]  # the message names the figures only
    assert np.isnan([row["R@10_lo"], row["R@10_hi"], row["label_precision@10_lo"]]).all()
    assert row["R@1_lo"] == 0.2
