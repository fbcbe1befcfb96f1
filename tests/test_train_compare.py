"""What a run trained, on what, and runs side by side (``dashboard.run_compare``): the Train
page named a run, its state and "done"; a PI could not tell a static-tower baseline from the
multiview run without opening config.json, nor compare their curves but by clicking between."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest

from dashboard.run_compare import (
    comparison_figure,
    comparison_table,
    facts_line,
    run_facts,
)
from dashboard.runs import runs_table


def _run(root: Path, name: str, tower: str, epochs: int, scores: list[float]) -> Path:
    """A finished run folder: config.json as training writes it, one val record an epoch."""
    run = root / "runs" / name
    run.mkdir(parents=True)
    preset = {"model": {"video": {"kind": tower}}, "train": {"frames": 8, "image_size": 64}}
    config = {
        "data": str(root / "demo" / "internal"),
        "n_train": 699,
        "n_val": 145,
        "epochs": epochs,
        "global_batch": 32,
        "device": "cpu",
        "preset": preset,
    }
    (run / "config.json").write_text(json.dumps(config))
    records = [
        {"kind": "val", "epoch": e, "selection_score": s, "val_auc": 0.6 + s}
        for e, s in enumerate(scores)
    ]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in records))
    return run


def _metrics(run: Path) -> pd.DataFrame:
    return pd.read_json(run / "metrics.jsonl", lines=True)


def test_a_run_says_its_tower_dataset_split_and_schedule(tmp_path: Path) -> None:
    run = _run(tmp_path, "multi", "multiview", 12, [0.1])
    assert facts_line(run_facts(run, tmp_path)) == (
        "multiview tower, 8 frames at 64 px · trained on demo/internal (699 train, 145 val "
        "studies) · 12 epochs, batch 32 · cpu"
    )


def test_a_run_not_yet_started_says_what_its_preset_holds(tmp_path: Path) -> None:
    """Before training writes config.json the run folder holds only preset.json: its tower and
    schedule, no dataset; a folder with neither says nothing, never "None"."""
    run = tmp_path / "runs" / "new"
    run.mkdir(parents=True)
    preset = {"model": {"video": {"kind": "static"}}, "train": {"epochs": 1, "batch_size": 16}}
    (run / "preset.json").write_text(json.dumps(preset))
    assert facts_line(run_facts(run, tmp_path)) == "static tower · 1 epoch, batch 16"
    preset["train"]["accum_freq"] = 4
    (run / "preset.json").write_text(json.dumps(preset))
    line = facts_line(run_facts(run, tmp_path))
    assert line == "static tower · 1 epoch, batch 16 in 4 micro-batches"
    (run / "preset.json").write_text("{not json")
    assert facts_line(run_facts(run, tmp_path)) == ""


def test_the_runs_table_names_each_runs_tower_and_dataset(tmp_path: Path) -> None:
    runs = [_run(tmp_path, "multi", "multiview", 12, [0.1]), _run(tmp_path, "flat", "flat", 1, [])]
    table = runs_table(runs, tmp_path)
    assert table["tower"].tolist() == ["multiview", "flat"]
    assert table["dataset"].tolist() == ["demo/internal", "demo/internal"]


def test_runs_compare_side_by_side_with_their_best_epochs(tmp_path: Path) -> None:
    multi = _run(tmp_path, "multi", "multiview", 3, [0.1, 0.3, 0.2])
    static = _run(tmp_path, "static", "static", 1, [0.05])
    metrics = {"multi": _metrics(multi), "static": _metrics(static)}
    table = comparison_table({"multi": multi, "static": static}, metrics, tmp_path)
    assert table["Tower"].tolist() == ["multiview", "static"]
    assert table["Best val R@1/5/10 (best.pt)"].tolist() == ["0.300 at epoch 2", "0.050 at epoch 1"]
    assert table["Best val zero-shot AUC"].tolist() == ["0.900 at epoch 2", "0.650 at epoch 1"]
    figure = comparison_figure(metrics)
    drawn = {(trace.name, trace.xaxis): list(trace.y) for trace in figure.data}
    assert drawn[("multi", "x")] == pytest.approx([0.1, 0.3, 0.2])
    assert drawn[("static", "x2")] == pytest.approx([0.65])
    assert [t.showlegend for t in figure.data if t.name == "multi"] == [True, False]  # once a run


def test_a_run_started_from_another_runs_checkpoint_says_which(tmp_path: Path) -> None:
    """``train --init-from``: the run's line and the compare table name the checkpoint (under
    the data root, with its step); a run trained from scratch says nothing of the kind."""
    source = _run(tmp_path, "site-a", "multiview", 12, [0.1])
    (source / "best.pt").write_bytes(b"")
    tuned = _run(tmp_path, "site-b", "multiview", 3, [0.2])
    config = json.loads((tuned / "config.json").read_text())
    config["init_from"] = {"checkpoint": str(source / "best.pt"), "step": 120, "epoch": 12}
    (tuned / "config.json").write_text(json.dumps(config))
    line = facts_line(run_facts(tuned, tmp_path))
    assert " · initialised from runs/site-a/best.pt (step 120) · 3 epochs" in line
    assert "initialised" not in facts_line(run_facts(source, tmp_path))
    runs = {"site-a": source, "site-b": tuned}
    table = comparison_table(runs, {name: _metrics(run) for name, run in runs.items()}, tmp_path)
    assert table["Initialised from"].tolist() == ["", "runs/site-a/best.pt (step 120)"]


def test_a_run_without_validation_compares_as_blanks(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "bare"
    run.mkdir(parents=True)
    table = comparison_table({"bare": run}, {"bare": pd.DataFrame()}, tmp_path)
    assert table.loc[0, "Best val R@1/5/10 (best.pt)"] == ""
    assert not comparison_figure({"bare": pd.DataFrame()}).data


def test_the_train_page_says_what_the_run_trained_and_compares_runs(app, data_root: Path) -> None:
    """The tiny root's run and a second one: the run panel names its tower and dataset, and
    Compare runs shows both, the two newest picked at first."""
    second = _run(data_root, "second", "static", 1, [0.2])
    try:
        at = app("pages/train.py")
        assert not at.exception
        assert any(" tower" in m.value and "trained on" in m.value for m in at.markdown)
        picked = at.multiselect(key="train-compare")
        assert sorted(picked.value) == ["runs/second", "runs/tiny"]
        compared = at.dataframe[-1].value
        assert set(compared["Run"]) == {"runs/second", "runs/tiny"}
    finally:
        shutil.rmtree(second)


def test_a_live_runs_line_counts_its_epochs_as_the_runs_table_does(tmp_path: Path) -> None:
    """While a time budget chose the count, the Train page said "3/~14" in the runs table,
    "3/15" on the job's bar and "200 epochs" (only the cap) in the run's own line."""
    from dashboard.run_compare import open_estimate

    run = _run(tmp_path, "budgeted", "multiview", 200, [0.1])
    status = {"state": "running", "epoch": 3, "epochs": 200, "epochs_estimate": 14}
    line = facts_line(run_facts(run, tmp_path), open_estimate(status, live=True))
    assert "~14 epochs by its time budget (at most 200), batch 32" in line
    assert "200 epochs" not in line
    opened = facts_line(run_facts(run, tmp_path), 200)  # no epoch timed yet: only the cap
    assert "at most 200 epochs, chosen by its time budget, batch 32" in opened
    assert open_estimate(status, live=False) is None  # stopped: resume counts from the cap
    assert open_estimate({**status, "epochs_estimate": None}, live=True) is None  # chosen
