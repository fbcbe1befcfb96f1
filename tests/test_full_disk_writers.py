"""A disk that fills up while a command writes: the message names the file the user asked for
(not a hidden temporary or staging name), says what was kept, and reads as a full disk rather
than as damage; the files written before stay whole. The write fails by ``OSError(ENOSPC)``
patched in at the point of writing, as a real full disk makes it fail there."""

from __future__ import annotations

import errno
import logging
import os
import sys
import uuid
from pathlib import Path
from types import SimpleNamespace

import pytest
from chromadb.errors import InternalError
from torch import nn

from model.cli import main as cli_main
from model.errors import CheckpointError, UserError
from model.evaluation import outputs
from model.index import client
from model.training import checkpoint as ckpt

FULL = "free some space"


def _no_space(filename: str | None = None) -> OSError:
    return OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), filename)


def test_generate_on_a_full_disk_names_the_image_file_it_could_not_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    real_open, real_write = os.open, os.write
    images: set[int] = set()

    def opening(path: str | Path, flags: int, mode: int = 0o777, **kwargs: object) -> int:
        handle = real_open(path, flags, mode, **kwargs)
        if str(path).endswith(".dcm"):
            images.add(handle)
        return handle

    def writing(handle: int, data: bytes) -> int:
        if handle in images:
            raise _no_space()  # as os.write raises it: with no file name
        return real_write(handle, data)

    monkeypatch.setattr(os, "open", opening)
    monkeypatch.setattr(os, "write", writing)
    out = tmp_path / "raw"
    argv = ["generate", "--out", str(out), "--studies", "1", "--site", "internal"]
    with caplog.at_level(logging.ERROR, logger="model"):
        assert cli_main(argv) == 1
    [line] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert f"No space left on device: {tmp_path / 'raw.partial' / 'dicom'}" in line
    assert line.split(";")[0].endswith(".dcm") and FULL in line
    partial = tmp_path / "raw.partial"
    assert line.endswith(
        f"0 finished studies of 1 are kept in {partial}: rerunning the same command resumes "
        "from them"
    )
    assert not out.exists()  # the folder appears only complete
    monkeypatch.undo()
    assert cli_main(argv) == 0 and (out / "reports.csv").is_file()


