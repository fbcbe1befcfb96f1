"""The zip import job (``python -m dashboard.zip_ingest``): it unpacks the upload the Studies
page saved, with its progress in the job's progress file, runs ingest, and removes the unpacked
DICOM once ingest succeeded (kept for ever under imports/uploads, it only filled the disk: the
dataset holds its own copy)."""

from __future__ import annotations

import io
import json
import os
import signal
import sys
from pathlib import Path

import pytest
from dashboard_fixtures import DICOM_BYTES, zip_bytes

from dashboard import zip_ingest
from dashboard.zip_ingest import run, save_upload, spool_path
from model.progress import PROGRESS_ENV

OK, FAIL = [sys.executable, "-c", "pass"], [sys.executable, "-c", "raise SystemExit(1)"]


def _saved(tmp_path: Path, entries: dict[str, bytes]) -> tuple[Path, Path]:
    folder = tmp_path / "uploads" / "site-b"
    return save_upload(io.BytesIO(zip_bytes(entries)), folder), folder


def test_a_successful_import_removes_the_upload_and_what_was_unpacked(tmp_path: Path) -> None:
    spool, folder = _saved(tmp_path, {"ST1/1.dcm": DICOM_BYTES})
    assert spool == spool_path(folder) and spool.is_file()
    assert run(spool, folder, OK) == 0
    assert list(folder.parent.iterdir()) == []


def test_a_failed_ingest_keeps_the_unpacked_folder_for_a_retry(tmp_path: Path) -> None:
    spool, folder = _saved(tmp_path, {"ST1/1.dcm": DICOM_BYTES})
    assert run(spool, folder, FAIL) == 1
    assert (folder / "ST1" / "1.dcm").read_bytes() == DICOM_BYTES and not spool.exists()


def test_a_zip_without_dicom_fails_the_job_and_leaves_nothing(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    spool, folder = _saved(tmp_path, {"notes.txt": b"x"})
    assert run(spool, folder, OK) == 2
    assert "the zip holds no DICOM files" in caplog.text
    assert list(folder.parent.iterdir()) == []


def test_the_unpacking_reports_its_progress_in_megabytes(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    progress = tmp_path / "progress.json"
    monkeypatch.setenv(PROGRESS_ENV, str(progress))
    spool, folder = _saved(tmp_path, {"ST1/1.dcm": DICOM_BYTES})
    assert run(spool, folder, FAIL) == 1
    written = json.loads(progress.read_text())
    assert written["stage"] == "unpacking the zip (MB)"
    assert written["done"] == written["total"] == 1


def test_a_cancel_while_unpacking_leaves_no_half_unpacked_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Cancel sends SIGTERM to the job's process group."""
    real = zip_ingest.extract_zip

    def cancelled_midway(source: Path, target: Path, progress: object) -> object:
        return real(source, target, progress=lambda done, total: os.kill(os.getpid(), 15))

    monkeypatch.setattr(zip_ingest, "extract_zip", cancelled_midway)
    spool, folder = _saved(tmp_path, {"ST1/1.dcm": DICOM_BYTES, "ST1/2.dcm": DICOM_BYTES})
    assert run(spool, folder, OK) == 130
    assert list(folder.parent.iterdir()) == []
    assert signal.getsignal(signal.SIGTERM) is signal.SIG_DFL


def test_what_a_killed_import_left_hidden_is_removed_by_the_next(tmp_path: Path) -> None:
    uploads = tmp_path / "uploads"
    staging = uploads / ".site-a.k2x9q1"  # extract_zip's staging folder, its job killed (-9)
    (staging / "DOE^JANE").mkdir(parents=True)
    (staging / "DOE^JANE" / "1.dcm").write_bytes(DICOM_BYTES)
    (uploads / ".site-c.upload.zip").write_bytes(b"PK")  # a spool its job never unpacked
    (uploads / ".site-e.upload.zipab12.part").write_bytes(b"PK")  # a page's copy under way
    kept = uploads / "site-d"  # a failed import's folder, kept for a retry
    kept.mkdir()
    spool, folder = _saved(tmp_path, {"ST1/1.dcm": DICOM_BYTES})
    assert run(spool, folder, FAIL) == 1
    left = sorted(p.name for p in uploads.iterdir())
    assert left == [".site-e.upload.zipab12.part", "site-b", "site-d"]
