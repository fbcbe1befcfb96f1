"""``python -m model storage`` and the case index: collections of checkpoints no longer under the
data root listed with their study counts and, with ``--clean-caches --apply``, deleted from the
embedded index (never the active checkpoint's, never with a checkpoint unreadable, never while
an index run writes, a server only when asked), with dead rebuilds' leftovers and the segment
folders Chroma leaves; a dry run writes nothing under the root."""

from __future__ import annotations

import json
import os
import shutil
import time
from pathlib import Path

import chromadb
import numpy as np
import pytest
from chromadb.api.shared_system_client import SharedSystemClient
from chromadb.config import Settings

from model import storage_index
from model.checkpoint_meta import (
    CheckpointFacts,
    CheckpointMeta,
    file_stamp,
    sidecar_path,
    write_sidecar,
)
from model.cli import main
from model.index import client as index_client
from model.index.rebuild import HEARTBEAT
from model.index.writer_lock import WriterLock
from model.storage import clean_caches
from model.storage_index import GONE, HOST_ENV, read_folder

KEPT = ("aaaa000011112222", "bbbb000011112222")  # runs still under the root
DELETED = ("cccc000011112222", "dddd000011112222", "eeee000011112222")  # runs deleted since
ACTIVE_ELSEWHERE = DELETED[2]  # the active checkpoint lives outside the root


def _collections(folder: Path) -> dict[str, int]:
    return {c.name: c.count for c in read_folder(folder).collections}


def _index(client: chromadb.ClientAPI, name: str, studies: int, **meta: object) -> None:
    collection = client.create_collection(
        name, embedding_function=None, metadata={"checkpoint": name, **meta}
    )
    vectors = np.random.default_rng(studies).random((studies, 8)).tolist()
    collection.add(ids=[f"s{i}" for i in range(studies)], embeddings=vectors)


def _checkpoint(path: Path, fingerprint: str, sidecar: bool = True) -> None:
    """A checkpoint file the safe loader reads (weights left out), with its sidecar or not."""
    import torch

    path.parent.mkdir(parents=True, exist_ok=True)
    payload = {"format": "cmr-clip-checkpoint", "format_version": 1, "config": "{}"}
    torch.save({**payload, "fingerprint": fingerprint, "state_dict": {}}, path)
    if sidecar:
        meta = CheckpointMeta(path, {}, fingerprint, "", 1, 1)
        write_sidecar(path, CheckpointFacts(meta, None), file_stamp(path))


