"""The evaluation headline: means read from the summary's result records, per model and site."""

from __future__ import annotations

import math
from pathlib import Path

import pytest

from model.evaluation.headline import headline, headline_text, mean_of


def _result(model: str, site: str, scale: float = 1.0) -> dict:
    return {
        "model": model,
        "site": site,
        "zeroshot": [
            {"label_key": "lge", "auc": 0.9 * scale},
            {"label_key": "rv_dilation", "auc": 0.7},
            {"label_key": "normal", "auc": 0.0},  # diagnosis classes' one-vs-rest rows
            {"label_key": "hcm", "auc": 0.0},
        ],
        "diagnosis": {"zero-shot": {"accuracy": 0.5}, "linear probe": {"accuracy": 0.8}},
        "fewshot": [
            {"label": "lge", "method": "prototype", "k": 1, "auc": 0.6},
            {"label": "rv", "method": "prototype", "k": 1, "auc": 0.8},
            {"label": "lge", "method": "prototype", "k": 8, "auc": 0.9},
            {"label": "lge", "method": "logistic", "k": 1, "auc": 0.1},
        ],
        "probe": [
            {"label_key": "lge", "setting": "linear probe", "auc": 0.95},
            {"label_key": "lge", "setting": "train-split probe", "auc": 0.05},
            {"label_key": "amyloidosis", "setting": "linear probe", "auc": 0.05},
        ],
        "retrieval": [
            {"direction": "study_to_report", "R@10": 0.1},
            {"direction": "report_to_study", "R@10": 0.4, "label_precision@10": 0.3},
        ],
    }


def test_headline_means_match_hand_computed_values() -> None:
    table = headline([_result("m", "internal"), _result("m", "external", scale=0.5)])
    assert list(table.columns) == ["figure", "internal", "external"]
    row = table.set_index("figure")
    assert row.loc["zero-shot findings, mean AUC", "internal"] == pytest.approx(0.8)
    assert row.loc["zero-shot findings, mean AUC", "external"] == pytest.approx(0.575)
    assert row.loc["few-shot prototype, mean AUC (k = 1)", "internal"] == pytest.approx(0.7)
    assert row.loc["few-shot prototype, mean AUC (k = 8)", "internal"] == pytest.approx(0.9)
    # neither the diagnosis classes' rows nor the train-split probe's finding rows count here
    assert row.loc["linear probe findings, mean AUC (cross-validated)", "internal"] == 0.95
    assert row.loc["linear probe diagnosis, accuracy (cross-validated)", "internal"] == 0.8
    assert row.loc["report → study, R@10", "internal"] == 0.4  # not study → report's 0.1
    # figures no result has (prompted few-shot, the train-split diagnosis, the ceiling) are dropped
    assert "few-shot prompted, mean AUC (k = 8)" not in row.index
    assert "linear probe diagnosis, accuracy (fitted on the train split)" not in row.index
    assert "report → study, label-consistent precision@10 ceiling" not in row.index


def test_headline_sites_compare_on_the_same_labels() -> None:
    """The demo's internal test split has too few pericardial effusions for 8-shot episodes: its
    8-shot mean was over 6 labels, the external one over 7, and the difference read as a drop
    at the external site. Each row's means are over the labels every column has."""
    internal, external = _result("m", "internal"), _result("m", "external")
    external["fewshot"] = [*external["fewshot"], {"label": "rv", "method": "prototype", "k": 8,
                                                  "auc": 0.5}]  # fmt: skip
    external["zeroshot"] = [r for r in external["zeroshot"] if r["label_key"] != "rv_dilation"]
    row = headline([internal, external]).set_index("figure")
    assert row.loc["few-shot prototype, mean AUC (k = 8)", "internal"] == pytest.approx(0.9)
    assert row.loc["few-shot prototype, mean AUC (k = 8)", "external"] == pytest.approx(0.9)
    assert row.loc["zero-shot findings, mean AUC", "internal"] == pytest.approx(0.9)  # lge only
    assert row.loc["zero-shot findings, mean AUC", "external"] == pytest.approx(0.9)
    alone = headline([internal]).set_index("figure")  # one column: all of its labels
    assert alone.loc["zero-shot findings, mean AUC", "internal"] == pytest.approx(0.8)


