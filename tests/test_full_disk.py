"""A full disk, a read-only folder or a file-size limit while writing: every command ends in one
line naming the file and what to do, keeps what it had, and a rerun completes.

Tests may run as root, where ``chmod`` blocks nothing: a read-only or full destination is made by
failing the system call (``tempfile.mkstemp``, ``os.pwrite``), by ``RLIMIT_FSIZE`` in a child
process (the kernel then refuses writes past the limit with EFBIG), or by ``/dev/full``.
"""

from __future__ import annotations

import errno
import importlib
import logging
import os
import resource
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest
from dicom_factory import StudySpec, write_study
from tiny_dataset import make_tiny_dataset, shared_tiny_checkpoint, write_tiny_preset

from model.cli import COMMANDS
from model.cli import main as cli_main
from model.errors import CheckpointError, UserError
from model.file_lock import FileLock
from model.training import checkpoint as ckpt
from model.training.checkpoint import read_checkpoint_meta
from model.training.run_folder import RunFolder
from model.training.train import TrainOptions, train

ROOT = Path(__file__).resolve().parents[1]


def _os_error(code: int, filename: str) -> OSError:
    return OSError(code, os.strerror(code), filename)


_ARGUMENTS = {  # just enough for each command's parser (its ``run`` is replaced)
    "generate": ["--out", "o"],
    "ingest": ["src", "--out", "o"],
    "train": ["--data", "d", "--out", "o"],
    "sweep": ["--data", "d", "--out-root", "r", "--name", "n", "--lr", "1e-3"],
    "embed": ["--checkpoint", "c", "--data", "d", "--out", "o.npz"],
    "zeroshot": ["--checkpoint", "c", "--data", "d", "--out", "o.csv"],
    "fewshot": ["--checkpoint", "c", "--data", "d", "--examples", "e", "--out", "o.csv"],
    "explain": ["--checkpoint", "c", "--data", "d", "--study", "s", "--finding", "f", "--out", "o"],
    "evaluate": ["--checkpoint", "c", "--data", "d", "--labels", "l", "--out", "o"],
    "card": ["--checkpoint", "c", "--out", "o.md"],
    "index": ["--checkpoint", "c", "--data", "d"],
    "search": ["q", "--checkpoint", "c"],
    "demo": [],
    "map": ["--checkpoint", "c", "--data", "d"],
    "storage": ["--data-root", "r"],
    "forget": ["--data", "d", "--accession", "A"],
}


