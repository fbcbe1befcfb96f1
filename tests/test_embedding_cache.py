"""Housekeeping of DATASET/embeddings/: caches of an earlier dataset removed by the ingest that
changed it, the least recently used beyond a bound removed, killed writers' temporaries cleared,
and nothing removed under a writer that is still writing."""

from __future__ import annotations

import errno
import logging
import os
import shutil
import time
from pathlib import Path

import pytest
from dicom_factory import StudySpec, write_study
from pydicom.uid import generate_uid
from read_only_tree import read_only_tree

import model.file_lock as file_lock_module
from model import embedding_cache
from model.cli import main as cli_main
from model.data.dataset import CMRDataset
from model.data.ingest import ingest
from model.embed import StudyEmbeddings, cache_path, cached_study_embeddings
from model.errors import UserError
from model.file_lock import FileLock
from model.projection import METHODS, ProjectionConfig
from model.projection_store import map_path
from model.training.checkpoint import read_checkpoint_meta
from tests.tiny_dataset import shared_tiny_checkpoint

DAY_S = 86_400.0


@pytest.fixture(scope="module")
def setup() -> tuple[Path, Path]:
    return shared_tiny_checkpoint()


@pytest.fixture
def dataset(setup: tuple[Path, Path], tmp_path: Path) -> Path:
    """A copy of the tiny dataset with no embedding cache yet."""
    return Path(shutil.copytree(setup[0], tmp_path / "data", ignore=shutil.ignore_patterns("emb*")))


def _file(path: Path, size: int, when: float) -> Path:
    path.write_bytes(b"x" * size)
    os.utime(path, (when, when))
    return path


