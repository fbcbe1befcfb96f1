"""Deleting an evaluation from the Evaluate page: after a confirming click, never one still
being written (its job running, or a command the dashboard did not start), never a folder that
is not an evaluation of the data root."""

from __future__ import annotations

import json
import os
import shutil
import sys
import time
from pathlib import Path

import pytest

from dashboard.evaluation_delete import delete_evaluation
from dashboard.jobs import JobManager
from dashboard.settings import Settings
from model.errors import UserError

HOUR = 3600


def _evaluation(folder: Path, finished: bool = True, age_s: float = HOUR) -> Path:
    (folder / "internal").mkdir(parents=True)
    (folder / "internal" / "zeroshot.csv").write_text("model,Label,AUC\nm,LGE,0.9\n")
    if finished:
        config = {"checkpoint": "/runs/a/best.pt", "compare": []}
        (folder / "summary.json").write_text(json.dumps({"config": config, "results": []}))
    then = time.time() - age_s
    for path in [folder, *folder.rglob("*")]:
        os.utime(path, (then, then))
    return folder


@pytest.fixture
def settings(tmp_path: Path) -> Settings:
    return Settings(tmp_path / "data")


def test_a_finished_evaluation_is_deleted(settings: Settings) -> None:
    folder = _evaluation(settings.evaluations_dir / "eval-1")
    kept = _evaluation(settings.evaluations_dir / "eval-2")
    delete_evaluation(folder, settings, JobManager(settings.jobs_dir))
    assert not folder.exists() and kept.is_dir()
    with pytest.raises(UserError, match="no longer exists"):
        delete_evaluation(folder, settings, JobManager(settings.jobs_dir))


def test_one_its_job_still_writes_is_refused(settings: Settings) -> None:
    folder = _evaluation(settings.evaluations_dir / "eval-1", finished=False)
    jobs = JobManager(settings.jobs_dir)
    sleep = [sys.executable, "-c", "import time; time.sleep(60)"]
    job = jobs.launch("evaluate", sleep, outputs={"folder": str(folder)})
    try:
        with pytest.raises(UserError, match="still being written by its evaluate job"):
            delete_evaluation(folder, settings, jobs)
    finally:
        jobs.cancel(job.id)
    assert folder.is_dir()
    delete_evaluation(folder, settings, jobs)  # stopped: an unfinished one may go
    assert not folder.exists()


def test_an_unfinished_one_written_just_now_is_refused(settings: Settings) -> None:
    folder = _evaluation(settings.evaluations_dir / "eval-cli", finished=False, age_s=5)
    with pytest.raises(UserError, match="may still be writing it"):
        delete_evaluation(folder, settings, JobManager(settings.jobs_dir))
    assert folder.is_dir()


def test_only_an_evaluation_of_the_data_root_is_deleted(settings: Settings, tmp_path: Path) -> None:
    run = settings.runs_dir / "mine"
    run.mkdir(parents=True)
    elsewhere = _evaluation(tmp_path / "outside" / "eval-1")
    settings.evaluations_dir.mkdir(parents=True)
    link = settings.evaluations_dir / "eval-link"
    link.symlink_to(elsewhere)
    jobs = JobManager(settings.jobs_dir)
    for folder in (run, elsewhere, link, settings.evaluations_dir):
        with pytest.raises(UserError, match="not an evaluation of this data root"):
            delete_evaluation(folder, settings, jobs)
    assert run.is_dir() and elsewhere.is_dir() and link.is_symlink()


@pytest.mark.slow
def test_the_evaluate_page_deletes_one_after_a_confirming_click(app, data_root: Path) -> None:
    evaluations = data_root / "evaluations"
    try:
        _evaluation(evaluations / "eval-20261201-100000Z")
        _evaluation(evaluations / "eval-20261202-100000Z")
        at = app("pages/evaluate.py")
        assert at.selectbox(key="ev-folder").value.name == "eval-20261202-100000Z"
        confirm = at.button(key=f"delete-ev-{evaluations / 'eval-20261202-100000Z'}")
        confirm.click().run()
        assert not at.exception and not at.error
        assert not (evaluations / "eval-20261202-100000Z").exists()
        assert len(at.selectbox(key="ev-folder").options) == 1
        assert at.selectbox(key="ev-folder").value.name == "eval-20261201-100000Z"
    finally:
        shutil.rmtree(evaluations, ignore_errors=True)
