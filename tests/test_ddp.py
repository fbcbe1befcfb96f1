"""The train entry point under real ``torchrun`` (2 CPU processes, gloo) matches one process."""

from __future__ import annotations

import atexit
import contextlib
import functools
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import NamedTuple

import pytest

from dashboard.processes import descendants
from model.training.checkpoint import read_checkpoint_meta
from model.training.run_folder import RunFolder
from model.training.train import TrainOptions, train
from tests.tiny_dataset import make_tiny_dataset, write_tiny_preset

REPO = Path(__file__).resolve().parent.parent


def _torchrun() -> list[str]:
    script = Path(sys.executable).with_name("torchrun")
    if script.exists():
        return [str(script)]
    found = shutil.which("torchrun")
    if found is None:
        pytest.skip("torchrun is not installed")
    return [found]


def _torchrun_train(
    data: Path, preset: Path, out: Path, *extra: str, start: bool = False
) -> subprocess.CompletedProcess | subprocess.Popen:
    """``python -m model train`` in 2 gloo processes on the CPU (``start``: not waited for)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    command = [
        *_torchrun(),
        "--standalone",
        "--nproc_per_node",
        "2",
        "-m",
        "model",
        "train",
        "--data",
        str(data),
        "--preset",
        str(preset),
        "--out",
        str(out),
        "--device",
        "cpu",
        *extra,
    ]
    if start:
        pipes = {"stdout": subprocess.PIPE, "stderr": subprocess.PIPE}
        return subprocess.Popen(command, cwd=REPO, env=env, text=True, **pipes)
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def _rank_pid(launcher: int, rank: int) -> int:
    """The pid of torchrun ``launcher``'s worker of ``rank`` (from its environment)."""
    for child, _, _ in descendants(launcher):
        try:
            environ = Path(f"/proc/{child}/environ").read_bytes().split(b"\0")
        except OSError:
            continue
        if f"RANK={rank}".encode() in environ:
            return child
    raise AssertionError(f"no rank {rank} below torchrun")


class Reference(NamedTuple):
    """A tiny dataset and preset, and what one process trains on them in 2 steps."""

    data: Path
    preset: Path
    losses: list[float]  # of its first 2 steps
    checkpoint: Path  # its last.pt, after step 2


@functools.cache
def single_process_reference() -> Reference:
    """What a run of the same global batch split over several processes must reproduce: one
    per test process (it trains for seconds), for read-only use; removed at exit."""
    root = Path(tempfile.mkdtemp(prefix="cmr-ddp-reference-"))
    atexit.register(shutil.rmtree, root, True)
    data = make_tiny_dataset(root / "data", n=24, seed=3)
    preset = write_tiny_preset(root / "tiny.json", batch_size=4)
    # No trainable BERT layer: its built-in dropout would draw different masks per rank.
    spec = json.loads(preset.read_text())
    spec["model"]["text"]["unlocked_layers"] = 0
    preset.write_text(json.dumps(spec))
    single = train(
        TrainOptions(data=data, out=root / "single", preset=str(preset), max_steps=2, device="cpu")
    )
    return Reference(data, preset, single.losses, root / "single" / "last.pt")


def train_losses(run: Path) -> list[float]:
    return [r["loss"] for r in RunFolder(run).read_metrics() if r["kind"] == "train"]


def test_two_gloo_processes_accumulating_match_single_process(tmp_path: Path) -> None:
    """Each rank's 2 studies in 2 micro-batches of 1 (DDP syncs the last backward) under plain
    torchrun: the losses of one process on the same global batch. (Without accumulation the
    same is checked of ``train --nproc 2`` in ``test_nproc_trains_in_two_processes``.)"""
    data, preset, single_losses, _ = single_process_reference()
    done = _torchrun_train(data, preset, tmp_path / "ddp", "--max-steps", "2", "--accum-freq", "2")
    assert done.returncode == 0, done.stderr[-3000:]
    assert done.stderr.count("model.training.train: run ") == 1  # rank 0 says how it ended
    config = RunFolder(tmp_path / "ddp").read_config()
    assert config["world_size"] == 2 and config["global_batch"] == 4
    ddp_losses = train_losses(tmp_path / "ddp")
    assert len(ddp_losses) == 2
    # Step 1: same weights, same global batch. Step 2: also checks the averaged gradients.
    assert ddp_losses == pytest.approx(single_losses, rel=1e-4, abs=1e-5)
    assert (tmp_path / "ddp" / "last.pt").is_file()


