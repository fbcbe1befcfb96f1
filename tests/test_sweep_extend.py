"""A sweep that grows: the same ``model sweep`` with a larger ``--epochs`` resumes its finished
runs to them (``train --resume --epochs N``), skips those at that many or more, says which in
its log and its record; a value whose run name is an earlier run's, recorded with another
value, is refused up front."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from model.errors import UserError
from model.training.sweep import plan_sweep, run_sweep
from model.training.sweep_record import read_record, run_stage
from tests.test_sweep import FakeTrain, _args, _dataset
from tests.tiny_dataset import make_tiny_dataset, write_tiny_preset


def _finished(run: Path, epochs: int | None, checkpoint: bool = True) -> None:
    run.mkdir(parents=True, exist_ok=True)
    (run / "status.json").write_text(json.dumps({"state": "finished"}))
    (run / "config.json").write_text(json.dumps({} if epochs is None else {"epochs": epochs}))
    if checkpoint:
        (run / "last.pt").write_bytes(b"")


@pytest.mark.parametrize(
    ("recorded", "asked", "stage"),
    [
        (5, 20, "extend"),  # fewer than asked: resumed to them
        (5, 5, "skip"),  # as many
        (5, 3, "skip"),  # more: never cut short
        (5, None, "skip"),  # no --epochs: the run's own
        (None, 20, "skip"),  # its epochs unrecorded: left as it is
    ],
)
def test_a_finished_run_is_extended_only_to_more_epochs(
    tmp_path: Path, recorded: int | None, asked: int | None, stage: str
) -> None:
    _finished(tmp_path / "run", recorded)
    assert run_stage(tmp_path / "run", asked) == stage


def test_a_finished_run_without_last_pt_is_skipped(tmp_path: Path) -> None:
    _finished(tmp_path / "run", 1, checkpoint=False)
    assert run_stage(tmp_path / "run", 4) == "skip"


def test_a_larger_epochs_resumes_the_shorter_runs_and_records_what_it_did(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    _dataset(tmp_path)
    first = plan_sweep(_args(tmp_path, "--lr", "1e-3,3e-4", "--epochs", "2"))
    run_sweep(first, start=lambda command: FakeTrain(command, 0.1))
    runs = tmp_path / "runs"
    _finished(runs / "b-lr1e-3", 2)
    _finished(runs / "b-lr3e-4", 4)  # trained further already
    started: list[list[str]] = []

    def start(command: list[str]) -> FakeTrain:
        started.append(command)
        _finished(runs / "b-lr1e-3", 4)
        return FakeTrain(command, 0.5)

    caplog.set_level("INFO")
    record, _ = run_sweep(plan_sweep(_args(tmp_path, "--lr", "1e-3,3e-4", "--epochs", "4")), start)
    [extended] = started
    assert extended[extended.index("--out") + 1].endswith("b-lr1e-3") and "--resume" in extended
    assert extended[extended.index("--epochs") + 1] == "4" and "--lr" not in extended
    said = [r.getMessage() for r in caplog.records]
    assert "run 1 of 2, b-lr1e-3: finished at 2 epochs, resuming it to 4" in said
    assert "run 2 of 2, b-lr3e-4: finished already (4 epochs, --epochs 4), skipped" in said
    kept = read_record(runs / "b.sweep.json")
    assert [(r.action, r.state, r.epochs) for r in kept.runs] == [
        ("extended", "finished", 4),
        ("skipped", "finished", 4),
    ]
    assert record.outcome("b-lr1e-3").best == 0.5


def test_a_changed_value_is_a_new_run_and_one_of_the_same_name_is_refused(
    tmp_path: Path,
) -> None:
    _dataset(tmp_path)
    run_sweep(plan_sweep(_args(tmp_path, "--lr", "1e-3")), start=lambda c: FakeTrain(c, 0.1))
    plan = plan_sweep(_args(tmp_path, "--lr", "3e-4"))  # another value: another run
    assert [r.name for r in plan.runs] == ["b-lr3e-4"]
    assert [r.name for r in plan.record.runs] == ["b-lr3e-4", "b-lr1e-3"]  # the earlier kept
    with pytest.raises(UserError, match=r"^b-lr1e-3 was trained with --lr 0.001, not 0.0010"):
        plan_sweep(_args(tmp_path, "--lr", "0.0010000001"))  # its name is b-lr1e-3's


def test_a_real_sweep_extended_from_one_epoch_to_two(tmp_path: Path) -> None:
    """Two real invocations of one sweep: the second, with ``--epochs 2``, resumes the run
    finished at 1 epoch; its metrics gain epoch 2's validation, the record says so."""
    data = make_tiny_dataset(tmp_path / "data", n=12)
    preset = write_tiny_preset(tmp_path / "tiny.json", batch_size=4)
    runs = tmp_path / "runs"
    command = [sys.executable, "-m", "model", "sweep", "--data", str(data), "--out-root"]
    command += [str(runs), "--name", "g", "--lr", "5e-4", "--preset", str(preset)]
    command += ["--device", "cpu", "--workers", "0", "--no-compile"]
    for epochs in ("1", "2"):
        done = subprocess.run(
            [*command, "--epochs", epochs], capture_output=True, text=True, timeout=300
        )
        assert done.returncode == 0, done.stderr[-2000:]
    assert "g-lr5e-4: finished at 1 epoch, resuming it to 2" in done.stderr
    rows = [json.loads(line) for line in (runs / "g-lr5e-4" / "metrics.jsonl").open()]
    assert sorted({r["epoch"] for r in rows if r.get("kind") == "val"}) == [0, 1]
    [run] = read_record(runs / "g.sweep.json").runs
    assert (run.action, run.state, run.epochs, run.exit_code) == ("extended", "finished", 2, 0)
