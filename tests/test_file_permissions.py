"""Written files follow the umask, as a plain ``open()`` would; the dataset's salt stays owner-only."""

from __future__ import annotations

import errno
import io
import os
import stat
import zipfile
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest

from dashboard.zip_import import extract_zip
from model.atomic import (
    atomic_create_text,
    atomic_write_json,
    atomic_write_text,
    atomic_write_with,
    current_umask,
)
from model.data.deid import load_or_create_salt


@pytest.fixture
def group_umask() -> Iterator[int]:
    """A lab's shared data root: group members may read and write (umask 002)."""
    previous = os.umask(0o002)
    try:
        yield 0o002
    finally:
        os.umask(previous)


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


def test_current_umask_reads_without_changing(group_umask: int) -> None:
    assert current_umask() == group_umask
    assert current_umask() == group_umask


def test_atomic_writes_follow_the_umask(tmp_path: Path, group_umask: int) -> None:
    atomic_write_json(tmp_path / "status.json", {"state": "running"})
    atomic_write_with(tmp_path / "t.parquet", pd.DataFrame({"a": [1]}).to_parquet)
    assert _mode(tmp_path / "status.json") == 0o664
    assert _mode(tmp_path / "t.parquet") == 0o664
    os.umask(0o077)
    atomic_write_json(tmp_path / "status.json", {"state": "done"})
    assert _mode(tmp_path / "status.json") == 0o600


@pytest.mark.parametrize("hard_links", [True, False])
def test_a_file_created_only_if_new_is_whole_shared_and_never_replaced(
    tmp_path: Path, group_umask: int, hard_links: bool, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not hard_links:  # a share without hard links (SMB): still created only if new

        def no_link(source: str, target: str) -> None:
            raise OSError(errno.EPERM, "Operation not permitted")

        monkeypatch.setattr(os, "link", no_link)
    target = tmp_path / "prompts" / "mine.yaml"
    atomic_create_text(target, "first\n")
    with pytest.raises(FileExistsError):
        atomic_create_text(target, "second\n")
    assert target.read_text() == "first\n" and _mode(target) == 0o664
    assert [p.name for p in target.parent.iterdir()] == ["mine.yaml"]  # no temporary left


def test_permissions_narrow_one_file(tmp_path: Path, group_umask: int) -> None:
    atomic_write_text(tmp_path / "secret", "x", permissions=0o600)
    assert _mode(tmp_path / "secret") == 0o600


def test_salt_is_owner_only_whatever_the_umask(tmp_path: Path, group_umask: int) -> None:
    load_or_create_salt(tmp_path)
    assert _mode(tmp_path / "salt.key") == 0o600


def test_an_unpacked_zip_import_follows_the_umask(tmp_path: Path, group_umask: int) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("study/1.dcm", b"\0" * 128 + b"DICM" + b"\x02\x00" * 50)
    buffer.seek(0)
    extract_zip(buffer, tmp_path / "import")
    assert _mode(tmp_path / "import") == 0o775


def test_a_lock_file_is_shared_as_the_umask_says(group_umask: int, tmp_path: Path) -> None:
    """The embedding caches' writers lock (and any other lock file) in a lab's shared dataset:
    a group member who comes second can open it for writing, which NFS needs to lock it."""
    from model import embedding_cache

    folder = tmp_path / "embeddings"
    with embedding_cache.writing(folder):
        pass
    assert _mode(folder / embedding_cache.WRITERS_LOCK) == 0o666 & ~group_umask