def test_two_gloo_processes_from_a_checkpoint_match_one_and_keep_rank_zeros_budget_choice(
    tmp_path: Path,
) -> None:
    """Every rank loads --init-from's weights (as a resume reads last.pt): the same losses as
    one process started from them, and not those of a run from scratch. The budget is spent by
    the first epoch: every rank must stop there (a rank that went on alone would hang its
    collective calls until the timeout)."""
    data, preset, scratch_losses, source = single_process_reference()
    spec = json.loads(preset.read_text())
    spec["train"].update(epochs=3, time_budget_s=1e-3)
    budgeted = tmp_path / "budgeted.json"
    budgeted.write_text(json.dumps(spec))
    single = train(
        TrainOptions(
            data=data,
            out=tmp_path / "single-from",
            preset=str(budgeted),
            device="cpu",
            init_from=source,
        )
    )
    done = _torchrun_train(data, budgeted, tmp_path / "ddp", "--init-from", str(source))
    assert done.returncode == 0, done.stderr[-3000:]
    folder = RunFolder(tmp_path / "ddp")
    config = folder.read_config()
    assert config["epochs"] == 1 and config["total_steps"] == config["steps_per_epoch"] == 3
    assert folder.read_status()["state"] == "finished"
    ddp_losses = train_losses(tmp_path / "ddp")
    assert len(ddp_losses) == len(single.losses) == 3
    assert ddp_losses == pytest.approx(single.losses, rel=1e-4, abs=1e-5)
    assert ddp_losses[0] != pytest.approx(scratch_losses[0], rel=1e-3)
    recorded = config["init_from"]
    assert recorded == RunFolder(tmp_path / "single-from").read_config()["init_from"]


def test_a_killed_rank_fails_the_run_with_a_message_saying_so(tmp_path: Path) -> None:
    # Rank 1 dies mid-run (the out-of-memory killer, a node fault): rank 0's next collective
    # fails at once; the run must end "failed" saying what happened, keeping a loadable last.pt.
    data = make_tiny_dataset(tmp_path / "data", n=24, seed=3)
    preset = write_tiny_preset(tmp_path / "tiny.json", batch_size=4, epochs=200)
    out = tmp_path / "ddp"
    proc = _torchrun_train(data, preset, out, start=True)
    try:
        deadline = time.monotonic() + 240
        while len(train_losses(out)) < 4:
            assert proc.poll() is None, proc.communicate()[1][-3000:]
            assert time.monotonic() < deadline, "never reached step 4"
            time.sleep(0.05)
        os.kill(_rank_pid(proc.pid, 1), signal.SIGKILL)
        _, stderr = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
            proc.wait()
    status = RunFolder(out).read_status()
    assert status["state"] == "failed"
    assert status["message"].startswith("another process of this 2-process run ended")
    assert "--resume continues" in status["message"]
    assert read_checkpoint_meta(out / "last.pt").step % 3 == 0  # an epoch's end, intact
    assert "[rank0]: Traceback" not in stderr  # rank 0 says it in one line


def test_a_gpu_rank_binds_its_device_so_nccl_barriers_do_not_warn(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Without ``device_id``, rank 0's first NCCL barrier warned "barrier(): using the device
    under current context" on every multi-GPU run's terminal."""
    import torch
    import torch.distributed as dist

    from model.training.distributed import init_distributed

    joined: dict[str, object] = {}
    monkeypatch.setattr(torch.cuda, "is_available", lambda: True)
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    monkeypatch.setattr(torch.cuda, "set_device", lambda device: None)
    monkeypatch.setattr(dist, "is_initialized", lambda: False)
    monkeypatch.setattr(dist, "init_process_group", lambda **kwargs: joined.update(kwargs))
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setenv("RANK", "1")
    monkeypatch.setenv("LOCAL_RANK", "1")
    ctx = init_distributed("cuda")
    assert joined["backend"] == "nccl"
    assert joined["device_id"] == ctx.device == torch.device("cuda", 1)


def _model_train_nproc(*args: str) -> subprocess.CompletedProcess:
    """``python -m model train --nproc 2 ...`` on the CPU (gloo)."""
    env = {**os.environ, "PYTHONPATH": str(REPO), "OMP_NUM_THREADS": "1"}
    command = [sys.executable, "-m", "model", "train", "--nproc", "2", "--device", "cpu", *args]
    return subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=300)