def test_an_ingest_that_changes_the_dataset_removes_the_caches_it_made_unreadable(
    setup: tuple[Path, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    checkpoint = setup[1]
    out = tmp_path / "dataset"
    ingest(write_study(tmp_path / "first", StudySpec()).parent, out)
    old = cache_path(CMRDataset.open(out), read_checkpoint_meta(checkpoint).fingerprint)
    cached_study_embeddings(checkpoint, CMRDataset.open(out))
    own = _file(out / "embeddings" / "mine.npz", 10, time.time())  # an `embed --out` put there
    assert old.is_file()
    second = StudySpec(accession="ACC0002", patient_id="PID0002", study_uid=generate_uid())
    with caplog.at_level(logging.INFO, logger="model.embedding_cache"):
        ingest(write_study(tmp_path / "second", second).parent, out)
    assert not old.exists() and own.is_file()
    assert "freed" in caplog.text and "1 of an earlier version of the dataset" in caplog.text
    # the dataset as it is now is embedded (and cached) afresh, with both studies
    again = cached_study_embeddings(checkpoint, CMRDataset.open(out))
    current = cache_path(CMRDataset.open(out), read_checkpoint_meta(checkpoint).fingerprint)
    assert len(again.ids) == 2 and current.is_file()
    # an ingest that changes nothing (no new file) keeps the caches of the dataset as it is
    (tmp_path / "nothing new").mkdir()
    ingest(tmp_path / "nothing new", out)
    assert current.is_file()


def test_the_least_recently_used_caches_beyond_the_bound_and_killed_writes_are_removed(
    setup: tuple[Path, Path], dataset: Path, caplog: pytest.LogCaptureFixture
) -> None:
    checkpoint = setup[1]
    ds = CMRDataset.open(dataset)
    used = cache_path(ds, read_checkpoint_meta(checkpoint).fingerprint)
    cached_study_embeddings(checkpoint, ds)
    long_ago = time.time() - 30 * DAY_S
    os.utime(used, (long_ago, long_ago))  # written long ago, read again below
    folder = used.parent
    others = [  # other checkpoints' caches, each written after ``used`` and never read since
        _file(folder / f"{i:016x}-{ds.fingerprint()}.npz", 1000, long_ago + (i + 1) * 60)
        for i in range(embedding_cache.KEPT_CACHES)
    ]
    killed = _file(folder / f".{used.name}.k1ll3d.tmp", 5000, long_ago)
    own = _file(folder / "mine.npz", 10, long_ago)
    with caplog.at_level(logging.INFO, logger="model.embedding_cache"):
        cached_study_embeddings(checkpoint, ds)  # a cache hit: ``used`` is now the most recent
    assert used.is_file() and used.stat().st_mtime == pytest.approx(long_ago)  # dashboard's key
    assert not others[0].exists() and all(p.is_file() for p in others[1:])
    assert not killed.exists() and own.is_file()
    assert f"1 least recently used beyond {embedding_cache.KEPT_CACHES}" in caplog.text
    assert "1 left by an interrupted write" in caplog.text and "freed" in caplog.text


def test_a_killed_embed_leaves_nothing_once_the_embed_command_runs_again(
    setup: tuple[Path, Path], dataset: Path, tmp_path: Path
) -> None:
    checkpoint = setup[1]
    cache = cache_path(CMRDataset.open(dataset), read_checkpoint_meta(checkpoint).fingerprint)
    cache.parent.mkdir()
    killed = _file(cache.parent / f".{cache.name}.abc123.tmp", 100, time.time())
    argv = ["embed", "--checkpoint", str(checkpoint), "--data", str(dataset)]
    assert cli_main([*argv, "--out", str(cache)]) == 0  # as the dashboard's embed job runs it
    assert cache.is_file() and not killed.exists()
    assert [p.name for p in cache.parent.iterdir() if p.name.endswith(".tmp")] == []


def test_nothing_is_removed_while_a_writer_is_writing(tmp_path: Path) -> None:
    folder = tmp_path / "embeddings"
    folder.mkdir()
    in_progress = _file(folder / ".a-0123456789abcdef.npz.x1.tmp", 100, time.time() - DAY_S)
    with embedding_cache.writing(folder), embedding_cache.writing(folder):  # two writers at once
        assert embedding_cache.tidy(folder) == 0
        assert in_progress.is_file()
    assert embedding_cache.tidy(folder) == 100 and not in_progress.exists()


def test_only_caches_of_another_dataset_fingerprint_count_as_stale(tmp_path: Path) -> None:
    folder = tmp_path / "embeddings"
    folder.mkdir()
    now = time.time()
    current = _file(folder / "aaaa-0123456789abcdef.npz", 10, now)
    stale = _file(folder / "aaaa-fedcba9876543210.npz", 20, now)
    assert embedding_cache.tidy(folder) == 0  # without the fingerprint, nothing is stale
    assert embedding_cache.tidy(folder, "0123456789abcdef") == 20
    assert current.is_file() and not stale.exists()


def test_a_writer_shares_a_lock_file_another_user_owns(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """In a lab's shared dataset the writers lock file belongs to whoever made it first; another
    user may only read it, and still takes the shared lock (flock needs no write access)."""
    folder = tmp_path / "embeddings"
    folder.mkdir()
    (folder / embedding_cache.WRITERS_LOCK).write_text("")
    real_open = os.open

    def read_only(path: str | Path, flags: int, *args: int) -> int:
        if flags & os.O_RDWR:
            raise PermissionError(13, "Permission denied", str(path))
        return real_open(path, flags, *args)

    monkeypatch.setattr(file_lock_module.os, "open", read_only)
    with embedding_cache.writing(folder):
        monkeypatch.setattr(file_lock_module.os, "open", real_open)
        with pytest.raises(UserError, match="busy"):  # the writer holds it: no tidying now
            FileLock(folder / embedding_cache.WRITERS_LOCK, lambda holder: "busy").acquire()


def test_files_that_cannot_be_removed_are_not_reported_as_freed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "embeddings"
    folder.mkdir()
    stale = _file(folder / "aaaa-fedcba9876543210.npz", 20, time.time())

    def refuse(self: Path, missing_ok: bool = False) -> None:
        raise PermissionError(13, "Permission denied", str(self))  # a dataset shared read-only

    monkeypatch.setattr(Path, "unlink", refuse)
    with caplog.at_level(logging.INFO, logger="model.embedding_cache"):
        assert embedding_cache.tidy(folder, "0123456789abcdef") == 0
    assert stale.is_file() and "freed" not in caplog.text


def test_a_file_system_that_refuses_the_lock_leaves_no_file_open(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """NFS refuses an exclusive flock on a file opened read-only (EBADF): tidying is skipped,
    and each try must not leak a descriptor (a dashboard runs for weeks)."""
    folder = tmp_path / "embeddings"
    folder.mkdir()
    stale = _file(folder / "aaaa-fedcba9876543210.npz", 20, time.time())

    def refuse(fd: int, operation: int) -> None:
        raise OSError(9, "Bad file descriptor")

    monkeypatch.setattr(file_lock_module.fcntl, "flock", refuse)
    before = len(os.listdir("/proc/self/fd"))
    for _ in range(5):
        assert embedding_cache.tidy(folder, "0123456789abcdef") == 0
    assert len(os.listdir("/proc/self/fd")) == before and stale.is_file()


def test_a_cache_tidied_away_while_it_is_opened_is_recomputed_without_a_warning(
    setup: tuple[Path, Path],
    dataset: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    checkpoint = setup[1]
    ds = CMRDataset.open(dataset)
    first = cached_study_embeddings(checkpoint, ds)
    load = StudyEmbeddings.load

    def removed_first(path: str | Path) -> StudyEmbeddings:
        Path(path).unlink()  # another process's tidying, between the look and the read
        return load(path)

    monkeypatch.setattr(StudyEmbeddings, "load", removed_first)
    with caplog.at_level(logging.WARNING):
        again = cached_study_embeddings(checkpoint, ds)
    assert again.ids == first.ids and not caplog.records  # nothing is damaged


def test_a_caches_maps_are_removed_with_it_and_never_counted_as_caches(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """The Embeddings page keeps its maps beside their cache (``model.projection_store``): a
    cache tidied away takes its maps along; a map alone is no cache to keep or to count."""
    folder = tmp_path / "embeddings"
    folder.mkdir()
    fingerprint, now = "0123456789abcdef", time.time()
    caches = [  # the bound's worth of caches of the current dataset, oldest first
        _file(folder / f"{i:04x}-{fingerprint}.npz", 1000, now - DAY_S + i * 60)
        for i in range(embedding_cache.KEPT_CACHES)
    ]
    maps = {
        cache: [
            _file(map_path(cache, ProjectionConfig(method=method)), 10, now) for method in METHODS
        ]
        for cache in caches
    }
    assert embedding_cache.tidy(folder, fingerprint) == 0  # 16 caches and 32 maps: all kept
    stale = _file(folder / f"ffff-{'f' * 16}.npz", 1000, now)
    stale_map = _file(map_path(stale, ProjectionConfig()), 10, now)
    newest = _file(folder / f"eeee-{fingerprint}.npz", 1000, now)
    orphan = _file(map_path(folder / f"dddd-{fingerprint}.npz", ProjectionConfig()), 10, now)
    own_map = _file(folder / "mine.map-0123.npz", 10, now)  # not a name tidying made
    with caplog.at_level(logging.INFO, logger="model.embedding_cache"):
        assert embedding_cache.tidy(folder, fingerprint) == 1000 + 1000 + 10 + 10 + 10 + 10
    assert not caches[0].exists() and not any(p.exists() for p in maps[caches[0]])
    assert not stale.exists() and not stale_map.exists() and not orphan.exists()
    assert all(p.is_file() for cache in caches[1:] for p in (cache, *maps[cache]))
    assert newest.is_file() and own_map.is_file()
    assert f"1 least recently used beyond {embedding_cache.KEPT_CACHES}" in caplog.text
    assert "4 maps of removed caches" in caplog.text


def _caches(folder: Path, fingerprint: str, when: float) -> list[Path]:
    """The bound's worth of caches of the dataset ``fingerprint``, written about ``when``."""
    return [
        _file(folder / f"{i:04x}-{fingerprint}.npz", 1000, when + i)
        for i in range(embedding_cache.KEPT_CACHES)
    ]


def test_a_read_is_ordered_by_the_file_systems_clock_not_this_machines(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A data root on a file server several machines share: the caches' times are the server's;
    this machine's clock, a day slow, must not make the cache it just read the oldest one."""
    folder = tmp_path / "embeddings"
    folder.mkdir()
    fingerprint, now = "0123456789abcdef", time.time()
    read = _file(folder / f"ffff-{fingerprint}.npz", 1000, now - 30 * DAY_S)
    others = _caches(folder, fingerprint, now - 3600)  # written an hour ago, never read
    with monkeypatch.context() as clock:
        clock.setattr(time, "time", lambda: now - DAY_S)
        clock.setattr(time, "time_ns", lambda: int((now - DAY_S) * 1e9))
        embedding_cache.record_use(read)
    assert embedding_cache.tidy(folder, fingerprint) == 1000
    assert read.is_file() and not others[0].exists() and all(p.is_file() for p in others[1:])


def test_a_read_of_another_accounts_cache_is_recorded(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lab's shared dataset: a colleague wrote the cache (and recorded its use, long ago). Only
    a file's owner may set its times, and this user may not write the colleague's files; the
    folder is the group's. A read must still make the cache the most recently used."""
    folder = tmp_path / "embeddings"
    folder.mkdir()
    fingerprint, now = "0123456789abcdef", time.time()
    theirs = _file(folder / f"ffff-{fingerprint}.npz", 1000, now)
    embedding_cache.record_use(theirs)  # the colleague's read
    long_ago = now - 30 * DAY_S
    for path in folder.iterdir():  # all of it the colleague's, unused for a month
        os.utime(path, (long_ago, long_ago))
    others = _caches(folder, fingerprint, now - 3600)
    foreign = {os.stat(path).st_ino for path in folder.iterdir()}
    real_open, real_utime = os.open, os.utime

    def as_this_user_opens(path: str | Path, flags: int, *args: int) -> int:
        writes = flags & (os.O_WRONLY | os.O_RDWR)
        if writes and os.path.exists(path) and os.stat(path).st_ino in foreign:
            raise PermissionError(errno.EACCES, "Permission denied", str(path))
        return real_open(path, flags, *args)

    def as_this_user_sets_times(path: str | Path, *args: object, **kwargs: object) -> None:
        if (args or kwargs) and os.stat(path).st_ino in foreign:  # not "now": the owner's right
            raise PermissionError(errno.EPERM, "Operation not permitted", str(path))
        real_utime(path, *args, **kwargs)

    monkeypatch.setattr(os, "open", as_this_user_opens)
    monkeypatch.setattr(os, "utime", as_this_user_sets_times)
    embedding_cache.record_use(theirs)
    monkeypatch.undo()
    assert embedding_cache.last_use(theirs) > now - 60
    assert theirs.stat().st_mtime == pytest.approx(long_ago)  # the maps' and dashboard's key
    assert embedding_cache.tidy(folder, fingerprint) == 1000
    assert theirs.is_file() and not others[0].exists()


def test_a_folder_where_no_use_can_be_recorded_is_said_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "embeddings"
    folder.mkdir()
    caches = _caches(folder, "0123456789abcdef", time.time())
    with read_only_tree(folder), caplog.at_level(logging.WARNING, logger="model.embedding_cache"):
        for cache in caches[:3]:
            embedding_cache.record_use(cache)
    (said,) = [r.getMessage() for r in caplog.records]
    assert "cannot record the use of the embedding caches in" in said and str(folder) in said


def test_tidying_lists_the_folder_once(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Caches, their maps and use marks and killed writers' temporaries are all found in one
    listing of the folder (on a shared root each listing is a round trip to the file server)."""
    folder = tmp_path / "embeddings"
    folder.mkdir()
    fingerprint, now = "0123456789abcdef", time.time()
    caches = _caches(folder, fingerprint, now - DAY_S)
    newest = _file(folder / f"eeee-{fingerprint}.npz", 1000, now)
    doomed = [  # the oldest cache's map and mark, and a killed write
        _file(map_path(caches[0], ProjectionConfig()), 10, now),
        _file(folder / f".{caches[0].name}.used", 1, now - DAY_S),
        _file(folder / f".{newest.name}.k1ll3d.tmp", 100, now - DAY_S),
    ]
    kept = [_file(map_path(newest, ProjectionConfig()), 10, now), folder / "mine.npz"]
    kept[1].write_bytes(b"x")
    listings: list[str] = []
    for name in ("listdir", "scandir"):
        real = getattr(os, name)

        def counting(path: str | Path = ".", real: object = real) -> object:
            if Path(path) == folder:
                listings.append(str(path))
            return real(path)

        monkeypatch.setattr(os, name, counting)
    assert embedding_cache.tidy(folder, fingerprint) == 1000 + 10 + 1 + 100
    assert len(listings) == 1
    assert not caches[0].exists() and not any(p.exists() for p in doomed)
    assert all(p.is_file() for p in (*caches[1:], newest, *kept))
