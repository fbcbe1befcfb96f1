"""``python -m model storage``: a data root's files by kind, and ``--clean-caches`` removing only
what is made again or left over, never a user's dataset, run or evaluation, nor anything in use,
and nothing at all in a dry run."""

from __future__ import annotations

import os
import time
from pathlib import Path

import numpy as np
import pytest
from dashboard_fixtures import job_record

from model import embedding_cache
from model.cli import main
from model.data.dataset import CMRDataset
from model.data.store import ingest_lock
from model.storage import clean_caches, human_size, survey
from tests.tiny_dataset import make_tiny_dataset

CHECKPOINT = "ab12cd34ef56ab78"
OLD_FINGERPRINT = "0123456789abcdef"
DAY = 24 * 3600


def _files(root: Path) -> set[Path]:
    return {p for p in root.rglob("*") if p.is_file()}


@pytest.fixture(scope="module")
def dataset_template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_tiny_dataset(tmp_path_factory.mktemp("template") / "ds" / "internal", n=6)


@pytest.fixture
def root(tmp_path: Path, dataset_template: Path) -> Path:
    """A data root six months on: a dataset with a current and an earlier version's cache, a
    run, an evaluation, an upload, 25 ended train jobs, a running one, and leftover writes."""
    import shutil

    root = tmp_path / "data"
    dataset = root / "ds" / "internal"
    shutil.copytree(dataset_template, dataset)
    caches = dataset / "embeddings"
    caches.mkdir()
    current = CMRDataset.open(dataset).fingerprint()
    for fingerprint in (current, OLD_FINGERPRINT):
        name = f"{CHECKPOINT}-{fingerprint}.npz"
        np.savez(caches / name, ids=np.array(["a"]), vectors=np.zeros((1, 4), np.float32))
        (caches / f"{CHECKPOINT}-{fingerprint}.map-00aa11bb22cc33dd.npz").write_bytes(b"m")
    run = root / "runs" / "mine"
    run.mkdir(parents=True)
    for name in ("status.json", "best.pt", "train.log"):
        (run / name).write_text("{}")
    (root / "evaluations" / "e1").mkdir(parents=True)
    (root / "evaluations" / "e1" / "summary.json").write_text("{}")
    (root / "imports" / "uploads" / "scan").mkdir(parents=True)
    (root / "imports" / "uploads" / "scan" / "1.dcm").write_bytes(b"d" * 5000)
    now = time.time()
    for i in range(25):
        job_record(root / "jobs", f"train-{i:02d}", "train", now - DAY * (30 - i))
    job_record(root / "jobs", "train-old-running", "train", now - 40 * DAY, ended=False)
    old_temp = run / ".best.pt.x1y2.tmp"
    old_temp.write_bytes(b"t" * 3000)
    os.utime(old_temp, (now - 2 * DAY, now - 2 * DAY))
    (run / ".last.pt.z9.tmp").write_bytes(b"t")  # a write going on now
    return root


def test_the_survey_sorts_every_file_by_kind(root: Path) -> None:
    (root / "demo" / "raw" / "internal").mkdir(parents=True)
    (root / "demo" / "raw" / "internal" / "1.dcm").write_bytes(b"x" * 9000)
    (root / "demo" / "chroma").mkdir()
    (root / "demo" / "chroma" / "chroma.sqlite3").write_bytes(b"x")
    (root / "active.json").write_text("{}")
    found = survey(root)
    files = {kind: usage.files for kind, usage in found.usage.items()}
    assert files["embedding caches"] == 4
    assert files["runs"] == 5  # its three files and both temporaries
    assert files["evaluations"] == 1 and files["uploads"] == 1
    assert files["job records"] == 26 * 2 + 25  # job.json and log.txt each, result.json ended
    assert files["demo sources"] == 1 and files["case indexes"] == 1 and files["other"] == 1
    assert found.datasets == [root / "ds" / "internal"]
    assert found.total.files == len(_files(root))
    assert found.usage["job records"].bytes > 0


def test_a_dry_run_removes_nothing(root: Path) -> None:
    before = _files(root)
    cleaning = clean_caches(root)
    assert _files(root) == before
    assert not cleaning.applied and cleaning.freed == 0
    names = {r.path.name for r in cleaning.removals}
    assert f"{CHECKPOINT}-{OLD_FINGERPRINT}.npz" in names
    assert ".best.pt.x1y2.tmp" in names
    assert {f"train-{i:02d}" for i in range(5)} <= names


def test_cleaning_removes_only_what_is_made_again_or_left_over(root: Path) -> None:
    dataset = root / "ds" / "internal"
    current = CMRDataset.open(dataset).fingerprint()
    before = survey(root).total.bytes
    cleaning = clean_caches(root, apply=True)
    assert cleaning.freed > 0 and survey(root).total.bytes < before
    caches = {p.name for p in (dataset / "embeddings").iterdir()}
    assert f"{CHECKPOINT}-{current}.npz" in caches  # the current version's is kept
    assert f"{CHECKPOINT}-{current}.map-00aa11bb22cc33dd.npz" in caches
    assert not any(OLD_FINGERPRINT in name for name in caches)  # cache and map
    run = root / "runs" / "mine"
    assert {p.name for p in run.iterdir()} == {
        "status.json",
        "best.pt",
        "train.log",
        ".last.pt.z9.tmp",
    }
    assert (root / "evaluations" / "e1" / "summary.json").is_file()
    assert (root / "imports" / "uploads" / "scan" / "1.dcm").is_file()
    assert (dataset / "studies.parquet").is_file() and any((dataset / "tensors").iterdir())
    jobs = {p.name for p in (root / "jobs").iterdir()}
    assert jobs == {f"train-{i:02d}" for i in range(5, 25)} | {"train-old-running"}


