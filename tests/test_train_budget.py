"""Time-budgeted training: the epoch count chosen after epoch seven, recorded, and kept on resume."""

from __future__ import annotations

import argparse
import json
from pathlib import Path

import pytest
import torch

from model.errors import UserError
from model.nn.config import TrainConfig
from model.progress import PROGRESS_ENV
from model.training import budget as budget_module
from model.training.budget import EpochBudget, epochs_within_budget
from model.training.checkpoint import read_checkpoint
from model.training.run_folder import RunFolder
from model.training.run_preset import resolve_preset
from model.training.schedule import build_scheduler, set_total_steps
from model.training.train import TrainOptions, add_arguments, options_from_args, train
from tests.tiny_dataset import make_tiny_dataset, write_tiny_preset

# The tiny dataset has 15 train studies; batch 4 -> 3 steps per epoch.
STEPS_PER_EPOCH = 3
ROOMY_S, TIGHT_S = 1e6, 1e-3  # budgets that fit the cap / only the first epoch on any machine


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_dataset(tmp_path_factory.mktemp("tiny") / "data", n=24, seed=0)


def _preset(tmp_path: Path, name: str, **train: object) -> str:
    return str(write_tiny_preset(tmp_path / f"{name}.json", batch_size=4, **train))


def _train(data: Path, out: Path, preset: str, **options: object):
    return train(TrainOptions(data=data, out=out, preset=preset, device="cpu", **options))


def test_epochs_within_budget_counts_whole_epochs_between_those_done_and_the_cap() -> None:
    assert epochs_within_budget(100.0, spent_s=12.0, epoch_s=10.0, cap=50) == 9
    assert epochs_within_budget(100.0, spent_s=12.0, epoch_s=10.0, cap=5) == 5
    assert epochs_within_budget(100.0, spent_s=150.0, epoch_s=10.0, cap=5) == 1
    assert epochs_within_budget(100.0, spent_s=10.0, epoch_s=0.0, cap=7) == 7
    assert epochs_within_budget(100.0, spent_s=30.0, epoch_s=10.0, cap=50, done=2) == 9
    assert epochs_within_budget(100.0, spent_s=150.0, epoch_s=10.0, cap=5, done=2) == 2


def _clocked_budget(monkeypatch: pytest.MonkeyPatch, **fields: object) -> tuple[EpochBudget, list]:
    clock = [1000.0]
    monkeypatch.setattr(budget_module.time, "monotonic", lambda: clock[0])
    return EpochBudget(**fields), clock


