"""Metrics against scikit-learn and hand-computed values on small fixed arrays."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.metrics import brier_score_loss, f1_score, roc_auc_score, roc_curve
from sklearn.metrics import confusion_matrix as sk_confusion

from model.evaluation.metrics import (
    auc_rows,
    binary_metrics,
    bootstrap_counts,
    brier_score,
    confusion_matrix,
    expected_calibration_error,
    multiclass_metrics,
    roc_curve_points,
    threshold_metrics_rows,
    weighted_auc_rows,
    weighted_threshold_metrics_rows,
)

SCORES = np.array([0.9, 0.8, 0.7, 0.6, 0.55, 0.4, 0.3, 0.3, 0.2, 0.1])
LABELS = np.array([1, 1, 0, 1, 0, 1, 0, 1, 0, 0])


def test_auc_matches_sklearn_with_ties() -> None:
    assert auc_rows(SCORES[None], LABELS[None])[0] == pytest.approx(roc_auc_score(LABELS, SCORES))


def test_auc_hand_computed() -> None:
    # positives 0.8, 0.3; negatives 0.5, 0.3: pairs (0.8>0.5)=1, (0.8>0.3)=1, (0.3<0.5)=0, tie=0.5
    auc = auc_rows(np.array([[0.8, 0.3, 0.5, 0.3]]), np.array([[1, 1, 0, 0]]))[0]
    assert auc == pytest.approx(2.5 / 4)


def test_auc_rows_with_valid_mask_equals_subset() -> None:
    rng = np.random.default_rng(3)
    scores = rng.random((5, 30))
    labels = rng.random((5, 30)) < 0.4
    valid = rng.random((5, 30)) < 0.7
    got = auc_rows(scores, labels, valid)
    for r in range(5):
        expected = roc_auc_score(labels[r][valid[r]], scores[r][valid[r]])
        assert got[r] == pytest.approx(expected)


def test_auc_nan_when_one_class() -> None:
    assert np.isnan(auc_rows(np.array([[0.1, 0.2]]), np.array([[1, 1]]))[0])


def test_threshold_metrics_hand_computed() -> None:
    p = np.array([0.9, 0.6, 0.4, 0.2, 0.7])
    y = np.array([1, 0, 1, 0, 1])
    # predicted 1 1 0 0 1 -> tp=2 fp=1 tn=1 fn=1
    out = threshold_metrics_rows(p[None], y[None])
    assert out["accuracy"][0] == pytest.approx(3 / 5)
    assert out["sensitivity"][0] == pytest.approx(2 / 3)
    assert out["specificity"][0] == pytest.approx(1 / 2)
    assert out["f1"][0] == pytest.approx(f1_score(y, p >= 0.5))


def test_binary_metrics_point_values_and_ci_contains_point() -> None:
    rng = np.random.default_rng(0)
    y = rng.random(200) < 0.3
    p = np.clip(0.3 * y + rng.random(200) * 0.7, 0, 1)
    result = binary_metrics(p, y, resamples=300, seed=1)
    assert result.auc == pytest.approx(roc_auc_score(y, p))
    assert result.n == 200 and result.n_positive == int(y.sum())
    low, high = result.ci["auc"]
    assert low < result.auc < high
    assert high - low < 0.3
    again = binary_metrics(p, y, resamples=300, seed=1)
    assert again.ci == result.ci


def test_roc_points_match_sklearn() -> None:
    fpr, tpr = roc_curve_points(SCORES, LABELS)
    sk_fpr, sk_tpr, _ = roc_curve(LABELS, SCORES, drop_intermediate=False)
    np.testing.assert_allclose(fpr, sk_fpr)
    np.testing.assert_allclose(tpr, sk_tpr)
    assert np.trapezoid(tpr, fpr) == pytest.approx(roc_auc_score(LABELS, SCORES))


def test_multiclass_metrics_match_sklearn() -> None:
    true = np.array([0, 0, 1, 1, 2, 2, 2, 3])
    pred = np.array([0, 1, 1, 1, 2, 0, 2, 2])
    out = multiclass_metrics(true, pred, n_classes=5)
    assert out["accuracy"] == pytest.approx(5 / 8)
    assert out["macro_f1"] == pytest.approx(f1_score(true, pred, average="macro"))
    np.testing.assert_array_equal(out["confusion"], sk_confusion(true, pred, labels=list(range(5))))
    assert confusion_matrix(true, pred, 5).sum() == 8


def test_bootstrap_counts_shape_and_totals() -> None:
    counts = np.concatenate(list(bootstrap_counts(7, 50, seed=3)))
    assert counts.shape == (50, 7) and (counts.sum(axis=1) == 7).all()
    np.testing.assert_array_equal(counts, np.concatenate(list(bootstrap_counts(7, 50, seed=3))))


def test_bootstrap_resamples_patients_with_all_of_their_studies() -> None:
    groups = np.array(["a", "b", "a", "c", "b", "a", "d"])
    counts = np.concatenate(list(bootstrap_counts(7, 200, seed=3, groups=groups)))
    for patient in "abcd":  # a patient's studies are drawn together, never one by one
        studies = counts[:, groups == patient]
        assert (studies == studies[:, :1]).all()
    first = counts[:, [0, 1, 3, 6]]  # one study of each patient: 4 patients drawn per resample
    assert (first.sum(axis=1) == 4).all()
    distinct = np.array(list("abcdefg"))  # one study per patient: the study bootstrap's draws
    np.testing.assert_array_equal(
        np.concatenate(list(bootstrap_counts(7, 50, seed=3, groups=distinct))),
        np.concatenate(list(bootstrap_counts(7, 50, seed=3))),
    )


def test_ci_of_repeat_studies_is_that_of_their_patients() -> None:
    """Five near-identical studies of each of 40 patients carry the information of 40 studies,
    not 200: a bootstrap over studies gave an AUC interval about sqrt(5) times too narrow."""
    rng = np.random.default_rng(2)
    y = rng.random(40) < 0.4
    p = np.clip(0.25 * y + rng.random(40) * 0.75, 0, 1)
    patients = np.repeat(np.arange(40), 5)
    repeated_p, repeated_y = np.repeat(p, 5), np.repeat(y, 5)

    def width(result) -> float:
        low, high = result.ci["auc"]
        return high - low

    single = width(binary_metrics(p, y, resamples=400, seed=1))
    by_patient = width(binary_metrics(repeated_p, repeated_y, 400, 1, groups=patients))
    by_study = width(binary_metrics(repeated_p, repeated_y, 400, 1))
    assert by_patient == pytest.approx(single, rel=0.25)
    assert by_study < 0.7 * by_patient


def test_bootstrap_of_many_studies_is_drawn_in_blocks_with_the_same_draws(monkeypatch) -> None:
    """A thousand resamples of a 50,000-study site held 2.4 GB of counts at once (the Zero-shot
    page's CI, every evaluated finding): drawn in blocks, the CIs are those of one draw."""
    import tracemalloc

    import model.evaluation.metrics as metrics

    rng = np.random.default_rng(5)
    p, y = rng.random(3000), rng.random(3000) < 0.3
    whole = metrics.binary_metrics(p, y, resamples=1000, seed=1)
    monkeypatch.setattr(metrics, "BOOTSTRAP_CELLS", 3000 * 7, raising=False)  # 7 resamples a block
    tracemalloc.start()
    try:
        blocked = metrics.binary_metrics(p, y, resamples=1000, seed=1)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert blocked == whole
    assert peak < 1000 * 3000 * 8 / 4, f"peak {peak / 1e6:.1f} MB"  # a quarter of the counts


def test_weighted_metrics_equal_explicit_resamples() -> None:
    rng = np.random.default_rng(4)
    scores = rng.integers(0, 6, 40) / 5.0  # many ties
    labels = rng.random(40) < 0.5
    draws = rng.integers(0, 40, size=(20, 40))
    counts = np.stack([np.bincount(row, minlength=40) for row in draws])
    np.testing.assert_allclose(
        weighted_auc_rows(scores, labels, counts), auc_rows(scores[draws], labels[draws])
    )
    weighted = weighted_threshold_metrics_rows(scores >= 0.5, labels, counts)
    explicit = threshold_metrics_rows(scores[draws], labels[draws])
    for name in explicit:
        np.testing.assert_allclose(weighted[name], explicit[name])


def test_brier_matches_sklearn() -> None:
    rng = np.random.default_rng(3)
    p, y = rng.random(200), rng.integers(0, 2, 200)
    assert brier_score(p, y) == pytest.approx(brier_score_loss(y, p))


def test_ece_hand_computed() -> None:
    # bins [0.1, 0.2): p 0.1, 0.1 with labels 0, 1 -> |1 - 0.2| = 0.8;
    # bin [0.9, 1.0]: p 0.9, 1.0 with labels 1, 1 -> |2 - 1.9| = 0.1; (0.8 + 0.1) / 4
    p = np.array([0.1, 0.1, 0.9, 1.0])
    y = np.array([0, 1, 1, 1])
    assert expected_calibration_error(p, y) == pytest.approx(0.9 / 4)
    # overconfident: p = 0.9 everywhere, half positive -> 0.4
    assert expected_calibration_error(np.full(10, 0.9), np.arange(10) % 2) == pytest.approx(0.4)


def test_calibrated_probabilities_have_small_ece_and_overconfident_ones_large() -> None:
    rng = np.random.default_rng(4)
    p = rng.random(20_000)
    y = rng.random(20_000) < p  # positive with probability p: calibrated by construction
    assert expected_calibration_error(p, y) < 0.02
    sharpened = np.where(p > 0.5, 1.0, 0.0)  # same ranking, all-or-nothing confidence
    assert expected_calibration_error(sharpened, y) > 0.2
    row = binary_metrics(p, y, resamples=0).as_row()
    assert row["brier"] == pytest.approx(brier_score(p, y)) and row["ece"] < 0.02
