"""Paired model comparison: DeLong's test against a plain pairwise reference, Holm, tables."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import norm
from sklearn.metrics import roc_auc_score

from model.evaluation.compare import (
    comparison_tables,
    delong_test,
    holm_adjust,
    structural_components,
)
from model.evaluation.suite import LabelScores, SiteResult


def reference_delong(a: np.ndarray, b: np.ndarray, y: np.ndarray) -> tuple[float, float]:
    """(AUC difference, its variance) from the pairwise kernel psi(x, z) = [x > z] + [x = z] / 2,
    computed over every positive-negative pair (O(m n)), as DeLong et al. (1988) define it."""
    positive = y.astype(bool)
    components = []
    for scores in (a, b):
        x, z = scores[positive][:, None], scores[~positive][None, :]
        psi = (x > z) + 0.5 * (x == z)
        components.append((psi.mean(axis=1), psi.mean(axis=0)))
    v10 = np.vstack([c[0] for c in components])
    v01 = np.vstack([c[1] for c in components])
    s = np.cov(v10) / positive.sum() + np.cov(v01) / (~positive).sum()
    auc = v10.mean(axis=1)
    return float(auc[0] - auc[1]), float(s[0, 0] + s[1, 1] - 2 * s[0, 1])


def _scored(seed: int, n: int = 150) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.35).astype(int)
    # rounded scores: many ties, which midranks must count one half
    a = np.round(y * 1.0 + rng.normal(size=n), 1)
    b = np.round(y * 0.6 + rng.normal(size=n), 1)
    return a, b, y


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_delong_matches_the_pairwise_reference_and_sklearn(seed: int) -> None:
    a, b, y = _scored(seed)
    result = delong_test(a, b, y)
    difference, variance = reference_delong(a, b, y)
    assert result.auc_a == pytest.approx(roc_auc_score(y, a), abs=1e-12)
    assert result.auc_b == pytest.approx(roc_auc_score(y, b), abs=1e-12)
    assert result.difference == pytest.approx(difference, abs=1e-12)
    half_width = (result.difference_hi - result.difference_lo) / 2
    assert half_width == pytest.approx(1.959964 * np.sqrt(variance), rel=1e-6)
    assert result.n == y.size and result.n_positive == y.sum()
    # the p-value: the difference over its standard error, referred to the standard normal
    normal_p = 2 * norm.sf(abs(difference) / np.sqrt(variance))
    assert result.p_value == pytest.approx(normal_p, rel=1e-9)


def _correlated(seed: int, n: int = 150) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two models reading the same signal with their own noise, a better by a small margin."""
    rng = np.random.default_rng(seed)
    y = (rng.random(n) < 0.35).astype(int)
    shared = 0.8 * y + rng.normal(size=n)
    a = np.round(shared + 0.3 * y + rng.normal(scale=0.7, size=n), 1)
    b = np.round(shared + rng.normal(scale=0.7, size=n), 1)
    return a, b, y


def permutation_p(a: np.ndarray, b: np.ndarray, y: np.ndarray, permutations: int = 2000) -> float:
    """Two-sided p-value of AUC(a) - AUC(b) by the paired permutation test: under the null the
    two models' scores of a study are exchangeable, so each permutation swaps them at random."""
    swap = np.random.default_rng(0).random((permutations, a.size)) < 0.5
    stacked = np.vstack([np.where(swap, b, a), np.where(swap, a, b)])
    auc = structural_components(stacked, y)[0]
    permuted = np.abs(auc[:permutations] - auc[permutations:])
    observed = abs(roc_auc_score(y, a) - roc_auc_score(y, b))
    return (1 + np.sum(permuted >= observed - 1e-12)) / (permutations + 1)


@pytest.mark.parametrize("seed", [2, 3, 5])
def test_the_normal_approximation_agrees_with_a_permutation_test(seed: int) -> None:
    """DeLong's p-value is a large-sample normal approximation (the methods say so): on 150
    studies it is within 0.03 of a paired permutation test's, which assumes no distribution
    (2,000 permutations: a Monte Carlo SE of at most 0.011)."""
    a, b, y = _correlated(seed)
    result = delong_test(a, b, y)
    assert 0.05 < result.p_value < 0.9  # a p-value where the two can disagree
    assert result.p_value == pytest.approx(permutation_p(a, b, y), abs=0.03)