@pytest.fixture(scope="module")
def template(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data root a year on: five checkpoints indexed, three of their runs deleted since, and
    a rebuild of a kept one killed an hour ago (its staging collection left behind)."""
    root = tmp_path_factory.mktemp("year") / "data"
    folder = root / "ds" / "chroma"
    client = chromadb.PersistentClient(str(folder), Settings(anonymized_telemetry=False))
    for i, fingerprint in enumerate(KEPT + DELETED):
        _index(client, f"cmrclip-{fingerprint}", 5 + i)
    _index(client, f"rebuilding-cmrclip-{KEPT[0]}", 3, **{HEARTBEAT: time.time() - 3600})
    SharedSystemClient.clear_system_cache()
    for fingerprint in KEPT:
        _checkpoint(root / "runs" / fingerprint[:4] / "best.pt", fingerprint)
    return root


@pytest.fixture
def root(template: Path, tmp_path: Path) -> Path:
    root = tmp_path / "data"
    shutil.copytree(template, root)
    for fingerprint in KEPT:  # a sidecar vouches for its own file only: the copies' anew
        best = root / "runs" / fingerprint[:4] / "best.pt"
        meta = CheckpointMeta(best, {}, fingerprint, "", 1, 1)
        write_sidecar(best, CheckpointFacts(meta, None), file_stamp(best))
    elsewhere = tmp_path / "elsewhere" / "best.pt"
    _checkpoint(elsewhere, ACTIVE_ELSEWHERE)
    (root / "active.json").write_text(json.dumps({"checkpoint": str(elsewhere)}))
    return root


def _tree(root: Path) -> dict[str, tuple[int, int]]:
    """Every file and folder under ``root``: its size and mtime (ns)."""
    found = {}
    for path in [root, *root.rglob("*")]:
        stat = path.lstat()
        found[str(path.relative_to(root))] = (stat.st_size, stat.st_mtime_ns)
    return found


def test_the_listing_names_the_collections_of_deleted_checkpoints(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["storage", "--data-root", str(root)]) == 0
    out = capsys.readouterr().out
    assert "of checkpoints no longer under the data root: 2 collections, 15 studies" in out
    assert f"ds/chroma/cmrclip-{DELETED[0]}: 7 studies" in out
    assert f"ds/chroma/cmrclip-{DELETED[1]}: 8 studies" in out
    assert not any(f"cmrclip-{f}:" in out for f in (*KEPT, ACTIVE_ELSEWHERE))


def test_a_data_root_given_relative_is_listed_and_cleaned(
    root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.chdir(root.parent)  # `storage --data-root data`: sqlite's URI needs it whole
    assert main(["storage", "--data-root", root.name, "--clean-caches", "--apply"]) == 0
    out = capsys.readouterr().out
    assert f"ds/chroma/cmrclip-{DELETED[0]} (7 studies)" in out
    assert "of checkpoints no longer under the data root: none" in out


def test_a_dry_run_leaves_the_root_byte_identical(root: Path) -> None:
    late = root / "runs" / "late" / "last.pt"
    _checkpoint(late, KEPT[1], sidecar=False)  # read with torch: no sidecar may be written
    (root / "ds" / "chroma.writer.lock").write_text("")
    before = _tree(root)
    cleaning = clean_caches(root)
    assert _tree(root) == before
    assert not sidecar_path(late).exists()
    gone = {r.path.name: r.detail for r in cleaning.removals if r.why == GONE}
    assert gone == {f"cmrclip-{DELETED[0]}": "7 studies", f"cmrclip-{DELETED[1]}": "8 studies"}


def test_cleaning_deletes_them_and_what_rebuilds_and_chroma_left(root: Path) -> None:
    folder = root / "ds" / "chroma"
    segments_before = {p.name for p in folder.iterdir() if p.is_dir()}
    database_before = (folder / "chroma.sqlite3").stat().st_size
    cleaning = clean_caches(root, apply=True)
    assert set(_collections(folder)) == {f"cmrclip-{f}" for f in (*KEPT, ACTIVE_ELSEWHERE)}
    assert _collections(folder)[f"cmrclip-{KEPT[0]}"] == 5  # untouched
    segments_after = {p.name for p in folder.iterdir() if p.is_dir()}
    assert len(segments_before - segments_after) == 3  # two deleted, the dead rebuild's
    assert not read_folder(folder).orphans
    (note,) = cleaning.databases
    assert note.startswith(f"{folder / 'chroma.sqlite3'}: compacted, ")
    assert read_folder(folder).free == 0  # the deleted rows' pages left the file
    shrunk = database_before - (folder / "chroma.sqlite3").stat().st_size
    assert shrunk > 0
    assert cleaning.freed >= sum(r.bytes for r in cleaning.removals) + shrunk
    assert (root / "runs" / "aaaa" / "best.pt").is_file()


def test_nothing_is_deleted_while_an_index_run_writes(root: Path) -> None:
    folder = root / "ds" / "chroma"
    before = _collections(folder)
    with WriterLock(folder):
        cleaning = clean_caches(root, apply=True)
    assert _collections(folder) == before
    assert any("writing the index" in note for note in cleaning.skipped)


def test_no_collection_goes_while_a_checkpoint_cannot_be_read(root: Path) -> None:
    (root / "runs" / "broken").mkdir()
    (root / "runs" / "broken" / "best.pt").write_bytes(b"not a checkpoint")
    cleaning = clean_caches(root)
    assert not [r for r in cleaning.removals if r.why == GONE]
    assert any("case indexes" in note and "cannot be read" in note for note in cleaning.skipped)
    (root / "runs" / "broken" / "best.pt").unlink()
    active = root.parent / "elsewhere" / "bad.pt"  # the active one, outside the root
    active.write_bytes(b"not one either")
    (root / "active.json").write_text(json.dumps({"checkpoint": str(active)}))
    cleaning = clean_caches(root)
    assert not [r for r in cleaning.removals if r.why == GONE]
    assert any(f"the active checkpoint {active} cannot be read" in n for n in cleaning.skipped)


def test_a_server_is_cleaned_only_when_asked(
    root: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    shutil.rmtree(root / "ds" / "chroma")  # the server's index only (no child process to start)
    server = chromadb.EphemeralClient(Settings(anonymized_telemetry=False))
    for name in (f"cmrclip-{KEPT[1]}", f"cmrclip-{DELETED[1]}", f"cmrclip-{ACTIVE_ELSEWHERE}"):
        _index(server, name, 4)
    monkeypatch.setenv(HOST_ENV, "chroma.lab")
    monkeypatch.setattr(index_client, "open_client", lambda location, create=True: server)
    assert main(["storage", "--data-root", str(root), "--clean-caches", "--apply"]) == 0
    out = capsys.readouterr().out
    assert "the Chroma server chroma.lab (CMR_CHROMA_HOST): not read" in out
    assert "--include-server-index" in out and len(server.list_collections()) == 3
    assert "the Chroma server chroma.lab is not read" in out  # the listing says so too
    command = ["storage", "--data-root", str(root), "--clean-caches", "--apply"]
    assert main([*command, "--include-server-index"]) == 0
    out = capsys.readouterr().out
    assert f"chroma.lab:8000/cmrclip-{DELETED[1]} (4 studies, on the server" in out
    listed = "(none under the root)\n    of checkpoints no longer under the data root: none"
    assert listed in out  # the server's listing, with nothing of it left to clean
    left = {c.name for c in server.list_collections()}
    assert left == {f"cmrclip-{KEPT[1]}", f"cmrclip-{ACTIVE_ELSEWHERE}"}


def test_the_server_flag_needs_a_server_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    assert HOST_ENV == index_client.HOST_ENV
    monkeypatch.delenv(HOST_ENV, raising=False)
    assert main(["storage", "--data-root", str(tmp_path), "--include-server-index"]) == 2
    assert f"no Chroma server is named; set {HOST_ENV}" in caplog.text


def test_a_folder_a_chroma_server_serves_is_left_alone_and_the_rest_cleaned(
    root: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    """``chroma run --path ROOT/ds/chroma`` caches its collections and segments: nothing of the
    folder is deleted under it, dry run or not, and the line says what to do instead; the rest
    (here a write interrupted two days ago) is still cleaned."""
    from file_holder import server_on

    from model.index.client import ChromaLocation

    folder = root / "ds" / "chroma"
    before, segments = _collections(folder), {p.name for p in folder.iterdir()}
    left = root / "runs" / ".metrics.jsonl.k3x9.tmp"
    left.write_text("{")
    os.utime(left, (time.time() - 2 * 86400,) * 2)
    with server_on(folder, "--port", "8824") as server:
        assert main(["storage", "--data-root", str(root), "--clean-caches"]) == 0
        dry = capsys.readouterr().out
        cleaning = clean_caches(root, apply=True)
        near = clean_caches(root, apply=True, server=ChromaLocation(host="localhost", port=8824))
    assert _collections(folder) == before and {p.name for p in folder.iterdir()} == segments
    assert not left.exists() and [r.path for r in cleaning.removals] == [left]
    (said,) = [n for n in cleaning.skipped if "Chroma server" in n]
    assert said.startswith(f"{folder}: a Chroma server (pid {server.pid}, `")
    assert said.endswith(
        "CMR_CHROMA_HOST=localhost CMR_CHROMA_PORT=8824 python -m model storage --clean-caches "
        "--apply --include-server-index"
    )
    assert f"left alone: {said}\n" in dry and "cmrclip-" not in dry.split("\n\n")[0]
    assert f"a Chroma server (pid {server.pid}) serves it: --clean-caches leaves" in dry
    assert f"{folder}: cleaned through the Chroma server that serves it" in "".join(near.skipped)


def test_a_database_that_cannot_be_compacted_keeps_its_free_pages_and_says_so(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    folder = root / "ds" / "chroma"
    monkeypatch.setattr(storage_index, "compact_database", lambda folder: False)  # busy 60 s
    cleaning = clean_caches(root, apply=True)
    (note,) = cleaning.databases
    assert "chroma.sqlite3: could not be compacted" in note
    assert note.endswith("stays free pages") and read_folder(folder).free > 0
    assert cleaning.freed == sum(r.bytes for r in cleaning.removals) > 0
