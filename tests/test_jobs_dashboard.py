"""Background jobs: tracked by pid, one per kind, cancelled by their own process group, and their
state read back from disk by a fresh manager (as after a dashboard restart)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import threading
import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import jobs as jobs_module
from dashboard.job import _clock
from dashboard.jobs import JobManager, process_alive
from model.errors import UserError
from tests.tiny_dataset import make_tiny_dataset

REPO = Path(__file__).resolve().parent.parent
SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


def _wait(predicate, timeout: float = 20.0) -> bool:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return True
        time.sleep(0.05)
    return False


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


@pytest.mark.parametrize("moved", [False, True], ids=["copied", "moved"])
def test_a_job_running_at_a_data_roots_old_place_is_not_running_in_its_copy(
    manager: JobManager, tmp_path: Path, moved: bool
) -> None:
    # the root copied for a talk while a run trains: the copy's record has the same pid on the
    # same machine, but the job writes (and ends) at the old place; it must neither block a
    # launch in the copy nor be stopped from it
    job = manager.launch("train", SLEEP, title="trial run")
    copy = JobManager(tmp_path / "copy" / "jobs")
    shutil.copytree(manager.jobs_dir, copy.jobs_dir)
    away = tmp_path / "away"
    if moved:
        manager.jobs_dir.rename(away)
    copied = copy.get(job.id)
    assert copied.state == "lost" and not copied.running
    copy.check_idle("train")
    if moved:
        away.rename(manager.jobs_dir)  # back, so that the fixture stops the job
    assert manager.get(job.id).running


def test_unknown_job_is_a_clear_error(manager: JobManager) -> None:
    with pytest.raises(UserError, match="no job"):
        manager.get("nope")


# Like torchrun: a launcher whose worker runs in a session of its own (out of reach of a signal
# to the job's process group); both ignore SIGTERM, as a hung run does. Prints the worker's pid.
_LAUNCHER_AND_WORKER = (
    "import signal, subprocess, sys, time\n"
    "signal.signal(signal.SIGTERM, signal.SIG_IGN)\n"
    "worker = subprocess.Popen([sys.executable, '-c', 'import signal, time; "
    "signal.signal(signal.SIGTERM, signal.SIG_IGN); time.sleep(60)'], start_new_session=True)\n"
    "print('worker', worker.pid, flush=True)\n"
    "time.sleep(60)\n"
)


def _worker_pid(manager: JobManager, job_id: str) -> int:
    assert _wait(lambda: "worker" in manager.get(job_id).log_tail())
    return int(manager.get(job_id).log_tail().split("worker")[1].split()[0])


def test_a_kill_after_the_grace_reaches_workers_in_their_own_session(
    manager: JobManager,
) -> None:
    job = manager.launch("ingest", [sys.executable, "-c", _LAUNCHER_AND_WORKER])
    worker = _worker_pid(manager, job.id)
    assert manager.cancel(job.id).state == "cancelled"
    assert _wait(lambda: not process_alive(worker))


def test_a_job_left_stopping_by_a_restarted_dashboard_can_be_forced_to_stop(
    manager: JobManager,
) -> None:
    job = manager.launch("train", [sys.executable, "-c", _LAUNCHER_AND_WORKER])
    worker = _worker_pid(manager, job.id)
    # Stop asked an hour ago by a dashboard that has restarted since: its grace thread is gone.
    info = json.loads((job.folder / "job.json").read_text())
    info |= {"cancel_requested": True, "cancel_requested_at": time.time() - 3600}
    (job.folder / "job.json").write_text(json.dumps(info))
    os.killpg(job.pid, signal.SIGTERM)
    jobs_module._CHILDREN.clear()
    fresh = JobManager(manager.jobs_dir)
    stuck = fresh.get(job.id)
    assert stuck.state == "stopping" and stuck.stop_overdue
    fresh.force_stop(job.id)  # waits up to 5 s for the kill: a loaded machine may need longer
    assert _wait(lambda: fresh.get(job.id).state == "cancelled")
    assert not process_alive(job.pid)
    assert _wait(lambda: not process_alive(worker))


def test_a_stop_just_asked_is_not_overdue(manager: JobManager) -> None:
    job = manager.launch("train", [sys.executable, "-c", _LAUNCHER_AND_WORKER])
    worker = _worker_pid(manager, job.id)
    stopping = manager.cancel(job.id, wait=False)
    assert stopping.state == "stopping" and not stopping.stop_overdue
    manager.force_stop(job.id)  # waits up to 5 s for the kill: a loaded machine may need longer
    assert _wait(lambda: manager.get(job.id).state == "cancelled")
    assert _wait(lambda: not process_alive(worker))


def test_a_cancel_signals_the_command_once(manager: JobManager) -> None:
    # torchrun takes a second SIGTERM as "stop waiting for the ranks to save": the runner must
    # not forward the one the cancel already sent to the whole group.
    script = (
        "import signal, time\n"
        "received = []\n"
        "signal.signal(signal.SIGTERM, lambda *_: received.append(1))\n"
        "print('ready', flush=True)\n"
        "while not received:\n"
        "    time.sleep(0.01)\n"
        "time.sleep(1.0)\n"
        "print('SIGTERM received', len(received), 'time(s)', flush=True)\n"
    )
    job = manager.launch("train", [sys.executable, "-c", script])
    assert _wait(lambda: "ready" in manager.get(job.id).log_tail())
    stopped = manager.cancel(job.id)
    assert "SIGTERM received 1 time(s)" in stopped.log_tail()


def test_the_train_page_offers_a_force_stop_once_the_grace_is_over(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "data"
    make_tiny_dataset(root / "ds" / "tiny", n=8)
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    manager = JobManager(root / "jobs")
    job = manager.launch("train", [sys.executable, "-c", _LAUNCHER_AND_WORKER], title="Train r")
    worker = _worker_pid(manager, job.id)
    info = json.loads((job.folder / "job.json").read_text())
    info |= {"cancel_requested": True, "cancel_requested_at": time.time() - 3600}
    (job.folder / "job.json").write_text(json.dumps(info))
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=60)
    try:
        at.run()
        at.switch_page("pages/train.py").run()
        assert not at.exception, [e.value for e in at.exception]
        at.button(key=f"force-stop-{job.id}").click().run()
        # awaited, as the sibling tests do: under load the killed tree may end after the page
        assert _wait(lambda: manager.get(job.id).state == "cancelled")
        assert _wait(lambda: not process_alive(worker))
    finally:
        manager.force_stop(job.id)  # the page's button did it, unless the test failed


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


def test_a_job_whose_pid_an_unrelated_process_took_is_not_running(manager: JobManager) -> None:
    job = manager.launch("sleep", [sys.executable, "-c", "pass"])
    assert _wait(lambda: not process_alive(job.pid))
    jobs_module._CHILDREN.clear()
    info = json.loads((job.folder / "job.json").read_text())
    (job.folder / "result.json").unlink(missing_ok=True)  # the machine went down before it ran
    other = subprocess.Popen(SLEEP)  # after a restart, its pid is another program's
    try:
        (job.folder / "job.json").write_text(json.dumps(info | {"pid": other.pid}))
        assert manager.get(job.id).state == "lost"
    finally:
        other.kill()
        other.wait()


def test_a_job_started_on_an_earlier_day_says_which() -> None:
    """A training job runs for days: 'started at 14:02:05' alone did not say which day."""
    now = time.mktime((2026, 12, 5, 18, 0, 0, 0, 0, -1))
    earlier_today = time.mktime((2026, 12, 5, 9, 3, 4, 0, 0, -1))
    days_ago = time.mktime((2026, 12, 3, 14, 2, 5, 0, 0, -1))
    zone = time.localtime(now).tm_zone
    assert _clock(earlier_today, now) == f"09:03:04 {zone}"
    assert _clock(days_ago, now) == f"12-03 14:02:05 {zone}"
    assert _clock("not a time", now) == _clock(1e30, now) == "an unknown time"


def test_an_ended_job_says_when_it_ended_and_after_how_long(manager: JobManager) -> None:
    """A finished panel said only 'finished' under 'started at …': not whether that was the
    evaluation just run or yesterday's, nor how long it took (what the next one will take)."""
    job = manager.launch("ok", [sys.executable, "-c", "pass"])
    assert _wait(lambda: not JobManager(manager.jobs_dir).get(job.id).running)
    info = json.loads((job.folder / "job.json").read_text())
    result = json.loads((job.folder / "result.json").read_text())
    result["finished"] = info["started"] + 432.0
    (job.folder / "result.json").write_text(json.dumps(result))
    ended = JobManager(manager.jobs_dir).get(job.id)
    assert ended.origin.endswith(f", ended at {_clock(result['finished'])} after 7m 12s")
    running = manager.launch("slow", SLEEP)
    assert ", ended" not in running.origin
    manager.cancel(running.id)