def test_components_of_several_rows_are_those_of_each_row_alone() -> None:
    a, b, y = _scored(3)
    auc, v10, v01 = structural_components(np.vstack([a, b]), y)
    auc_a, v10_a, v01_a = structural_components(a, y)
    assert auc[0] == auc_a[0]
    assert np.array_equal(v10[0], v10_a[0]) and np.array_equal(v01[0], v01_a[0])


def test_identical_models_differ_by_nothing() -> None:
    a, _, y = _scored(4)
    result = delong_test(a, a.copy(), y)
    assert result.difference == 0.0 and result.p_value == 1.0
    assert result.difference_lo == result.difference_hi == 0.0


def test_swapping_the_models_flips_the_sign_only() -> None:
    a, b, y = _scored(5, n=300)
    forward, backward = delong_test(a, b, y), delong_test(b, a, y)
    assert forward.difference == pytest.approx(-backward.difference)
    assert forward.p_value == pytest.approx(backward.p_value)
    assert forward.difference > 0 and forward.p_value < 0.05 and forward.difference_lo > 0


def test_p_values_are_calibrated_when_the_models_are_exchangeable() -> None:
    rng = np.random.default_rng(7)
    rejections = 0
    trials = 400
    for _ in range(trials):
        y = (rng.random(120) < 0.4).astype(int)
        shared = y + rng.normal(size=120)  # both models see the same signal ...
        a = shared + rng.normal(scale=0.7, size=120)  # ... with their own noise
        b = shared + rng.normal(scale=0.7, size=120)
        rejections += delong_test(a, b, y).p_value < 0.05
    assert 0.02 <= rejections / trials <= 0.09


def _clustered(rng: np.random.Generator, patients: int = 50, studies: int = 3) -> tuple:
    """Exchangeable models on patients with several studies each: a patient's studies share
    its label and each model's per-patient error, as repeat scans of one heart do."""
    groups = np.repeat(np.arange(patients), studies)
    y = np.repeat(rng.random(patients) < 0.4, studies).astype(int)

    def per_patient(scale: float) -> np.ndarray:
        return np.repeat(rng.normal(size=patients), studies) * scale

    shared = y + per_patient(0.8) + rng.normal(size=y.size) * 0.3
    a = shared + per_patient(0.7) + rng.normal(size=y.size) * 0.2
    b = shared + per_patient(0.7) + rng.normal(size=y.size) * 0.2
    return a, b, y, groups


def test_p_values_stay_calibrated_when_patients_have_several_studies() -> None:
    """Counting each of a patient's three studies as independent, DeLong's test rejected equal
    models about one time in four at the 5% level; the clustered variance keeps it near 5%."""
    rng = np.random.default_rng(7)
    trials = 300
    clustered = independent = 0
    for _ in range(trials):
        a, b, y, groups = _clustered(rng)
        clustered += delong_test(a, b, y, groups).p_value < 0.05
        independent += delong_test(a, b, y).p_value < 0.05
    assert 0.02 <= clustered / trials <= 0.10
    assert independent / trials > 0.15


def test_clustered_variance_of_repeat_studies_is_that_of_their_patients() -> None:
    """Five copies of each of 150 studies carry the information of 150: the clustered CI is
    about that of the 150 alone; with one study per patient the test is DeLong's exactly."""
    a, b, y = _scored(9)
    single = delong_test(a, b, y)
    assert delong_test(a, b, y, np.arange(y.size)) == single
    copies = np.repeat(np.arange(y.size), 5)
    repeated = delong_test(a[copies], b[copies], y[copies], copies)
    width = single.difference_hi - single.difference_lo
    assert repeated.difference == pytest.approx(single.difference)
    assert repeated.difference_hi - repeated.difference_lo == pytest.approx(width, rel=0.05)
    unclustered = delong_test(a[copies], b[copies], y[copies])
    assert unclustered.difference_hi - unclustered.difference_lo < 0.6 * width


def test_one_class_labels_are_refused() -> None:
    with pytest.raises(ValueError, match="positive and negative"):
        delong_test(np.arange(5.0), np.arange(5.0), np.ones(5))


