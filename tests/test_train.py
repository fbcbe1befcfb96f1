"""Training runs on the tiny dataset: run folder, exact resume, NaN stop, CLI errors."""

from __future__ import annotations

import json
import shutil
import threading
from dataclasses import replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch

from model.checkpoint_meta import read_sidecar
from model.cli import main as cli_main
from model.errors import DataError, UserError
from model.nn.clip_model import CMRClip
from model.training.checkpoint import meta_from_payload, read_checkpoint, read_checkpoint_meta
from model.training.engine import Engine
from model.training.run_folder import RunFolder
from model.training.train import TrainOptions, train
from tests.tiny_dataset import make_tiny_dataset, write_tiny_preset


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_dataset(tmp_path_factory.mktemp("tiny") / "data", n=24, seed=0)


@pytest.fixture(scope="module")
def preset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    # 15 train studies, batch 4 -> 3 steps per epoch; 2 epochs -> 6 steps. Word dropout on the
    # frozen text states draws from torch's generator, which resume must replay.
    path = write_tiny_preset(tmp_path_factory.mktemp("preset") / "tiny.json", batch_size=4)
    spec = json.loads(path.read_text())
    spec["model"]["text"]["word_drop"] = 0.3
    path.write_text(json.dumps(spec))
    return path


@pytest.fixture(scope="module")
def full_run(tiny_data: Path, preset: Path, tmp_path_factory: pytest.TempPathFactory):
    out = tmp_path_factory.mktemp("runs") / "full"
    options = TrainOptions(data=tiny_data, out=out, preset=str(preset), max_steps=4, device="cpu")
    return out, train(options)


def test_run_folder_has_every_documented_file(full_run) -> None:
    out, result = full_run
    for name in ("config.json", "status.json", "metrics.jsonl", "train.log", "last.pt", "best.pt"):
        assert (out / name).is_file(), name
    for name in ("last.pt", "best.pt"):  # each described by its sidecar: read without torch
        sidecar = read_sidecar(out / name)
        loaded = meta_from_payload(out / name, read_checkpoint(out / name))
        assert sidecar is not None and sidecar.meta == loaded, name
    status = json.loads((out / "status.json").read_text())
    assert status["state"] == "stopped" and status["step"] == 4 and status["steps"] == 6
    assert {"epoch", "epochs", "eta_s", "pid", "message", "updated"} <= set(status)
    records = RunFolder(out).read_metrics()
    train_records = [r for r in records if r["kind"] == "train"]
    val_records = [r for r in records if r["kind"] == "val"]
    assert [r["step"] for r in train_records] == [1, 2, 3, 4]
    assert all(r["lr"] > 0 and r["studies_per_s"] > 0 for r in train_records)
    # the wall clock also waits for each batch to load: never faster than the compute alone
    assert all(0 < r["wall_studies_per_s"] <= r["studies_per_s"] for r in train_records)
    assert len(val_records) == 1 and val_records[0]["step"] == 3
    assert {"val_r@1", "val_r@5", "val_r@10", "val_loss"} <= set(val_records[0])
    # the val loss on the training loss's scale: the val set in chunks of the step's batch of 4
    assert val_records[0]["val_loss_batch_size"] == 4 and val_records[0]["val_loss_batches"] >= 1
    assert np.isfinite(val_records[0]["val_loss_batch"]) and val_records[0]["val_loss_batch"] > 0
    assert "val_auc" not in val_records[0]  # no labels given -> no AUC
    config = json.loads((out / "config.json").read_text())
    assert config["steps_per_epoch"] == 3 and config["preset"]["name"] == "tiny"
    assert result.state == "stopped" and len(result.losses) == 4


