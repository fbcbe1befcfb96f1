"""Renames outside ``model.atomic``'s writers sync their folder (``sync_folder``) right after,
so a power cut keeps the new name: a damaged last.pt set aside before a resume, an uploaded
zip's spool, and the unpacked import's folder."""

from __future__ import annotations

import io
import os
from pathlib import Path

import pytest
from dashboard_fixtures import DICOM_BYTES, zip_bytes

import dashboard.zip_import as zip_import
import dashboard.zip_ingest as zip_ingest
import model.training.checkpoint as checkpoint
from model.checkpoint_meta import CheckpointMeta
from model.errors import CheckpointError

Synced = list[tuple[Path, set[str]]]


def _recording(monkeypatch: pytest.MonkeyPatch, module: object) -> Synced:
    """The folders ``module`` synced, each with the names it held then."""
    calls: Synced = []

    def record(folder: str | Path) -> None:
        calls.append((Path(folder), {p.name for p in Path(folder).iterdir()}))

    monkeypatch.setattr(module, "sync_folder", record)
    return calls


def test_a_damaged_last_pt_set_aside_is_synced_before_it_is_replaced(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    last, best = tmp_path / "last.pt", tmp_path / "best.pt"
    last.write_bytes(b"damaged")
    best.write_bytes(b"good")

    def verify(path: Path) -> CheckpointMeta:
        if path == last:
            raise CheckpointError(f"{path} is damaged")
        return CheckpointMeta(path, {}, "ab12", "", 1, 7)

    monkeypatch.setattr(checkpoint, "verify_resumable", verify)
    synced = _recording(monkeypatch, checkpoint)
    checkpoint.recover_last_checkpoint(last, best)
    assert last.read_bytes() == b"good"
    assert len(synced) == 1 and synced[0][0] == tmp_path
    names = synced[0][1]
    assert "last.pt" not in names  # synced after the move, before the copy of best.pt
    assert any(n.startswith("last.damaged-") and n.endswith(".pt") for n in names)


def test_an_uploaded_zip_is_spooled_durably(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced = _recording(monkeypatch, zip_ingest)
    real, files = os.fsync, []

    def fsync(fd: int) -> None:  # the copy's bytes, synced before it is renamed
        files.append(os.readlink(f"/proc/self/fd/{fd}"))
        real(fd)

    monkeypatch.setattr(os, "fsync", fsync)
    folder = tmp_path / "uploads" / "site-b"
    spool = zip_ingest.save_upload(io.BytesIO(b"PK zip bytes"), folder)
    assert synced == [(spool.parent, {spool.name})]
    assert len(files) == 1 and files[0].endswith(".part")


def test_an_unpacked_import_is_synced_once_renamed_into_place(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    synced = _recording(monkeypatch, zip_import)
    target = tmp_path / "uploads" / "scan"
    zip_import.extract_zip(io.BytesIO(zip_bytes({"a/1.dcm": DICOM_BYTES})), target)
    assert synced == [(target.parent, {"scan"})]
