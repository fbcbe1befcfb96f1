"""Few-shot episodes: reproducible by seed, no query leakage, probes agree with references."""

from __future__ import annotations

import numpy as np
import pytest
from scipy.optimize import minimize
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score

from model.evaluation.fewshot import (
    Episodes,
    FewShotConfig,
    episode_rng,
    evaluate_label,
    fit_logistic_batched,
    logistic_probabilities,
    prototype_scores,
    sample_episodes,
    with_intercept,
)
from model.evaluation.metrics import auc_rows


def _clustered(n: int = 120, d: int = 16, seed: int = 0) -> tuple[np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    labels = rng.random(n) < 0.4
    centre = rng.normal(size=d)
    x = rng.normal(size=(n, d)) + np.where(labels[:, None], 1.5, -1.5) * centre / np.linalg.norm(
        centre
    )
    return x / np.linalg.norm(x, axis=1, keepdims=True), labels


def test_episodes_reproducible_by_seed_and_differ_across_seeds() -> None:
    _, labels = _clustered()
    a = sample_episodes(labels, 4, 50, episode_rng(7, 4, "lge"))
    b = sample_episodes(labels, 4, 50, episode_rng(7, 4, "lge"))
    c = sample_episodes(labels, 4, 50, episode_rng(8, 4, "lge"))
    np.testing.assert_array_equal(a.support, b.support)
    assert not np.array_equal(a.support, c.support)


def test_supports_have_right_classes_no_duplicates_and_never_leak_into_queries() -> None:
    _, labels = _clustered()
    episodes = sample_episodes(labels, 8, 100, episode_rng(0, 8, "x"))
    assert episodes.positive.shape == (100, 8)
    assert labels[episodes.positive].all() and not labels[episodes.negative].any()
    for row in episodes.support:
        assert len(set(row.tolist())) == 16
    queries = episodes.query_mask(len(labels))
    support_in_queries = np.take_along_axis(queries, episodes.support, axis=1)
    assert not support_in_queries.any()
    assert (queries.sum(axis=1) == len(labels) - 16).all()


def _repeat_scans(patients: int = 20, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Two near-identical studies per patient and a label drawn per patient that nothing in the
    embeddings predicts: (embeddings [2P, 32], labels [2P], patient keys [2P])."""
    rng = np.random.default_rng(seed)
    x = np.repeat(rng.normal(size=(patients, 32)), 2, axis=0)
    x += rng.normal(0, 0.05, x.shape)
    labels = np.repeat(rng.random(patients) < 0.5, 2).astype(int)
    groups = np.repeat([f"p{i}" for i in range(patients)], 2)
    return x / np.linalg.norm(x, axis=1, keepdims=True), labels, groups


def test_a_support_patient_s_other_studies_are_no_queries() -> None:
    """A hospital's repeat scans: a query that is a support patient's other study is found by
    its likeness to that patient. With patients given, no query shares one with the support, and
    a label the embeddings cannot predict stays at chance instead of climbing with k."""
    x, labels, groups = _repeat_scans()
    episodes = sample_episodes(labels, 4, 50, episode_rng(0, 4, "x"))
    queries = episodes.query_mask(len(labels), groups)
    for support, query in zip(episodes.support, queries, strict=True):
        assert not set(groups[support]) & set(groups[query])
        assert query.sum() == len(labels) - 2 * len(set(groups[support]))
    config = FewShotConfig(shots=(8,), episodes=100)
    leaky = evaluate_label(x, labels, "noise", config).set_index("method")
    table = evaluate_label(x, labels, "noise", config, groups=groups).set_index("method")
    assert leaky.loc["prototype", "auc"] > 0.65  # the old reading: signal from patients alone
    assert table.loc["prototype", "auc"] < 0.55
    assert (table["episodes"] <= 100).all() and (table["episodes"] > 0).all()


def test_a_k_whose_supports_take_every_patient_of_a_class_is_skipped() -> None:
    """Six positive studies from two patients: a 4-shot support always includes both, so no
    positive query from another patient is left; the k is skipped, not scored on nothing."""
    x, _, groups = _repeat_scans(patients=10)
    labels = np.zeros(20, dtype=int)
    groups[:6] = ["p0", "p0", "p0", "p1", "p1", "p1"]
    labels[:6] = 1
    config = FewShotConfig(shots=(1, 4), episodes=20)
    table = evaluate_label(x, labels, "few", config, groups=groups)
    assert set(table["k"]) == {1}
    assert set(evaluate_label(x, labels, "few", config)["k"]) == {1, 4}  # without patients


def test_too_few_studies_for_k_raises() -> None:
    labels = np.array([1, 1, 0, 0, 0, 0], dtype=bool)
    with pytest.raises(ValueError, match="2-shot"):
        sample_episodes(labels, 2, 3, np.random.default_rng(0))


def test_prototype_scores_hand_computed() -> None:
    emb = np.array([[1.0, 0.0], [0.0, 1.0], [np.sqrt(0.5), np.sqrt(0.5)]])
    episodes = Episodes(positive=np.array([[0]]), negative=np.array([[1]]))
    np.testing.assert_allclose(prototype_scores(emb, episodes), [[1.0, -1.0, 0.0]], atol=1e-12)


def test_batched_newton_logistic_matches_liblinear() -> None:
    x, labels = _clustered(n=40, d=8, seed=2)
    features = with_intercept(x)
    weights = fit_logistic_batched(features[None], labels[None].astype(float), c=5.0, steps=30)
    reference = LogisticRegression(
        C=5.0, solver="liblinear", intercept_scaling=1.0, tol=1e-10, max_iter=1000
    ).fit(x, labels)
    np.testing.assert_allclose(weights[0, :-1], reference.coef_[0], atol=1e-4)
    assert weights[0, -1] == pytest.approx(reference.intercept_[0], abs=1e-4)


def test_logistic_probabilities_shape_and_range() -> None:
    x, labels = _clustered()
    episodes = sample_episodes(labels, 2, 5, np.random.default_rng(1))
    probs = logistic_probabilities(x, episodes, c=10.0, steps=10)
    assert probs.shape == (5, len(labels))
    assert ((probs > 0) & (probs < 1)).all()


def test_one_shot_logistic_ranks_like_the_prototype() -> None:
    """Two unit-norm support rows are symmetric, so the weight is a multiple of x+ - x- at any C
    (the intercept shifts every score alike): queries rank as cos(v, x+) - cos(v, x-)."""
    x, labels = _clustered(n=80, d=12, seed=9)
    episodes = sample_episodes(labels, 1, 25, np.random.default_rng(2))
    queries = episodes.query_mask(len(labels))
    truth = np.broadcast_to(labels, queries.shape)
    prototype = auc_rows(prototype_scores(x, episodes), truth, queries)
    for c in (1e-3, 1.0, 100.0):
        logistic = logistic_probabilities(x, episodes, c=c, steps=25)
        np.testing.assert_allclose(auc_rows(logistic, truth, queries), prototype, atol=1e-12)


def test_strongly_penalised_logistic_tends_to_the_class_mean_difference() -> None:
    x, labels = _clustered(n=80, d=12, seed=9)
    episodes = sample_episodes(labels, 4, 25, np.random.default_rng(3))
    queries = episodes.query_mask(len(labels))
    truth = np.broadcast_to(labels, queries.shape)
    difference = x[episodes.positive].mean(axis=1) - x[episodes.negative].mean(axis=1)
    expected = auc_rows(difference @ x.T, truth, queries)
    strong = logistic_probabilities(x, episodes, c=1e-4, steps=10)
    np.testing.assert_allclose(auc_rows(strong, truth, queries), expected, atol=1e-12)
    weak = logistic_probabilities(x, episodes, c=100.0, steps=25)
    assert not np.allclose(auc_rows(weak, truth, queries), expected)


def test_evaluate_label_curve_rows_and_separable_data_scores_high() -> None:
    x, labels = _clustered(n=150)
    config = FewShotConfig(shots=(1, 4, 64), episodes=20, seed=0)
    table = evaluate_label(x, labels, "lv_dilation", config)
    # k=64 exceeds the positives available, so it is skipped
    assert sorted(set(table["k"])) == [1, 4]
    assert set(table["method"]) == {"prototype", "logistic"}  # no prior: no prompted probe
    assert (table["auc"] > 0.75).all()
    assert (table.loc[table["k"] == 4, "auc"] > 0.9).all()
    assert (table["auc_lo"] <= table["auc"]).all() and (table["auc"] <= table["auc_hi"]).all()
    again = evaluate_label(x, labels, "lv_dilation", config)
    np.testing.assert_allclose(table["auc"], again["auc"])
    random_labels = np.random.default_rng(5).random(150) < 0.4
    noise = evaluate_label(x, random_labels, "noise", config)
    assert (noise["auc"] < 0.7).all()


def test_offset_logistic_matches_the_primal_optimum() -> None:
    x, labels = _clustered(n=30, d=6, seed=3)
    features = with_intercept(x)
    offset = np.random.default_rng(4).normal(scale=2.0, size=len(labels))
    c = 0.7

    def objective(w: np.ndarray) -> float:
        logits = offset + features @ w
        return c * float(np.sum(np.logaddexp(0.0, logits) - labels * logits)) + 0.5 * w @ w

    reference = minimize(objective, np.zeros(features.shape[1]), method="BFGS", tol=1e-12).x
    weights = fit_logistic_batched(
        features[None], labels[None].astype(float), c=c, steps=30, offset=offset[None]
    )
    np.testing.assert_allclose(weights[0], reference, atol=1e-4)


def test_prompted_probe_keeps_a_good_prior_and_fixes_its_calibration() -> None:
    x, labels = _clustered(n=200, d=16, seed=6)
    direction = x[labels].mean(axis=0) - x[~labels].mean(axis=0)
    prior = 8.0 * (x @ direction) + 6.0  # ranks well, but calls nearly everything positive
    prior_auc = roc_auc_score(labels, prior)
    config = FewShotConfig(shots=(1, 16), episodes=30, seed=0, prompted_c=0.5)
    table = evaluate_label(x, labels, "lge", config, prior_logits=prior).set_index(["method", "k"])
    assert set(table.index.get_level_values("method")) == {"prototype", "logistic", "prompted"}
    assert table.loc[("prompted", 1), "auc"] > table.loc[("prototype", 1), "auc"]
    assert table.loc[("prompted", 1), "auc"] == pytest.approx(prior_auc, abs=0.03)
    prior_accuracy = float(np.mean((prior >= 0) == labels))
    assert table.loc[("prompted", 16), "accuracy"] > prior_accuracy + 0.1
