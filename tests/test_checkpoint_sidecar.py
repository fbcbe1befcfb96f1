"""The metadata sidecar of a checkpoint (``model.checkpoint_meta``): written with it, trusted
only while it describes that very file, else ignored and the checkpoint read with torch."""

from __future__ import annotations

import math
import os
import shutil
from pathlib import Path

import pytest
import torch
from read_only_tree import read_only_tree
from torch import nn

from model.checkpoint_meta import (
    MAX_SIDECAR_BYTES,
    read_checkpoint_meta,
    read_sidecar,
    sidecar_path,
)
from model.training import checkpoint as ckpt
from model.zeroshot import checkpoint_scale

CONFIG = {"name": "tiny", "model": {"embed_dim": 4, "text": {"context_length": 40}}}


class Tiny(nn.Module):
    """Weights with a ``logit_scale``, as a CMR-CLIP model's: enough for metadata."""

    def __init__(self, scale: float) -> None:
        super().__init__()
        self.proj = nn.Linear(3, 4)
        self.logit_scale = nn.Parameter(torch.tensor(scale))


def _save(path: Path, step: int, scale: float = 2.0) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    ckpt.save_checkpoint(path, Tiny(scale), CONFIG, data_fingerprint="d" * 16, epoch=1, step=step)
    return path


def _no_torch_read(monkeypatch: pytest.MonkeyPatch) -> None:
    """Make any read of a checkpoint with torch fail the test."""

    def refuse(*args: object, **kwargs: object) -> None:
        raise AssertionError("read the checkpoint with torch")

    monkeypatch.setattr(ckpt, "read_checkpoint", refuse)


def test_a_saved_checkpoint_is_described_by_its_sidecar_without_reading_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = _save(tmp_path / "run" / "last.pt", step=7, scale=2.0)
    expected = ckpt.meta_from_payload(path, ckpt.read_checkpoint(path))
    assert sidecar_path(path) == tmp_path / "run" / "last.pt.meta.json"
    _no_torch_read(monkeypatch)
    assert read_checkpoint_meta(path) == expected
    assert checkpoint_scale(path) == float(torch.tensor(2.0).exp())
    assert read_checkpoint_meta(path).config["model"]["text"]["context_length"] == 40


def test_the_scale_is_capped_at_100_from_the_sidecar_too(tmp_path: Path) -> None:
    path = _save(tmp_path / "big.pt", step=1, scale=math.log(500.0))
    assert read_sidecar(path) is not None and checkpoint_scale(path) == 100.0


def test_a_published_copy_gets_a_sidecar_of_its_own(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    last = _save(tmp_path / "last.pt", step=3)
    best = tmp_path / "best.pt"
    ckpt.publish_copy(last, best)
    _no_torch_read(monkeypatch)
    meta = read_checkpoint_meta(best)
    assert meta.path == best and meta.step == 3


def test_a_sidecar_beside_another_checkpoint_is_never_trusted(tmp_path: Path) -> None:
    """A run folder copied with its sidecar, or a sidecar copied beside another checkpoint:
    another inode, so the checkpoint is read, and the sidecar rewritten for it."""
    one = _save(tmp_path / "a" / "best.pt", step=1)
    other = _save(tmp_path / "b" / "best.pt", step=2)
    shutil.copyfile(sidecar_path(one), sidecar_path(other))
    assert read_sidecar(other) is None
    assert read_checkpoint_meta(other).step == 2
    rewritten = read_sidecar(other)
    assert rewritten is not None and rewritten.meta.step == 2


def test_a_checkpoint_rewritten_in_place_is_read_again(tmp_path: Path) -> None:
    """Same file (inode), same size, another content and time: the sidecar no longer holds."""
    path = _save(tmp_path / "a" / "best.pt", step=1)
    other = _save(tmp_path / "b" / "best.pt", step=5)
    data = other.read_bytes()
    assert len(data) == path.stat().st_size  # the same architecture: the same size
    with open(path, "r+b") as handle:
        handle.write(data)
    stat = path.stat()
    os.utime(path, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000))
    assert read_sidecar(path) is None
    assert read_checkpoint_meta(path).step == 5


@pytest.mark.parametrize(
    "damage",
    ["{not json", "[]", '{"format": "cmr-clip-checkpoint-meta"}', "\udcff"],
    ids=["broken", "a list", "no fields", "not text"],
)
def test_a_damaged_sidecar_is_ignored_and_replaced(tmp_path: Path, damage: str) -> None:
    path = _save(tmp_path / "best.pt", step=4)
    sidecar_path(path).write_bytes(damage.encode("utf-8", "surrogateescape"))
    assert read_sidecar(path) is None
    assert read_checkpoint_meta(path).step == 4
    assert read_sidecar(path) is not None


def test_an_oversized_sidecar_is_not_read(tmp_path: Path) -> None:
    """A sidecar is a few kB; a valid one padded past ``MAX_SIDECAR_BYTES`` is not parsed."""
    path = _save(tmp_path / "best.pt", step=4)
    with open(sidecar_path(path), "a") as handle:
        handle.write(" " * (MAX_SIDECAR_BYTES + 1))
    assert read_sidecar(path) is None
    assert read_checkpoint_meta(path).step == 4


def test_a_sidecar_with_a_forged_field_of_the_wrong_type_is_ignored(tmp_path: Path) -> None:
    path = _save(tmp_path / "best.pt", step=4)
    text = sidecar_path(path).read_text()
    sidecar_path(path).write_text(text.replace('"extra": {}', '"extra": [1]'))
    assert read_sidecar(path) is None
    assert read_checkpoint_meta(path).extra == {}


def test_an_old_checkpoint_without_a_sidecar_is_read_and_given_one(tmp_path: Path) -> None:
    path = _save(tmp_path / "best.pt", step=6)
    sidecar_path(path).unlink()
    assert read_checkpoint_meta(path).step == 6
    found = read_sidecar(path)
    assert found is not None and found.meta.step == 6 and found.scale is not None


def test_a_checkpoint_in_a_read_only_folder_is_read_without_a_sidecar(tmp_path: Path) -> None:
    path = _save(tmp_path / "shared" / "best.pt", step=8)
    sidecar_path(path).unlink()
    with read_only_tree(path.parent):
        assert read_checkpoint_meta(path).step == 8
        assert checkpoint_scale(path) == float(torch.tensor(2.0).exp())
        assert not sidecar_path(path).exists()
        assert [p.name for p in path.parent.iterdir()] == ["best.pt"]  # no temporary left


def test_a_missing_checkpoint_is_named_even_with_a_sidecar_left(tmp_path: Path) -> None:
    path = _save(tmp_path / "best.pt", step=1)
    path.unlink()
    with pytest.raises(ckpt.CheckpointError, match="does not exist"):
        read_checkpoint_meta(path)
