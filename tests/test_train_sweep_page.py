"""The Train page's sweep: several learning rates launch one ``model sweep`` job (the grid read
by the sweep's own code, a bad value refused on the page), a sweep's run says so in its line,
and Compare runs ranks a sweep's runs."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from model.cli import parsed_command
from model.training.sweep import plan_sweep
from tests.test_train_runs import APP
from tests.tiny_dataset import make_tiny_dataset


def _sweep_run(runs: Path, name: str, lr: float, scores: list[float], age_s: float) -> None:
    run = runs / name
    run.mkdir(parents=True)
    (run / "status.json").write_text(json.dumps({"state": "finished"}))
    preset = {"model": {"video": {"kind": "multiview"}}, "train": {"lr": lr, "seed": 0}}
    (run / "config.json").write_text(json.dumps({"preset": preset, "epochs": len(scores)}))
    val = [{"kind": "val", "epoch": e, "selection_score": s} for e, s in enumerate(scores)]
    (run / "metrics.jsonl").write_text("".join(json.dumps(r) + "\n" for r in val))
    stamp = os.stat(run).st_mtime - age_s
    for path in (run / "status.json", run / "config.json", run):
        os.utime(path, (stamp, stamp))


def _record(runs: Path, name: str, members: dict[str, float]) -> None:
    entries = [{"name": run, "values": {"lr": lr}} for run, lr in members.items()]
    record = {"name": name, "data": "ds", "command": [], "grid": {"lr": []}, "runs": entries}
    (runs / f"{name}.sweep.json").write_text(json.dumps(record))


@pytest.fixture
def page(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> tuple[AppTest, list, Path]:
    """The Train page over a root holding the tiny dataset and a finished sweep ``s`` of two
    runs (``s-lr1e-3`` the better), and the jobs its Launch training hands the job runner."""
    root = tmp_path / "data"
    make_tiny_dataset(root / "ds" / "tiny", n=8)
    runs = root / "runs"
    _sweep_run(runs, "s-lr1e-3", 1e-3, [0.2, 0.6], age_s=100)
    _sweep_run(runs, "s-lr1e-4", 1e-4, [0.3, 0.4], age_s=10)
    _record(runs, "s", {"s-lr1e-3": 1e-3, "s-lr1e-4": 1e-4})
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    launched: list = []
    monkeypatch.setattr(
        "dashboard.ui.launch",
        lambda jobs, kind, command, title, **kw: launched.append((kind, command, title, kw)),
    )
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/train.py")
    at.run()
    assert not at.exception, [e.value for e in at.exception]
    return at, launched, root


def test_a_sweeps_runs_say_so_and_compare_ranked(page) -> None:
    at, _, _ = page
    assert any("run of sweep s" in m.value for m in at.markdown)  # the shown run's line
    at.selectbox(key="train-compare-sweep").set_value("s").run()
    table = at.dataframe[-1].value
    assert table["Run"].tolist() == ["runs/s-lr1e-3", "runs/s-lr1e-4"]  # 0.6 before 0.4
    assert table["Learning rate"].tolist() == ["1e-3", "1e-4"]


def test_several_learning_rates_launch_one_sweep_job(page) -> None:
    at, launched, root = page
    name = next(t for t in at.text_input if t.label == "Run name").value
    at.text_input(key="train-sweep-lr").input("1e-3, x")
    next(b for b in at.button if b.label == "Launch training").click().run()
    assert not launched and any("'x' is not a number" in e.value for e in at.error)
    at.text_input(key="train-sweep-lr").input("1e-3, 3e-4")
    next(b for b in at.button if b.label == "Launch training").click().run()
    [(kind, command, title, kw)] = launched
    assert kind == "train" and title == f"Sweep {name} (2 runs)"
    assert command[command.index("model") + 1] == "sweep" and "--out" not in command
    assert command[command.index("--lr") + 1] == "0.001,0.0003"
    assert "sweep" in kw["outputs"] and "run" not in kw["outputs"]
    kw["prepare"]()  # the preset it starts each run from, written under the launch lock
    args = parsed_command("model.training.sweep", command[command.index("sweep") + 1 :])[1]
    plan = plan_sweep(args)  # the command is one the sweep takes, as the page planned it
    assert [run.name for run in plan.runs] == [f"{name}-lr1e-3", f"{name}-lr3e-4"]
    assert plan.out_root == root / "runs" and Path(args.preset).is_file()


def test_the_run_a_sweep_job_trains_now_is_that_jobs_for_its_stop(tmp_path: Path) -> None:
    from dashboard.job import Job
    from dashboard.runs import job_for_run

    runs = tmp_path / "runs"
    runs.mkdir()
    _record(runs, "s", {"s-lr1e-3": 1e-3, "s-lr1e-4": 1e-4})
    record = json.loads((runs / "s.sweep.json").read_text())
    record["runs"][0]["state"] = "finished"
    record["runs"][1]["state"] = "running"
    (runs / "s.sweep.json").write_text(json.dumps(record))
    job = Job(tmp_path, {"outputs": {"sweep": str(runs / "s.sweep.json")}}, "running")
    assert job_for_run([job], runs / "s-lr1e-4") is job  # its Stop stops the sweep
    assert job_for_run([job], runs / "s-lr1e-3") is None  # finished: no Stop of the sweep there
    ended = Job(tmp_path, job.info, "finished")
    assert job_for_run([ended], runs / "s-lr1e-4") is None
