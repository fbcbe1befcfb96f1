"""Linear probes (patient-grouped CV and fitted on a train split) and retrieval metrics on small
fixed arrays."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression

from model.evaluation.probes import (
    FALLBACK_C,
    ProbeConfig,
    choose_c,
    fit_split_probes,
    grouped_folds,
    out_of_fold_probabilities,
    probe_binary,
    probe_diagnosis,
)
from model.evaluation.retrieval import (
    bidirectional_retrieval,
    consistent_matrix,
    label_consistent_precision,
    label_precision,
    label_precision_bounds,
    retrieval_ranks,
    text_codes,
)


def _data(n: int = 90, seed: int = 0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    classes = rng.integers(0, 3, n)
    centres = rng.normal(size=(3, 12)) * 2
    x = centres[classes] + rng.normal(size=(n, 12))
    groups = np.array([f"p{i // 3}" for i in range(n)])  # three studies per patient
    return x, classes, groups


def test_grouped_folds_never_split_a_patient() -> None:
    _, classes, groups = _data()
    folds = grouped_folds(classes, groups, folds=5, seed=0)
    assert len(folds) == 5
    seen = np.concatenate([test for _, test in folds])
    assert sorted(seen.tolist()) == list(range(len(groups)))
    for train, test in folds:
        assert not set(groups[train]) & set(groups[test])


def test_grouped_folds_balance_a_rare_class_and_are_seeded() -> None:
    targets = np.array([1] * 10 + [0] * 90)
    groups = np.array([f"p{i}" for i in range(100)])
    folds = grouped_folds(targets, groups, folds=5, seed=1)
    assert [int(targets[test].sum()) for _, test in folds] == [2, 2, 2, 2, 2]
    again = grouped_folds(targets, groups, folds=5, seed=1)
    other = grouped_folds(targets, groups, folds=5, seed=2)
    assert all(np.array_equal(a[1], b[1]) for a, b in zip(folds, again, strict=True))
    assert not all(np.array_equal(a[1], b[1]) for a, b in zip(folds, other, strict=True))


def test_grouped_folds_need_two_patients() -> None:
    with pytest.raises(ValueError, match="2 patients"):
        grouped_folds(np.array([0, 1]), np.array(["a", "a"]), folds=5, seed=0)


def test_out_of_fold_matches_manual_sklearn() -> None:
    x, classes, groups = _data()
    config = ProbeConfig(folds=3, c=1.0)
    probs = out_of_fold_probabilities(x, classes, groups, 3, config)
    train, test = grouped_folds(classes, groups, 3, 0)[1]
    mean, sd = x[train].mean(axis=0), x[train].std(axis=0)
    manual = LogisticRegression(C=1.0, max_iter=2000).fit((x[train] - mean) / sd, classes[train])
    expected = manual.predict_proba((x[test] - mean) / sd)
    np.testing.assert_allclose(probs[test], expected, atol=1e-6)


def test_split_probes_match_sklearn_and_skip_unknown_rows() -> None:
    x, classes, groups = _data()
    finding = (classes == 1).astype(float)
    finding[:10] = np.nan  # unknown: left out of the fit
    one_class = np.zeros(len(classes))
    usable = classes != 2  # two of the four classes present in training
    probes = fit_split_probes(
        x,
        groups,
        {"f": finding, "never": one_class},
        (usable, classes),
        ["a", "b", "c", "d"],
        ProbeConfig(c=1.0),
    )
    assert set(probes.findings) == {"f"} and probes.n_fit == {"f": 80, "diagnosis": usable.sum()}
    mean, sd = x[10:].mean(axis=0), x[10:].std(axis=0)
    manual = LogisticRegression(C=1.0, max_iter=2000).fit((x[10:] - mean) / sd, finding[10:])
    query = x[:10] + 0.5
    np.testing.assert_allclose(
        probes.finding_probabilities("f", query), manual.predict_proba((query - mean) / sd)[:, 1],
        atol=1e-6,
    )  # fmt: skip
    assert probes.finding_probabilities("never", query) is None
    diagnosis = probes.diagnosis_probabilities(query)
    assert diagnosis.shape == (10, 4) and (diagnosis[:, 2:] == 0).all()
    np.testing.assert_allclose(diagnosis.sum(axis=1), 1.0)


def _manual_c(x: np.ndarray, y: np.ndarray, groups: np.ndarray, grid: tuple) -> float:
    """Grid search written out: mean out-of-fold log-loss of standardised sklearn fits."""
    losses = []
    for c in grid:
        total = 0.0
        for train, test in grouped_folds(y, groups, 5, 0):
            mean, sd = x[train].mean(axis=0), x[train].std(axis=0)
            model = LogisticRegression(C=c, max_iter=2000).fit((x[train] - mean) / sd, y[train])
            p = model.predict_proba((x[test] - mean) / sd)
            total -= np.log(p[np.arange(len(test)), np.searchsorted(model.classes_, y[test])]).sum()
        losses.append(total)
    return grid[int(np.argmin(losses))]


def test_choose_c_matches_a_written_out_grid_search() -> None:
    x, classes, groups = _data()
    config = ProbeConfig()
    assert choose_c(x, classes, groups, config) == _manual_c(x, classes, groups, config.c_grid)


def test_choose_c_penalises_noise_more_than_signal() -> None:
    rng = np.random.default_rng(3)
    groups = np.array([f"p{i // 2}" for i in range(120)])
    noise = rng.normal(size=(120, 40))
    random_labels = rng.integers(0, 2, 120)
    signal = noise[:, 0] + 0.3 * noise[:, 1] > 0
    chosen_noise = choose_c(noise, random_labels, groups, ProbeConfig())
    chosen_signal = choose_c(noise, signal.astype(int), groups, ProbeConfig())
    assert chosen_noise < chosen_signal


def test_choose_c_falls_back_without_two_patients() -> None:
    x, classes, _ = _data(n=12)
    assert choose_c(x, classes, np.array(["p0"] * 12), ProbeConfig()) == FALLBACK_C


def test_probe_config_rejects_non_positive_c() -> None:
    with pytest.raises(ValueError, match="positive"):
        ProbeConfig(c=0.0)
    with pytest.raises(ValueError, match="positive"):
        ProbeConfig(c_grid=(0.1, -1.0))


def test_probes_learn_separable_labels() -> None:
    x, classes, groups = _data()
    binary, oof = probe_binary(x, classes == 1, groups, ProbeConfig(), resamples=50)
    assert binary.auc > 0.9 and binary.n == len(classes)
    assert oof.shape == (len(classes),) and ((oof >= 0) & (oof <= 1)).all()
    diagnosis = probe_diagnosis(x, classes, groups, ["a", "b", "c", "d"], ProbeConfig(), 50)
    assert diagnosis.accuracy > 0.9
    assert diagnosis.confusion.shape == (4, 4) and diagnosis.confusion.sum() == len(classes)
    assert set(diagnosis.per_class) == {"a", "b", "c"}  # "d" has no studies


def test_ranks_hand_computed() -> None:
    similarity = np.array([[0.9, 0.5, 0.1], [0.8, 0.7, 0.9], [0.1, 0.2, 0.3]])
    ranks = retrieval_ranks(similarity, np.eye(3, dtype=bool))
    np.testing.assert_array_equal(ranks.expected(), [1, 3, 1])


def test_identical_reports_count_as_correct() -> None:
    texts = ["Normal study.", "normal study. ", "LV dilated."]
    codes = text_codes(texts)
    assert codes[0] == codes[1] != codes[2]
    studies = np.eye(3)
    reports = np.array([[0.0, 1.0, 0.0], [0.0, 1.0, 0.0], [0.0, 0.0, 1.0]])
    result = bidirectional_retrieval(studies, reports, texts)
    assert result["report_to_study"].recall[1] == 1.0
    assert result["study_to_report"].median_rank == 1.0


def _paired(n: int, seed: int = 0) -> tuple[np.ndarray, np.ndarray, list[str], np.ndarray]:
    """(study vectors, report vectors, impressions, findings) of n studies, unit-norm float32."""
    rng = np.random.default_rng(seed)
    studies = rng.normal(size=(n, 16)).astype(np.float32)
    reports = studies + rng.normal(size=(n, 16)).astype(np.float32)
    studies /= np.linalg.norm(studies, axis=1, keepdims=True)
    reports /= np.linalg.norm(reports, axis=1, keepdims=True)
    findings = rng.integers(0, 2, (n, 3)).astype(float)
    findings[rng.random((n, 3)) < 0.2] = np.nan
    return studies, reports, [f"impression {i % (n // 3)}" for i in range(n)], findings


def test_retrieval_ranked_block_by_block_equals_the_whole_matrix(monkeypatch) -> None:
    import model.evaluation.retrieval as retrieval

    studies, reports, texts, findings = _paired(90)
    similarity = reports @ studies.T
    codes = text_codes(texts)
    correct = codes[:, None] == codes[None, :]
    consistent = consistent_matrix(findings)
    monkeypatch.setattr(retrieval, "BLOCK_CELLS", 90 * 7)  # 7 queries a block, the last 6
    result = bidirectional_retrieval(studies, reports, texts)
    expected = {
        "report_to_study": retrieval_ranks(similarity, correct),
        "study_to_report": retrieval_ranks(similarity.T, correct.T),
    }
    for direction, ranks in expected.items():
        assert result[direction] == retrieval.summarise_ranks(ranks), direction
    precision, ceiling, chance = retrieval.label_precision(reports, studies, findings)
    np.testing.assert_array_equal(precision, label_consistent_precision(similarity, consistent))
    np.testing.assert_array_equal(np.stack([ceiling, chance]), label_precision_bounds(consistent))


def test_retrieval_of_a_large_site_never_holds_a_study_by_study_matrix(monkeypatch) -> None:
    """An external site is evaluated on all its studies: at 20,000 the [N, N] similarities, their
    float64 copy and sort indices took over 10 GB; ranked in blocks, memory grows with N."""
    import tracemalloc

    import model.evaluation.retrieval as retrieval

    n = 1500
    studies, reports, texts, findings = _paired(n)
    whole_matrix = n * n * 4  # float32 similarities
    monkeypatch.setattr(retrieval, "BLOCK_CELLS", 2**15, raising=False)  # 21 queries a block
    tracemalloc.start()
    try:
        bidirectional_retrieval(studies, reports, texts)
        ranking_peak = tracemalloc.get_traced_memory()[1]
        assert ranking_peak < whole_matrix, f"ranking peak {ranking_peak / 1e6:.0f} MB"
        tracemalloc.reset_peak()
        retrieval.label_precision(reports, studies, findings)
        precision_peak = tracemalloc.get_traced_memory()[1]
        assert precision_peak < whole_matrix, f"precision peak {precision_peak / 1e6:.0f} MB"
    finally:
        tracemalloc.stop()


def test_label_precision_leaves_out_the_reports_patient() -> None:
    """A repeat scan of the report's patient, labelled alike and imaged alike, topped its list
    and counted as a label-consistent neighbour: found by the patient, not by the findings."""
    angles = np.array([0.0, 0.1, 1.0, 1.5])  # studies 0 and 1: one patient's two scans
    vectors = np.stack([np.cos(angles), np.sin(angles)], axis=1)
    findings = np.array([[1.0], [1.0], [0.0], [0.0]])
    precision, ceiling, chance = label_precision(vectors, vectors, findings, at=1)
    assert precision[0] == 1.0  # its patient's other scan, one study apart
    groups = np.array(["A", "A", "B", "C"])
    precision, ceiling, chance = label_precision(vectors, vectors, findings, at=1, groups=groups)
    assert precision[0] == 0.0 and ceiling[0] == 0.0 and chance[0] == 0.0  # no other positive
    assert precision[2] == 1.0 and chance[2] == pytest.approx(1 / 3)  # B keeps A's scans and C
    bounded = label_precision(vectors, vectors, findings, at=5, groups=groups)
    assert bounded[0][0] == 0.0 and bounded[1][2] == pytest.approx(1 / 3)  # 3 others, not 5


def test_label_consistent_precision_hand_computed() -> None:
    findings = np.array([[1, 0], [1, np.nan], [0, 0], [1, 0]], dtype=float)
    consistent = consistent_matrix(findings)
    assert consistent[0, 1] and not consistent[0, 2] and consistent[0, 3]
    similarity = np.array(
        [[1.0, 0.9, 0.8, 0.1], [0.2, 1.0, 0.9, 0.8], [0.0, 0.0, 1.0, 0.0], [0.5, 0.0, 0.9, 1.0]]
    )
    precision = label_consistent_precision(similarity, consistent, at=2)
    # query 0: top others 1, 2 -> 1/2; query 1: 2, 3 -> 1/2; query 2: ties; query 3: 2, 0 -> 1/2
    assert precision[0] == pytest.approx(0.5)
    assert precision[1] == pytest.approx(0.5)
    assert precision[3] == pytest.approx(0.5)


def test_label_precision_bounds_hand_computed() -> None:
    findings = np.array([[1, 0], [1, np.nan], [0, 0], [1, 0], [1, 0]], dtype=float)
    consistent = consistent_matrix(findings)
    ceiling, chance = label_precision_bounds(consistent, at=2)
    # consistent others: 0 -> {1, 3, 4}; 1 -> {0, 3, 4}; 2 -> none; 3 -> {0, 1, 4}; 4 -> {0, 1, 3}
    assert ceiling.tolist() == [1.0, 1.0, 0.0, 1.0, 1.0]
    assert chance.tolist() == [0.75, 0.75, 0.0, 0.75, 0.75]
    ceiling, _ = label_precision_bounds(consistent, at=4)
    assert ceiling.tolist() == [0.75, 0.75, 0.0, 0.75, 0.75]
    assert np.isnan(label_precision_bounds(consistent[:1, :1])[0]).all()


def test_label_precision_bounds_hold_for_any_ranking() -> None:
    rng = np.random.default_rng(0)
    findings = rng.integers(0, 2, (60, 3)).astype(float)
    consistent = consistent_matrix(findings)
    ceiling, chance = label_precision_bounds(consistent)
    rankings = rng.normal(size=(200, 60, 60))
    precisions = np.stack([label_consistent_precision(r, consistent) for r in rankings])
    assert (precisions <= ceiling + 1e-12).all()
    perfect = consistent.astype(float) + rng.uniform(0, 0.5, (60, 60))  # consistent ones first
    np.testing.assert_allclose(label_consistent_precision(perfect, consistent), ceiling)
    assert abs(precisions.mean() - chance.mean()) < 0.02  # random rankings average to chance
