"""A class on one dashboard: students pressing the same button in the same second.

Twenty browser sessions of one server run as one account: every job they start is the same
user's. What one student does must not change what another's job runs or what another's page
calls their own.
"""

from __future__ import annotations

import json
import sys
import threading
from pathlib import Path

import pytest

from dashboard import jobs as jobs_module
from dashboard.job import _clock
from dashboard.jobs import JobManager
from dashboard.run_launch import plan_run, refusal_text
from dashboard.runs import TrainForm
from model.errors import UserError

SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]


def test_a_student_refused_a_launch_never_rewrites_the_preset_of_the_run_that_starts(
    tmp_path: Path, manager: JobManager, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both students keep the default run name of that minute; the second presses Launch while
    # the first one's job is being started (its job.json not written yet).
    runs = tmp_path / "runs"
    first = plan_run(TrainForm(tmp_path / "ds", "cpu-small-1206-2100", epochs=3), runs, 0)
    second = plan_run(TrainForm(tmp_path / "ds", "cpu-small-1206-2100", epochs=7), runs, 0)
    monkeypatch.setattr(jobs_module, "_LAUNCH_WAIT_S", 0.0)
    popen = jobs_module.subprocess.Popen
    refusals: list[str] = []

    def second_student() -> None:
        try:
            manager.launch("train", second.command, prepare=second.write)
        except UserError as err:
            refusals.append(str(err))

    def starting_first_job(args, **kwargs):
        if not refusals:
            other = threading.Thread(target=second_student)
            other.start()
            other.join()
        return popen([*args[: args.index("--") + 1], *SLEEP], **kwargs)

    monkeypatch.setattr(jobs_module.subprocess, "Popen", starting_first_job)
    started = manager.launch("train", first.command, prepare=first.write)
    assert len(refusals) == 1 and len(manager.list("train")) == 1, refusals
    preset = json.loads((first.run / "preset.json").read_text())
    assert preset["train"]["epochs"] == 3  # the first student's run trains their own settings
    assert started.info["command"] == first.command


@pytest.mark.slow
def test_an_evaluation_refused_while_anothers_runs_is_not_taken_for_this_sessions(
    app, data_root: Path
) -> None:
    # Launched in the same second, the refused one's folder name is the running one's: its page
    # then showed the other student's results as the evaluation it had launched.
    jobs = JobManager(data_root / "jobs")
    other = jobs.launch("evaluate", SLEEP, title="Evaluate a classmate's checkpoint")
    try:
        at = app("pages/evaluate.py")
        next(b for b in at.button if b.label == "Run evaluation").click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert any("another evaluate job is already running" in e.value for e in at.error)
        assert "ev-launched" not in at.session_state
        assert [job.id for job in jobs.list("evaluate")] == [other.id]
    finally:
        jobs.cancel(other.id)


def test_a_job_stopped_by_another_student_says_when_the_stop_was_asked(
    manager: JobManager,
) -> None:
    # One account serves the whole class: its starter saw only "stopping" / "cancelled",
    # "started by <the account>", as if they had pressed Stop themselves.
    job = manager.launch("train", SLEEP, title="Train cpu-small-1206-2113")
    stopped = manager.cancel(job.id, wait=False)
    asked = stopped.info["cancel_requested_at"]
    assert f"stop asked at {_clock(asked)}" in manager.get(job.id).origin
    ended = manager.cancel(job.id)
    assert f"stop asked at {_clock(asked)}" in ended.origin


def test_a_launch_refused_for_a_run_of_its_own_name_says_it_did_not_start(
    tmp_path: Path, manager: JobManager
) -> None:
    # The refusal named "Train cpu-small-1206-2113" as the job that runs: the very name on the
    # refused student's form, read as their own launch having started.
    runs = tmp_path / "runs"
    theirs = manager.launch("train", SLEEP, outputs={"run": str(runs / "cpu-small-1206-2113")})
    said = "another train job is already running (Train cpu-small-1206-2113, ...)"
    same = refusal_text(said, runs / "cpu-small-1206-2113", manager.list("train"))
    assert same.startswith("This launch did not start: a run with the same name")
    assert theirs.origin in same
    assert refusal_text(said, runs / "mine", manager.list("train")) == said


@pytest.mark.slow
def test_the_train_page_says_a_same_named_run_of_someone_else_is_not_this_launch(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from streamlit.testing.v1 import AppTest

    from tests.test_train_runs import APP
    from tests.tiny_dataset import make_tiny_dataset

    root = tmp_path / "data"
    make_tiny_dataset(root / "ds" / "tiny", n=8)
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/train.py").run()
    name = next(t for t in at.text_input if t.label == "Run name").value
    jobs = JobManager(root / "jobs")
    theirs = jobs.launch("train", SLEEP, outputs={"run": str(root / "runs" / name)})
    try:
        next(b for b in at.button if b.label == "Launch training").click().run()
        assert not at.exception, [e.value for e in at.exception]
        assert any(e.value.startswith("This launch did not start") for e in at.error)
        assert not (root / "runs" / name / "preset.json").exists()
        assert [job.id for job in jobs.list("train")] == [theirs.id]
    finally:
        jobs.cancel(theirs.id)