def test_nproc_says_a_refused_argument_in_one_line_without_torchruns_traceback(
    tmp_path: Path,
) -> None:
    # Plain torchrun follows each process's one line with ChildFailedError's traceback and report.
    missing = tmp_path / "no-such-dataset"
    done = _model_train_nproc("--data", str(missing), "--out", str(tmp_path / "run"))
    assert done.returncode == 2, done.stderr[-3000:]
    assert f"dataset folder {missing} does not exist" in done.stderr
    for noise in ("Traceback", "ChildFailedError", "FAILED", "torch/distributed"):
        assert noise not in done.stderr, done.stderr[-3000:]
    assert not (tmp_path / "run").exists()


def test_nproc_trains_in_two_processes(tmp_path: Path) -> None:
    """``train --nproc 2``: both processes join, rank 0 alone reports, and they train as one
    process does on the same global batch."""
    data, preset, single_losses, _ = single_process_reference()
    out = tmp_path / "run"
    done = _model_train_nproc(
        "--data", str(data), "--preset", str(preset), "--out", str(out), "--max-steps", "2"
    )
    assert done.returncode == 0, done.stderr[-3000:]
    assert "joined process group: rank 1 of 2 (gloo)" in done.stderr
    assert done.stderr.count("model.training.train: run stopped") == 1
    assert done.stderr.count("model.training.train: run ") == 1  # rank 0 says how it ended
    config = RunFolder(out).read_config()
    assert config["world_size"] == 2 and config["global_batch"] == 4
    ddp_losses = train_losses(out)
    assert len(ddp_losses) == 2
    # Step 1: same weights, same global batch. Step 2: also checks the averaged gradients.
    assert ddp_losses == pytest.approx(single_losses, rel=1e-4, abs=1e-5)
    assert (out / "last.pt").is_file()
    again = f"to continue it: python -m model train --nproc 2 --data {data} --out {out} --resume"
    assert again in done.stderr  # the global batch is split over as many processes again


def test_nproc_is_refused_inside_torchrun(monkeypatch: pytest.MonkeyPatch) -> None:
    from model.cli import main

    monkeypatch.setenv("WORLD_SIZE", "2")
    stops = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)
    before = [signal.getsignal(stop) for stop in stops]
    assert main(["train", "--nproc", "2", "--data", "d", "--out", "o"]) == 2
    # a library call (a notebook's) left SIGTERM ignored: a CI timeout no longer stopped pytest
    assert [signal.getsignal(stop) for stop in stops] == before


def test_the_processes_get_the_command_line_less_nproc() -> None:
    from model.training.launch import child_argv

    argv = ["-v", "train", "--nproc", "4", "--data", "d", "--nproc=2", "--out", "o"]
    assert child_argv(argv) == ["-v", "train", "--data", "d", "--out", "o"]


def test_a_stop_of_an_nproc_run_saves_last_pt_and_ends_stopped(tmp_path: Path) -> None:
    """The Train page starts multi-GPU runs with ``train --nproc`` and its Stop sends SIGTERM to
    the job's process group: every process finishes its step, saves, and the run reads stopped,
    with no traceback in the job's log."""
    from model_process import spawn_model, terminate_when

    data = make_tiny_dataset(tmp_path / "data", n=24, seed=3)
    preset = write_tiny_preset(tmp_path / "tiny.json", batch_size=4, epochs=200)
    out, log = tmp_path / "run", tmp_path / "job.log"
    command = ["train", "--nproc", "2", "--device", "cpu", "--data", str(data)]
    command += ["--preset", str(preset), "--out", str(out)]
    proc = spawn_model(command, log, own_session=True)
    code = terminate_when(proc, lambda: len(train_losses(out)) >= 2, log)
    text = log.read_text(errors="replace")
    assert code != 0 and "Traceback" not in text, text[-3000:]
    assert "stopped by SIGTERM; each process's own lines above say where it stopped" in text
    assert RunFolder(out).read_status()["state"] == "stopped", text[-3000:]
    assert read_checkpoint_meta(out / "last.pt").step >= 2


