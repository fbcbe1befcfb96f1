"""A student opens the dashboard on a lab data root they may read but not write (another
account's files, or a read-only mount): everything there reads, and what would write says so in
one line instead of stopping the page."""

from __future__ import annotations

import errno
import json
import logging
import os
import shutil
import stat
import time
from pathlib import Path

import pytest
from dashboard_fixtures import make_tiny_dataset, tiny_data_root
from index_fakes import CHECKPOINT, make_records
from read_only_tree import read_only_tree
from streamlit.testing.v1 import AppTest

from dashboard.settings import Settings
from model.cli import main
from model.errors import UserError
from model.index.cli_index import _write_here
from model.index.client import ChromaLocation
from model.index.private_copy import readable_location
from model.index.read_check import folder_state

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def test_a_dataset_is_chosen_for_the_session_on_a_root_this_user_cannot_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "data"
    tiny = make_tiny_dataset(root / "ds" / "tiny", n=2)
    other = make_tiny_dataset(root / "ds" / "other", n=2, seed=1)
    Settings(root).write_active(dataset=tiny)
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    with read_only_tree(root):
        home = AppTest.from_file(APP, default_timeout=60).run()
        home.selectbox(key="home-dataset").select(other).run()
        assert not home.exception and not home.error, [e.value for e in home.error]
        assert home.selectbox(key="home-dataset").value == other
        [note] = [i.value for i in home.info]
        assert "this session's only" in note and str(root / "active.json") in note
        studies = home.switch_page("pages/studies.py").run()
        assert "2 of 2 studies" in " ".join(c.value for c in studies.caption)
        assert Settings(root).read_active()["dataset"] == str(tiny)  # nothing written


@pytest.fixture(scope="module")
def indexed_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A copy of the tiny data root whose owner indexed it (``DATA_ROOT/ds/chroma``)."""
    root = tmp_path_factory.mktemp("ro") / "data"
    shutil.copytree(tiny_data_root(tmp_path_factory), root)
    argv = ["index", "--checkpoint", str(root / "runs" / "tiny" / "best.pt")]
    assert main([*argv, "--data", str(root / "ds" / "tiny")]) == 0
    return root


@pytest.fixture
def _embedded_index(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CMR_CHROMA_HOST", "CMR_CHROMA_PORT", "CMR_CHROMA_TOKEN"):
        monkeypatch.delenv(name, raising=False)


@pytest.mark.usefixtures("_embedded_index")
def test_search_reads_an_index_folder_this_user_cannot_write(
    indexed_root: Path, capsys: pytest.CaptureFixture
) -> None:
    index = indexed_root / "ds" / "chroma"
    before = folder_state(index)
    argv = ["--checkpoint", str(indexed_root / "runs" / "tiny" / "best.pt")]
    argv += ["--data", str(indexed_root / "ds" / "tiny"), "--k", "3", "--json"]
    with read_only_tree(indexed_root):
        assert main(["search", "Dilated left ventricle.", *argv]) == 0
    hits = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [hit["rank"] for hit in hits] == [1, 2, 3]
    assert folder_state(index) == before


@pytest.mark.usefixtures("_embedded_index")
def test_the_case_browser_searches_an_index_this_user_cannot_write(
    indexed_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CMR_DATA_ROOT", str(indexed_root))
    with read_only_tree(indexed_root):
        at = AppTest.from_file(APP, default_timeout=120).run()
        at.switch_page("pages/browser.py").run()
        at.text_input(key="b-query").input("Dilated left ventricle.").run()
    assert not at.exception and not at.error and not at.warning, [w.value for w in at.warning]
    captions = " ".join(c.value for c in at.caption)
    assert "searched with the case index: " in captions, captions


def test_a_private_copy_is_owner_only_and_follows_the_folder(tmp_path: Path) -> None:
    folder = ChromaLocation(path=tmp_path / "chroma")
    _write_here(folder, CHECKPOINT, make_records(12), None)
    assert readable_location(folder) == folder  # writable: read in place
    with read_only_tree(tmp_path / "chroma"):
        copy = readable_location(folder)
        assert copy.path != folder.path and copy.describe() == folder.describe()
        assert stat.S_IMODE(copy.path.parent.stat().st_mode) == 0o700
        assert readable_location(folder) == copy  # unchanged folder: the same copy
    _write_here(folder, CHECKPOINT, make_records(14, seed=1), None)  # its owner indexes more
    with read_only_tree(tmp_path / "chroma"):
        newer = readable_location(folder)
    assert newer.path != copy.path and not copy.path.exists()  # the old copy is gone
    assert folder_state(newer.path)[1] == folder_state(folder.path)[1]  # the same write log


def test_zeroshot_into_a_folder_this_user_cannot_write_stops_before_the_work(
    data_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    from model.training import checkpoint

    loaded: list[object] = []

    def load(*args: object, **kwargs: object) -> None:
        loaded.append(args)
        raise UserError("the checkpoint was loaded")

    monkeypatch.setattr(checkpoint, "load_checkpoint", load)
    out = tmp_path / "shared" / "zs.csv"
    out.parent.mkdir()
    argv = ["zeroshot", "--checkpoint", str(data_root / "runs" / "tiny" / "best.pt")]
    argv += ["--data", str(data_root / "ds" / "tiny"), "--out", str(out)]
    with read_only_tree(out.parent), caplog.at_level(logging.ERROR, logger="model"):
        assert main(argv) != 0
    assert not loaded  # refused before loading, embedding and scoring
    [line] = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert line.startswith(f"--out {out} cannot be written: ") and str(out.parent) in line


def test_a_private_copy_into_a_full_tmpdir_fails_in_one_line(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """TMPDIR full: the message names the problem and the copy's file once (not every file of
    the index), copying stops at the first failure, and nothing is left in TMPDIR."""
    folder = ChromaLocation(path=tmp_path / "chroma")
    _write_here(folder, CHECKPOINT, make_records(12), None)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    tried: list[str] = []

    def full(source: str, target: str, **kwargs: object) -> None:
        tried.append(target)
        raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), source, None, target)

    monkeypatch.setattr(shutil, "copyfile", full)
    with read_only_tree(tmp_path / "chroma"), pytest.raises(UserError) as raised:
        readable_location(folder)
    message = str(raised.value)
    assert message.count(os.strerror(errno.ENOSPC)) == 1 and "\n" not in message
    assert f"{os.strerror(errno.ENOSPC)}: {tried[0]})" in message
    assert len(tried) == 1 and not list(scratch.iterdir())


def test_copies_a_killed_process_left_are_removed_by_the_next_copy(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A dashboard killed (OOM, kill -9) never runs its atexit: its copies of the index stayed
    in TMPDIR for good, one more per restart. The next copy removes those no live process holds,
    and leaves a live process's copy (and one made a moment ago) alone."""
    from model.file_lock import FileLock

    folder = ChromaLocation(path=tmp_path / "chroma")
    _write_here(folder, CHECKPOINT, make_records(12), None)
    scratch = tmp_path / "tmp"
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    left = {}
    for name in ("killed", "live", "just-made"):
        left[name] = scratch / f"cmr-index-copy-{name}"
        (left[name] / "chroma").mkdir(parents=True)
        (left[name] / "chroma" / "chroma.sqlite3").write_bytes(b"reports")
    an_hour_ago = time.time() - 3600
    for name in ("killed", "live"):
        os.utime(left[name], (an_hour_ago, an_hour_ago))
    with FileLock(left["live"] / ".in-use", str), read_only_tree(tmp_path / "chroma"):
        copy = readable_location(folder)
    assert not left["killed"].exists()
    assert left["live"].is_dir() and left["just-made"].is_dir() and copy.path.is_dir()