def test_the_median_of_epochs_five_to_seven_sets_the_count_not_the_slower_first_ones(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    budget, clock = _clocked_budget(monkeypatch, budget_s=200.0, epochs=40, resolved=False)
    clock[0] += 2.0  # set-up: spent, but not part of an epoch
    budget.start_epochs(step=0)
    epochs = (12.0, 9.0, 8.0, 7.0, 8.0, 5.0)  # epochs 1-4 fill the caches
    for epoch, seconds in enumerate(epochs, start=1):
        clock[0] += seconds
        assert budget.propose(step=10 * epoch, steps_per_epoch=10) is None
        if epoch == 1:  # open, the count so far: 1 + (200 - 14) // 12, not the cap of 40
            assert budget.estimate == 16
    clock[0] += 6.0  # epoch 7: the median of 8, 5 and 6 s is the speed of the rest of the run
    assert budget.propose(step=70, steps_per_epoch=10) == 7 + (200 - 57) // 6
    assert budget.active  # until the count is fixed (rank 0's, under torchrun)
    budget.fix(15)
    assert not budget.active
    assert budget.state() == {
        "epochs": 15,
        "resolved": True,
        "spent_s": 57.0,
        "epoch_s": {1: 12.0, 2: 9.0, 3: 8.0, 4: 7.0, 5: 8.0, 6: 5.0, 7: 6.0},
    }


def test_a_budget_an_early_epoch_shows_too_small_is_decided_at_once(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    budget, clock = _clocked_budget(monkeypatch, budget_s=75.0, epochs=40, resolved=False)
    budget.start_epochs(step=0)
    clock[0] += 12.0  # room for five more epochs: 6 in all, short of the seventh
    assert budget.propose(step=10, steps_per_epoch=10) == 6


def test_an_epoch_timed_across_a_resume_is_scaled_and_earlier_time_counts(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    earlier = {"spent_s": 50.0, "epoch_s": {1: 12.0, 2: 10.0, 3: 9.0, 4: 9.0}}  # mid epoch 5
    budget, clock = _clocked_budget(
        monkeypatch, budget_s=200.0, epochs=40, resolved=False, **earlier
    )
    clock[0] += 3.0  # the resumed session's set-up
    budget.start_epochs(step=45)  # stopped in the middle of epoch 5
    clock[0] += 4.0
    assert budget.remaining_s() == pytest.approx(143.0)
    assert budget.propose(step=50, steps_per_epoch=10) is None
    assert budget.epoch_s[5] == 8.0  # 4 s for half an epoch
    for step in (60, 70):
        clock[0] += 8.0
        proposed = budget.propose(step=step, steps_per_epoch=10)
    assert proposed == 7 + (200 - 73) // 8


def test_set_total_steps_stretches_the_cosine_and_keeps_the_warmup() -> None:
    cfg = TrainConfig(lr=1.0, warmup_steps=2, min_lr_ratio=0.0)
    optimizer = torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=1.0)
    scheduler = build_scheduler(optimizer, cfg, total_steps=10)
    optimizer.step()
    scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1.0)  # end of the 2-step warmup
    set_total_steps(scheduler, 22)
    optimizer.step()
    scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(1.0)  # the cosine starts at 1
    for _ in range(10):
        optimizer.step()
        scheduler.step()
    assert optimizer.param_groups[0]["lr"] == pytest.approx(0.5)  # half way through 20 steps
    assert scheduler.state_dict()["lr_lambdas"][0]["total_steps"] == 22


def test_a_roomy_budget_trains_the_cap_exactly_like_a_fixed_run(
    tiny_data: Path, tmp_path: Path
) -> None:
    fixed = _train(tiny_data, tmp_path / "fixed", _preset(tmp_path, "fixed", epochs=3))
    roomy = _preset(tmp_path, "roomy", epochs=3, time_budget_s=ROOMY_S)
    budgeted = _train(tiny_data, tmp_path / "roomy", roomy)
    assert budgeted.step == fixed.step == 3 * STEPS_PER_EPOCH
    assert budgeted.losses == pytest.approx(fixed.losses, rel=1e-5, abs=1e-6)
    config = json.loads((tmp_path / "roomy" / "config.json").read_text())
    assert config["epochs"] == 3 and config["epochs_chosen_by_time_budget"] is True
    assert config["total_steps"] == 9
    status = RunFolder(tmp_path / "roomy").read_status()
    assert status["state"] == "finished" and status["epochs"] == 3 and status["steps"] == 9


def test_a_tight_budget_stops_after_the_first_epoch_with_a_best_checkpoint(
    tiny_data: Path, tmp_path: Path
) -> None:
    out = tmp_path / "tight"
    result = _train(tiny_data, out, _preset(tmp_path, "tight", epochs=5, time_budget_s=TIGHT_S))
    assert result.state == "finished" and result.step == STEPS_PER_EPOCH
    assert result.best_checkpoint is not None
    config = json.loads((out / "config.json").read_text())
    assert config["epochs"] == 1 and config["total_steps"] == STEPS_PER_EPOCH
    vals = [r for r in RunFolder(out).read_metrics() if r["kind"] == "val"]
    assert [r["step"] for r in vals] == [STEPS_PER_EPOCH]


def test_the_chosen_count_survives_resume_and_time_spent_before_a_stop_counts(
    tiny_data: Path, tmp_path: Path
) -> None:
    roomy = _preset(tmp_path, "roomy", epochs=9, time_budget_s=ROOMY_S)
    out = tmp_path / "resumed"
    _train(tiny_data, out, roomy, max_steps=2)  # stopped inside the first epoch
    state = read_checkpoint(out / "last.pt")["resume"]["trainer"]["budget"]
    assert state["resolved"] is False and state["epochs"] == 9 and state["spent_s"] > 0
    _train(tiny_data, out, roomy, max_steps=4, resume=True)  # epoch one ends: no count yet
    state = read_checkpoint(out / "last.pt")["resume"]["trainer"]["budget"]
    assert state["resolved"] is False and state["epochs"] == 9 and list(state["epoch_s"]) == [1]
    _train(tiny_data, out, roomy, max_steps=22, resume=True)  # epoch seven ends: 9 chosen
    # A tighter budget on the next resume changes nothing: the count was fixed and recorded.
    tight = _preset(tmp_path, "tight", epochs=9, time_budget_s=TIGHT_S)
    result = _train(tiny_data, out, tight, resume=True)
    assert result.state == "finished" and result.step == 9 * STEPS_PER_EPOCH
    final = read_checkpoint(out / "last.pt")["resume"]["trainer"]["budget"]
    assert final["resolved"] is True and final["epochs"] == 9
    assert list(final["epoch_s"]) == [1, 2, 3, 4, 5, 6, 7]
    assert final["spent_s"] >= state["spent_s"]


def test_an_explicit_epoch_count_drops_the_budget_and_bad_budgets_are_refused(
    tmp_path: Path,
) -> None:
    budgeted = _preset(tmp_path, "budgeted", epochs=6, time_budget_s=600.0)
    base = {"data": tmp_path, "out": tmp_path / "r", "preset": budgeted}
    assert resolve_preset(TrainOptions(**base)).train.time_budget_s == 600.0
    exact = resolve_preset(TrainOptions(**base, epochs=4)).train
    assert (exact.epochs, exact.time_budget_s) == (4, 0.0)
    both = resolve_preset(TrainOptions(**base, epochs=4, time_budget_s=60.0)).train
    assert (both.epochs, both.time_budget_s) == (4, 60.0)
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    args = parser.parse_args(["--data", "d", "--out", "o", "--time-budget", "-5"])
    with pytest.raises(UserError, match="--time-budget"):
        options_from_args(args)
    with pytest.raises(UserError, match="time_budget_s"):
        resolve_preset(
            TrainOptions(**{**base, "preset": _preset(tmp_path, "bad", time_budget_s=-1)})
        )


def test_the_progress_eta_stays_within_the_budget_until_the_count_is_chosen(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Until epoch seven the bar counts the cap's steps: on the demo build Home read "ETA of this
    step 1h 46m" for a training its 780-s budget ends within 13 minutes."""
    progress = tmp_path / "progress.json"
    monkeypatch.setenv(PROGRESS_ENV, str(progress))
    capped = _preset(tmp_path, "capped", epochs=40, time_budget_s=TIGHT_S)
    _train(tiny_data, tmp_path / "capped", capped, max_steps=2)  # stops inside epoch one
    written = json.loads(progress.read_text())
    assert written["total"] == 40 * STEPS_PER_EPOCH and written["done"] == 2
    assert written["eta_s"] <= TIGHT_S
    status = json.loads((tmp_path / "capped" / "status.json").read_text())
    assert status["epochs"] == 40 and status["epochs_estimate"] == 40  # open: no epoch timed yet
    # the job bar said "2/120" as if chosen beside the runs table's "0/~40" until epoch one ended
    assert written["estimated"] is True