def test_sigusr1_to_an_nproc_launcher_stops_its_processes_after_their_step(
    tmp_path: Path,
) -> None:
    """Slurm's ``--signal=B:USR1@SECONDS`` reaches the batch script's launcher alone: by default
    SIGUSR1 killed it and left its processes training on, unwatched, until the time limit."""
    from model_process import start_nproc_training

    log = tmp_path / "job.log"
    proc, data, out = start_nproc_training(tmp_path, log)
    try:
        deadline = time.monotonic() + 240
        while len(train_losses(out)) < 2 and proc.poll() is None and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(proc.pid, signal.SIGUSR1)
        code = proc.wait(timeout=120)
        left = _running_with(str(data))
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
        for pid in _running_with(str(data)):  # each process has a session of its own
            with contextlib.suppress(ProcessLookupError):
                os.kill(pid, signal.SIGKILL)
    assert not left  # no process of the run is left behind
    text = log.read_text(errors="replace")
    assert code == 128 + signal.SIGUSR1 and "Traceback" not in text, text[-3000:]
    assert "stopped by SIGUSR1; each process's own lines above say where it stopped" in text
    assert RunFolder(out).read_status()["state"] == "stopped", text[-3000:]
    assert read_checkpoint_meta(out / "last.pt").step >= 2


def _running_with(marker: str) -> list[int]:
    """Pids of live processes whose command line holds ``marker`` (this test's own folder)."""
    found = []
    for entry in Path("/proc").iterdir():
        try:
            if entry.name.isdigit() and marker in (entry / "cmdline").read_bytes().decode():
                found.append(int(entry.name))
        except OSError:  # ended while read
            continue
    return found


def test_a_process_refusing_right_after_joining_ends_the_run_and_is_named(tmp_path: Path) -> None:
    """Only rank 0 reads --val-labels, after the group is joined: its refusal must not leave
    rank 1 waiting in a collective, and the launcher says which process refused."""
    from model_process import spawn_model

    data = make_tiny_dataset(tmp_path / "data", n=24, seed=3)
    preset = write_tiny_preset(tmp_path / "tiny.json", batch_size=4)
    labels = tmp_path / "labels.csv"
    labels.write_text("foo,bar\n1,2\n")  # a file, so both processes join before it is read
    command = ["train", "--nproc", "2", "--device", "cpu", "--data", str(data)]
    command += ["--preset", str(preset), "--out", str(tmp_path / "run")]
    log = tmp_path / "job.log"
    proc = spawn_model([*command, "--val-labels", str(labels)], log, own_session=True)
    try:
        code = proc.wait(timeout=150)  # the process group's own timeout is 30 minutes
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
    text = log.read_text(errors="replace")
    assert code == 2, text[-3000:]
    assert "joined process group: rank 1 of 2 (gloo)" in text
    assert f"labels file {labels} has no 'accession_number' column" in text
    assert "process 0 of this 2-process run refused first" in text, text[-3000:]
    assert "Traceback" not in text and "ChildFailedError" not in text, text[-3000:]
    assert not _running_with(str(data))  # no process of the run is left behind


def test_the_launcher_names_the_process_that_refused_not_one_that_stopped_with_it(
    caplog: pytest.LogCaptureFixture,
) -> None:
    """Under load the process that stopped because its peer had gone (``PeerLost``) can end
    first; the launcher's line must still name the one that refused."""
    from types import SimpleNamespace

    from model.errors import UserError
    from model.training.distributed import PeerLost
    from model.training.launch import _failure_status

    refused = SimpleNamespace(exitcode=UserError.exit_status, timestamp=1_000_002)
    stopped_with_it = SimpleNamespace(exitcode=PeerLost.exit_status, timestamp=1_000_001)
    failures = {0: refused, 1: stopped_with_it}
    err = SimpleNamespace(
        failures=failures, get_first_failure=lambda: min(failures.items(), key=_by_time)
    )
    with caplog.at_level("ERROR"):
        assert _failure_status(err, 2) == UserError.exit_status
    assert "process 0 of this 2-process run refused first" in caplog.text


def _by_time(item: tuple[int, object]) -> int:
    return item[1].timestamp
