"""The dataset fingerprint is read from the content once per state of the files: a memo in the
account's cache keeps it while every file stats the same (``model.data.fingerprint_memo``).

Nothing is written into the dataset; a copy without its times is computed again and keeps its
fingerprint; a tensor edited in place (its size and modification time kept) changes it; files
changed just before the fingerprint are not memoised; a cache that cannot be written only means
the fingerprint is computed each time; the memos are bounded.
"""

from __future__ import annotations

import os
import shutil
import time
from pathlib import Path

import numpy as np
import pytest

from model.data import fingerprint, fingerprint_memo
from model.data.dataset import CMRDataset
from model.process_setup import CACHE_ENV
from tests.tiny_dataset import make_tiny_dataset

SETTLED_S = 0.05  # the tests' files are "old" this long after they were written


@pytest.fixture
def cache(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A fresh account cache, and files that count as settled ``SETTLED_S`` after a write."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path / "cache"))
    monkeypatch.setattr(fingerprint_memo, "SETTLED_S", SETTLED_S)
    return tmp_path / "cache"


def _settled_dataset(folder: Path, n: int = 4, seed: int = 0) -> Path:
    root = make_tiny_dataset(folder, n=n, seed=seed)
    time.sleep(SETTLED_S * 1.5)  # its files' times are now older than SETTLED_S
    return root


def _fingerprint(root: Path) -> str:
    return CMRDataset.open(root).fingerprint()


def _no_content_reads(monkeypatch: pytest.MonkeyPatch) -> None:
    def unread(path):
        raise AssertionError(f"{path} was read: the memo was not used")

    monkeypatch.setattr(fingerprint, "tensor_digest", unread)


def test_a_memo_hit_gives_the_same_fingerprint_without_reading_the_tensors(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _settled_dataset(tmp_path / "data")
    files = sorted(p.relative_to(root) for p in root.rglob("*"))
    first = _fingerprint(root)
    assert len(list((cache / "fingerprints").glob("*.json"))) == 1
    _no_content_reads(monkeypatch)
    assert _fingerprint(root) == first
    assert sorted(p.relative_to(root) for p in root.rglob("*")) == files  # nothing written there


def test_a_tensor_edited_in_place_with_its_size_and_time_kept_changes_it(
    cache: Path, tmp_path: Path
) -> None:
    root = _settled_dataset(tmp_path / "data")
    dataset = CMRDataset.open(root)
    before = dataset.fingerprint()
    path = dataset.paths.tensor(dataset.ids()[1])
    kept = path.stat()
    video = np.load(path)
    video[0] = 255 - video[0]  # the first view: the start of the file, read by the digest
    with open(path, "r+b") as handle:  # the same inode, the same size
        np.save(handle, video)
    os.utime(path, ns=(kept.st_atime_ns, kept.st_mtime_ns))  # the modification time set back
    assert (path.stat().st_size, path.stat().st_mtime_ns) == (kept.st_size, kept.st_mtime_ns)
    assert _fingerprint(root) != before


def test_a_copy_without_its_times_gets_the_same_fingerprint(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = _settled_dataset(tmp_path / "data")
    before = _fingerprint(root)
    copy = tmp_path / "copy"
    shutil.copytree(root, copy, copy_function=shutil.copyfile)  # cp -r: new times, new inodes
    assert _fingerprint(copy) == before
    shutil.rmtree(root)
    copy.rename(root)  # a backup restored where the dataset was: same path, other files
    assert _fingerprint(root) == before
    time.sleep(SETTLED_S * 1.5)
    _fingerprint(root)  # memoised for the restored files
    _no_content_reads(monkeypatch)
    assert _fingerprint(root) == before


def test_files_changed_just_before_are_read_again_next_time(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A change in the same clock tick as the memo's stat would not show: not memoised."""
    monkeypatch.setattr(fingerprint_memo, "SETTLED_S", 3600.0)
    root = make_tiny_dataset(tmp_path / "data", n=3)
    _fingerprint(root)
    assert not list(cache.rglob("*.json"))


@pytest.mark.parametrize("where", ["a file", "no home"])
def test_a_cache_that_cannot_be_written_only_means_computing_each_time(
    where: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fingerprint_memo, "SETTLED_S", SETTLED_S)
    if where == "a file":  # as unwritable as a read-only home, also for root
        (tmp_path / "home").write_text("not a folder")
        monkeypatch.setenv(CACHE_ENV, str(tmp_path / "home" / "cache"))
    else:
        monkeypatch.setattr(fingerprint_memo, "cache_home", lambda: None)
    root = _settled_dataset(tmp_path / "data")
    first = _fingerprint(root)
    assert (
        _fingerprint(root)
        == first
        == fingerprint.content_fingerprint(CMRDataset.open(root).paths, CMRDataset.open(root).ids())
    )


def test_an_unreadable_memo_is_computed_again(cache: Path, tmp_path: Path) -> None:
    root = _settled_dataset(tmp_path / "data")
    first = _fingerprint(root)
    [memo] = (cache / "fingerprints").glob("*.json")
    memo.write_text('{"signature": "x", "fingerprint": "not hex')
    assert _fingerprint(root) == first
    assert '"fingerprint": "' + first in memo.read_text()  # written whole again


def test_the_memos_are_bounded_least_recently_used_first(
    cache: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(fingerprint_memo, "KEPT_MEMOS", 2)
    roots = [make_tiny_dataset(tmp_path / f"data{i}", n=2, seed=i) for i in range(4)]
    time.sleep(SETTLED_S * 1.5)
    for root in roots:
        _fingerprint(root)
        time.sleep(0.01)  # distinct use times
    assert len(list((cache / "fingerprints").glob("*.json"))) == 2
    _no_content_reads(monkeypatch)
    for root in roots[2:]:  # the two last used are kept
        _fingerprint(root)
