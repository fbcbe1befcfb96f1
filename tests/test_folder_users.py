"""``model.index.folder_users``: the processes with files open under an index folder, a Chroma
server among them told from our embedded readers (by its command line, or by its open files
when a config file names its folder), processes whose files cannot be read counted as not
checked, and no ``/proc`` said rather than passed over. Real short-lived processes, no server."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from file_holder import file_holder, server_on

from model.errors import UserError
from model.index import folder_users as users_module
from model.index.folder_users import folder_users, refuse_served

pytestmark = pytest.mark.skipif(not Path("/proc/self/fd").is_dir(), reason="needs Linux /proc")
WAY = "go through it at {host}:{port}"


def test_a_server_is_told_from_a_reader_and_named_with_what_to_do(tmp_path: Path) -> None:
    folder, other = tmp_path / "root" / "chroma", tmp_path / "elsewhere"
    with (
        server_on(folder, "--port", "8823") as server,
        file_holder(folder / "chroma.sqlite3", "streamlit", "run", "app.py") as reader,
    ):
        found = folder_users([folder, other])
        said = found[folder].refusal("deleting its collections", WAY)
    assert [s.pid for s in found[folder].servers] == [server.pid]
    assert found[folder].readers == [reader.pid]
    assert not found[other].servers and not found[other].readers
    assert found[other].refusal("deleting", WAY) is None
    assert said is not None and said.startswith(f"{folder}: a Chroma server (pid {server.pid}, `")
    assert said.endswith("stop the server first, or go through it at localhost:8823")


def test_a_reader_alone_refuses_nothing(tmp_path: Path) -> None:
    folder = tmp_path / "chroma"
    with file_holder(folder / "chroma.sqlite3", "-m", "model", "search", "lge"):
        refuse_served(folder, "writing", WAY)  # raises nothing
        assert folder_users([folder])[folder].readers


def test_a_server_on_its_default_path_and_one_from_a_config_file(tmp_path: Path) -> None:
    """``chroma run`` in the data root serves ./chroma (found from its working folder, no file
    needed); one started with a config file, or Chroma's old Python server app, is found by the
    files it holds open."""
    root = tmp_path / "root"
    (root / "chroma").mkdir(parents=True)
    with file_holder(tmp_path / "log.txt", "chroma", "run", cwd=root) as default:
        assert [s.pid for s in folder_users([root / "chroma"])[root / "chroma"].servers] == [
            default.pid
        ]
    with file_holder(root / "chroma" / "chroma.sqlite3", "chroma", "run", "cfg.yaml") as conf:
        (server,) = folder_users([root / "chroma"])[root / "chroma"].servers
        with pytest.raises(UserError, match=f"pid {conf.pid}.*at localhost:PORT$"):
            refuse_served(root / "chroma", "writing", WAY)
    assert server.pid == conf.pid and server.port is None
    db = root / "chroma" / "chroma.sqlite3"  # Chroma's Python server before 1.0, under uvicorn
    with file_holder(db, "-m", "uvicorn", "chromadb.app:app", "--port", "8828") as app:
        (server,) = folder_users([root / "chroma"])[root / "chroma"].servers
    assert server.pid == app.pid and server.reached_as() == ("localhost", "8828")


def test_processes_whose_files_cannot_be_read_are_counted_not_ignored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another user's processes (faked: their fds refuse to be read): a Chroma server among
    them whose command line does not name its folder is named, not refused; a kernel thread
    is no process to check."""
    proc = tmp_path / "proc"
    (proc / "self" / "fd").mkdir(parents=True)
    for pid, argv in (
        ("4242", b"python\0app.py\0"),
        ("4343", b"chroma\0run\0c.yaml\0"),
        ("2", b""),
    ):
        (proc / pid / "fd").mkdir(parents=True)
        (proc / pid / "fd" / "3").symlink_to(tmp_path)
        (proc / pid / "cmdline").write_bytes(argv)
        os.symlink(tmp_path, proc / pid / "cwd")
    real_readlink = os.readlink

    def readlink(path: object) -> str:
        if "/fd/" in str(path):
            raise PermissionError(13, "Permission denied")
        return real_readlink(path)  # type: ignore[arg-type]

    monkeypatch.setattr(users_module.os, "readlink", readlink)
    found = folder_users([tmp_path / "chroma"], proc=proc)[tmp_path / "chroma"]
    assert found.unchecked == [4242] and [s.pid for s in found.unknown_servers] == [4343]
    assert "4242" not in str(found.note())  # not a server by its command line: a reader at most
    assert found.refusal("writing", WAY) is None  # a lab's shared server refuses nothing
    assert "a Chroma server (pid 4343, `chroma run c.yaml`) runs whose folder" in str(found.note())


def test_without_proc_it_says_it_could_not_check(tmp_path: Path) -> None:
    found = folder_users([tmp_path], proc=tmp_path / "no-proc")[tmp_path]
    assert not found.checked and found.refusal("writing", WAY) is None
    assert "could not be checked (no /proc on this system)" in str(found.note())