def test_a_dataset_an_ingest_is_writing_is_left_alone(root: Path) -> None:
    dataset = root / "ds" / "internal"
    caches = {p.name for p in (dataset / "embeddings").iterdir()}
    with ingest_lock(dataset):
        cleaning = clean_caches(root, apply=True)
    assert {p.name for p in (dataset / "embeddings").iterdir()} == caches
    assert any("ingest" in note for note in cleaning.skipped)


def test_caches_being_written_are_left_alone(root: Path) -> None:
    caches = root / "ds" / "internal" / "embeddings"
    with embedding_cache.writing(caches):
        before = {p.name for p in caches.iterdir()}
        clean_caches(root, apply=True)
        assert {p.name for p in caches.iterdir()} == before


def test_the_command_is_a_dry_run_unless_applied(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    before = _files(root)
    assert main(["storage", "--data-root", str(root), "--clean-caches"]) == 0
    out = capsys.readouterr().out
    assert "would remove" in out and "--apply" in out and "job records" in out
    assert f"ds/internal/embeddings/{CHECKPOINT}-{OLD_FINGERPRINT}.npz" in out
    assert _files(root) == before
    assert main(["storage", "--data-root", str(root), "--clean-caches", "--apply"]) == 0
    assert "removed" in capsys.readouterr().out
    after = {p for p in _files(root) if not p.name.endswith(".lock")}  # the locks it took
    assert after < before and len(before - after) == 5 * 3 + 3  # 5 jobs, cache, map, temporary


def test_the_command_refuses_what_it_cannot_do(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    assert main(["storage", "--data-root", str(tmp_path / "nowhere")]) == 2
    assert "is not a folder" in caplog.text
    assert main(["storage", "--data-root", str(tmp_path), "--apply"]) == 2
    assert "give both" in caplog.text


def test_sizes_read_in_decimal_units() -> None:
    assert human_size(512) == "512 B"
    assert human_size(1_250_000) == "1.2 MB"
    assert human_size(3.4e12) == "3.4 TB"


def _vouched_checkpoint(path: Path, fingerprint: str) -> None:
    """A checkpoint file whose sidecar records ``fingerprint`` (as training writes one)."""
    from model.checkpoint_meta import CheckpointFacts, CheckpointMeta, file_stamp, write_sidecar

    path.write_bytes(b"weights")
    meta = CheckpointMeta(path, {}, fingerprint, "", 1, 1)
    write_sidecar(path, CheckpointFacts(meta, None), file_stamp(path))


def test_caches_of_a_checkpoint_no_longer_under_the_root_go(root: Path) -> None:
    dataset = root / "ds" / "internal"
    current = CMRDataset.open(dataset).fingerprint()
    deleted_run = "99ff99ff99ff99ff"
    caches = dataset / "embeddings"
    np.savez(caches / f"{deleted_run}-{current}.npz", ids=np.array(["a"]), vectors=np.zeros((1, 4)))
    (caches / f"{deleted_run}.texts.npz").write_bytes(b"t")
    run = root / "runs" / "mine"
    _vouched_checkpoint(run / "best.pt", CHECKPOINT)
    (run / "last.pt").write_bytes(b"not a checkpoint")  # unreadable: nothing is told apart
    cleaning = clean_caches(root, apply=True)
    assert (caches / f"{deleted_run}-{current}.npz").is_file()
    assert any("cannot be read" in note for note in cleaning.skipped)
    (run / "last.pt").unlink()
    cleaning = clean_caches(root, apply=True)
    left = {p.name for p in caches.iterdir()}
    assert f"{CHECKPOINT}-{current}.npz" in left  # its checkpoint is there
    assert not any(deleted_run in name for name in left)  # the cache and its prompt vectors
    whys = {r.why for r in cleaning.removals}
    assert "embedding caches: of a checkpoint no longer under the data root" in whys


def test_a_dry_run_writes_nothing_under_the_root(root: Path) -> None:
    from model.data.store import LOCK_FILE

    (root / "ds" / "internal" / LOCK_FILE).write_text("")  # as an ended ingest leaves it
    tree = {p: (p.lstat().st_size, p.lstat().st_mtime_ns) for p in [root, *root.rglob("*")]}
    time.sleep(0.01)  # a write now would show in a nanosecond mtime
    assert main(["storage", "--data-root", str(root), "--clean-caches"]) == 0
    assert {p: (p.lstat().st_size, p.lstat().st_mtime_ns) for p in [root, *root.rglob("*")]} == tree
