"""Few-shot intervals: a two-level bootstrap over episodes and patients, as a reviewer comparing
k-shot with zero-shot needs (the old mean ± 1.96 SE over episodes ignored the test patients)."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from model.evaluation import fewshot_intervals
from model.evaluation.fewshot import FewShotConfig, evaluate_label
from model.evaluation.fewshot_intervals import (
    PatientDraws,
    episode_draws,
    interval_rng,
    two_level_means,
)
from model.evaluation.metrics import bootstrap_counts, percentile_ci
from model.evaluation.weighted_auc import weighted_auc_columns


def test_weighted_auc_matches_sklearn_with_ties_and_zero_weights() -> None:
    rng = np.random.default_rng(3)
    for n, distinct in ((40, 5), (200, 30), (300, 10_000)):
        scores = rng.integers(0, distinct, n) / 7.0  # few distinct values: many mixed ties
        labels = rng.random(n) < 0.35
        weights = rng.poisson(1.0, (n, 25))  # bootstrap-like counts, zeros included
        expected = [roc_auc_score(labels, scores, sample_weight=weights[:, r]) for r in range(25)]
        np.testing.assert_allclose(weighted_auc_columns(scores, labels, weights), expected)


def test_weighted_auc_stays_exact_with_large_weights() -> None:
    """Pair counts past float32's whole numbers (2**24) are summed in float64."""
    rng = np.random.default_rng(4)
    scores, labels = rng.normal(size=400), rng.random(400) < 0.5
    weights = rng.integers(0, 3000, (400, 3))
    expected = [roc_auc_score(labels, scores, sample_weight=weights[:, r]) for r in range(3)]
    np.testing.assert_allclose(weighted_auc_columns(scores, labels, weights), expected, rtol=1e-12)


def test_weighted_auc_without_a_class_is_nan() -> None:
    weights = np.array([[1, 0], [1, 2], [0, 1]])
    auc = weighted_auc_columns(np.array([0.1, 0.2, 0.3]), np.array([1, 0, 0]), weights)
    assert auc[0] == 0.0 and np.isnan(auc[1])  # column 1 weighs no positive


def _interval(
    scores: np.ndarray,
    labels: np.ndarray,
    queries: np.ndarray,
    patients: PatientDraws,
    rng: np.random.Generator,
) -> tuple[float, float]:
    """A few-shot point's interval as ``fewshot._CurvePoint`` takes it: the percentile interval
    of ``two_level_means``."""
    return percentile_ci(two_level_means([scores], labels, queries, patients, rng)[0])


def _slow_interval(
    scores: np.ndarray,
    labels: np.ndarray,
    queries: np.ndarray,
    groups: np.ndarray,
    resamples: int,
    seed: int,
    rng: np.random.Generator,
) -> tuple[float, float]:
    """The two-level bootstrap written out pair by pair, on the same draws."""
    episodes, n = scores.shape
    drawn = episode_draws(episodes, resamples, rng)
    counts = np.concatenate(list(bootstrap_counts(n, resamples, seed, groups)))
    means = []
    for r in range(resamples):
        total = weight = 0.0
        for e in range(episodes):
            pairs = concordant = 0.0
            for i in range(n):
                for j in range(n):
                    if queries[e, i] and queries[e, j] and labels[i] and not labels[j]:
                        w = counts[r, i] * counts[r, j]
                        pairs += w
                        if scores[e, i] > scores[e, j]:
                            concordant += w
                        elif scores[e, i] == scores[e, j]:
                            concordant += 0.5 * w
            if drawn[r, e] and pairs:
                total += drawn[r, e] * concordant / pairs
                weight += drawn[r, e]
        means.append(total / weight if weight else np.nan)
    low, high = np.percentile(np.array(means)[np.isfinite(means)], [2.5, 97.5])
    return float(low), float(high)


def test_the_interval_matches_a_plain_two_level_bootstrap() -> None:
    rng = np.random.default_rng(0)
    episodes, n = 5, 18
    labels = rng.random(n) < 0.4
    scores = np.round(rng.normal(size=(episodes, n)) + labels, 1)  # rounding makes ties
    queries = rng.random((episodes, n)) < 0.8
    groups = np.array([f"p{i // 3}" for i in range(n)])  # three studies per patient
    fast = _interval(
        scores, labels, queries, PatientDraws(n, 60, 4, groups), interval_rng(4, 2, "lge")
    )
    slow = _slow_interval(scores, labels, queries, groups, 60, 4, interval_rng(4, 2, "lge"))
    assert fast == pytest.approx(slow, abs=1e-12)


def test_a_patient_s_repeat_studies_are_drawn_together() -> None:
    """Each patient scanned twice with the same result: drawn by patient, the interval is that of
    the patients' single studies; drawn study by study it would be narrower than the data
    allow."""
    rng = np.random.default_rng(1)
    episodes, patients = 8, 30
    labels = rng.random(patients) < 0.5
    scores = rng.normal(size=(episodes, patients)) + labels
    queries = np.ones((episodes, patients), dtype=bool)
    once = _interval(
        scores, labels, queries, PatientDraws(patients, 400, 0, None), interval_rng(0, 1, "x")
    )
    twice = [np.repeat(values, 2, axis=-1) for values in (scores, labels, queries)]
    groups = np.repeat(np.arange(patients), 2)
    draws = PatientDraws(2 * patients, 400, 0, groups)
    for block in draws.blocks():
        np.testing.assert_array_equal(block[0::2], block[1::2])  # a patient's studies alike
    by_patient = _interval(*twice, draws, interval_rng(0, 1, "x"))
    by_study = _interval(*twice, PatientDraws(2 * patients, 400, 0, None), interval_rng(0, 1, "x"))
    assert by_patient == pytest.approx(once, abs=1e-12)
    assert by_study[1] - by_study[0] < 0.85 * (by_patient[1] - by_patient[0])


