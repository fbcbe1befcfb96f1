"""bench_evaluate_quality's target table on a hand-made summary: values, thresholds per site,
the 8-shot comparison against zero-shot on the same labels, and the P@10 ceiling."""

from __future__ import annotations

import math
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.bench_evaluate_quality import targets  # noqa: E402


def site_record(site: str, probe: float) -> dict:
    fewshot = [
        {"label": "lge", "method": "prototype", "k": 1, "auc": 0.80},
        {"label": "lge", "method": "prototype", "k": 8, "auc": 0.90},
        {"label": "lge", "method": "prompted", "k": 1, "auc": 0.92},
        {"label": "lge", "method": "prompted", "k": 8, "auc": 0.96},
    ]
    zeroshot = [{"label_key": "lge", "auc": 0.94}, {"label_key": "rv_dilation", "auc": 0.50}]
    return {
        "model": "multiview",
        "site": site,
        "fewshot": fewshot,
        "zeroshot": zeroshot,  # rv_dilation has no 8-shot row, so it is left out of the mean
        "diagnosis": {"linear probe": {"accuracy": probe}},
        "retrieval": [
            {
                "direction": "report_to_study",
                "label_precision@10": 0.45,
                "label_precision@10_ceiling": 0.76,
            }
        ],
    }


def test_every_target_row_with_site_thresholds() -> None:
    summary = {"results": [site_record("internal", 0.93), site_record("external", 0.93)]}
    summary["results"].append({**site_record("internal", 0.99), "model": "static"})
    table = targets(summary, "multiview").set_index(["site", "target"])
    assert len(table) == 14  # seven targets on each of two sites; the static record is skipped
    internal, external = table.loc["internal"], table.loc["external"]
    assert internal.loc["1-shot prototype mean AUC", "value"] == pytest.approx(0.80)
    assert not internal.loc["1-shot prototype mean AUC", "met"]
    assert internal.loc["8-shot prototype mean AUC - zero-shot", "value"] == pytest.approx(-0.04)
    assert internal.loc["8-shot prompted mean AUC - zero-shot", "met"]
    assert not internal.loc["linear probe diagnosis accuracy", "met"]  # 0.93 < 0.95
    assert external.loc["linear probe diagnosis accuracy", "met"]  # 0.93 >= 0.90
    assert math.isnan(internal.loc["train-split probe diagnosis accuracy", "value"])
    assert internal.loc["label-consistent precision@10", "ceiling"] == pytest.approx(0.76)
