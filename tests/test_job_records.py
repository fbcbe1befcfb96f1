"""Job records stay bounded: starting a job removes ended ones beyond the newest of each kind,
never a job that may still run, nor the newest, which the job panels show."""

from __future__ import annotations

import sys
import time
from pathlib import Path

from dashboard_fixtures import job_record

from dashboard.jobs import JobManager
from model.job_records import KEPT_JOBS, prune_jobs, surplus_jobs


def test_only_ended_jobs_beyond_the_newest_of_their_kind_are_surplus(tmp_path: Path) -> None:
    jobs = tmp_path / "jobs"
    for i in range(6):
        job_record(jobs, f"train-{i}", "train", 100.0 + i)
    job_record(jobs, "train-unended", "train", 50.0, ended=False)  # running elsewhere, or lost
    job_record(jobs, "index-0", "index", 1.0)
    (jobs / "being-made").mkdir()  # its job.json not written yet
    surplus = surplus_jobs(jobs, keep=3)
    assert [p.name for p in surplus] == ["train-0", "train-1", "train-2"]  # oldest first
    assert prune_jobs(jobs, keep=3) > 0
    left = {p.name for p in jobs.iterdir()}
    assert left == {"train-3", "train-4", "train-5", "train-unended", "index-0", "being-made"}
    assert prune_jobs(jobs, keep=3) == 0


def test_a_missing_jobs_folder_has_nothing_surplus(tmp_path: Path) -> None:
    assert surplus_jobs(tmp_path / "jobs") == []


def test_starting_a_job_removes_ended_records_beyond_the_newest(tmp_path: Path) -> None:
    jobs_dir = tmp_path / "jobs"
    now = time.time()
    for i in range(KEPT_JOBS + 5):
        job_record(jobs_dir, f"embed-old-{i:02d}", "embed", now - 3600 * (100 - i))
    manager = JobManager(jobs_dir)
    job = manager.launch("embed", [sys.executable, "-c", "pass"])
    names = {j.id for j in manager.list("embed")}
    assert len(names) == KEPT_JOBS and job.id in names
    assert not any(f"embed-old-{i:02d}" in names for i in range(6))  # the oldest went
