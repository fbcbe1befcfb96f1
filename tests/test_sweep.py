"""``python -m model sweep``: the grid and its names, bad input refused before anything starts,
the restart rule (finished skipped, stopped resumed, missing started), a stop passed on to the
run in training, and one real sweep of a one-step run."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from model.cli import main as cli_main
from model.cli import parsed_command
from model.errors import UserError
from model.training.sweep import plan_sweep, run_sweep
from model.training.sweep_grid import DIMENSIONS, parse_values, plan_grid, value_text
from model.training.sweep_record import ranking_lines, read_record, read_sweep_of
from tests.tiny_dataset import make_tiny_dataset, write_tiny_preset

LR = DIMENSIONS[0]
SEED = next(d for d in DIMENSIONS if d.dest == "seed")


def test_values_are_read_and_written_canonically() -> None:
    assert parse_values(" 1e-3, 3e-4,0.0001 ", LR) == (1e-3, 3e-4, 1e-4)
    assert [value_text(v) for v in (1e-3, 3e-4, 2.5e-5, 0.01, 0.05, 1.0, 100.0, 0, 7)] == [
        "1e-3", "3e-4", "2.5e-5", "0.01", "0.05", "1", "100", "0", "7"
    ]  # fmt: skip


def test_grid_names_each_combination_in_order() -> None:
    runs = plan_grid("base", {"lr": "1e-3,3e-4", "seed": "0,1", "text_lr": None})
    assert [r.name for r in runs] == [
        "base-lr1e-3-seed0", "base-lr1e-3-seed1", "base-lr3e-4-seed0", "base-lr3e-4-seed1"
    ]  # fmt: skip
    assert runs[2].values == {"lr": 3e-4, "seed": 0}
    one = plan_grid("b", {"weight_decay": "0.05", "warmup_steps": "100"})
    assert [r.name for r in one] == ["b-wd0.05-warmup100"]


@pytest.mark.parametrize(
    ("given", "said"),
    [
        ({"lr": "1e-3,x"}, "'x' is not a number"),
        ({"lr": "1e-3,-1e-4"}, "--lr must be > 0"),
        ({"lr": "1e-3,0.001"}, "0.001 is given twice"),
        ({"lr": "1e-3,,1e-4"}, "an empty value"),
        ({"seed": "1.5"}, "not a whole number"),
        ({"seed": "-1"}, "--seed must be >= 0"),
        ({"text_lr": "nan"}, "not a finite number"),
        ({}, "nothing to sweep"),
        ({"lr": "1,2,3,4,5", "seed": "1,2,3,4,5"}, "the grid has 25 runs"),
    ],
)
def test_bad_grids_are_one_line_naming_the_problem(given: dict, said: str) -> None:
    with pytest.raises(UserError, match=said):
        plan_grid("base", given)


def test_a_bad_name_is_refused() -> None:
    with pytest.raises(UserError, match="sweep name 'a/b'"):
        plan_grid("a/b", {"lr": "1e-3"})


def _dataset(root: Path) -> Path:
    data = root / "ds"
    data.mkdir(parents=True)
    (data / "studies.parquet").write_bytes(b"")  # what the sweep's check looks at
    return data


def _args(root: Path, *extra: str) -> object:
    argv = ["--data", str(root / "ds"), "--out-root", str(root / "runs"), "--name", "b"]
    return parsed_command("model.training.sweep", [*argv, *extra])[1]


def _status(run: Path, state: str, score: float | None = None) -> None:
    run.mkdir(parents=True, exist_ok=True)
    (run / "status.json").write_text(json.dumps({"state": state}))
    if score is not None:
        val = {"kind": "val", "epoch": 0, "selection_score": score}
        (run / "metrics.jsonl").write_text(json.dumps(val) + "\n")


class FakeTrain:
    """A child train that ends at once: its run finished with ``score``, or stopped when it
    gets SIGTERM (``hold``: it waits for one)."""

    def __init__(self, command: list[str], score: float, hold: bool = False) -> None:
        self.run = Path(command[command.index("--out") + 1])
        self.score, self.hold, self.signals = score, hold, []
        if not hold:
            _status(self.run, "finished", score)

    def wait(self, timeout: float | None = None) -> int:
        if self.hold and not self.signals:
            raise subprocess.TimeoutExpired("train", timeout or 0)
        if self.hold:
            _status(self.run, "stopped")
            return 130
        return 0

    def send_signal(self, sig: int) -> None:
        self.signals.append(sig)


def test_a_restart_skips_finished_runs_resumes_stopped_ones_and_starts_the_rest(
    tmp_path: Path,
) -> None:
    _dataset(tmp_path)
    args = _args(tmp_path, "--lr", "1e-3,3e-4,1e-4", "--epochs", "2", "--preset", "cpu-small")
    first = plan_sweep(args)  # an earlier invocation: its record lists the runs
    run_sweep(first, start=lambda command: FakeTrain(command, 0.1, hold=False))
    runs = tmp_path / "runs"
    _status(runs / "b-lr3e-4", "stopped")
    (runs / "b-lr3e-4" / "last.pt").write_bytes(b"")
    shutil.rmtree(runs / "b-lr1e-4")  # never started (the record lists it all the same)
    started: list[list[str]] = []

    def start(command: list[str]) -> FakeTrain:
        started.append(command)
        return FakeTrain(command, 0.5 if "--resume" in command else 0.3)

    record, stopped = run_sweep(plan_sweep(args), start=start)
    assert not stopped
    resumed, fresh = started  # b-lr1e-3 finished: skipped
    assert resumed[resumed.index("--out") + 1].endswith("b-lr3e-4") and "--resume" in resumed
    assert "--lr" not in resumed and "--preset" not in resumed  # the run's own (train refuses)
    assert fresh[fresh.index("--lr") + 1] == "0.0001" and "--resume" not in fresh
    assert fresh[fresh.index("--preset") + 1] == "cpu-small"
    assert fresh[fresh.index("--epochs") + 1] == "2" and resumed[resumed.index("--epochs") + 1]
    assert [r.state for r in record.runs] == ["finished"] * 3
    assert read_record(runs / "b.sweep.json").outcome("b-lr3e-4").best == 0.5
    table = ranking_lines(record)
    assert [line.split()[1] for line in table[1:]] == ["b-lr3e-4", "b-lr1e-4", "b-lr1e-3"]
    assert read_sweep_of(runs / "b-lr1e-4") == "b" and read_sweep_of(runs / "other") == ""


def test_a_run_of_that_name_outside_the_sweep_is_refused_and_nothing_written(
    tmp_path: Path,
) -> None:
    _dataset(tmp_path)
    _status(tmp_path / "runs" / "b-lr1e-3", "finished")
    with pytest.raises(UserError, match="not part of sweep 'b'"):
        plan_sweep(_args(tmp_path, "--lr", "3e-4,1e-3"))
    assert not (tmp_path / "runs" / "b.sweep.json").exists()


def test_a_stop_stops_the_run_in_training_and_starts_no_other(tmp_path: Path) -> None:
    _dataset(tmp_path)
    fakes: list[FakeTrain] = []

    def start(command: list[str]) -> FakeTrain:
        os.kill(os.getpid(), signal.SIGTERM)  # the dashboard's Stop, once the run trains
        fakes.append(FakeTrain(command, 0.2, hold=True))
        return fakes[-1]

    record, stopped = run_sweep(plan_sweep(_args(tmp_path, "--lr", "1e-3,3e-4")), start=start)
    assert stopped and len(fakes) == 1 and fakes[0].signals == [signal.SIGTERM]
    assert [r.state for r in record.runs] == ["stopped", "pending"]
    assert record.runs[0].exit_code == 130


def test_the_cli_refuses_bad_input_in_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _dataset(tmp_path)
    argv = ["sweep", "--data", str(tmp_path / "ds"), "--out-root", str(tmp_path / "r")]
    assert cli_main([*argv, "--name", "b", "--lr", "1e-3,oops"]) == 2
    assert cli_main([*argv, "--name", "b", "--lr", "1e-3", "--epochs", "0"]) == 2
    said = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert said == ["--lr: 'oops' is not a number", "--epochs must be > 0, got 0"]
    assert not (tmp_path / "r").exists()


def test_a_real_sweep_trains_its_run_by_train_with_its_value(tmp_path: Path) -> None:
    """One real child ``train`` (a one-step run): the command the sweep builds is one train
    takes, and the value reaches the run's config; the fake ``train`` above covers the rest."""
    data = make_tiny_dataset(tmp_path / "data", n=12)
    preset = write_tiny_preset(tmp_path / "tiny.json", batch_size=4)
    runs = tmp_path / "runs"
    command = [sys.executable, "-m", "model", "sweep", "--data", str(data)]
    command += ["--out-root", str(runs), "--name", "r", "--lr", "5e-4"]
    command += ["--preset", str(preset), "--max-steps", "1", "--device", "cpu", "--workers", "0"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300, check=False)
    assert done.returncode == 0, done.stderr[-2000:]
    config = json.loads((runs / "r-lr5e-4" / "config.json").read_text())
    assert config["preset"]["train"]["lr"] == 5e-4 and config["preset"]["name"] == "tiny"
    assert json.loads((runs / "r-lr5e-4" / "status.json").read_text())["state"] == "stopped"
    [run] = read_record(runs / "r.sweep.json").runs
    assert (run.name, run.state, run.exit_code) == ("r-lr5e-4", "stopped", 0)
    assert "r-lr5e-4" in done.stderr.splitlines()[-1]  # the ranking ends the log


def test_train_options_reach_each_run_as_given(tmp_path: Path) -> None:
    from model.training.sweep import passed_arguments

    args = _args(tmp_path, "--lr", "1e-3", "--no-compile", "--grad-checkpointing", "--nproc", "2")
    words = passed_arguments(args, ["compile", "grad_checkpointing", "nproc", "device", "epochs"])
    assert words == ["--grad-checkpointing", "--no-compile", "--nproc", "2"]  # defaults left out


def test_a_second_sweep_of_the_same_name_is_refused_while_one_runs(tmp_path: Path) -> None:
    _dataset(tmp_path)
    plan = plan_sweep(_args(tmp_path, "--lr", "1e-3"))
    first = plan_sweep(_args(tmp_path, "--lr", "1e-3"))

    def start(command: list[str]) -> FakeTrain:
        with pytest.raises(UserError, match=r"sweep b is already running \(pid "):
            run_sweep(plan, start=start)  # the second, while the first trains
        return FakeTrain(command, 0.4)

    record, _ = run_sweep(first, start=start)
    assert [r.state for r in record.runs] == ["finished"]
