"""The Evaluate page's Figures tab points to the Few-shot tab's interactive chart above a
few-shot figure too wide to read on a tablet: its 1,322 px PNG was drawn at half size on a
768-1,024 px screen, its 7-8 pt text unreadable."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from dashboard.evaluation_columns import WIDE_FIGURE_PX, figure_note
from dashboard.evaluation_view import read_outputs
from model.evaluation.plots import plot_fewshot

TABS = ["Zero-shot", "Few-shot"]


def _fewshot(labels: list[str]) -> pd.DataFrame:
    rows = [
        {"model": "m", "label_key": label, "Label": label, "method": method, "k": k,
         "auc": 0.7, "AUC": 0.7, "auc_lo": 0.6, "auc_hi": 0.8}
        for label in labels
        for method in ("prototype", "logistic")
        for k in (1, 2, 4, 8)
    ]  # fmt: skip
    return pd.DataFrame(rows)


def _evaluation(folder: Path) -> Path:
    """An evaluation folder holding one site's few-shot table and its figure, four panels
    abreast as ``plot_fewshot`` draws them for the demo's findings."""
    labels = ["lv_dilation", "lv_dysfunction", "lge", "pericardial_effusion", "valve"]
    table = _fewshot(labels)
    (folder / "internal" / "plots").mkdir(parents=True)
    table.drop(columns=["label_key", "auc"]).to_csv(folder / "internal" / "fewshot.csv")
    plot_fewshot(table, {}, "few-shot", folder / "internal" / "plots" / "fewshot_m.png")
    summary = {"config": {"checkpoint": "/runs/a/best.pt"}, "results": [], "problems": []}
    (folder / "summary.json").write_text(json.dumps(summary))
    return folder


def test_only_a_wide_figure_with_an_interactive_tab_gets_the_note():
    wide = WIDE_FIGURE_PX + 1
    note = figure_note("internal/plots/fewshot_m.png", wide, TABS)
    assert note is not None and "**Few-shot** tab" in note
    assert figure_note("internal/plots/fewshot_m.png", WIDE_FIGURE_PX, TABS) is None
    assert figure_note("internal/plots/fewshot_m.png", wide, ["Zero-shot"]) is None
    assert figure_note("internal/plots/roc_m.png", wide, TABS) is None


def test_the_few_shot_png_is_measured_as_too_wide(tmp_path: Path):
    outputs = read_outputs(_evaluation(tmp_path / "eval"))
    [image] = outputs.images
    assert outputs.image_widths[image] > WIDE_FIGURE_PX


@pytest.mark.slow
def test_the_figures_tab_points_to_the_few_shot_tab(app, data_root: Path) -> None:
    folder = _evaluation(data_root / "evaluations" / "eval-20260101-000000")
    try:
        at = app("pages/evaluate.py")
        assert not at.exception, [e.value for e in at.exception]
        captions = [c.value for c in at.caption]
        assert any("the **Few-shot** tab draws the same curves" in c for c in captions), captions
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)