def _full_under(monkeypatch: pytest.MonkeyPatch, *folders: Path) -> None:
    """The disks of ``folders`` report no room (``os.statvfs``: what ``full_disk`` reads)."""
    real = os.statvfs

    def statvfs(path: str | os.PathLike) -> os.statvfs_result:
        got = real(path)
        if any(Path(path).resolve().is_relative_to(folder) for folder in folders):
            return os.statvfs_result((*got[:3], 0, 0, *got[5:]))
        return got

    monkeypatch.setattr(os, "statvfs", statvfs)


@pytest.mark.usefixtures("_embedded_index")
def test_search_reads_an_index_on_a_full_disk_without_writing_there(
    indexed_root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture
) -> None:
    """Chroma opens its database for writing even to search it, and on a full disk failed with
    "database or disk is full" (free some space): a read-only search now reads a private copy in
    the temporary folder, on a disk with room, and writes nothing to the full one."""
    index = indexed_root / "ds" / "chroma"
    database = index / "chroma.sqlite3"
    _full_under(monkeypatch, index)
    before = (folder_state(index), database.stat().st_mtime_ns, sorted(os.listdir(index)))
    argv = ["--checkpoint", str(indexed_root / "runs" / "tiny" / "best.pt")]
    argv += ["--data", str(indexed_root / "ds" / "tiny"), "--k", "3", "--json"]
    assert main(["search", "Dilated left ventricle.", *argv]) == 0
    hits = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [hit["rank"] for hit in hits] == [1, 2, 3]
    assert (folder_state(index), database.stat().st_mtime_ns, sorted(os.listdir(index))) == before


def test_an_index_on_a_disk_full_for_a_copy_too_is_read_in_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A temporary folder on the same full disk has no room for a copy: the folder is opened in
    place, to fail with the message that says to free some space (or read, if it can)."""
    folder = ChromaLocation(path=tmp_path / "chroma")
    _write_here(folder, CHECKPOINT, make_records(12), None)
    scratch = tmp_path / "tmp"
    scratch.mkdir()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    _full_under(monkeypatch, tmp_path)  # the index folder's disk and the temporary folder's
    assert readable_location(folder) == folder and not list(scratch.iterdir())
    monkeypatch.undo()
    monkeypatch.setattr("tempfile.tempdir", str(scratch))
    _full_under(monkeypatch, tmp_path / "chroma")  # the temporary folder on another disk
    copy = readable_location(folder)
    assert copy.path.is_relative_to(scratch) and copy.describe() == folder.describe()
