"""The power goes out right after a write: an atomic write fsyncs the file before it is renamed
into place and its folder after, so the new name (not the previous version, or no file at all)
is what comes back. The product default does it; no setting turns it off."""

from __future__ import annotations

import os
import stat
from collections.abc import Callable
from pathlib import Path

import pytest
from tiny_dataset import make_tiny_dataset, shared_tiny_checkpoint

import model.atomic as atomic
import model.evaluation.outputs as outputs
from model.cli import main as cli_main
from model.training.checkpoint import publish_copy

Synced = list[tuple[str, Path]]


@pytest.fixture
def synced(monkeypatch: pytest.MonkeyPatch) -> Synced:
    """What each os.fsync call synced, in order: ("file" or "folder", the path it names)."""
    calls: Synced = []
    real = os.fsync

    def counting(fd: int) -> None:
        kind = "folder" if stat.S_ISDIR(os.fstat(fd).st_mode) else "file"
        calls.append((kind, Path(os.readlink(f"/proc/self/fd/{fd}"))))
        real(fd)

    monkeypatch.setattr(os, "fsync", counting)
    return calls


WRITES: dict[str, Callable[[Path], None]] = {
    "json": lambda path: atomic.atomic_write_json(path, {"epoch": 3}),
    "bytes": lambda path: atomic.atomic_write_bytes(path, b"weights"),
    "with": lambda path: atomic.atomic_write_with(path, lambda tmp: tmp.write_text("a,b\n")),
    "create": lambda path: atomic.atomic_create_text(path, "first\n"),
}


@pytest.mark.parametrize("write", sorted(WRITES))
def test_an_atomic_write_syncs_the_file_then_its_folder(
    write: str, tmp_path: Path, synced: Synced
) -> None:
    target = tmp_path / "sub" / "out.dat"
    WRITES[write](target)
    assert target.exists()
    kinds = [kind for kind, _ in synced]
    assert "file" in kinds, "the file's bytes were never synced"
    assert kinds[-1] == "folder", f"its new name was never synced: {synced}"
    assert synced[-1][1].resolve() == target.parent.resolve()
    assert kinds.index("file") < len(kinds) - 1  # the bytes before the name


@pytest.mark.parametrize("links", [True, False])
def test_a_published_copy_of_a_checkpoint_syncs_its_folder(
    links: bool, tmp_path: Path, synced: Synced, monkeypatch: pytest.MonkeyPatch
) -> None:
    if not links:  # an SMB share: best.pt is a copy, its bytes synced before its name

        def no_link(*_args: object) -> None:
            raise OSError(1, "Operation not permitted")

        monkeypatch.setattr(os, "link", no_link)
    source = tmp_path / "last.pt"
    source.write_bytes(b"not read: no sidecar describes it")
    publish_copy(source, tmp_path / "best.pt")
    assert (tmp_path / "best.pt").read_bytes() == source.read_bytes()
    assert ("folder", tmp_path.resolve()) in [(k, p.resolve()) for k, p in synced]
    assert [kind for kind, _ in synced].count("file") == (0 if links else 1)
    assert not atomic.temporaries(tmp_path)


def test_a_folder_that_cannot_be_synced_fails_no_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    real = os.fsync

    def refusing(fd: int) -> None:  # as some network shares answer a folder's fsync
        if stat.S_ISDIR(os.fstat(fd).st_mode):
            raise OSError(22, "Invalid argument")
        real(fd)

    monkeypatch.setattr(os, "fsync", refusing)
    atomic.atomic_write_json(tmp_path / "summary.json", {"done": True})
    assert (tmp_path / "summary.json").read_text().strip().endswith("}")


def test_an_evaluation_syncs_its_tables_names_before_its_summary_then_the_summary(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Its files are moved out of a staging folder, summary.json last: without a sync of their
    folders the summary's name could reach the disk before the tables' it lists."""
    out = tmp_path / "eval"
    events: list[tuple[str, str]] = []
    real_replace = os.replace

    def moving(source: str | Path, target: str | Path) -> None:
        real_replace(source, target)
        if Path(target).parent.resolve() == out.resolve():
            events.append(("move", Path(target).name))

    monkeypatch.setattr(os, "replace", moving)
    monkeypatch.setattr(outputs, "sync_folder", lambda f: events.append(("sync", str(f))))
    data = make_tiny_dataset(tmp_path / "data", n=40, seed=0)
    argv = ["evaluate", "--checkpoint", str(shared_tiny_checkpoint()[1]), "--data", str(data)]
    argv += ["--out", str(out), "--episodes", "2", "--bootstrap", "10", "--shots", "1"]
    assert cli_main([*argv, "--folds", "2"]) == 0
    summary = events.index(("move", "summary.json"))
    assert ("sync", str(out)) in events[:summary], events
    assert events[-1] == ("sync", str(out)), events
