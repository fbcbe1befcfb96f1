"""The Train page's sweep: the grid's fields (learning rates, text learning rates, weight
decays, warmup steps, seeds) launch one ``model sweep`` job (the grid read by the sweep's own
code, a bad value refused on the page in one line naming its field, the run count shown before
launch, a grid over the limit refused), a sweep's run says so in its line, Compare runs ranks
a sweep's runs and extends them to more epochs (the sweep's own command, ``--epochs N``)."""

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


def _launch(at: AppTest) -> None:
    next(b for b in at.button if b.label == "Launch training").click().run()


@pytest.mark.parametrize(
    ("key", "text", "said"),
    [
        ("train-sweep-text-lr", "1e-5, oops", "Text learning rates: --text-lr: 'oops' is not"),
        ("train-sweep-weight-decay", "0.1, -1", "Weight decays: --weight-decay must be \\>= 0"),
        ("train-sweep-warmup-steps", "10, 2.5", "Warmup steps: --warmup-steps: '2.5' is not a"),
    ],
)
def test_a_bad_value_of_a_sweep_field_is_one_line_naming_it(page, key, text, said) -> None:
    at, launched, _ = page
    at.text_input(key=key).input(text)
    _launch(at)
    assert not launched and [e.value for e in at.error if said in e.value]
    assert not at.exception


def test_the_whole_grid_shows_its_run_count_and_launches_with_its_flags(page) -> None:
    at, launched, root = page
    name = next(t for t in at.text_input if t.label == "Run name").value
    at.text_input(key="train-sweep-lr").input("1e-3, 3e-4, 1e-4")
    at.text_input(key="train-sweep-text-lr").input("1e-5")
    at.text_input(key="train-sweep-weight-decay").input("0.01, 0.1")
    at.text_input(key="train-sweep-warmup-steps").input("0, 100").run()
    assert "This sweep: 3 × 1 × 2 × 2 = 12 runs, at most 24." in [c.value for c in at.caption]
    at.text_input(key="train-sweep-seed").input("0, 1").run()  # 24 runs: the most
    at.text_input(key="train-sweep-text-lr").input("1e-5, 3e-5")  # 48
    _launch(at)
    assert not launched and any("the grid has 48 runs" in e.value for e in at.error)
    at.text_input(key="train-sweep-seed").input("")
    _launch(at)
    [(_, command, title, kw)] = launched
    assert title == f"Sweep {name} (24 runs)"
    flags = {flag: command[command.index(flag) + 1] for flag in command if flag.startswith("--")}
    assert flags["--lr"] == "0.001,0.0003,0.0001" and flags["--text-lr"] == "1e-05,3e-05"
    assert flags["--weight-decay"] == "0.01,0.1" and flags["--warmup-steps"] == "0,100"
    assert "--seed" not in flags
    kw["prepare"]()
    args = parsed_command("model.training.sweep", command[command.index("sweep") + 1 :])[1]
    plan = plan_sweep(args)  # the command is one the sweep takes
    assert plan.runs[0].name == f"{name}-lr1e-3-textlr1e-5-wd0.01-warmup0"
    assert len(plan.runs) == 24 and plan.out_root == root / "runs"


def test_extend_sweep_launches_its_own_command_with_more_epochs(page) -> None:
    at, launched, root = page
    runs = root / "runs"
    record = json.loads((runs / "s.sweep.json").read_text())
    given = ["sweep", "--data", "ds", "--out-root", str(runs), "--name", "s", "--epochs", "2"]
    record["command"] = [*given, "--lr", "0.001,0.0001"]
    for entry in record["runs"]:
        entry["state"] = "finished"
    (runs / "s.sweep.json").write_text(json.dumps(record))
    at.selectbox(key="train-compare-sweep").set_value("s").run()
    extend = at.number_input(key="train-extend-s")
    assert extend.label == "Extend sweep to N epochs" and extend.value == 3  # runs have 2
    extend.set_value(5)
    at.button(key="train-extend-button-s").click().run()
    [(kind, command, title, kw)] = launched
    assert (kind, title) == ("train", "Extend sweep s to 5 epochs")
    assert command[command.index("model") + 1 :] == [
        *given[:-2], "--lr", "0.001,0.0001", "--epochs", "5"
    ]  # fmt: skip
    assert kw["outputs"]["sweep"] == str(runs / "s.sweep.json")  # its Stop: job_for_run


def test_extending_a_sweep_whose_record_keeps_no_command_is_one_line(tmp_path: Path) -> None:
    from dashboard.sweep_launch import extend_job
    from model.errors import UserError

    _record(tmp_path, "s", {"s-lr1e-3": 1e-3})  # command: [] (written by hand, or torn)
    with pytest.raises(UserError, match=r"^s.sweep.json keeps no sweep command .* --epochs 4$"):
        extend_job(tmp_path / "s.sweep.json", 4)
    with pytest.raises(UserError, match="keeps no sweep command"):
        extend_job(tmp_path / "none.sweep.json", 4)