def test_resume_continues_exactly(full_run, tiny_data: Path, preset: Path, tmp_path: Path) -> None:
    _, uninterrupted = full_run
    out = tmp_path / "split"
    first = train(
        TrainOptions(data=tiny_data, out=out, preset=str(preset), max_steps=2, device="cpu")
    )
    assert first.step == 2
    resumed = train(
        TrainOptions(
            data=tiny_data, out=out, preset=str(preset), max_steps=4, resume=True, device="cpu"
        )
    )
    assert resumed.step == 4
    assert resumed.losses == pytest.approx(uninterrupted.losses, rel=1e-5, abs=1e-6)
    steps = [r["step"] for r in RunFolder(out).read_metrics() if r["kind"] == "train"]
    assert steps == [1, 2, 3, 4]
    # the losses stop before the last step's update: the checkpoints themselves must agree
    final = read_checkpoint(full_run[0] / "last.pt")
    again = read_checkpoint(out / "last.pt")
    assert (final["step"], again["step"]) == (4, 4)
    assert final["state_dict"].keys() == again["state_dict"].keys()
    for name, weights in final["state_dict"].items():
        torch.testing.assert_close(again["state_dict"][name], weights, rtol=1e-5, atol=1e-6)


def test_a_second_run_with_the_same_seed_trains_the_same_model(
    full_run, tiny_data: Path, preset: Path, tmp_path: Path
) -> None:
    """A reviewer reproducing a run: the same data, preset and seed give the same metrics and
    the same weights (timings aside)."""
    out = tmp_path / "again"
    train(TrainOptions(data=tiny_data, out=out, preset=str(preset), max_steps=4, device="cpu"))
    timing = {"time", "studies_per_s", "wall_studies_per_s"}

    def measured(run: Path) -> list[dict]:
        return [
            {k: v for k, v in r.items() if k not in timing} for r in RunFolder(run).read_metrics()
        ]

    assert measured(out) == measured(full_run[0])
    first = read_checkpoint(full_run[0] / "last.pt")["state_dict"]
    second = read_checkpoint(out / "last.pt")["state_dict"]
    assert first.keys() == second.keys()
    assert all(torch.equal(first[name], second[name]) for name in first)


def test_resume_with_fewer_epochs_than_trained_is_refused_and_changes_nothing(
    full_run, tiny_data: Path, preset: Path, tmp_path: Path
) -> None:
    out = tmp_path / "copy"
    shutil.copytree(full_run[0], out)  # 4 steps trained, 3 per epoch
    before = {name: (out / name).read_bytes() for name in ("config.json", "status.json")}
    options = TrainOptions(
        data=tiny_data, out=out, preset=str(preset), epochs=1, resume=True, device="cpu"
    )
    with pytest.raises(UserError, match=r"past 1 epoch \(step 4\); give --epochs 2 or more"):
        train(options)
    assert {name: (out / name).read_bytes() for name in before} == before


def test_resume_republishes_a_best_copy_lost_to_a_kill(
    tiny_data: Path, preset: Path, tmp_path: Path
) -> None:
    out = tmp_path / "killed"
    train(TrainOptions(data=tiny_data, out=out, preset=str(preset), max_steps=3, device="cpu"))
    folder = RunFolder(out)
    assert read_checkpoint_meta(folder.best_checkpoint).step == 3
    folder.best_checkpoint.unlink()  # killed after writing last.pt, before copying it to best.pt
    train(
        TrainOptions(
            data=tiny_data, out=out, preset=str(preset), max_steps=4, resume=True, device="cpu"
        )
    )
    assert read_checkpoint_meta(folder.best_checkpoint).step == 3


