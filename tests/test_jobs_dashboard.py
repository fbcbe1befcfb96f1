"""Background jobs: tracked by pid, one per kind, cancelled by their own process group, and their
state read back from disk by a fresh manager (as after a dashboard restart)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest

from dashboard import jobs as jobs_module
from dashboard.jobs import JobManager, process_alive
from model.errors import UserError

SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


def _wait(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


@pytest.fixture
def manager(tmp_path: Path):
    jobs = JobManager(tmp_path / "jobs")
    yield jobs
    for job in jobs.list():
        if job.running:
            jobs.cancel(job.id)


def test_launched_job_is_tracked_and_cancelled_by_its_pid(manager: JobManager) -> None:
    job = manager.launch("sleep", SLEEP, title="nap")
    assert job.state == "running"
    assert process_alive(job.pid)
    info = json.loads((job.folder / "job.json").read_text())
    assert info["pid"] == job.pid and info["command"] == SLEEP

    cancelled = manager.cancel(job.id)
    assert cancelled.state == "cancelled"
    assert _wait(lambda: not process_alive(job.pid))
    assert not manager.get(job.id).running


def test_a_training_job_is_given_time_to_stop_after_its_step(manager: JobManager) -> None:
    # SIGTERM asks a run to finish its step and save last.pt; a kill before that leaves it
    # "crashed" and loses the steps since its last epoch.
    script = (
        "import signal, sys, time\n"
        "def stop(*_):\n"
        "    time.sleep(4)  # the step ends, last.pt is written\n"
        "    print('saved last.pt', flush=True)\n"
        "    sys.exit(0)\n"
        "signal.signal(signal.SIGTERM, stop)\n"
        "print('training', flush=True)\n"
        "time.sleep(60)\n"
    )
    job = manager.launch("train", [sys.executable, "-c", script])
    assert _wait(lambda: "training" in manager.get(job.id).log_tail())
    stopped = manager.cancel(job.id)
    assert stopped.state == "cancelled" and stopped.returncode == 0
    assert "saved last.pt" in stopped.log_tail()


def test_a_page_cancel_returns_at_once_and_the_grace_runs_in_the_background(
    manager: JobManager,
) -> None:
    script = (
        "import signal, time\n"
        "signal.signal(signal.SIGTERM, signal.SIG_IGN)  # never stops by itself\n"
        "print('training', flush=True)\n"
        "time.sleep(60)\n"
    )
    job = manager.launch("ingest", [sys.executable, "-c", script])
    assert _wait(lambda: "training" in manager.get(job.id).log_tail())
    stopping = manager.cancel(job.id, wait=False)
    assert stopping.state == "stopping" and stopping.running
    manager.cancel(job.id, wait=False)  # a second request while stopping changes nothing
    assert _wait(lambda: manager.get(job.id).state == "cancelled")  # killed after its grace
    assert not process_alive(job.pid)


def test_only_one_job_of_a_kind_runs_at_a_time(manager: JobManager) -> None:
    first = manager.launch("train", SLEEP, title="first run")
    with pytest.raises(UserError, match="already running"):
        manager.launch("train", SLEEP, title="second run")
    other = manager.launch("ingest", SLEEP)
    assert other.running and manager.get(first.id).running


def test_state_survives_a_dashboard_restart(manager: JobManager) -> None:
    job = manager.launch("sleep", SLEEP)
    jobs_module._CHILDREN.clear()  # the dashboard process that held the Popen is gone
    fresh = JobManager(manager.jobs_dir)
    seen = fresh.get(job.id)
    assert seen.running and seen.pid == job.pid
    fresh.cancel(job.id)
    assert JobManager(manager.jobs_dir).get(job.id).state == "cancelled"


def test_exit_codes_and_progress_are_read_from_disk(manager: JobManager) -> None:
    script = (
        "import json, os; "
        "json.dump({'stage': 'demo', 'done': 1, 'total': 2, 'fraction': 0.5, 'eta_s': 3}, "
        "open(os.environ['CMR_PROGRESS_FILE'], 'w')); print('hello from the job')"
    )
    ok = manager.launch("ok", [sys.executable, "-c", script])
    bad = manager.launch("bad", [sys.executable, "-c", "import sys; sys.exit(3)"])
    jobs_module._CHILDREN.clear()
    assert _wait(lambda: not JobManager(manager.jobs_dir).get(ok.id).running)
    assert _wait(lambda: not JobManager(manager.jobs_dir).get(bad.id).running)
    finished = JobManager(manager.jobs_dir).get(ok.id)
    failed = JobManager(manager.jobs_dir).get(bad.id)
    assert finished.state == "finished" and finished.returncode == 0
    assert finished.progress["fraction"] == 0.5
    assert "hello from the job" in finished.log_tail()
    assert failed.state == "failed" and failed.returncode == 3


def test_a_job_whose_runner_vanished_is_reported_lost(manager: JobManager) -> None:
    job = manager.launch("sleep", SLEEP)
    os.killpg(job.pid, 9)
    assert _wait(lambda: manager.get(job.id).state == "lost")


def test_unknown_job_is_a_clear_error(manager: JobManager) -> None:
    with pytest.raises(UserError, match="no job"):
        manager.get("nope")


def test_two_simultaneous_launches_of_a_kind_start_one_job(
    manager: JobManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Two browser tabs pressing "Build the demo" at the same moment: one build, one message."""
    popen = subprocess.Popen

    def slow_popen(*args, **kwargs):
        time.sleep(0.3)  # a busy machine: the first job.json is not written yet
        return popen(*args, **kwargs)

    monkeypatch.setattr(jobs_module.subprocess, "Popen", slow_popen)
    both_ready = threading.Barrier(2)
    outcomes: list[str] = []

    def click() -> None:
        both_ready.wait()
        try:
            outcomes.append(manager.launch("demo", SLEEP).state)
        except UserError as err:
            outcomes.append(str(err))

    tabs = [threading.Thread(target=click) for _ in range(2)]
    for tab in tabs:
        tab.start()
    for tab in tabs:
        tab.join()
    assert len(manager.list("demo")) == 1
    assert sorted(outcomes)[0].startswith("another demo job is already running"), outcomes
    assert "running" in outcomes


def test_a_data_root_that_cannot_be_written_is_named(tmp_path: Path) -> None:
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("a file where the data root should be")
    with pytest.raises(UserError, match="cannot start the demo job: cannot write .*not-a-folder"):
        JobManager(blocker / "data" / "jobs").launch("demo", SLEEP)
