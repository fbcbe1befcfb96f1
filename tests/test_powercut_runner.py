"""The power goes out for a job's runner alone: ``kill -9`` of the dashboard's job runner (not
its command) leaves the command running, and the job must still read running, block a second
job of its kind and stop on Cancel (it read "stopped unexpectedly" and let a second one start
beside it)."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dashboard_fixtures import APP, make_tiny_dataset
from streamlit.testing.v1 import AppTest

import dashboard.jobs as jobs_module
from dashboard.job import COMMAND_FILE
from dashboard.processes import descendants, process_alive
from model.errors import UserError
from model.process_start import proc_start

_WAITING = "import sys, time; print('ready', flush=True); time.sleep(600)"


def _wait_for(check, what: str, deadline_s: float = 60.0) -> None:
    deadline = time.monotonic() + deadline_s
    while not check():
        assert time.monotonic() < deadline, what
        time.sleep(0.05)


@pytest.mark.timeout(180)
def test_a_job_whose_runner_alone_is_killed_still_runs_and_its_cancel_reaches_it(
    manager,
) -> None:
    job = manager.launch("train", [sys.executable, "-c", _WAITING])
    _wait_for(lambda: "ready" in job.log_tail(), "the command never started")
    (command_pid, _, _), *_ = descendants(job.pid)
    try:
        deadline = time.monotonic() + 30  # its runner records it as it starts it (old: never)
        while not (job.folder / COMMAND_FILE).exists() and time.monotonic() < deadline:
            time.sleep(0.05)
        os.kill(job.pid, signal.SIGKILL)  # the runner only
        _wait_for(lambda: not process_alive(job.pid), "the runner outlived SIGKILL")
        jobs_module._reap(job.pid)
        assert process_alive(command_pid), "the command went with its runner"
        running = manager.get(job.id)
        assert running.state == "running" and running.running, running.outcome
        assert running.orphan is not None and running.orphan[0] == command_pid
        with pytest.raises(UserError, match="another train job is already running"):
            manager.check_idle("train")
        stopped = manager.cancel(job.id)
        assert not process_alive(command_pid), "Cancel did not reach the command"
        assert stopped.state == "cancelled" and not stopped.running
        manager.check_idle("train")  # a new run may start
    finally:
        if process_alive(command_pid):
            os.kill(command_pid, signal.SIGKILL)


def test_a_recorded_command_whose_pid_was_reused_does_not_keep_the_job_running(manager) -> None:
    job = manager.launch("ingest", [sys.executable, "-c", "pass"])
    _wait_for(lambda: manager.get(job.id).state == "finished", "the job never finished")

    def runner_gone() -> bool:  # it writes result.json just before it exits: reaped, not a zombie
        jobs_module._reap(job.pid)
        return not process_alive(job.pid)

    _wait_for(runner_gone, "the runner outlived its command")
    (job.folder / "result.json").unlink()  # the machine went down before it was written
    other = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:  # after the restart the command's pid is another program's, started at another tick
        record = {"pid": other.pid, "proc_start": "1"}
        (job.folder / COMMAND_FILE).write_text(json.dumps(record))
        lost = manager.get(job.id)
        assert lost.state == "lost" and not lost.running and lost.orphan is None
    finally:
        other.kill()
        other.wait()


_DEAF = (
    "import signal, time; signal.signal(signal.SIGTERM, signal.SIG_IGN); "
    "print('ready', flush=True); time.sleep(600)"
)


@pytest.mark.timeout(180)
def test_force_stop_reaches_a_deaf_command_whose_runner_was_killed(manager) -> None:
    job = manager.launch("ingest", [sys.executable, "-c", _DEAF])
    _wait_for(lambda: "ready" in job.log_tail(), "the command never started")
    _wait_for(lambda: (job.folder / COMMAND_FILE).exists(), "the runner never recorded it")
    (command_pid, _, _), *_ = descendants(job.pid)
    try:
        os.kill(job.pid, signal.SIGKILL)
        _wait_for(lambda: not process_alive(job.pid), "the runner outlived SIGKILL")
        jobs_module._reap(job.pid)
        assert manager.cancel(job.id, wait=False).state == "stopping"  # it ignores SIGTERM
        assert manager.force_stop(job.id).state == "cancelled"
        assert not process_alive(command_pid)
    finally:
        if process_alive(command_pid):
            os.kill(command_pid, signal.SIGKILL)


def test_the_train_page_says_a_jobs_runner_was_lost_and_offers_cancel(
    manager, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = manager.jobs_dir.parent
    make_tiny_dataset(root / "ds" / "tiny", n=2)
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    command = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(600)"])
    try:  # a runner gone (a pid no process has), its command running on
        folder = manager.jobs_dir / "train-20260101-120000-abcdef"
        folder.mkdir(parents=True)
        info = {"id": folder.name, "kind": "train", "title": "Train r", "pid": 999_999_999}
        info |= {"started": time.time(), "folder": str(Path(folder).resolve())}
        (folder / "job.json").write_text(json.dumps(info))
        record = {"pid": command.pid, "proc_start": proc_start(command.pid)}
        (folder / COMMAND_FILE).write_text(json.dumps(record))
        at = AppTest.from_file(APP, default_timeout=60).run()
        at.switch_page("pages/train.py").run()
        assert not at.exception, [e.value for e in at.exception]
        assert any("runner was lost" in w.value for w in at.warning), at.warning
        assert at.button(key=f"cancel-{folder.name}").label == "Cancel"
    finally:
        command.kill()
        command.wait()