def test_nan_loss_fails_and_keeps_last_good_checkpoint(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Batch 8: one step per epoch, so step 1 ends epoch 0 and writes last.pt.
    preset = write_tiny_preset(tmp_path / "tiny8.json", batch_size=8)
    real_loss = Engine.loss_on
    calls = []
    snapshots = []

    def loss_turning_nan(self: Engine, batch: dict) -> torch.Tensor:
        calls.append(1)
        if len(calls) == 2:
            snapshots.append((tmp_path / "nan" / "last.pt").read_bytes())
            return real_loss(self, batch) * float("nan")
        return real_loss(self, batch)

    monkeypatch.setattr(Engine, "loss_on", loss_turning_nan)
    with pytest.raises(UserError, match="loss became nan at step 2"):
        train(TrainOptions(data=tiny_data, out=tmp_path / "nan", preset=str(preset), device="cpu"))
    status = json.loads((tmp_path / "nan" / "status.json").read_text())
    assert status["state"] == "failed" and "loss became nan" in status["message"]
    assert "kept its last good checkpoint" in status["message"]
    assert (tmp_path / "nan" / "last.pt").read_bytes() == snapshots[0]
    # The Train page's log excerpt of a failed run shows why it stopped.
    last_line = (tmp_path / "nan" / "train.log").read_text().splitlines()[-1]
    assert "run failed: loss became nan at step 2" in last_line


def test_nan_loss_before_any_checkpoint_says_there_is_none(
    tiny_data: Path, preset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(Engine, "loss_on", lambda self, batch: torch.tensor(float("nan")))
    out = tmp_path / "nan-first"
    with pytest.raises(UserError, match="loss became nan at step 1") as failure:
        train(TrainOptions(data=tiny_data, out=out, preset=str(preset), device="cpu"))
    assert "before saving any checkpoint" in str(failure.value)
    assert "kept" not in str(failure.value) and not (out / "last.pt").exists()
    assert json.loads((out / "status.json").read_text())["message"] == str(failure.value)


def test_val_labels_add_a_logged_auc_only(tiny_data: Path, tmp_path: Path) -> None:
    preset = write_tiny_preset(tmp_path / "tiny8.json", batch_size=8)
    out = tmp_path / "auc"
    options = TrainOptions(
        data=tiny_data,
        out=out,
        preset=str(preset),
        max_steps=1,
        device="cpu",
        val_labels=tiny_data / "labels.csv",
    )
    train(options)
    val = [r for r in RunFolder(out).read_metrics() if r["kind"] == "val"]
    assert len(val) == 1 and 0.0 <= val[0]["val_auc"] <= 1.0
    assert "val_auc_lge" in val[0]
    config = json.loads((out / "config.json").read_text())
    assert "labels unused" in config["selection"]


def test_refuses_to_overwrite_a_run_without_resume(full_run, tiny_data: Path, preset: Path) -> None:
    out, _ = full_run
    with pytest.raises(UserError, match="--resume"):
        train(TrainOptions(data=tiny_data, out=out, preset=str(preset), device="cpu"))


def test_a_second_training_of_a_run_in_progress_is_refused_and_stale_temps_cleared(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    preset = write_tiny_preset(tmp_path / "tiny.json", batch_size=4, epochs=2)  # 6 steps
    out, release = tmp_path / "run", threading.Event()
    real_loss = Engine.loss_on
    first: list = []

    def loss_held_at_step_two(self: Engine, batch: dict) -> torch.Tensor:
        if threading.current_thread() is worker and len(RunFolder(out).read_metrics()) == 1:
            release.wait(timeout=120)  # the first run is in progress while the others start
        return real_loss(self, batch)

    monkeypatch.setattr(Engine, "loss_on", loss_held_at_step_two)
    options = TrainOptions(data=tiny_data, out=out, preset=str(preset), device="cpu")
    worker = threading.Thread(target=lambda: first.append(train(options)))
    worker.start()
    try:
        while not RunFolder(out).read_metrics():
            assert worker.is_alive(), "the first run ended early"
            threading.Event().wait(0.02)
        for second in (options, replace(options, resume=True)):
            with pytest.raises(UserError, match="another training process"):
                train(second)
    finally:
        release.set()
        worker.join()
    assert first[0].state == "finished"
    steps = [r["step"] for r in RunFolder(out).read_metrics() if r["kind"] == "train"]
    assert steps == [1, 2, 3, 4, 5, 6]

    stale = out / ".last.pt.k1ll3d.tmp"  # a checkpoint write that a SIGKILL cut short
    stale.write_bytes(b"half a checkpoint")
    assert train(replace(options, resume=True, epochs=3)).step == 9
    assert not stale.exists()


def test_grad_checkpointing_and_compile_flags_reach_the_model(
    tiny_data: Path, preset: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    switched: list[object] = []
    monkeypatch.setattr(
        CMRClip, "set_grad_checkpointing", lambda self, enable=True: switched.append(enable)
    )
    monkeypatch.setattr(CMRClip, "compile_video_tower", lambda self: switched.append("compiled"))
    flags = {"plain": [], "both": ["--grad-checkpointing", "--compile"]}
    for name, flag in flags.items():
        args = ["--data", str(tiny_data), "--out", str(tmp_path / name), "--preset", str(preset)]
        assert cli_main(["train", *args, "--max-steps", "1", "--device", "cpu", *flag]) == 0
    assert switched == [False, True, "compiled"]
    saved = json.loads((tmp_path / "both" / "config.json").read_text())["preset"]["train"]
    assert saved["grad_checkpointing"] is True and saved["compile"] is True


def test_accum_freq_is_recorded_and_more_micro_batches_than_studies_refused(
    tiny_data: Path, preset: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    args = ["--data", str(tiny_data), "--preset", str(preset), "--device", "cpu"]
    assert cli_main(["train", *args, "--out", str(tmp_path / "k2"), "--accum-freq", "2",
                     "--max-steps", "1"]) == 0  # fmt: skip
    saved = json.loads((tmp_path / "k2" / "config.json").read_text())["preset"]["train"]
    assert saved["accum_freq"] == 2
    assert cli_main(["train", *args, "--out", str(tmp_path / "k5"), "--accum-freq", "5"]) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors[-1] == (
        "--accum-freq 5 cuts a step into more micro-batches than the 4 studies each process "
        "takes per step: use at most 4"
    )
    assert not (tmp_path / "k5").exists()
    assert cli_main(["train", *args, "--out", str(tmp_path / "k0"), "--accum-freq", "0"]) == 2


def test_out_of_gpu_memory_is_one_message_and_keeps_the_last_checkpoint(
    tiny_data: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    # Batch 8: one step per epoch. The second step's optimiser update runs out of memory, as the
    # first AdamW step of a too-large preset does on a GPU.
    preset = write_tiny_preset(tmp_path / "tiny8.json", batch_size=8)
    real_apply = Engine._apply_gradients
    snapshots = []

    def apply_running_out(self: Engine) -> None:
        if (tmp_path / "oom" / "last.pt").exists():
            snapshots.append((tmp_path / "oom" / "last.pt").read_bytes())
            raise torch.OutOfMemoryError("CUDA out of memory. Tried to allocate 50.00 GiB")
        real_apply(self)

    monkeypatch.setattr(Engine, "_apply_gradients", apply_running_out)
    args = ["--data", str(tiny_data), "--out", str(tmp_path / "oom"), "--preset", str(preset)]
    assert cli_main(["train", *args, "--device", "cpu"]) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert errors == [
        "out of GPU memory at step 2, 8 studies per GPU. Rerun with --accum-freq 2 (the same "
        "batch in 2 passes) or --grad-checkpointing, or spread the batch over more GPUs with "
        "torchrun --nproc_per_node N (add --resume to continue from last.pt, which is kept), or "
        "start afresh with a lower --batch-size"
    ]
    status = json.loads((tmp_path / "oom" / "status.json").read_text())
    assert status["state"] == "failed" and status["message"] == errors[0]
    assert (tmp_path / "oom" / "last.pt").read_bytes() == snapshots[0]


def test_cli_reports_bad_input_in_one_line(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    code = cli_main(["train", "--data", str(tmp_path / "missing"), "--out", str(tmp_path / "r")])
    assert code == 2
    assert any("missing" in r.getMessage() for r in caplog.records)
    code = cli_main(
        ["train", "--data", str(tmp_path), "--out", str(tmp_path / "r"), "--epochs", "0"]
    )
    assert code == 2


def test_unknown_preset_is_a_user_error(tiny_data: Path, tmp_path: Path) -> None:
    with pytest.raises(UserError, match="unknown preset"):
        train(TrainOptions(data=tiny_data, out=tmp_path / "r", preset="no-such-preset"))


def test_studies_without_reports_are_left_out_and_none_at_all_is_refused(
    tiny_data: Path, preset: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    studies = pd.read_parquet(data / "studies.parquet")
    train_rows = studies["split"].eq("train").to_numpy()
    blanked = studies.copy()
    blanked.loc[np.flatnonzero(train_rows)[:3], "impression"] = "  "
    blanked.to_parquet(data / "studies.parquet", index=False)
    options = TrainOptions(data=data, out=tmp_path / "some", preset=str(preset), max_steps=1)
    with caplog.at_level("WARNING"):
        train(replace(options, device="cpu"))
    assert any("3 train studies have no report" in r.getMessage() for r in caplog.records)

    blanked.loc[train_rows, "impression"] = ""
    blanked.to_parquet(data / "studies.parquet", index=False)
    with pytest.raises(DataError, match="--reports") as caught:
        train(replace(options, out=tmp_path / "none", device="cpu"))
    assert "ingest_report.csv" in str(caught.value) and "CONCLUSION" in str(caught.value)
    assert not (tmp_path / "none" / "last.pt").exists()

    studies.loc[train_rows, "split"] = "val"  # reports everywhere, but no train split at all
    studies.to_parquet(data / "studies.parquet", index=False)
    with pytest.raises(DataError, match="0 train studies") as caught:
        train(replace(options, out=tmp_path / "none", device="cpu"))
    assert "--reports" not in str(caught.value)


def test_no_val_study_with_a_report_is_said_and_recorded(
    tiny_data: Path, preset: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A small hospital export whose val split drew only report-less studies: nothing can be
    validated, so best.pt is simply the last epoch; the log and config.json say so."""
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    studies = pd.read_parquet(data / "studies.parquet")
    studies.loc[studies["split"].eq("val"), "impression"] = ""
    studies.to_parquet(data / "studies.parquet", index=False)
    out = tmp_path / "run"
    with caplog.at_level("WARNING"):
        train(TrainOptions(data=data, out=out, preset=str(preset), max_steps=1, device="cpu"))
    warned = [r.getMessage() for r in caplog.records if "val split" in r.getMessage()]
    assert len(warned) == 1 and "best.pt is the last epoch" in warned[0]
    selection = json.loads((out / "config.json").read_text())["selection"]
    assert "last epoch" in selection and "R@1" not in selection


def test_a_small_val_split_says_which_recalls_choose_best(full_run) -> None:
    """5 val studies: every val R@5 and R@10 is 1 at every epoch, so R@1 alone chooses best.pt;
    config.json and the log say so instead of claiming the mean of R@1/5/10 chose it."""
    out, _ = full_run
    selection = json.loads((out / "config.json").read_text())["selection"]
    assert "with 5 val studies" in selection and "R@5/10 are 1 at every epoch" in selection
    assert "chosen by R@1 alone" in selection
    log = (out / "train.log").read_text()
    assert "the val split has 5 val studies with a report impression: val R@5/10" in log
    records = [r for r in RunFolder(out).read_metrics() if r["kind"] == "val"]
    assert records and all(r["val_r@5"] == r["val_r@10"] == 1.0 for r in records)


def test_one_val_study_keeps_the_last_epoch_as_best(
    tiny_data: Path, preset: Path, tmp_path: Path
) -> None:
    """One val study: every R@k is 1 at every epoch, so each epoch scores the same and the
    first one was kept for good; best.pt is now the last epoch, as without a val study."""
    data = tmp_path / "data"
    shutil.copytree(tiny_data, data)
    studies = pd.read_parquet(data / "studies.parquet")
    val = np.flatnonzero(studies["split"].eq("val").to_numpy())
    studies.loc[val[1:], "impression"] = ""
    studies.to_parquet(data / "studies.parquet", index=False)
    out = tmp_path / "run"
    train(TrainOptions(data=data, out=out, preset=str(preset), device="cpu"))
    assert read_checkpoint_meta(out / "best.pt").step == read_checkpoint_meta(out / "last.pt").step
    selection = json.loads((out / "config.json").read_text())["selection"]
    assert selection.startswith("best.pt = the last epoch (1 val study")


def test_compile_option_compiles_the_video_tower_once(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    compiled: list[str] = []
    monkeypatch.setattr(
        CMRClip, "compile_video_tower", lambda self: compiled.append(self.cfg.video.kind)
    )
    path = write_tiny_preset(tmp_path / "compiled.json", batch_size=4)
    spec = json.loads(path.read_text())
    spec["train"]["compile"] = True
    path.write_text(json.dumps(spec))
    options = TrainOptions(data=tiny_data, out=tmp_path / "run", preset=str(path), max_steps=1)
    assert train(replace(options, device="cpu")).step == 1
    assert compiled == [spec["model"]["video"]["kind"]]
    saved = json.loads((tmp_path / "run" / "config.json").read_text())
    assert saved["preset"]["train"]["compile"] is True
