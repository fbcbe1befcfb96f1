"""Several people on one data root: each browser session keeps its own active dataset and
checkpoint, and a job says whose it is and cannot be stopped by an account that may not signal it.
"""

from __future__ import annotations

import contextlib
import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from dashboard_fixtures import finished_run as _run
from dashboard_fixtures import make_tiny_dataset
from streamlit.testing.v1 import AppTest

from dashboard import jobs as jobs_module
from dashboard.jobs import REMOTE_SILENCE_S, JobManager
from dashboard.processes import current_user
from dashboard.run_state import RUN_ENDED_S, RUN_SILENCE_S
from dashboard.settings import Settings
from model.errors import UserError
from model.process_start import proc_start

APP = str(Path(__file__).resolve().parent.parent / "app.py")
SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_a_session_keeps_its_checkpoint_when_another_user_chooses_or_trains(
    tmp_path: Path,
) -> None:
    older, newer = _run(tmp_path, "older", 600), _run(tmp_path, "newer", 300)
    alice, bob = Settings(tmp_path, session={}), Settings(tmp_path, session={})
    assert bob.active_checkpoint() == newer  # nothing chosen yet: the newest run
    alice.write_active(checkpoint=older)
    assert alice.active_checkpoint() == older
    assert bob.active_checkpoint() == newer  # Bob's open pages stay on what they showed
    _run(tmp_path, "newest", 0)  # someone's training finishes
    assert bob.active_checkpoint() == newer
    assert Settings(tmp_path, session={}).active_checkpoint() == older  # a page opened now
    assert Settings(tmp_path).active_checkpoint() == older  # no session: active.json


def test_a_session_whose_checkpoint_was_deleted_moves_to_the_chosen_one(tmp_path: Path) -> None:
    older, newer = _run(tmp_path, "older", 600), _run(tmp_path, "newer", 300)
    bob = Settings(tmp_path, session={})
    bob.write_active(checkpoint=newer)
    Settings(tmp_path, session={}).write_active(checkpoint=older)
    newer.unlink()  # another user deletes the run Bob has open
    assert bob.active_checkpoint() == older


def test_home_keeps_its_dataset_when_another_session_chooses_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "data"
    tiny, other = (
        make_tiny_dataset(root / "ds" / "tiny", n=2),
        make_tiny_dataset(root / "ds" / "other", n=2, seed=1),
    )
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    Settings(root).write_active(dataset=tiny)
    home = AppTest.from_file(APP, default_timeout=60).run()
    assert home.selectbox(key="home-dataset").value == tiny
    Settings(root).write_active(dataset=other)  # on another dashboard over this root
    home.run()
    assert home.selectbox(key="home-dataset").value == tiny
    assert Settings(root).read_active()["dataset"] == str(other)  # not written back
    [status] = [m.value for m in home.markdown if "**active dataset**" in m.value]
    assert f"**active dataset** `{tiny.relative_to(root)}`" in status
    fresh = AppTest.from_file(APP, default_timeout=60).run()  # a page opened afterwards
    assert fresh.selectbox(key="home-dataset").value == other
    home.selectbox(key="home-dataset").select(other).run()  # chosen here
    home.selectbox(key="home-dataset").select(tiny).run()
    assert Settings(root).read_active()["dataset"] == str(tiny)


@pytest.fixture
def manager(tmp_path: Path):
    jobs = JobManager(tmp_path / "data" / "jobs")
    yield jobs
    for job in jobs.list():
        if job.running:
            with contextlib.suppress(UserError):  # another machine's: nothing of it runs here
                jobs.cancel(job.id)
    jobs_module._CHILDREN.clear()


def test_a_refused_launch_names_who_started_the_running_job(manager: JobManager) -> None:
    manager.launch("train", SLEEP, title="Train alice-run")
    with pytest.raises(UserError) as refused:
        manager.launch("train", SLEEP, title="Train bob-run")
    assert f"(Train alice-run, started by {current_user()} at " in str(refused.value)


def _other_accounts_job(monkeypatch: pytest.MonkeyPatch, pid: int) -> None:
    """Signals to ``pid``'s group fail as they do for a job another account started."""
    real_killpg = os.killpg

    def killpg(group: int, signum: int) -> None:
        if group == pid:
            raise PermissionError(1, "Operation not permitted")
        real_killpg(group, signum)

    monkeypatch.setattr(os, "killpg", killpg)


