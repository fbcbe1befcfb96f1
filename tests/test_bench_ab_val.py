"""Smoke tests of bench/ab_val.py and bench/fewshot_gap.py (so they cannot rot): a tiny layout,
a two-step checkpoint, no timing; the figures themselves live in bench/RESULTS.md."""

from __future__ import annotations

import math
import shutil
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import ab_val, fewshot_gap  # noqa: E402
from model.evaluation.fewshot import FewShotConfig, evaluate_label  # noqa: E402
from tests.tiny_dataset import make_tiny_checkpoint, make_tiny_dataset  # noqa: E402


@pytest.fixture(scope="module")
def layout(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """``ROOT/internal`` (60 tiny studies), ``ROOT/raw/internal/labels.csv`` and a checkpoint."""
    root = tmp_path_factory.mktemp("ab")
    data = make_tiny_dataset(root / "internal", n=60)
    (root / "raw" / "internal").mkdir(parents=True)
    shutil.copy(data / "labels.csv", root / "raw" / "internal" / "labels.csv")
    return root, make_tiny_checkpoint(data, root / "run")


def test_val_scores_are_proportions_and_the_line_names_them(
    layout: tuple[Path, Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    root, checkpoint = layout
    given = []
    scored = ab_val.one_shot_prototype
    monkeypatch.setattr(
        ab_val,
        "one_shot_prototype",
        lambda vectors, labels, episodes, groups: (
            given.append(groups) or scored(vectors, labels, episodes, groups)
        ),
    )
    scores = ab_val.val_scores(checkpoint, root, episodes=20)
    studies = pd.read_parquet(root / "internal" / "studies.parquet")
    val_patients = studies.loc[studies["split"] == "val", "patient_key"]
    assert [sorted(g) for g in given] == [sorted(val_patients)]  # the evaluation's groups
    for value in (
        scores.zero_shot_default,
        scores.zero_shot_paraphrase,
        scores.one_shot_prototype,
        scores.probe_accuracy,
    ):
        assert 0.0 <= value <= 1.0
    line = scores.line("run")
    assert line.startswith("run: ZD ") and " K1 " in line and " P " in line


def test_one_shot_prototype_is_perfect_on_the_label_itself_and_skips_single_class() -> None:
    rng = np.random.default_rng(0)
    labels = pd.DataFrame(
        {"lv_dilation": rng.integers(0, 2, 30).astype(float), "lge": np.zeros(30)}
    )
    signal = labels["lv_dilation"].to_numpy()[:, None] * np.array([[1.0, 0.0]])
    vectors = signal + np.array([[0.0, 1.0]])
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    patients = np.arange(30).astype(str)
    assert ab_val.one_shot_prototype(vectors, labels, 10, patients) == pytest.approx(1.0)
    assert math.isnan(ab_val.one_shot_prototype(vectors, labels[["lge"]], 10, patients))


def test_one_shot_prototype_finds_no_repeat_scan_of_a_support_patient() -> None:
    """Embeddings that tell patients apart and nothing else: a query scan of a support patient
    would be found by its likeness, so only the grouped episodes score it as chance, as the
    evaluation's few-shot does."""
    rng = np.random.default_rng(3)
    patients = np.repeat(np.arange(8), 4).astype(str)  # four scans per patient
    per_patient = rng.normal(size=(8, 16))
    vectors = np.repeat(per_patient / np.linalg.norm(per_patient, axis=1, keepdims=True), 4, 0)
    labels = pd.DataFrame({"lge": np.repeat(np.arange(8) % 2, 4).astype(float)})
    grouped = ab_val.one_shot_prototype(vectors, labels, 50, patients)
    config = FewShotConfig(shots=(1,), episodes=50)
    y = labels["lge"].to_numpy().astype(int)
    rows = evaluate_label(vectors, y, "lge", config, groups=patients)
    assert grouped == pytest.approx(rows.loc[rows["method"] == "prototype", "auc"].iloc[0])
    leaked = evaluate_label(vectors, y, "lge", config)
    assert leaked.loc[leaked["method"] == "prototype", "auc"].iloc[0] > grouped + 0.1


def test_gap_figures_cover_every_representation(layout: tuple[Path, Path]) -> None:
    root, checkpoint = layout
    figures = fewshot_gap.gap_figures(checkpoint, root, "val", episodes=20)
    names = (
        "study",
        "report",
        "report, sentences unit-normed",
        "label vector",
        "study, whitened",
        "study, before the projection",
    )
    for name in names:
        assert 0.0 <= figures[f"1-shot {name}"] <= 1.0
    # the label vector ranks well above chance; its other labels, differing between the two
    # supports, keep it below 1 (three of the tiny findings vary independently)
    assert 0.7 < figures["1-shot label vector"] < 1.0
    assert 0.0 < figures["sentence norm min"] <= figures["sentence norm max"]
    assert 0.0 < figures["top-3 share, study"] <= 1.0
    assert figures["R2 labels -> report"] <= 1.0


def test_explained_by_labels_is_one_for_a_linear_map_and_low_for_noise() -> None:
    rng = np.random.default_rng(1)
    labels = rng.integers(0, 2, (80, 3)).astype(float)
    mapping = rng.normal(size=(3, 5))
    exact = labels @ mapping + 0.5
    assert fewshot_gap.explained_by_labels(exact[:60], labels[:60], exact[60:], labels[60:]) == (
        pytest.approx(1.0)
    )
    noise = rng.normal(size=(80, 5))
    assert fewshot_gap.explained_by_labels(noise[:60], labels[:60], noise[60:], labels[60:]) < 0.2


def test_whitened_has_unit_variance_directions_and_unit_rows() -> None:
    rng = np.random.default_rng(2)
    train = rng.normal(size=(400, 4)) * np.array([10.0, 3.0, 1.0, 0.3]) + 5.0
    rows = fewshot_gap.whitened(train, train, shrink=0.0)
    assert np.allclose(np.linalg.norm(rows, axis=1), 1.0)
    # before the row norm, whitening makes the covariance the identity: with 4 equal-variance
    # directions, each coordinate of the unit rows has a mean square of about 1/4
    assert np.allclose((rows**2).mean(axis=0), 0.25, atol=0.04)
