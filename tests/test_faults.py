"""Faults: SIGKILLed training, ingest and index runs recover; a full disk or a damaged checkpoint
never costs the last good checkpoint.

The killed processes are real ``python -m model ...`` subprocesses; they are killed at a seeded
point once their own outputs (metrics.jsonl, tensors/, progress file) show they got there.
"""

from __future__ import annotations

import errno
import json
import os
import random
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd
import pytest
import torch
from dicom_factory import StudySpec, write_study
from model_process import spawn_model
from tiny_dataset import make_tiny_dataset, shared_tiny_checkpoint, write_tiny_preset

from model.cli import main as cli_main
from model.errors import CheckpointError
from model.index.client import ChromaLocation, open_client
from model.index.embedding_index import EmbeddingIndex
from model.training.checkpoint import load_checkpoint, read_checkpoint_meta
from model.training.run_folder import RunFolder
from model.training.train import TrainOptions, train

ROOT = Path(__file__).resolve().parents[1]
KILL_SEED = 7


@pytest.fixture(scope="module")
def tiny_data(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_dataset(tmp_path_factory.mktemp("faults") / "data", n=24, seed=0)


def _kill_when(proc: subprocess.Popen, ready: Callable[[], bool], log: Path) -> None:
    """SIGKILL ``proc`` as soon as ``ready()``; fail if it ends (or stalls) before that."""
    deadline = time.monotonic() + 300
    try:
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                tail = log.read_text(errors="replace")[-2000:]
                raise AssertionError(f"ended (rc {proc.returncode}) before the kill:\n{tail}")
            if ready():
                proc.send_signal(signal.SIGKILL)
                return
            time.sleep(0.02)
        raise AssertionError("never reached the kill point")
    finally:
        if proc.poll() is None:
            proc.kill()
        proc.wait(timeout=60)


def _train_losses(run: Path) -> dict[int, float]:
    records = [r for r in RunFolder(run).read_metrics() if r["kind"] == "train"]
    steps = [r["step"] for r in records]
    assert len(steps) == len(set(steps)), f"duplicate steps in metrics.jsonl: {steps}"
    return {r["step"]: r["loss"] for r in records}


def _progress_done(path: Path, stage: str) -> int:
    try:
        progress = json.loads(path.read_text())
    except (OSError, json.JSONDecodeError):
        return 0
    return int(progress.get("done") or 0) if progress.get("stage") == stage else 0


def test_killed_training_resumes_with_the_uninterrupted_losses(
    tiny_data: Path, tmp_path: Path
) -> None:
    # 15 train studies, batch 4 -> 3 steps per epoch (last.pt after steps 3, 6, ...).
    preset = write_tiny_preset(tmp_path / "tiny.json", batch_size=4, epochs=4)
    kill_step, max_steps = random.Random(KILL_SEED).randint(4, 8), 9
    reference: list = []
    ref_options = TrainOptions(
        tiny_data, tmp_path / "ref", str(preset), max_steps=max_steps, device="cpu"
    )
    worker = threading.Thread(target=lambda: reference.append(train(ref_options)))
    run, log = tmp_path / "run", tmp_path / "train.log"
    proc = spawn_model(
        ["train", "--data", str(tiny_data), "--preset", str(preset), "--out", str(run)], log
    )
    worker.start()  # the uninterrupted run trains while the child starts up
    try:
        _kill_when(proc, lambda: max(_train_losses(run), default=0) >= kill_step, log)
    finally:
        worker.join()
    before_kill = _train_losses(run)
    saved_step = read_checkpoint_meta(run / "last.pt").step
    assert saved_step in (3, 6) and saved_step <= max(before_kill)
    assert RunFolder(run).read_status()["state"] == "running"  # killed: no chance to say more

    resume = ["train", "--data", str(tiny_data), "--preset", str(preset), "--out", str(run)]
    assert cli_main([*resume, "--resume", "--max-steps", str(max_steps)]) == 0
    after = _train_losses(run)
    expected = _train_losses(tmp_path / "ref")
    assert sorted(after) == list(range(1, max_steps + 1)) == sorted(expected)
    assert [after[s] for s in after] == pytest.approx([expected[s] for s in after], rel=1e-5)
    redone = [s for s in before_kill if s > saved_step]
    assert [after[s] for s in redone] == pytest.approx([before_kill[s] for s in redone], rel=1e-5)
    assert reference[0].losses == pytest.approx([after[s] for s in sorted(after)], rel=1e-5)


def test_sigterm_to_the_process_group_stops_a_run_with_loader_workers(
    tiny_data: Path, tmp_path: Path
) -> None:
    # The dashboard's Stop (and systemd, Slurm) signal the whole process group, loader workers
    # included: the run must still stop after its step, save last.pt and say "stopped".
    preset = write_tiny_preset(tmp_path / "tiny.json", batch_size=4, epochs=50)
    run, log = tmp_path / "run", tmp_path / "train.log"
    args = ["--data", str(tiny_data), "--preset", str(preset), "--out", str(run)]
    proc = spawn_model(["train", *args, "--workers", "2"], log, own_session=True)
    try:
        deadline = time.monotonic() + 300
        while max(_train_losses(run), default=0) < 4 and proc.poll() is None:
            assert time.monotonic() < deadline, "never reached step 4"
            time.sleep(0.02)
        os.killpg(proc.pid, signal.SIGTERM)
        assert proc.wait(timeout=120) == 0, log.read_text(errors="replace")[-2000:]
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
    status = RunFolder(run).read_status()
    assert status["state"] == "stopped", status["message"]
    assert read_checkpoint_meta(run / "last.pt").step == status["step"] >= 4
    assert "DataLoader worker" not in log.read_text(errors="replace")


def test_killed_ingest_reruns_to_the_full_dataset(tmp_path: Path) -> None:
    src, out, log = tmp_path / "dicom", tmp_path / "dataset", tmp_path / "ingest.log"
    for i in range(24):
        write_study(src, StudySpec(accession=f"ACC{i:04d}", patient_id=f"PID{i:04d}"))
    kill_after = random.Random(KILL_SEED).randint(3, 8)
    proc = spawn_model(["ingest", str(src), "--out", str(out)], log)
    _kill_when(proc, lambda: len(list((out / "tensors").glob("*.npy"))) >= kill_after, log)
    assert not (out / "studies.parquet").exists(), "tables are only written at the end"
    assert (out / ".ingest.lock").exists(), "the killed ingest left its lock file"
    # its holder record outlives it in the dataset: no command line, whose source folder may be
    # named after the patient
    assert "dicom" not in (out / ".ingest.lock").read_text()

    assert cli_main(["ingest", str(src), "--out", str(out)]) == 0
    studies = pd.read_parquet(out / "studies.parquet")
    ids = studies["study_id"].tolist()
    assert len(ids) == len(set(ids)) == 24
    assert {p.stem for p in (out / "tensors").glob("*.npy")} == set(ids)
    assert sorted(pd.read_csv(out / "linkage.csv")["study_id"]) == sorted(ids)
    assert not [p.name for p in out.rglob("*.tmp")], "partial writes were left behind"


@pytest.fixture(scope="module")
def index_source(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """(checkpoint, dataset) of 120 tiny studies whose embeddings are cached, so the index
    command's writer child only upserts; each test indexes them into a Chroma folder of its own."""
    from model.data.dataset import CMRDataset
    from model.embed import cached_study_embeddings

    checkpoint = shared_tiny_checkpoint()[1]
    data = make_tiny_dataset(tmp_path_factory.mktemp("index") / "data", n=120, seed=3)
    cached_study_embeddings(checkpoint, CMRDataset.open(data))
    return checkpoint, data


def _index_job(
    index_source: tuple[Path, Path], tmp_path: Path
) -> tuple[Path, Path, Path, Path, list[str]]:
    """(checkpoint, dataset, chroma folder, progress file, ``index`` argv) of ``index_source``."""
    checkpoint, data = index_source
    chroma, progress = tmp_path / "chroma", tmp_path / "progress.json"
    args = ["index", "--checkpoint", str(checkpoint), "--data", str(data)]
    return checkpoint, data, chroma, progress, [*args, "--chroma-path", str(chroma)]


def _indexed_ids(chroma: Path, checkpoint: Path) -> list[str]:
    fingerprint = read_checkpoint_meta(checkpoint).fingerprint
    collection = EmbeddingIndex(open_client(ChromaLocation(path=chroma)), fingerprint).collection()
    return collection.get(include=[])["ids"]


def test_killed_index_reruns_without_duplicates(
    index_source: tuple[Path, Path], tmp_path: Path
) -> None:
    from model.data.dataset import CMRDataset

    checkpoint, data, chroma, progress, args = _index_job(index_source, tmp_path)
    log = tmp_path / "ix.log"
    kill_after = random.Random(KILL_SEED).randint(5, 20)
    proc = spawn_model([*args, "--batch-size", "1"], log, progress)
    _kill_when(proc, lambda: _progress_done(progress, "index") >= kill_after, log)

    partial = len(_indexed_ids(chroma, checkpoint))
    assert 0 < partial < 120, partial
    assert cli_main(args) == 0  # the killed writer's lock is free again
    ids = _indexed_ids(chroma, checkpoint)
    assert len(ids) == len(set(ids)) == 120
    assert set(ids) == set(CMRDataset.open(data).ids())


def test_ctrl_c_while_indexing_stops_cleanly_and_the_rerun_completes(
    index_source: tuple[Path, Path], tmp_path: Path
) -> None:
    """Ctrl-C reaches the whole process group: the index command and its writer child."""
    checkpoint, _, chroma, progress, args = _index_job(index_source, tmp_path)
    log = tmp_path / "ix.log"
    env = {**os.environ, "PYTHONPATH": str(ROOT), "CMR_PROGRESS_FILE": str(progress)}
    with open(log, "wb") as handle:
        proc = subprocess.Popen(
            [sys.executable, "-m", "model", *args, "--batch-size", "1"],
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=handle,
            start_new_session=True,  # its own process group, as a terminal's foreground job
            preexec_fn=lambda: signal.signal(signal.SIGINT, signal.SIG_DFL),
        )
    try:
        deadline = time.monotonic() + 300
        while _progress_done(progress, "index") < 5 and proc.poll() is None:
            assert time.monotonic() < deadline, "never started writing the index"
            time.sleep(0.02)
        assert proc.poll() is None, log.read_text(errors="replace")[-2000:]
        os.killpg(proc.pid, signal.SIGINT)
        code = proc.wait(timeout=120)  # it used to wait for its dead writer child forever
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)
    output = log.read_text(errors="replace")
    assert code == 130, output[-2000:]
    assert "Traceback" not in output and "leaked" not in output and "interrupted" in output
    assert cli_main(args) == 0
    ids = _indexed_ids(chroma, checkpoint)
    assert len(ids) == len(set(ids)) == 120


class _FillingDisk:
    """A file whose large writes stop half-way with ENOSPC, like a disk that fills up."""

    def __init__(self, handle) -> None:
        self._handle = handle

    def write(self, data: bytes) -> int:
        if len(data) < 100_000:
            return self._handle.write(data)
        self._handle.write(data[: len(data) // 2])
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC))

    def __enter__(self) -> _FillingDisk:
        return self

    def __exit__(self, *exc: object) -> None:
        self._handle.close()

    def __getattr__(self, name: str):
        return getattr(self._handle, name)


def test_disk_full_while_saving_keeps_the_previous_checkpoint(
    tiny_data: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    preset = write_tiny_preset(tmp_path / "tiny8.json", batch_size=8)  # one step per epoch
    run = tmp_path / "run"
    train(TrainOptions(tiny_data, run, str(preset), max_steps=1, device="cpu"))
    before = (run / "last.pt").read_bytes()
    real_fdopen = os.fdopen
    monkeypatch.setattr(os, "fdopen", lambda *a, **k: _FillingDisk(real_fdopen(*a, **k)))
    options = TrainOptions(tiny_data, run, str(preset), resume=True, max_steps=2, device="cpu")
    with pytest.raises(CheckpointError, match="No space left on device") as caught:
        train(options)
    monkeypatch.undo()
    assert "previous checkpoint is unchanged" in str(caught.value) and "--resume" in str(
        caught.value
    )
    assert (run / "last.pt").read_bytes() == before
    assert load_checkpoint(run / "last.pt")[1].step == 1
    assert not list(run.glob(".*.tmp")), "the half-written temporary must be removed"
    status = RunFolder(run).read_status()
    assert status["state"] == "failed" and "No space left" in status["message"]
    assert train(options).step == 2  # once there is space again, the run continues


def test_damaged_last_checkpoint_falls_back_to_best_or_says_what_to_do(
    tiny_data: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    preset = write_tiny_preset(tmp_path / "tiny.json", batch_size=4)  # 3 steps per epoch
    run = tmp_path / "run"
    train(TrainOptions(tiny_data, run, str(preset), max_steps=4, device="cpu"))
    assert read_checkpoint_meta(run / "best.pt").step == 3  # last.pt is step 4
    whole = (run / "last.pt").read_bytes()
    (run / "last.pt").write_bytes(whole[: len(whole) // 2])
    options = TrainOptions(tiny_data, run, str(preset), resume=True, max_steps=5, device="cpu")
    with caplog.at_level("WARNING", logger="model"):
        assert train(options).step == 5
    warning = " ".join(r.getMessage() for r in caplog.records if r.levelname == "WARNING")
    assert "resuming from best.pt (step 3)" in warning and "not a loadable" in warning
    assert sorted(_train_losses(run)) == [1, 2, 3, 4, 5]
    assert [p.stat().st_size for p in run.glob("last.damaged-*.pt")] == [len(whole) // 2]

    # Silent damage (a changed weight, the file itself loads) and no usable best.pt: stop.
    payload = torch.load(run / "last.pt", weights_only=True)
    name = next(iter(payload["state_dict"]))
    payload["state_dict"][name] = payload["state_dict"][name] + 1.0
    torch.save(payload, run / "last.pt")
    (run / "best.pt").unlink()
    (run / "best.pt").write_bytes(b"not a checkpoint")
    with pytest.raises(CheckpointError, match="do not match its fingerprint") as caught:
        train(options)
    assert "Restore last.pt from a backup" in str(caught.value)
    assert "another --out" in str(caught.value)
    assert torch.load(run / "last.pt", weights_only=True)["step"] == 5  # left where it was
