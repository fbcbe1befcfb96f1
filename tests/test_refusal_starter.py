"""A launch refused while a job of its kind runs says whose job it is, and tells only the page
session that started it to cancel it: on a shared server (a class) every session is one
account, and "wait for it or cancel it first" sent students to cancel each other's jobs."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

from dashboard import jobs as jobs_module
from dashboard.jobs import JobManager
from dashboard.ui import OWN_JOBS_KEY
from model.errors import UserError

SLEEP = [sys.executable, "-c", "import time; time.sleep(60)"]
OTHERS = "wait for it to finish, or ask whoever started it"
OWN = "wait for it or cancel it first"


@pytest.fixture(scope="module")
def data_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the tiny data root, less its jobs: the jobs started here stay out of other
    modules' list, and theirs (a copied record reads as the old root's) out of these pages."""
    from dashboard_fixtures import tiny_data_root

    root = tmp_path_factory.mktemp("refusal-starter") / "data"
    shutil.copytree(tiny_data_root(tmp_path_factory), root, ignore=shutil.ignore_patterns("jobs"))
    return root


def _refusal(manager: JobManager, kind: str, own: list[str]) -> str:
    with pytest.raises(UserError) as refused:
        manager.launch(kind, SLEEP, title="a second one", own=own)
    return str(refused.value)


def test_a_refusal_names_the_starter_and_asks_to_cancel_only_the_session_that_started_it(
    manager: JobManager,
) -> None:
    running = manager.launch("train", SLEEP, title="Train a classmate's run")
    others = _refusal(manager, "train", own=["train-some-other-job"])
    assert f"(Train a classmate's run, {running.origin})" in others  # who started it, when
    assert running.info["user"] in others
    assert others.endswith(OTHERS) and "cancel" not in others
    mine = _refusal(manager, "train", own=[running.id])
    assert mine.endswith(OWN) and running.origin in mine
    assert [job.id for job in manager.list("train")] == [running.id]


@pytest.mark.slow
def test_the_page_that_started_a_job_is_told_to_cancel_it_another_page_to_ask(
    app, data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # the evaluation the page starts sleeps instead: only who started it matters here
    popen = jobs_module.subprocess.Popen
    monkeypatch.setattr(
        jobs_module.subprocess,
        "Popen",
        lambda args, **kwargs: popen([*args[: args.index("--") + 1], *SLEEP], **kwargs),
    )
    jobs = JobManager(data_root / "jobs")
    starter, classmate = app("pages/evaluate.py"), app("pages/evaluate.py")
    try:
        next(b for b in starter.button if b.label == "Run evaluation").click().run()
        assert not starter.exception, [e.value for e in starter.exception]
        [running] = [job for job in jobs.list("evaluate") if job.running]
        assert starter.session_state[OWN_JOBS_KEY] == [running.id]
        for at, said in ((classmate, OTHERS), (starter, OWN)):
            next(b for b in at.button if b.label == "Run evaluation").click().run()
            refusals = [e.value for e in at.error if "already running" in e.value]
            assert len(refusals) == 1 and refusals[0].endswith(said), refusals
            assert running.origin.split(" at ")[0] in refusals[0]  # "started by USER"
    finally:
        for job in jobs.list("evaluate"):
            if job.running:
                jobs.cancel(job.id)


def test_a_same_named_run_this_session_launched_is_not_called_someone_elses(
    tmp_path: Path, manager: JobManager
) -> None:
    from dashboard.run_launch import refusal_text

    run = tmp_path / "runs" / "my-run"
    mine = manager.launch("train", SLEEP, title="Train my-run", outputs={"run": str(run)})
    said = _refusal(manager, "train", own=[mine.id])
    assert refusal_text(said, run, manager.list("train"), own=[mine.id]) == said
    assert "someone else" in refusal_text(said, run, manager.list("train"))