def _site(patients: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One study per patient, a label the embeddings predict only in part."""
    rng = np.random.default_rng(seed)
    labels = rng.random(patients) < 0.4
    direction = np.eye(16)[0]
    x = rng.normal(size=(patients, 16)) + 0.8 * np.where(labels[:, None], 1.0, -1.0) * direction
    groups = np.array([f"p{i}" for i in range(patients)])
    return x / np.linalg.norm(x, axis=1, keepdims=True), labels.astype(int), groups


def test_the_interval_widens_when_test_patients_are_few() -> None:
    """With 40 test patients the AUC is far less certain than with 400; the old mean ± 1.96 SE
    over episodes shrank with the episodes alone and was narrower still."""
    config = FewShotConfig(shots=(4,), episodes=40)
    widths = {}
    for patients in (40, 400):
        x, labels, groups = _site(patients)
        row = evaluate_label(x, labels, "lge", config, groups=groups, resamples=300)
        row = row.set_index("method").loc["prototype"]
        assert row["auc_lo"] < row["auc"] < row["auc_hi"]
        widths[patients] = row["auc_hi"] - row["auc_lo"]
        episodes_only = 2 * 1.96 * row["auc_sd"] / np.sqrt(row["episodes"])
        assert widths[patients] > episodes_only
    assert widths[40] > 2 * widths[400]


def test_the_interval_is_reproducible_and_absent_without_resamples() -> None:
    x, labels, groups = _site(60)
    config = FewShotConfig(shots=(1, 2), episodes=10)
    first = evaluate_label(x, labels, "lge", config, groups=groups, resamples=50)
    again = evaluate_label(x, labels, "lge", config, groups=groups, resamples=50)
    np.testing.assert_array_equal(first[["auc_lo", "auc_hi"]], again[["auc_lo", "auc_hi"]])
    other = evaluate_label(x, labels, "lge", config, groups=groups, resamples=50, bootstrap_seed=1)
    assert not np.array_equal(first["auc_lo"], other["auc_lo"])
    np.testing.assert_array_equal(first["auc"], other["auc"])  # the point estimate is the same
    none = evaluate_label(x, labels, "lge", config, groups=groups, resamples=0)
    assert none[["auc_lo", "auc_hi"]].isna().all().all()
    np.testing.assert_array_equal(none["auc"], first["auc"])


def test_a_large_site_s_resamples_in_blocks_give_the_same_interval(monkeypatch) -> None:
    """A site too large to hold every resample at once is re-weighted block by block (the draws
    of ``bootstrap_counts``, read in order): the interval is the one of all resamples at once."""
    rng = np.random.default_rng(5)
    episodes, n = 6, 40
    labels = rng.random(n) < 0.4
    scores = rng.normal(size=(episodes, n)) + labels
    queries = rng.random((episodes, n)) < 0.9
    groups = np.arange(n) // 2
    whole = _interval(
        scores, labels, queries, PatientDraws(n, 90, 2, groups), interval_rng(2, 4, "lge")
    )
    monkeypatch.setattr("model.evaluation.metrics.BOOTSTRAP_CELLS", n * 7)
    kept = PatientDraws(n, 90, 2, groups)  # drawn in blocks, kept as one
    assert len(list(kept.blocks())) == 1
    joined = _interval(scores, labels, queries, kept, interval_rng(2, 4, "lge"))
    monkeypatch.setattr("model.evaluation.fewshot_intervals.KEPT_CELLS", n * 7)
    draws = PatientDraws(n, 90, 2, groups)
    assert len(list(draws.blocks())) == 13  # 90 resamples, 7 at a time
    blocked = _interval(scores, labels, queries, draws, interval_rng(2, 4, "lge"))
    assert joined == pytest.approx(whole, abs=1e-12)
    assert blocked == pytest.approx(whole, abs=1e-12)


def test_a_point_s_methods_share_one_pass_over_the_patient_draws(monkeypatch) -> None:
    """At a site too large to keep its patient draws, a few-shot point draws them once for its
    three methods, not once per method; each method's interval is the one it gets alone."""
    x, labels, groups = _site(60)
    config = FewShotConfig(shots=(1, 2), episodes=10)
    prior = 3 * x[:, 0]
    kept = evaluate_label(x, labels, "lge", config, prior, groups, resamples=50)
    monkeypatch.setattr(fewshot_intervals, "KEPT_CELLS", 0)
    calls = []
    draw = fewshot_intervals.bootstrap_counts
    monkeypatch.setattr(
        fewshot_intervals, "bootstrap_counts", lambda *args: calls.append(args) or draw(*args)
    )
    drawn = evaluate_label(x, labels, "lge", config, prior, groups, resamples=50)
    assert len(calls) == 2 and set(drawn["method"]) == {"prototype", "logistic", "prompted"}
    pd.testing.assert_frame_equal(drawn, kept)
    rng = np.random.default_rng(7)
    scores = [rng.normal(size=(5, 60)) + labels for _ in range(2)]
    queries = rng.random((5, 60)) < 0.8
    draws = PatientDraws(60, 40, 3, groups)
    together = two_level_means(scores, labels, queries, draws, interval_rng(3, 1, "x"))
    for alone, method in zip(together, scores, strict=True):
        once = two_level_means([method], labels, queries, draws, interval_rng(3, 1, "x"))
        np.testing.assert_array_equal(alone, once[0])
