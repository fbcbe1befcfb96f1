"""A job stopped by a signal the dashboard's Cancel did not send reads ``stopped``, not
``failed``: ``systemctl stop`` signals every process of the dashboard's service, its jobs too,
and the next start showed an evaluation stopped so as "failed (exit code 130)" in red."""

from __future__ import annotations

import os
import signal
import sys
import time
from pathlib import Path

import pytest

from dashboard.importer import retry_note
from dashboard.jobs import JobManager

# the model commands' way to end on SIGTERM (model.cli: "stopped by SIGTERM ...", status 130)
STOPS_AS_A_COMMAND = (
    "import signal, sys, time\n"
    "signal.signal(signal.SIGTERM, lambda *_: sys.exit(130))\n"
    "print('ready', flush=True)\n"
    "time.sleep(60)\n"
)
SLEEP = "import time; print('ready', flush=True); time.sleep(60)"


def _ended(manager: JobManager, job_id: str, timeout: float = 20.0):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        job = JobManager(manager.jobs_dir).get(job_id)
        if not job.running:
            return job
        time.sleep(0.05)
    raise AssertionError(f"job {job_id} still running")


def _ready(manager: JobManager, job_id: str) -> None:
    deadline = time.monotonic() + 20.0
    while "ready" not in manager.get(job_id).log_tail() and time.monotonic() < deadline:
        time.sleep(0.05)


@pytest.mark.parametrize("script", [STOPS_AS_A_COMMAND, SLEEP], ids=["exit-130", "sigterm"])
def test_a_service_stop_leaves_its_jobs_stopped_not_failed(tmp_path: Path, script: str) -> None:
    manager = JobManager(tmp_path / "jobs")
    job = manager.launch("evaluate", [sys.executable, "-c", script], title="Evaluate r/best.pt")
    _ready(manager, job.id)
    os.killpg(job.pid, signal.SIGTERM)  # as systemd does: the runner and its command at once
    ended = _ended(manager, job.id)
    assert ended.state == "stopped", (ended.state, ended.returncode)
    assert "stopped from outside the dashboard" in ended.outcome
    assert "finished is kept" in ended.outcome and "exit code" not in ended.outcome


def test_a_job_killed_outright_still_failed(tmp_path: Path) -> None:
    """SIGKILL (the out-of-memory killer) asks nothing to stop: that is a failure."""
    manager = JobManager(tmp_path / "jobs")
    job = manager.launch("evaluate", [sys.executable, "-c", "import os; os.kill(os.getpid(), 9)"])
    ended = _ended(manager, job.id)
    assert ended.state == "failed"
    assert "killed by SIGKILL, as when the machine runs out of memory" in ended.outcome


def test_an_import_stopped_so_says_to_send_the_form_again(tmp_path: Path) -> None:
    note = retry_note("stopped", tmp_path / "ds")
    assert note is not None and note.startswith("The import was stopped: no dataset was written")


def test_a_stop_the_moment_a_job_starts_is_recorded_by_its_runner(tmp_path: Path) -> None:
    """systemd's SIGTERM to the group can come while the runner has started the command but not
    yet taken its signals: the runner died and the job read "lost". Here the stop comes from
    inside the runner's start of the command, the most exposed moment."""
    import json
    import subprocess

    folder = tmp_path / "job"
    folder.mkdir()
    (folder / "job.json").write_text("{}")
    runner = (
        "import os, signal, subprocess, sys\n"
        "from pathlib import Path\n"
        "from dashboard import job_runner\n"
        "start = subprocess.Popen\n"
        "def start_then_stop(*args, **kwargs):\n"
        "    if not args or args[0][0] != sys.executable:\n"
        "        return start(*args, **kwargs)\n"
        "    os.kill(os.getpid(), signal.SIGTERM)  # before the runner's own start returns\n"
        "    return start(*args, **kwargs)\n"
        "job_runner.subprocess.Popen = start_then_stop\n"
        f"job_runner.run(Path({str(folder)!r}), [sys.executable, '-c', {SLEEP!r}])\n"
    )
    root = Path(__file__).resolve().parent.parent
    env = {**os.environ, "PYTHONPATH": str(root)}
    done = subprocess.run([sys.executable, "-c", runner], cwd=root, env=env, timeout=120)
    assert done.returncode == 0  # the runner lived to record the end
    result = json.loads((folder / "result.json").read_text())
    assert result["returncode"] == -signal.SIGTERM  # the stop reached the command