@pytest.mark.parametrize("command", [c.name for c in COMMANDS])
@pytest.mark.parametrize(
    ("code", "hint"),
    [
        (errno.ENOSPC, "free some space"),
        (errno.EROFS, "writable disk"),
        (errno.EACCES, "permissions"),
    ],
)
def test_every_command_words_a_storage_error_as_one_line(
    command: str,
    code: int,
    hint: str,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    chosen = next(c for c in COMMANDS if c.name == command)

    def run(args: object) -> int:
        raise _os_error(code, "/data/out/studies.parquet")

    monkeypatch.setattr(importlib.import_module(chosen.module), "run", run)
    with caplog.at_level(logging.ERROR, logger="model"):
        assert cli_main([command, *_ARGUMENTS[command]]) == 1
    [line] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert line.startswith(f"{command} stopped: {os.strerror(code)}: /data/out/studies.parquet")
    assert hint in line


def test_an_os_error_that_is_not_the_disks_keeps_its_traceback(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    def run(args: object) -> int:
        raise _os_error(errno.EBADF, "x")

    monkeypatch.setattr(importlib.import_module("model.embed_cli"), "run", run)
    with pytest.raises(OSError, match="Bad file descriptor"):
        cli_main(["embed", "--checkpoint", "c", "--data", "d", "--out", "o.npz"])


def test_a_read_only_output_is_named_not_its_hidden_temporary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    data, checkpoint = shared_tiny_checkpoint()
    out = tmp_path / "embeddings.npz"

    def read_only(prefix: str = "", suffix: str = "", dir: str | None = None) -> tuple:
        raise _os_error(errno.EROFS, os.path.join(str(dir), f"{prefix}k2j4{suffix}"))

    monkeypatch.setattr("tempfile.mkstemp", read_only)
    argv = ["embed", "--checkpoint", str(checkpoint), "--data", str(data), "--out", str(out)]
    with caplog.at_level(logging.WARNING, logger="model"):
        assert cli_main(argv) == 1
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [
        f"embed stopped: Read-only file system: {out}; choose a folder on a writable disk"
    ]
    assert ".tmp" not in caplog.text and not out.exists()


def _limited_file_size(limit: int):
    """A child's ``preexec_fn``: writes past ``limit`` bytes fail with EFBIG (Python ignores
    SIGXFSZ), as on a disk that is full or a file system with a size cap."""
    return lambda: resource.setrlimit(resource.RLIMIT_FSIZE, (limit, limit))


def test_ingest_that_cannot_write_a_tensor_is_one_line_and_the_rerun_completes(
    tmp_path: Path,
) -> None:
    src, out = tmp_path / "dicom", tmp_path / "dataset"
    for i in range(3):
        write_study(src, StudySpec(accession=f"ACC{i:04d}", patient_id=f"PID{i:04d}"))
    command = [sys.executable, "-m", "model", "ingest", str(src), "--out", str(out)]
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    ended = subprocess.run(
        command,
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        preexec_fn=_limited_file_size(64_000),  # a study's tensor is larger
    )
    output = ended.stdout + ended.stderr
    assert ended.returncode == 1, output
    assert "Traceback" not in output
    assert f"ingest stopped: File too large: {out / 'tensors'}" in output
    assert ".npy; the file is larger than" in output
    assert not list(out.rglob("*.tmp")) and not (out / "studies.parquet").exists()

    assert cli_main(["ingest", str(src), "--out", str(out)]) == 0
    studies = pd.read_parquet(out / "studies.parquet")
    assert len(studies) == 3
    assert {p.stem for p in (out / "tensors").glob("*.npy")} == set(studies["study_id"])


def test_a_lock_holds_when_its_holder_record_cannot_be_written(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / ".ingest.lock"
    lock = FileLock(path, lambda holder: f"busy ({holder})")
    with monkeypatch.context() as full:
        full.setattr(os, "pwrite", lambda *a: (_ for _ in ()).throw(_os_error(errno.ENOSPC, "")))
        lock.acquire()  # a full disk refused the pid record, not the lock
    with pytest.raises(UserError, match="busy"):
        FileLock(path, lambda holder: f"busy ({holder})").acquire()
    lock.release()
    with FileLock(path, lambda holder: "busy"):  # released: the next one gets it
        pass


def test_a_run_log_on_a_full_disk_neither_floods_nor_fails_the_run(
    tmp_path: Path, capsys: pytest.CaptureFixture[str], caplog: pytest.LogCaptureFixture
) -> None:
    if not os.path.exists("/dev/full"):
        pytest.skip("needs /dev/full")
    data = make_tiny_dataset(tmp_path / "data", n=24, seed=0)
    preset = write_tiny_preset(tmp_path / "tiny8.json", batch_size=8)
    run = tmp_path / "run"
    run.mkdir()
    (run / "train.log").symlink_to("/dev/full")  # every write: No space left on device
    options = TrainOptions(data, run, str(preset), max_steps=2, device="cpu")
    with caplog.at_level(logging.WARNING, logger="model"):
        result = train(options)
    assert result.state == "finished" and result.step == 2
    assert "Logging error" not in capsys.readouterr().err
    warnings = [r.getMessage() for r in caplog.records if "train.log" in r.getMessage()]
    assert warnings == [
        f"{run / 'train.log'} is no longer written (No space left on device); the run goes on"
    ]


def test_a_full_disk_at_the_checkpoint_still_says_the_checkpoint_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    data = make_tiny_dataset(tmp_path / "data", n=24, seed=0)
    preset = write_tiny_preset(tmp_path / "tiny8.json", batch_size=8)  # one step per epoch
    run = tmp_path / "run"
    train(TrainOptions(data, run, str(preset), max_steps=1, device="cpu"))
    before = (run / "last.pt").read_bytes()
    full = [False]
    real_mkstemp, real_save = __import__("tempfile").mkstemp, ckpt.save_checkpoint

    def mkstemp(*args: object, **kwargs: object) -> tuple:
        if full[0]:
            raise _os_error(errno.ENOSPC, str(run / ".x.tmp"))
        return real_mkstemp(*args, **kwargs)

    def fill_then_save(*args: object, **kwargs: object) -> str:
        full[0] = True  # the disk fills up: the checkpoint and then status.json cannot be written
        return real_save(*args, **kwargs)

    monkeypatch.setattr("tempfile.mkstemp", mkstemp)
    monkeypatch.setattr(ckpt, "save_checkpoint", fill_then_save)
    options = TrainOptions(data, run, str(preset), resume=True, max_steps=2, device="cpu")
    kept = "previous checkpoint is unchanged"
    with (
        caplog.at_level(logging.WARNING, logger="model"),
        pytest.raises(CheckpointError, match=kept),
    ):
        train(options)
    assert "failure is not recorded" in caplog.text
    assert (run / "last.pt").read_bytes() == before
    assert read_checkpoint_meta(run / "last.pt").step == 1
    monkeypatch.undo()
    assert RunFolder(run).read_status()["state"] == "running"  # as a killed run's: not failed
    assert train(options).step == 2


def test_a_full_disk_on_a_page_is_a_plain_error_not_something_went_wrong(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    from dashboard import ui

    shown: list[str] = []
    monkeypatch.setattr(ui.st, "error", lambda text, **kwargs: shown.append(text))
    with ui.page_guard():
        raise _os_error(errno.ENOSPC, "/data/runs/r1/preset.json")
    assert shown == [
        "No space left on device: /data/runs/r1/preset.json; free some space (or choose a folder "
        "on another disk) and try again"
    ]
