"""``python -m model ...`` as a separate process for the tests that stop or kill one midway."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

from model.progress import PROGRESS_ENV

ROOT = Path(__file__).resolve().parent.parent


def spawn_model(
    args: list[str], log: Path, progress: Path | None = None, own_session: bool = False
) -> subprocess.Popen:
    """Start ``python -m model ARGS`` from the repository root, its output in ``log`` and its
    progress in ``progress`` when given. ``own_session``: a process group of its own, which a
    test signals whole (``os.killpg``) as the dashboard's Stop and Cancel do, workers included."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if progress is not None:
        env[PROGRESS_ENV] = str(progress)
    with open(log, "wb") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "model", *args],
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=handle,
            start_new_session=own_session,
        )


def terminate_when(proc: subprocess.Popen, ready: Callable[[], bool], log: Path) -> int:
    """SIGTERM to ``proc``'s process group (as the dashboard's Cancel sends it) once ``ready()``
    holds, and its exit status; killed (and the test failed) if it had ended before, never got
    ready in 300 s, or took over 120 s to stop."""
    try:
        wait_while_running(proc, ready, log, "the command never got ready to be stopped")
        os.killpg(proc.pid, signal.SIGTERM)
        return proc.wait(timeout=120)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
            proc.wait(timeout=60)


def start_nproc_training(tmp_path: Path, log: Path) -> tuple[subprocess.Popen, Path, Path]:
    """``train --nproc 2`` on a tiny dataset for 200 epochs (long enough to be stopped or killed
    midway), in a process group of its own; the process, the dataset and the run folder."""
    from tiny_dataset import make_tiny_dataset, write_tiny_preset

    data = make_tiny_dataset(tmp_path / "data", n=24, seed=3)
    preset = write_tiny_preset(tmp_path / "tiny.json", batch_size=4, epochs=200)
    out = tmp_path / "run"
    argv = ["train", "--nproc", "2", "--device", "cpu", "--data", str(data), "--out", str(out)]
    return spawn_model([*argv, "--preset", str(preset)], log, own_session=True), data, out


def wait_while_running(
    proc: subprocess.Popen,
    ready: Callable[[], object],
    log: Path,
    never: str,
    timeout_s: float = 300,
) -> None:
    """Poll ``ready()`` while ``proc`` runs; the test fails with the log's tail if ``proc``
    ends first, and with ``never`` if ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while not ready():
        assert proc.poll() is None, log.read_text(errors="replace")[-3000:]
        assert time.monotonic() < deadline, never
        time.sleep(0.02)