def test_generate_whose_tables_meet_a_full_disk_says_its_studies_are_kept_to_resume(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    from sample_data import generate

    def full(path: Path, text: str) -> None:
        raise _no_space(str(path))

    monkeypatch.setattr(generate, "atomic_write_text", full)
    out = tmp_path / "raw"
    argv = ["generate", "--out", str(out), "--studies", "2", "--site", "internal"]
    with caplog.at_level(logging.ERROR, logger="model"):
        assert cli_main(argv) == 1
    [line] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    partial = tmp_path / "raw.partial"
    assert line.startswith(f"generate stopped: No space left on device: {partial / 'reports.csv'}")
    assert "2 finished studies of 2 are kept in" in line and "resumes from them" in line
    monkeypatch.undo()
    assert cli_main(argv) == 0 and (out / "reports.csv").is_file()


def _save(path: Path) -> None:
    ckpt.save_checkpoint(
        path, nn.Linear(2, 2), {"name": "t"}, data_fingerprint="d", epoch=0, step=0
    )


def test_a_new_runs_first_checkpoint_on_a_full_disk_claims_no_earlier_one(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "last.pt"
    real_write = ckpt.atomic_write_bytes

    def full(target: Path, data: bytes) -> None:
        raise _no_space(str(target))

    monkeypatch.setattr(ckpt, "atomic_write_bytes", full)
    with pytest.raises(CheckpointError) as first:
        _save(path)
    assert "no checkpoint is kept yet" in str(first.value) and "train again" in str(first.value)
    assert "unchanged" not in str(first.value) and not path.exists()
    monkeypatch.setattr(ckpt, "atomic_write_bytes", real_write)
    _save(path)
    before = path.read_bytes()
    monkeypatch.setattr(ckpt, "atomic_write_bytes", full)
    with pytest.raises(CheckpointError, match="previous checkpoint is unchanged.*--resume"):
        _save(path)
    assert path.read_bytes() == before


def test_an_evaluation_on_a_full_disk_names_its_output_not_the_staging_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    out = tmp_path / "evaluation"
    out.mkdir()
    (out / "summary.json").write_text('{"earlier": true}')

    def fill_up(staging: Path, *args: object) -> None:
        (staging / "internal").mkdir()
        raise _no_space(str(staging / "internal" / "auc.csv"))

    monkeypatch.setattr(outputs, "_write_all", fill_up)
    with pytest.raises(OSError) as caught:
        outputs.write_outputs(out, [], [], [], [], {})
    assert caught.value.errno == errno.ENOSPC
    assert caught.value.filename == str(out / "internal" / "auc.csv")
    assert sorted(p.name for p in out.iterdir()) == ["summary.json"]  # the earlier one, whole
    assert (out / "summary.json").read_text() == '{"earlier": true}'


def _disk_with(monkeypatch: pytest.MonkeyPatch, free: int) -> None:
    stat = SimpleNamespace(f_bavail=free // 4096, f_frsize=4096)
    monkeypatch.setattr("model.errors.os.statvfs", lambda folder: stat)


def test_an_index_that_cannot_open_on_a_full_disk_says_to_free_space(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    def sqlite_full(**kwargs: object) -> None:
        raise Exception("error returned from database: (code: 13) database or disk is full")

    monkeypatch.setattr(client.chromadb, "PersistentClient", sqlite_full)
    _disk_with(monkeypatch, 8192)
    with pytest.raises(UserError, match=f"has only 8 KB free; {FULL}"):
        client.open_client(client.ChromaLocation(path=tmp_path / "chroma"))


def test_a_chroma_write_failing_on_a_full_disk_is_not_called_damage(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    location = client.ChromaLocation(path=tmp_path / "chroma")
    failure = InternalError("Error in compaction: Failed to apply logs to the metadata segment")
    _disk_with(monkeypatch, 120 * 1024)
    said = str(client.index_failure(location, failure))
    assert f"has only 120 KB free; {FULL}" in said
    assert "damaged" not in said and "if it fails again with room to spare" in said
    _disk_with(monkeypatch, 10 << 30)  # room to spare: damage (or another version) it is
    assert "its files are damaged" in str(client.index_failure(location, failure))


def test_a_job_whose_record_cannot_be_written_is_not_left_running(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboard import jobs

    started: list[int] = []
    real_popen = jobs.subprocess.Popen

    def popen(*args: object, **kwargs: object) -> object:
        proc = real_popen(*args, **kwargs)
        started.append(proc.pid)
        return proc

    def full(path: Path, obj: object) -> None:
        raise _no_space(str(path))

    manager = jobs.JobManager(tmp_path / "jobs")
    monkeypatch.setattr(jobs.subprocess, "Popen", popen)
    monkeypatch.setattr(jobs, "atomic_write_json", full)
    token = uuid.uuid4().hex  # names the command's process: no page lists a job without job.json
    command = [sys.executable, "-c", f"import time; time.sleep(60)  # {token}"]
    with pytest.raises(UserError, match=f"the sleep job was not started: No space left.*{FULL}"):
        manager.launch("sleep", command)
    [pid] = started
    with pytest.raises(ChildProcessError):
        os.waitpid(pid, os.WNOHANG)  # stopped and collected, not a zombie
    assert [p.name for p in (tmp_path / "jobs").iterdir() if not p.name.startswith(".")] == []
    assert manager.list() == []
    assert not [p for p in Path("/proc").glob("[0-9]*/cmdline") if token in _read(p)]


def _read(path: Path) -> str:
    try:
        return path.read_bytes().decode(errors="replace")
    except OSError:  # the process ended meanwhile
        return ""


@pytest.mark.parametrize(
    ("code", "hint"), [(errno.ENOSPC, FULL), (errno.EROFS, "choose a folder on a writable disk")]
)
def test_a_named_set_saved_on_a_full_or_read_only_disk_says_what_to_do(
    tmp_path: Path, code: int, hint: str
) -> None:
    from dashboard.named_files import save_named_file

    path = tmp_path / "prompts" / "mine.yaml"

    def write(target: Path, replace: bool) -> None:
        raise OSError(code, os.strerror(code), str(target.parent / ".mine.yaml.k2j4.tmp"))

    with pytest.raises(UserError) as caught:
        save_named_file(path, write, "prompt set")
    said = str(caught.value)
    assert said.startswith(f"cannot save the prompt set: {os.strerror(code)}: {path}; {hint}")


def test_an_upload_copied_onto_a_full_disk_names_where_and_leaves_no_part(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import io

    from dashboard import zip_ingest

    def fill_up(source: object, target: io.BufferedWriter, length: int) -> None:
        target.write(b"PK\x03\x04")
        raise _no_space()  # as a file object's write raises it: with no file name

    monkeypatch.setattr(zip_ingest.shutil, "copyfileobj", fill_up)
    folder = tmp_path / "uploads" / "site-b"
    with pytest.raises(OSError) as caught:
        zip_ingest.save_upload(io.BytesIO(b"zip bytes"), folder)
    assert caught.value.filename == str(zip_ingest.spool_path(folder))
    assert caught.value.errno == errno.ENOSPC
    assert list((tmp_path / "uploads").iterdir()) == []


def test_a_job_is_stopped_when_its_stop_request_cannot_be_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboard import jobs
    from dashboard.processes import process_alive

    manager = jobs.JobManager(tmp_path / "jobs")
    job = manager.launch("sleep", [sys.executable, "-c", "import time; time.sleep(60)"])

    def full(path: Path, obj: object) -> None:
        raise _no_space(str(path))

    monkeypatch.setattr(jobs, "atomic_write_json", full)  # the job filled the disk, say
    manager.cancel(job.id, wait=True)
    assert not process_alive(job.pid, job.info.get("proc_start"))


def test_deleting_a_run_on_a_read_only_root_says_what_to_do(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboard import runs

    run = tmp_path / "runs" / "small"
    run.mkdir(parents=True)
    (run / "last.pt").write_bytes(b"weights")

    def read_only(path: Path) -> None:
        raise OSError(errno.EROFS, os.strerror(errno.EROFS), str(path / "last.pt"))

    monkeypatch.setattr(runs.shutil, "rmtree", read_only)
    with pytest.raises(UserError) as caught:
        runs.delete_run(run, running=False)
    assert str(caught.value) == (
        f"cannot delete small: Read-only file system: {run / 'last.pt'}; "
        "choose a folder on a writable disk"
    )
    assert (run / "last.pt").read_bytes() == b"weights"
