"""The Evaluate page's column order: the AUC and its interval in sight on a laptop.

The tables are written model, Label, Accuracy, F1-score, AUC, ... with every interval at the far
end, so at 1280 px the per-finding table showed the model's name on every row and the AUC's 95%
interval only after scrolling right past a dozen columns.
"""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pytest

from dashboard.evaluation_columns import (
    CONFUSION_ROWS,
    column_labels,
    downloads_in_order,
    figures_in_order,
    in_site_order,
    shown_columns,
    site_names,
)

ZEROSHOT = (
    "model,Label,Accuracy,F1-score,AUC,label_key,setting,n,n_positive,auc_lo,auc_hi,"
    "accuracy_lo,accuracy_hi,f1_lo,f1_hi,site,task\n"
    "m,LGE,0.8,0.7,0.9,lge,zero-shot,100,30,0.85,0.95,0.7,0.9,0.6,0.8,internal,finding\n"
    "m,Normal,0.7,0.6,0.8,normal,zero-shot,100,40,0.75,0.85,0.6,0.8,0.5,0.7,internal,diagnosis\n"
)


def _table(text: str) -> pd.DataFrame:
    import io

    return pd.read_csv(io.StringIO(text))


def test_a_finding_table_leads_with_its_auc_and_interval_and_keeps_every_column() -> None:
    table = _table(ZEROSHOT)
    shown = shown_columns(table)
    assert shown[:4] == ["Label", "AUC", "auc_lo", "auc_hi"]
    assert shown[4:7] == ["Accuracy", "accuracy_lo", "accuracy_hi"]
    assert shown[7:10] == ["F1-score", "f1_lo", "f1_hi"]
    assert shown[-3:] == ["model", "setting", "site"]  # one value on every row: last
    assert sorted(shown) == sorted(table.columns)


def test_rows_told_apart_by_method_and_k_or_by_model_keep_those_first() -> None:
    fewshot = _table(
        "model,Label,AUC,method,k,auc_lo,auc_hi\n"
        "a,LGE,0.7,prototype,1,0.6,0.8\nb,LGE,0.8,logistic,8,0.7,0.9\n"
    )
    assert shown_columns(fewshot) == [
        "Label", "method", "k", "AUC", "auc_lo", "auc_hi", "model"
    ]  # fmt: skip
    retrieval = _table("direction,R@10,R@10_lo,R@10_hi,n\nv2t,0.3,0.2,0.4,10\n")
    assert shown_columns(retrieval) == ["direction", "R@10", "R@10_lo", "R@10_hi", "n"]


@pytest.mark.slow
def test_the_evaluate_page_shows_a_table_in_that_order(app, data_root: Path) -> None:
    import shutil

    folder = data_root / "evaluations" / "eval-20260101-000000"
    try:
        (folder / "internal").mkdir(parents=True)
        (folder / "internal" / "zeroshot.csv").write_text(ZEROSHOT)
        config = {"checkpoint": "/runs/a/best.pt", "compare": []}
        (folder / "summary.json").write_text(json.dumps({"config": config, "results": []}))
        at = app("pages/evaluate.py")
        assert not at.exception
        # the zero-shot table and the published figures' beside it
        frames = [f for f in at.dataframe if "auc_lo" in json.loads(f.proto.columns)]
        assert frames
        for frame in frames:
            assert list(frame.proto.column_order)[:4] == ["Label", "AUC", "auc_lo", "auc_hi"]
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)


def test_each_sites_files_come_in_the_evaluations_site_order() -> None:
    """Sorted by name, the external site's tables, figures and scores came before the internal
    site's on every tab."""
    summary = {"sites": [{"name": "internal"}, {"name": "external"}, "not a site"]}
    assert site_names(summary) == ["internal", "external"]
    assert site_names({}) == [] and site_names({"sites": "x"}) == []
    names = ["external/zeroshot.csv", "external/probe.csv", "internal/zeroshot.csv", "report.html"]
    assert in_site_order(names, ["internal", "external"]) == [
        "internal/zeroshot.csv", "external/zeroshot.csv", "external/probe.csv", "report.html"
    ]  # fmt: skip
    assert in_site_order(names, []) == names


def test_a_site_named_in_words_keeps_its_place() -> None:
    """The outputs write a site's files under its name as a file name (``Hospital B`` ->
    ``Hospital_B/``), and the order matched the name as written, so such a site fell last."""
    names = ["Z_site/zeroshot.csv", "Hospital_B/zeroshot.csv", "internal/zeroshot.csv"]
    assert in_site_order(names, ["internal", "Hospital B", "Z site"]) == [
        "internal/zeroshot.csv", "Hospital_B/zeroshot.csv", "Z_site/zeroshot.csv"
    ]  # fmt: skip


