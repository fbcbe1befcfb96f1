"""Keeping the dashboard's job records bounded: ``DATA_ROOT/jobs/<id>/``.

The dashboard (``dashboard/jobs.py``) writes one folder per background job it starts (its
``job.json``, ``log.txt``, ``progress.json`` and, once the command has ended, ``result.json``)
and never removed one: on a lab server after six months there were hundreds, and every page
rerun that shows a job panel or the runs table read each of them (three JSON files apiece, and
a process check). Their logs are the only thing of value in them, and only the recent ones.

``surplus_jobs`` names the folders beyond the ``KEPT_JOBS`` newest of each kind whose command
has ended (``result.json`` written by the job's runner after its command exited): never a job
that may still run, here or on another host (no ``result.json``: running, stopping, or lost
with its machine), nor one of the newest of its kind, which the job panels show. It reads the
files only, so the CLI (``python -m model storage``) and the dashboard's launcher share it; the
launcher prunes each time it starts a job (``prune_jobs``). Runs, evaluations and datasets the
jobs wrote live elsewhere and are never touched.
"""

from __future__ import annotations

import logging
import shutil
from pathlib import Path

from model.atomic import read_json_object

log = logging.getLogger(__name__)

KEPT_JOBS = 20  # per kind (demo, ingest, train, embed, index, evaluate)
JOB_RECORD = "job.json"
JOB_RESULT = "result.json"


def surplus_jobs(jobs_dir: Path, keep: int = KEPT_JOBS) -> list[Path]:
    """The ended job folders in ``jobs_dir`` beyond the ``keep`` newest of their kind (a job
    counts towards its kind's newest whether it ended or not), oldest first."""
    by_kind: dict[str, list[tuple[float, Path]]] = {}
    try:
        folders = [p for p in jobs_dir.iterdir() if p.is_dir() and not p.is_symlink()]
    except OSError:
        return []
    for folder in folders:
        record = read_json_object(folder / JOB_RECORD)
        if not record:
            continue  # being created (its record comes milliseconds later), or not a job's
        started = record.get("started")
        when = float(started) if isinstance(started, int | float) else 0.0
        by_kind.setdefault(str(record.get("kind")), []).append((when, folder))
    surplus = []
    for jobs in by_kind.values():
        jobs.sort(key=lambda job: (job[0], job[1].name), reverse=True)
        surplus.extend(job for job in jobs[keep:] if (job[1] / JOB_RESULT).is_file())
    return [folder for _, folder in sorted(surplus)]


def prune_jobs(jobs_dir: Path, keep: int = KEPT_JOBS) -> int:
    """Remove ``surplus_jobs`` from ``jobs_dir``; logs and returns the bytes freed. A folder
    that cannot be removed (another account's, a read-only root) is left as it is."""
    freed = removed = 0
    for folder in surplus_jobs(jobs_dir, keep):
        size = folder_bytes(folder)
        try:
            shutil.rmtree(folder)
        except OSError as err:
            log.debug("job record %s left in place: %s", folder, err)
            continue
        freed += size
        removed += 1
    if removed:
        log.info(
            "removed %d ended job records beyond the %d newest of each kind (%.1f MB of logs)",
            removed,
            keep,
            freed / 1e6,
        )
    return freed


def folder_bytes(folder: Path) -> int:
    """Bytes the files in ``folder`` (recursively, links not followed) take on disk."""
    total = 0
    stack = [folder]
    while stack:
        try:
            entries = list(Path(stack.pop()).iterdir())
        except OSError:
            continue
        for entry in entries:
            try:
                if entry.is_dir() and not entry.is_symlink():
                    stack.append(entry)
                else:
                    total += entry.lstat().st_blocks * 512
            except OSError:
                continue
    return total
