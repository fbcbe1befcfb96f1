"""Resuming a run from the command line: its own preset, older run folders, clear refusals."""

from __future__ import annotations

import argparse
import json
import shutil
from dataclasses import replace
from pathlib import Path

import pytest
import torch

from model.cli import main as cli_main
from model.errors import CheckpointError, UserError
from model.training.checkpoint import read_checkpoint_meta
from model.training.run_preset import resolve_preset
from model.training.train import TrainOptions, add_arguments, options_from_args, train
from tests.tiny_dataset import make_tiny_dataset, write_tiny_preset


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_dataset(tmp_path_factory.mktemp("tiny") / "data", n=24, seed=0)


@pytest.fixture(scope="module")
def stopped(tiny_data: Path, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A tiny-preset run stopped after 2 of its 6 steps (batch 4: 3 steps per epoch), trained
    once for the tests that resume or damage a copy of it; its folder and preset's parent."""
    root = tmp_path_factory.mktemp("stopped")
    preset = write_tiny_preset(root / "tiny.json", batch_size=4)
    out = root / "run"
    train(TrainOptions(data=tiny_data, out=out, preset=str(preset), max_steps=2, device="cpu"))
    return root


def _stopped_run(stopped: Path, tmp_path: Path) -> Path:
    """A copy of the ``stopped`` run in ``tmp_path / "run"``, its preset in ``tiny.json``."""
    shutil.copy(stopped / "tiny.json", tmp_path / "tiny.json")
    return Path(shutil.copytree(stopped / "run", tmp_path / "run"))


def _resume_argv(tiny_data: Path, out: Path) -> list[str]:
    return ["train", "--data", str(tiny_data), "--out", str(out), "--resume", "--device", "cpu"]


def test_resume_without_preset_continues_with_the_runs_own(
    tiny_data: Path, stopped: Path, tmp_path: Path
) -> None:
    out = _stopped_run(stopped, tmp_path)
    assert cli_main([*_resume_argv(tiny_data, out), "--max-steps", "3"]) == 0
    assert read_checkpoint_meta(out / "last.pt").step == 3
    status = json.loads((out / "status.json").read_text())
    assert status["state"] == "stopped" and status["steps"] == 6
    assert json.loads((out / "config.json").read_text())["preset"]["name"] == "tiny"


def test_resume_of_a_folder_without_a_run_names_the_missing_checkpoint(tmp_path: Path) -> None:
    options = TrainOptions(data=tmp_path, out=tmp_path / "typo", resume=True)
    with pytest.raises(UserError, match=r"cannot resume: .*typo/last\.pt does not exist"):
        resolve_preset(options)


def test_resume_with_another_presets_model_names_what_differs(
    tiny_data: Path, stopped: Path, tmp_path: Path
) -> None:
    out = _stopped_run(stopped, tmp_path)
    options = TrainOptions(data=tiny_data, out=out, preset="cpu-small", resume=True, device="cpu")
    with pytest.raises(CheckpointError) as caught:
        train(options)
    assert "embed_dim (128 vs 32)" in str(caught.value)
    assert "leave --preset out" in str(caught.value)
    assert read_checkpoint_meta(out / "last.pt").step == 2


def test_a_run_written_before_a_model_field_existed_resumes(
    tiny_data: Path, stopped: Path, tmp_path: Path
) -> None:
    out = _stopped_run(stopped, tmp_path)
    payload = torch.load(out / "last.pt", weights_only=True)
    config = json.loads(payload["config"])
    for key in ("still_frame", "intensity_cumulative", "tubelet"):  # added in later versions
        del config["model"]["video"][key]
    payload["config"] = json.dumps(config)
    torch.save(payload, out / "last.pt")
    saved = json.loads((out / "config.json").read_text())
    saved["preset"] = config
    (out / "config.json").write_text(json.dumps(saved))
    for steps, preset in ((3, None), (4, str(tmp_path / "tiny.json"))):
        options = TrainOptions(
            data=tiny_data, out=out, preset=preset, resume=True, max_steps=steps, device="cpu"
        )
        assert train(options).step == steps


def test_preset_flags_switch_both_ways() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    base = ["--data", "d", "--out", "o", "--preset", "paper"]
    assert resolve_preset(options_from_args(parser.parse_args(base))).train.compile is True
    args = parser.parse_args([*base, "--no-compile", "--grad-checkpointing"])
    train_cfg = resolve_preset(options_from_args(args)).train
    assert train_cfg.compile is False and train_cfg.grad_checkpointing is True


def test_optimiser_flags_set_a_new_run_and_are_refused_beside_resume() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    base = ["--data", "d", "--out", "o", "--preset", "gpu-base"]
    tuned = ["--lr", "3e-4", "--text-lr", "0", "--weight-decay", "0.2", "--warmup-steps", "50"]
    args = parser.parse_args([*base, *tuned, "--precision", "fp32"])
    train_cfg = resolve_preset(options_from_args(args)).train
    assert (train_cfg.lr, train_cfg.text_lr, train_cfg.weight_decay) == (3e-4, 0.0, 0.2)
    assert (train_cfg.warmup_steps, train_cfg.precision) == (50, "fp32")
    assert resolve_preset(options_from_args(parser.parse_args(base))).train.precision == "bf16"
    resumed = options_from_args(parser.parse_args([*base, "--resume", "--lr", "3e-4"]))
    with pytest.raises(UserError, match="--lr set a new run's optimiser: a resumed run keeps"):
        resolve_preset(resumed)
    for bad, said in ((["--lr", "0"], "--lr must be > 0"), (["--weight-decay", "-1"], ">= 0")):
        with pytest.raises(UserError, match=said):
            options_from_args(parser.parse_args([*base, *bad]))


def test_resume_keeps_logging_the_val_auc_of_the_runs_labels(
    tiny_data: Path, tmp_path: Path
) -> None:
    """A run started with --val-labels (as the dashboard and the demo start them) and resumed
    without it keeps its val zero-shot AUC curve and records the labels file again."""
    preset = write_tiny_preset(tmp_path / "tiny.json", batch_size=4)
    out, labels = tmp_path / "run", tiny_data / "labels.csv"
    options = TrainOptions(data=tiny_data, out=out, preset=str(preset), max_steps=2, device="cpu")
    train(replace(options, val_labels=labels))
    assert cli_main([*_resume_argv(tiny_data, out), "--max-steps", "3"]) == 0
    records = [json.loads(line) for line in (out / "metrics.jsonl").read_text().splitlines()]
    assert any(r["kind"] == "val" and "val_auc" in r for r in records)
    assert json.loads((out / "config.json").read_text())["val_labels"] == str(labels)


def test_a_resumed_run_that_finishes_says_how_to_train_it_further(
    tiny_data: Path, stopped: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    out = _stopped_run(stopped, tmp_path)
    with caplog.at_level("INFO"):
        assert cli_main(_resume_argv(tiny_data, out)) == 0  # to the end of its 2 epochs
    assert "run finished at epoch 2" in caplog.text
    assert "resume with more epochs: --resume --epochs 3 (or more)" in caplog.text


def test_resume_with_another_batch_size_is_refused_and_changes_nothing(
    tiny_data: Path, stopped: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    # The run's steps count batches of 4 (3 per epoch): read as batches of 8, its step 2 would be
    # the end of epoch 2, and the batches it skips were never trained on.
    out = _stopped_run(stopped, tmp_path)
    before = {name: (out / name).read_bytes() for name in ("last.pt", "config.json", "status.json")}
    assert cli_main([*_resume_argv(tiny_data, out), "--batch-size", "8"]) == 2
    assert "cannot resume: the run trains on batches of 4 studies, not 8" in caplog.text
    assert {name: (out / name).read_bytes() for name in before} == before


def test_the_command_says_what_it_trains_and_ends_with_what_to_do_next(
    tiny_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Off a terminal (a batch job's log) there is no progress bar: a line before the first step
    says what the run trains and where; the last lines say how to continue a stopped run, or
    which checkpoint a finished one made and the command that evaluates it."""
    preset = write_tiny_preset(tmp_path / "tiny.json", batch_size=4)
    out = tmp_path / "run"
    argv = ["train", "--data", str(tiny_data), "--out", str(out), "--preset", str(preset)]
    with caplog.at_level("INFO"):
        assert cli_main([*argv, "--device", "cpu", "--max-steps", "2"]) == 0
    assert "training preset 'tiny' on cpu: " in caplog.text
    assert "3 steps per epoch, 2 epochs; run folder " + str(out) in caplog.text
    assert (
        f"to continue it: python -m model train --data {tiny_data} --out {out} --resume "
        "(and a larger --max-steps, or none)"
    ) in caplog.text
    assert "training preset 'tiny'" in (out / "train.log").read_text()
    assert "best checkpoint so far" not in caplog.text  # no epoch done yet
    caplog.clear()
    with caplog.at_level("INFO"):  # past the first epoch: a best.pt to try meanwhile
        assert cli_main([*_resume_argv(tiny_data, out), "--max-steps", "4"]) == 0
    assert f"its best checkpoint so far: {out / 'best.pt'}" in caplog.text
    caplog.clear()
    with caplog.at_level("INFO"):
        assert cli_main(_resume_argv(tiny_data, out)) == 0
    assert ", from step 4; run folder" in caplog.text
    assert (
        f"checkpoint to use: {out / 'best.pt'}; evaluate it with: python -m model evaluate "
        f"--checkpoint {out / 'best.pt'} --data {tiny_data} --out EVAL_FOLDER"
    ) in caplog.text


def test_val_labels_that_match_no_study_stop_before_the_run_folder_is_made(
    tiny_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A --val-labels CSV keyed by other IDs was read only when the first epoch began: the
    command had already made a run folder, which the dashboard then listed as a failed run."""
    labels = tmp_path / "labels.csv"
    labels.write_text("accession_number,lge\nNOT-AN-ACCESSION,1\n", encoding="utf-8")
    preset = write_tiny_preset(tmp_path / "tiny.json", batch_size=4)
    out = tmp_path / "run"
    argv = ["train", "--data", str(tiny_data), "--out", str(out), "--preset", str(preset)]
    with caplog.at_level("ERROR"):
        assert cli_main([*argv, "--device", "cpu", "--val-labels", str(labels)]) == 2
    assert f"no accession number in {labels} matches" in caplog.text
    assert not out.exists()