@pytest.mark.slow
def test_the_evaluate_page_shows_the_internal_sites_tables_first(app, data_root: Path) -> None:
    import shutil

    folder = data_root / "evaluations" / "eval-20260101-000000"
    try:
        for site in ("internal", "external"):
            (folder / site).mkdir(parents=True)
            (folder / site / "zeroshot.csv").write_text(ZEROSHOT)
        sites = [{"name": "internal"}, {"name": "external"}]
        config = {"checkpoint": "/runs/a/best.pt", "compare": []}
        summary = {"config": config, "results": [], "sites": sites}
        (folder / "summary.json").write_text(json.dumps(summary))
        at = app("pages/evaluate.py")
        assert not at.exception
        titles = [m.value for m in at.markdown if m.value.endswith("zeroshot.csv**")]
        assert titles == ["**internal/zeroshot.csv**", "**external/zeroshot.csv**"]
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)


def test_a_confusion_matrix_says_which_way_it_reads() -> None:
    """Its first column was headed ``true`` only: nothing said the other columns are the
    predicted diagnosis."""
    matrix = _table("true,Normal,NICM\nNormal,19,1\nNICM,4,24\n")
    assert column_labels(matrix) == {"true": CONFUSION_ROWS}
    assert column_labels(_table(ZEROSHOT))["auc_lo"] == "AUC CI low"  # intervals: see below


def test_a_per_label_tables_counts_are_headed_as_report_md_heads_them() -> None:
    """The page headed a zero-shot or comparison table's counts n and n_positive where report.md
    says studies and with the label; a table without n_positive (retrieval: n queries) keeps n."""
    comparison = _table(
        "model,baseline,Label,n,n_positive,auc_a,auc_b,difference\nm,b,LGE,9,3,1,1,0\n"
    )
    labels = column_labels(comparison)
    assert (labels["n"], labels["n_positive"]) == ("studies", "with the label")
    assert labels["auc_a"] == "AUC, model"
    assert "n" not in column_labels(_table("model,direction,R@10,n\nm,report,0.3,40\n"))


def test_interval_columns_are_headed_by_their_figure() -> None:
    """The page headed a table's intervals auc_lo, accuracy_hi, f1_lo: code on a slide's
    screenshot. Each is headed by the figure it bounds; columns of no figure keep their name."""
    labels = column_labels(_table(ZEROSHOT))
    assert labels == {
        "n": "studies",
        "n_positive": "with the label",
        "auc_lo": "AUC CI low",
        "auc_hi": "AUC CI high",
        "accuracy_lo": "Accuracy CI low",
        "accuracy_hi": "Accuracy CI high",
        "f1_lo": "F1-score CI low",
        "f1_hi": "F1-score CI high",
    }
    assert column_labels(_table("R@10,r@10_lo,r@10_hi,x_lo\n0.3,0.2,0.4,1\n")) == {
        "r@10_lo": "R@10 CI low",
        "r@10_hi": "R@10 CI high",
    }


@pytest.mark.slow
def test_the_evaluate_page_heads_a_confusion_matrix_as_it_reads(app, data_root: Path) -> None:
    import shutil

    folder = data_root / "evaluations" / "eval-20260101-000000"
    try:
        (folder / "internal").mkdir(parents=True)
        (folder / "internal" / "confusion_zero-shot_m.csv").write_text(
            "true,Normal,NICM\nNormal,19,1\nNICM,4,24\n"
        )
        config = {"checkpoint": "/runs/a/best.pt", "compare": []}
        (folder / "summary.json").write_text(json.dumps({"config": config, "results": []}))
        at = app("pages/evaluate.py")
        [frame] = [f for f in at.dataframe if "true" in json.loads(f.proto.columns)]
        assert json.loads(frame.proto.columns)["true"]["label"] == CONFUSION_ROWS
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)


def test_figures_lead_with_the_roc_and_reports_lead_the_downloads() -> None:
    """Sorted by name, a site's confusion matrices came first and its ROC (the headline's
    figure) last; the reports came after every site's per-study scores."""
    figures = [
        "external/plots/roc_m.png",
        "internal/plots/confusion_zero-shot_m.png",
        "internal/plots/fewshot_m.png",
        "internal/plots/roc_m.png",
        "internal/plots/comparison_m.png",
    ]
    assert figures_in_order(figures, ["internal", "external"]) == [
        "internal/plots/roc_m.png",
        "internal/plots/comparison_m.png",
        "internal/plots/fewshot_m.png",
        "internal/plots/confusion_zero-shot_m.png",
        "external/plots/roc_m.png",
    ]
    downloads = ["external/study_scores.csv", "internal/study_scores.csv", "report.html"]
    assert downloads_in_order([*downloads, "report.md"], ["internal", "external"]) == [
        "report.html",
        "report.md",
        "internal/study_scores.csv",
        "external/study_scores.csv",
    ]


def test_a_comparisons_aucs_say_which_model_each_is() -> None:
    """The Model comparison tab headed its AUCs auc_a and auc_b: which was the baseline was a
    guess (the model column, one value on every row, is shown last)."""
    table = _table(
        "model,baseline,Label,auc_a,auc_b,difference,difference_lo,difference_hi\n"
        "m,b,LGE,0.8,0.7,0.1,0.05,0.15\n"
    )
    labels = column_labels(table)
    assert labels["auc_a"] == "AUC, model" and labels["auc_b"] == "AUC, baseline"
    assert labels["difference_lo"] == "AUC difference (model − baseline) CI low"