def test_headline_names_columns_by_model_when_there_are_several() -> None:
    table = headline([_result("a", "internal"), _result("b", "internal")])
    assert list(table.columns) == ["figure", "a · internal", "b · internal"]
    assert headline([]).empty


def test_mean_of_skips_missing_values_and_other_rows() -> None:
    rows = [
        {"k": 1, "auc": 0.5},
        {"k": 1, "auc": None},
        {"k": 1, "auc": math.nan},
        {"k": 2, "auc": 1},
    ]
    assert mean_of(rows, "auc", k=1) == 0.5
    assert math.isnan(mean_of(rows, "auc", k=3))


def test_headline_text_gives_single_figures_their_intervals() -> None:
    """The headline showed point values only; a single figure (an accuracy, a retrieval figure)
    now carries the 95% CI the run recorded beside it. A mean over labels without a recorded
    interval (a run before them) shows none."""
    internal, external = _result("m", "internal"), _result("m", "external")
    internal["diagnosis"]["zero-shot"] |= {"accuracy_lo": 0.41, "accuracy_hi": 0.6}
    internal["retrieval"][1] |= {"R@10_lo": 0.35, "R@10_hi": 0.45}
    external["retrieval"][1] |= {"R@10_lo": None, "R@10_hi": None}  # a run without resamples
    text = headline_text([internal, external]).set_index("figure")
    assert text.loc["zero-shot diagnosis, accuracy", "internal"] == "0.500 (0.410–0.600)"
    assert text.loc["zero-shot diagnosis, accuracy", "external"] == "0.500"
    assert text.loc["report → study, R@10", "internal"] == "0.400 (0.350–0.450)"
    assert text.loc["report → study, R@10", "external"] == "0.400"
    assert text.loc["few-shot prototype, mean AUC (k = 1)", "internal"] == "0.700"
    assert list(text.index) == list(headline([internal, external])["figure"])
    assert headline_text([]).empty


def test_headline_text_gives_a_mean_the_interval_recorded_over_its_labels() -> None:
    """A mean over labels shows the interval the run recorded for exactly the labels it
    averages (``label_means``); one recorded over other labels would not be its interval."""
    internal, external = _result("m", "internal"), _result("m", "external")
    zero_shot, fewshot = "zero-shot findings, mean AUC", "few-shot prototype, mean AUC (k = 1)"
    internal["mean_intervals"] = {
        zero_shot: {"labels": ["lge", "rv_dilation"], "auc_lo": 0.71, "auc_hi": 0.86},
        fewshot: {"labels": ["lge"], "auc_lo": 0.5, "auc_hi": 0.9},  # the mean is over lge, rv
    }
    external["mean_intervals"] = {zero_shot: {"labels": ["lge"], "auc_lo": 0.6, "auc_hi": 0.9}}
    text = headline_text([internal, external]).set_index("figure")
    assert text.loc[zero_shot, "internal"] == "0.800 (0.710–0.860)"
    assert text.loc[zero_shot, "external"] == "0.800"
    assert text.loc[fewshot, "internal"] == "0.700"


def test_the_pages_headline_keeps_each_interval_on_one_line() -> None:
    """At 800 px the Evaluate page's wrapping table broke an interval after its dash ("0.410–"
    over "0.600)"); the words around it may still wrap, the figures read as written."""
    from dashboard.evaluation_view import WORD_JOINER, EvaluationOutputs

    internal = _result("m", "internal")
    internal["diagnosis"]["zero-shot"] |= {"accuracy_lo": 0.41, "accuracy_hi": 0.6}
    outputs = EvaluationOutputs(Path("unused"), summary={"results": [internal]})
    shown = outputs.key_figures_shown().set_index("figure")
    cell = shown.loc["zero-shot diagnosis, accuracy", "internal"]
    assert cell == f"0.500 (0.410–{WORD_JOINER}0.600)"
    assert (
        cell.replace(WORD_JOINER, "")
        == outputs.key_figures()
        .set_index("figure")
        .loc["zero-shot diagnosis, accuracy", "internal"]
    )
