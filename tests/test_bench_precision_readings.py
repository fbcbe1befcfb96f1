"""bench/precision_readings.py: the looser reading against a hand-made matrix, and a smoke run."""

from __future__ import annotations

import math
import shutil
from pathlib import Path

import numpy as np

from bench.precision_readings import has_query_findings, precision_figures, readings
from tests.tiny_dataset import make_tiny_dataset, shared_tiny_checkpoint

NAN = np.nan


def test_a_study_has_the_query_findings_when_it_has_every_positive_one() -> None:
    findings = np.array(
        [
            [1.0, 0.0, 0.0],  # A
            [1.0, 1.0, 0.0],  # A + B
            [0.0, 0.0, 0.0],  # none
            [NAN, 0.0, 0.0],  # A unknown: not had
            [0.0, 1.0, NAN],  # B
        ]
    )
    expected = np.array(
        [
            [1, 1, 0, 0, 0],
            [0, 1, 0, 0, 0],
            [0, 0, 1, 1, 0],  # a study with none asks for none
            [0, 0, 1, 1, 0],
            [0, 1, 0, 0, 1],
        ],
        dtype=bool,
    )
    np.testing.assert_array_equal(has_query_findings(findings), expected)


def test_a_ranking_by_the_labels_reaches_each_readings_ceiling() -> None:
    rng = np.random.default_rng(0)
    findings = rng.integers(0, 2, size=(40, 3)).astype(float)
    ideal = -np.abs(findings[:, None, :] - findings[None, :, :]).sum(axis=2)  # same labels first
    figures = readings(ideal, findings)
    assert math.isclose(figures["exact: precision@10"], figures["exact: ceiling"])
    looser = figures["has the query's findings: ceiling"]
    assert figures["has the query's findings: chance"] < looser <= 1.0
    noise = readings(rng.normal(size=(40, 40)), findings)
    assert noise["exact: precision@10"] < figures["exact: precision@10"]


def test_the_bench_runs_on_a_tiny_layout(tmp_path: Path) -> None:
    data = make_tiny_dataset(tmp_path / "internal", n=40, seed=0)
    (tmp_path / "raw" / "internal").mkdir(parents=True)
    shutil.copy(data / "labels.csv", tmp_path / "raw" / "internal" / "labels.csv")
    checkpoint = shared_tiny_checkpoint()[1]  # any real checkpoint: only read
    figures = precision_figures(checkpoint, tmp_path, "train")
    assert len(figures) == 6 and all(0.0 <= value <= 1.0 for value in figures.values())