def test_another_accounts_job_is_refused_a_stop_and_keeps_running(
    manager: JobManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    job = manager.launch("train", SLEEP, title="Train alice-run")
    _other_accounts_job(monkeypatch, job.pid)
    with pytest.raises(UserError, match="runs as another account"):
        manager.cancel(job.id, wait=False)
    # not marked as stopping: its owner's panel still offers Cancel, and it ends "finished"
    assert manager.get(job.id).state == "running"
    assert "cancel_requested_at" not in json.loads((job.folder / "job.json").read_text())


def test_the_job_panel_says_whose_job_it_is_and_why_it_cannot_stop_it(
    manager: JobManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = manager.jobs_dir.parent
    make_tiny_dataset(root / "ds" / "tiny", n=2)
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    job = manager.launch("train", SLEEP, title="Train alice-run")
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/train.py").run()
    (said,) = [c.value for c in at.caption if f"Started by {current_user()} at " in c.value]
    assert said.endswith(f" {time.localtime().tm_zone}")  # the zone as named, not lowercased
    _other_accounts_job(monkeypatch, job.pid)
    at.button(key=f"cancel-{job.id}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("runs as another account" in e.value for e in at.error)
    assert manager.get(job.id).state == "running"
    at.run()  # the live panel redraws every 2 s: the refusal stays until the next click
    assert any("runs as another account" in e.value for e in at.error)


def test_a_launch_refused_for_alices_running_run_leaves_its_preset_alone(
    manager: JobManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both launch the preset's default run name in the same minute; Alice's trainer is still
    # starting (no status.json yet) when Bob presses Launch training.
    root = manager.jobs_dir.parent
    make_tiny_dataset(root / "ds" / "tiny", n=2)
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/train.py").run()
    name = next(t for t in at.text_input if t.label == "Run name").value
    preset = root / "runs" / name / "preset.json"
    preset.parent.mkdir(parents=True)
    preset.write_text('{"alice": "her settings"}')
    job = manager.launch("train", SLEEP, title=f"Train {name}", outputs={"run": str(preset.parent)})
    next(b for b in at.button if b.label == "Launch training").click().run()
    assert not at.exception, [e.value for e in at.exception]
    # her run has the name on this form: the refusal says this launch did not start
    assert any("This launch did not start" in e.value for e in at.error), at.error
    assert preset.read_text() == '{"alice": "her settings"}'
    # her job's panel, with Cancel, stays in view
    assert at.button(key=f"cancel-{job.id}").label == "Cancel"


def _written_on(manager: JobManager, host: str, pid: int, proc_start: str | None = None) -> Path:
    """The folder of a train job that another machine sharing this data root started: its
    runner's pid (and start tick) were that machine's."""
    folder = manager.jobs_dir / "train-20260101-120000-abcdef"
    folder.mkdir(parents=True)
    info = {"id": folder.name, "kind": "train", "title": "Train alice-run", "command": SLEEP}
    info |= {"pid": pid, "proc_start": proc_start, "started": time.time(), "user": "alice"}
    (folder / "job.json").write_text(json.dumps(info | {"host": host, "outputs": {}}))
    return folder


def test_a_job_started_on_another_machine_reads_running_there(manager: JobManager) -> None:
    folder = _written_on(manager, "gpu-node-7", pid=999_999_999)  # no such pid here
    job = manager.get(folder.name)
    assert job.state == "running on gpu-node-7" and job.running
    with pytest.raises(UserError, match="already running on gpu-node-7"):
        manager.launch("train", SLEEP, title="Train bob-run")  # one train job at a time
    with pytest.raises(UserError, match="can only be stopped on gpu-node-7"):
        manager.cancel(folder.name, wait=False)
    info = json.loads((folder / "job.json").read_text())
    assert "cancel_requested" not in info
    (folder / "job.json").write_text(json.dumps(info | {"cancel_requested": True}))  # asked there
    stopping = manager.get(folder.name)
    assert stopping.state == "stopping on gpu-node-7" and stopping.stopping
    assert not stopping.stop_overdue  # no Force stop offered here: nothing of it runs here
    (folder / "result.json").write_text(json.dumps({"returncode": 0}))
    assert manager.get(folder.name).state == "cancelled"  # its runner there says it ended


def test_a_job_whose_machine_fell_silent_no_longer_blocks_its_kind(manager: JobManager) -> None:
    """Machine A crashed with its job: no result.json ever comes; after REMOTE_SILENCE_S of no
    log, progress or job.json change it reads lost here, and a job of its kind may start."""
    folder = _written_on(manager, "gpu-node-7", pid=999_999_999)
    (folder / "log.txt").write_text("epoch 3\n")
    long_ago = time.time() - REMOTE_SILENCE_S - 60
    for path in folder.iterdir():
        os.utime(path, (long_ago, long_ago))
    job = manager.get(folder.name)
    assert job.state == "lost" and not job.running
    _a_train_job_starts(manager)


def _a_train_job_starts(manager: JobManager) -> None:
    """Nothing blocks a train job here: one starts, runs and is cancelled."""
    launched = manager.launch("train", SLEEP, title="Train bob-run")
    try:
        assert manager.get(launched.id).running
    finally:
        manager.cancel(launched.id)


def _training_on(manager: JobManager, job_age_s: float, state: str, heard_s_ago: float) -> Path:
    """A train job another machine started ``job_age_s`` ago (its folder written just now), and
    the status its run last wrote there ``heard_s_ago``."""
    folder = _written_on(manager, "gpu-node-7", pid=999_999_999)
    run = manager.jobs_dir.parent / "runs" / "alice-run"
    run.mkdir(parents=True)
    status = {"state": state, "host": "gpu-node-7", "pid": 999_999_999, "proc_start": "1"}
    heard = time.time() - heard_s_ago
    (run / "status.json").write_text(json.dumps(status | {"updated": heard}))
    os.utime(run / "status.json", (heard, heard))
    info = json.loads((folder / "job.json").read_text())
    info |= {"started": time.time() - job_age_s, "outputs": {"run": str(run)}}
    (folder / "job.json").write_text(json.dumps(info))
    return folder


@pytest.mark.parametrize(
    ("state", "heard_s_ago"),
    [("running", RUN_SILENCE_S + 60), ("finished", RUN_ENDED_S + 60), ("failed", RUN_ENDED_S + 60)],
)
def test_a_train_job_whose_run_ended_on_a_machine_gone_silent_no_longer_blocks(
    manager: JobManager, state: str, heard_s_ago: float
) -> None:
    """Its run reads lost (or ended) there but its runner never wrote result.json: the machine
    went down. The job reads lost at once, not after REMOTE_SILENCE_S, and a train job may start."""
    folder = _training_on(manager, RUN_SILENCE_S + 600, state, heard_s_ago)
    job = manager.get(folder.name)
    assert job.state == "lost" and not job.running
    _a_train_job_starts(manager)


@pytest.mark.parametrize(
    ("job_age_s", "state", "heard_s_ago"),
    [
        (RUN_SILENCE_S + 600, "running", 60),  # its run still writes
        (RUN_SILENCE_S + 600, "finished", 10),  # just ended: its runner records it in a moment
        (600, "failed", 600 + RUN_ENDED_S),  # a status left before this job resumed the run
    ],
)
def test_a_train_job_whose_run_may_still_go_keeps_blocking(
    manager: JobManager, job_age_s: float, state: str, heard_s_ago: float
) -> None:
    folder = _training_on(manager, job_age_s, state, heard_s_ago)
    assert manager.get(folder.name).state == "running on gpu-node-7"
    with pytest.raises(UserError, match="already running on gpu-node-7"):
        manager.launch("train", SLEEP, title="Train bob-run")


def test_another_machines_job_is_not_stopped_through_a_pid_of_this_one(
    manager: JobManager,
) -> None:
    here = subprocess.Popen(SLEEP)  # the pid and start tick its runner had there, taken here
    try:
        folder = _written_on(manager, "gpu-node-7", here.pid, proc_start(here.pid))
        with pytest.raises(UserError, match="can only be stopped on gpu-node-7"):
            manager.cancel(folder.name)
        assert here.poll() is None
    finally:
        here.kill()
        here.wait()


def test_the_job_panel_of_another_machines_job_says_where_to_stop_it(
    manager: JobManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = manager.jobs_dir.parent
    make_tiny_dataset(root / "ds" / "tiny", n=2)
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    job_id = _written_on(manager, "gpu-node-7", pid=999_999_999).name
    at = AppTest.from_file(APP, default_timeout=60).run()
    at.switch_page("pages/train.py").run()
    assert any("running on gpu-node-7" in m.value for m in at.markdown)
    at.button(key=f"cancel-{job_id}").click().run()
    assert not at.exception, [e.value for e in at.exception]
    assert any("can only be stopped on gpu-node-7" in e.value for e in at.error)


@pytest.mark.parametrize(
    ("state", "reader_ahead_s", "writer_behind_s"),
    [
        ("running", REMOTE_SILENCE_S + 3600, 0.0),  # past every silence a job is allowed
        ("finished", RUN_ENDED_S + 300, 0.0),  # just ended: its runner records it in a moment
        ("running", 0.0, 2 * RUN_SILENCE_S),
    ],
)
def test_another_machines_job_keeps_blocking_whatever_the_clocks_say(
    manager: JobManager,
    monkeypatch: pytest.MonkeyPatch,
    state: str,
    reader_ahead_s: float,
    writer_behind_s: float,
) -> None:
    """Its files were just written on the shared data root, but this machine's clock runs ahead
    of the file server's, or gpu-node-7's behind: the job still reads running there and keeps
    blocking its kind, rather than being taken for lost with its machine."""
    folder = _training_on(manager, 600, state, heard_s_ago=10)
    run = manager.jobs_dir.parent / "runs" / "alice-run"
    for path, key in ((folder / "job.json", "started"), (run / "status.json", "updated")):
        record = json.loads(path.read_text())  # the times gpu-node-7's clock gave them
        path.write_text(json.dumps(record | {key: record[key] - writer_behind_s}))
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + reader_ahead_s)
    assert manager.get(folder.name).state == "running on gpu-node-7"
    with pytest.raises(UserError, match="already running on gpu-node-7"):
        manager.launch("train", SLEEP, title="Train bob-run")
