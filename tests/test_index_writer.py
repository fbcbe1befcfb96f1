"""Writing the index: idempotent reruns, resume after a kill, one writer per embedded folder."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time
from pathlib import Path

import pytest
from index_fakes import CHECKPOINT, embedded_index, make_records

from model.errors import UserError
from model.index import metadata_lock as metadata_lock_module
from model.index.cli_index import _write_here
from model.index.client import ChromaLocation, reopen_client
from model.index.metadata_lock import LOCK_PREFIX, metadata_lock
from model.index.records import IndexRecords
from model.index.writer import upsert_records
from model.index.writer_lock import WriterLock, lock_path_for

ROOT = Path(__file__).resolve().parents[1]
TESTS = Path(__file__).resolve().parent


def _ids(index) -> list[str]:
    return index.collection().get(include=[])["ids"]


def test_rerun_writes_nothing_and_changes_are_rewritten(tmp_path):
    index = embedded_index(tmp_path / "chroma")
    records = make_records(120)
    assert upsert_records(index, records, batch_size=50).written == 120
    revision = index.revision()
    again = upsert_records(index, records, batch_size=50)
    assert (again.written, again.unchanged, again.total) == (0, 120, 120)
    assert index.revision() != revision, "every run bumps the revision readers watch"
    records.metadatas[4] = {**records.metadatas[4], "split": "test"}
    records.documents[5] = "A different impression."
    changed = upsert_records(index, records)
    assert (changed.written, changed.total) == (2, 120)
    assert index.get_studies([records.ids[5]])[0].impression == "A different impression."


def test_studies_gone_from_a_dataset_are_removed(tmp_path):
    index = embedded_index(tmp_path / "chroma")
    records = make_records(60)
    upsert_records(index, records)
    kept = IndexRecords(
        records.ids[:40], records.vectors[:40], records.metadatas[:40], records.documents[:40]
    )
    report = upsert_records(index, kept)
    assert (report.removed, report.total) == (20, 40)
    assert sorted(_ids(index)) == sorted(kept.ids)


def _as_dataset(records: IndexRecords, dataset_id: str, folder: str) -> IndexRecords:
    metadatas = [
        {**m, "dataset_id": dataset_id, "dataset_folder": folder} for m in records.metadatas
    ]
    return IndexRecords(records.ids, records.vectors, metadatas, records.documents)


def test_a_same_named_dataset_elsewhere_is_not_pruned_but_a_reingested_one_is(tmp_path):
    index = embedded_index(tmp_path / "chroma")
    site_a = _as_dataset(make_records(30, seed=1), "salt-a", "folder-a")  # both "synthetic"
    site_b = _as_dataset(make_records(20, seed=2), "salt-b", "folder-b")
    upsert_records(index, site_a)
    report = upsert_records(index, site_b)
    assert report.removed == 0 and sorted(_ids(index)) == sorted(site_a.ids + site_b.ids)
    # site A's folder ingested afresh (a new salt, so new study ids): its old studies go
    again = _as_dataset(make_records(10, seed=3), "salt-a2", "folder-a")
    report = upsert_records(index, again)
    assert report.removed == 30 and sorted(_ids(index)) == sorted(site_b.ids + again.ids)


def test_new_checkpoint_gets_its_own_collection_and_old_stays(tmp_path):
    old = embedded_index(tmp_path / "chroma", checkpoint="aaaa1111")
    new = embedded_index(tmp_path / "chroma", checkpoint="bbbb2222")
    upsert_records(old, make_records(30, seed=1))
    upsert_records(new, make_records(40, seed=2))
    assert (old.count(), new.count()) == (30, 40)
    assert {c.checkpoint for c in new.collections()} == {"aaaa1111", "bbbb2222"}
    assert old.search_vector(make_records(30, seed=1).vectors[0], k=1)[0].study_id == "st0100000"


_WRITER_SCRIPT = textwrap.dedent(
    """
    import sys
    from pathlib import Path
    from index_fakes import CHECKPOINT, embedded_index, make_records
    from model.index.writer import upsert_records
    from model.index.writer_lock import WriterLock
    path, n, batch = sys.argv[1], int(sys.argv[2]), int(sys.argv[3])
    with WriterLock(path):
        index = embedded_index(Path(path))
        upsert_records(index, make_records(n), batch_size=batch)
    """
)


def _start_writer(path: Path, n: int, progress: Path, batch: int = 20) -> subprocess.Popen:
    env = {
        **os.environ,
        "PYTHONPATH": f"{ROOT}{os.pathsep}{TESTS}",
        "CMR_PROGRESS_FILE": str(progress),
    }
    return subprocess.Popen(
        [sys.executable, "-c", _WRITER_SCRIPT, str(path), str(n), str(batch)], env=env
    )


def _wait_for_progress(progress: Path, proc: subprocess.Popen, at_least: int) -> int:
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline and proc.poll() is None:
        if progress.exists():
            done = json.loads(progress.read_text()).get("done", 0)
            if done >= at_least:
                return done
        time.sleep(0.05)
    raise AssertionError("the writer never reached the expected progress")


def test_killed_writer_resumes_without_duplicates(tmp_path):
    path, n = tmp_path / "chroma", 600
    progress = tmp_path / "progress.json"
    proc = _start_writer(path, n, progress)
    try:
        _wait_for_progress(progress, proc, at_least=60)
        assert proc.poll() is None, "the writer finished before it could be killed"
        proc.send_signal(signal.SIGKILL)
    finally:
        proc.wait(timeout=60)
    index = embedded_index(path)
    partial = index.count()
    assert 0 < partial < n
    records = make_records(n)
    with WriterLock(path):  # the lock died with the killed process
        report = upsert_records(index, records, batch_size=500)
    assert report.unchanged >= partial - 20 and report.total == n
    ids = _ids(index)
    assert len(ids) == len(set(ids)) == n
    assert sorted(ids) == sorted(records.ids)
    assert index.search_vector(records.vectors[n - 1], k=1)[0].study_id == records.ids[n - 1]


def test_long_lived_reader_sees_another_processes_writes(tmp_path):
    path = tmp_path / "chroma"
    records = make_records(300)
    upsert_records(embedded_index(path), make_records(100))
    reader = embedded_index(path, reopen=lambda: reopen_client(ChromaLocation(path=path)))
    assert reader.search_vector(records.vectors[250], k=1)[0].study_id != records.ids[250]
    writer = _start_writer(path, 300, tmp_path / "progress.json", batch=200)
    assert writer.wait(timeout=120) == 0
    assert reader.search_vector(records.vectors[250], k=1)[0].study_id == records.ids[250]
    assert reader.count() == 300


def test_second_writer_gets_a_clear_error_or_waits(tmp_path):
    path, finished = tmp_path / "chroma", tmp_path / "holder-finished"
    holder = subprocess.Popen(
        [
            sys.executable,
            "-c",
            "import sys, time, pathlib; from model.index.writer_lock import WriterLock\n"
            "with WriterLock(sys.argv[1]):\n"
            "    print('locked', flush=True); time.sleep(2); pathlib.Path(sys.argv[2]).touch()",
            str(path),
            str(finished),
        ],
        env={**os.environ, "PYTHONPATH": str(ROOT)},
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert holder.stdout.readline().strip() == "locked"
        with pytest.raises(UserError, match=rf"another process \(pid {holder.pid}.*one writer"):
            WriterLock(path, wait_s=0.3).acquire()
        with WriterLock(path, wait_s=60):  # waits for the holder to finish
            assert finished.exists(), "the second writer got the lock while the first held it"
    finally:
        holder.wait(timeout=30)
    assert lock_path_for(path).exists() and not path.exists(), "the lock never touches the folder"


def test_the_metadata_lock_waits_for_its_holder_and_takes_over_a_dead_ones(tmp_path, monkeypatch):
    """The lock in Chroma that serialises writers' metadata updates: a second taker waits (here
    not at all, so it is refused naming the lock); one left by a killed writer is taken over;
    and a writer whose lock was taken over does not release its successor's."""

    client = embedded_index(tmp_path / "chroma").client

    def locks() -> list[str]:
        return [c.name for c in client.list_collections() if c.name.startswith(LOCK_PREFIX)]

    first = metadata_lock(client, "cmrclip-x")
    first.__enter__()
    assert locks() == [f"{LOCK_PREFIX}cmrclip-x"]
    busy = "another index writer .* holds metalock-cmrclip-x"
    with pytest.raises(UserError, match=busy), metadata_lock(client, "cmrclip-x", wait_s=0):
        pass
    monkeypatch.setattr(metadata_lock_module, "STALE_AFTER_S", -1.0)  # the first one is dead
    second = metadata_lock(client, "cmrclip-x", wait_s=5)
    second.__enter__()
    first.__exit__(None, None, None)  # the first writer was only slow: it comes back
    assert locks() == [f"{LOCK_PREFIX}cmrclip-x"], "the second writer still holds it"
    monkeypatch.setattr(metadata_lock_module, "STALE_AFTER_S", 3600.0)
    with pytest.raises(UserError), metadata_lock(client, "cmrclip-x", wait_s=0):
        pass
    second.__exit__(None, None, None)
    assert locks() == []
    with metadata_lock(client, "cmrclip-x", wait_s=0):
        assert locks() == [f"{LOCK_PREFIX}cmrclip-x"]
    assert locks() == []


@pytest.mark.parametrize("rebuild", [False, True])
def test_an_embedded_writer_drops_a_lock_left_by_a_killed_one_without_waiting(
    tmp_path, monkeypatch, rebuild
):
    """A writer killed inside the milliseconds it holds the metadata lock left it in the folder;
    the next run, holding the folder's writer lock, cannot be racing it, so it drops the lock at
    once (it waited ``STALE_AFTER_S``, a minute, before)."""
    location = ChromaLocation(path=tmp_path / "chroma")
    index = embedded_index(location.path)
    upsert_records(index, make_records(12))
    name = index.collection().name
    left = metadata_lock(index.client, name)  # kept: a collected one releases its lock
    left.__enter__()  # its holder is killed: never released

    def waited(seconds: float) -> None:
        raise AssertionError(f"waited {seconds} s for a lock left by a killed writer")

    monkeypatch.setattr(metadata_lock_module.time, "sleep", waited)
    _write_here(location, CHECKPOINT, make_records(15, seed=1), None, rebuild=rebuild)
    assert embedded_index(location.path).count() == 15
    assert not [c for c in index.client.list_collections() if c.name.startswith(LOCK_PREFIX)]