def test_holm_against_hand_computed_values() -> None:
    adjusted = holm_adjust(np.array([0.01, 0.04, 0.03, np.nan, 0.005]))
    # sorted 0.005, 0.01, 0.03, 0.04 times 4, 3, 2, 1 -> 0.02, 0.03, 0.06, 0.04 -> running max
    assert np.allclose(adjusted[[0, 1, 2, 4]], [0.03, 0.06, 0.06, 0.02])
    assert np.isnan(adjusted[3])
    assert np.isnan(holm_adjust(np.array([np.nan]))).all()


def _result(model: str, ids: list[str], scores: dict, site: str = "internal") -> SiteResult:
    empty = pd.DataFrame()
    result = SiteResult(model, site, empty, empty, {}, {}, empty, empty, empty)
    for key, (values, labels) in scores.items():
        result.scores[key] = LabelScores(ids, np.asarray(values), np.asarray(labels))
    return result


def test_comparison_pairs_the_same_studies_whatever_their_order() -> None:
    a, b, y = _scored(6)
    ids = [f"s{i}" for i in range(y.size)]
    order = np.random.default_rng(0).permutation(y.size)
    main = _result("main", ids, {("zero-shot", "lge"): (a, y), ("zero-shot", "rv"): (a, y)})
    other = _result(
        "static",
        [ids[i] for i in order],
        {("zero-shot", "lge"): (b[order], y[order]), ("linear probe", "lge"): (b, y)},
    )
    tables = comparison_tables([main, other], main="main")
    table = tables["internal"]
    assert len(table) == 1  # only the key both models scored
    row = table.iloc[0]
    expected = delong_test(a, b, y)
    assert (row["model"], row["baseline"], row["label_key"]) == ("main", "static", "lge")
    assert row["difference"] == pytest.approx(expected.difference)
    assert row["p_value"] == pytest.approx(expected.p_value)
    assert row["p_holm"] == pytest.approx(expected.p_value)  # a family of one


def test_comparison_uses_the_patients_of_the_studies() -> None:
    a, b, y, groups = _clustered(np.random.default_rng(4))
    ids = [f"s{i}" for i in range(y.size)]
    main = _result("main", ids, {("zero-shot", "lge"): (a, y)})
    other = _result("static", ids, {("zero-shot", "lge"): (b, y)})
    patients = {"internal": {study: f"p{g}" for study, g in zip(ids, groups, strict=True)}}
    row = comparison_tables([main, other], "main", patients)["internal"].iloc[0]
    assert row["p_value"] == pytest.approx(delong_test(a, b, y, groups).p_value)
    assert row["p_value"] != pytest.approx(delong_test(a, b, y).p_value)


def test_a_site_with_one_model_has_no_comparison() -> None:
    a, _, y = _scored(8)
    ids = [f"s{i}" for i in range(y.size)]
    main = _result("main", ids, {("zero-shot", "lge"): (a, y)})
    other = _result("static", ids, {("zero-shot", "lge"): (a, y)}, site="external")
    assert comparison_tables([main, other], main="main") == {}


def test_clustered_standard_error_agrees_with_a_paired_patient_bootstrap() -> None:
    """The DeLong-Obuchowski SE of the difference against a plain loop: patients drawn with
    replacement, each bringing all of their studies, both models' AUCs on the same draw."""
    rng = np.random.default_rng(0)
    sizes = rng.integers(1, 5, 120)  # one to four studies per patient
    groups = np.repeat(np.arange(120), sizes)
    shared = rng.normal(size=120)[groups]  # a patient's studies look alike to both models
    y = ((rng.random(120) < 0.4)[groups] ^ (rng.random(groups.size) < 0.1)).astype(int)
    a = y + shared + rng.normal(size=groups.size)
    b = 0.7 * y + shared + 1.2 * rng.normal(size=groups.size)
    paired = delong_test(a, b, y, groups)
    members = [np.flatnonzero(groups == g) for g in range(120)]
    differences = []
    for _ in range(1500):
        drawn = np.concatenate([members[p] for p in rng.integers(0, 120, 120)])
        differences.append(roc_auc_score(y[drawn], a[drawn]) - roc_auc_score(y[drawn], b[drawn]))
    se = (paired.difference_hi - paired.difference) / 1.959963984540054
    assert se == pytest.approx(np.std(differences), rel=0.1)
