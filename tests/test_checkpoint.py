"""Checkpoints: round trip with the safe loader, fingerprints, and refusal of foreign files."""

from __future__ import annotations

import json
import pickle
import random
from pathlib import Path

import numpy as np
import pytest
import torch

from model.errors import CheckpointError
from model.training.checkpoint import (
    capture_rng,
    load_checkpoint,
    read_checkpoint_meta,
    restore_rng,
    save_checkpoint,
    weights_fingerprint,
)
from tests.tiny_dataset import shared_tiny_checkpoint


@pytest.fixture(scope="module")
def tiny_checkpoint() -> Path:
    return shared_tiny_checkpoint()[1]


def test_round_trip_restores_weights_and_meta(tiny_checkpoint: Path, tmp_path: Path) -> None:
    model, meta = load_checkpoint(tiny_checkpoint)
    assert meta.step == 2
    assert meta.config["model"]["embed_dim"] == 32
    assert meta.tokenizer and len(meta.data_fingerprint) == 16
    payload = torch.load(tiny_checkpoint, weights_only=True)
    record = payload["pretrained"]  # training stores the frozen text weights by reference
    assert record["names"] == sorted(model.pretrained_state_names())
    assert not set(record["names"]) & set(payload["state_dict"])
    assert meta.fingerprint == weights_fingerprint(payload["state_dict"], record["fingerprint"])
    copy = tmp_path / "copy.pt"  # every tensor stored: the loader takes both forms
    save_checkpoint(copy, model, meta.config, data_fingerprint="d", epoch=1, step=2)
    again, again_meta = load_checkpoint(copy)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, again.state_dict()[name]), name
    assert again_meta.fingerprint == weights_fingerprint(model.state_dict())
    assert not model.training


def test_pretrained_weights_stored_by_reference_load_back_from_the_wheel(
    tiny_checkpoint: Path, tmp_path: Path
) -> None:
    model, meta = load_checkpoint(tiny_checkpoint)
    names = model.pretrained_state_names()
    parameters = dict(model.named_parameters())
    assert names and all(not parameters[n].requires_grad for n in names if n in parameters)
    assert not [n for n, p in parameters.items() if not p.requires_grad and n not in names]
    whole, by_reference = tmp_path / "whole.pt", tmp_path / "by_reference.pt"
    save_checkpoint(whole, model, meta.config, data_fingerprint="d", epoch=1, step=2)
    save_checkpoint(
        by_reference, model, meta.config, data_fingerprint="d", epoch=1, step=2, pretrained=names
    )
    assert by_reference.stat().st_size < whole.stat().st_size / 3
    again, again_meta = load_checkpoint(by_reference)
    for name, tensor in model.state_dict().items():
        assert torch.equal(tensor, again.state_dict()[name]), name
    assert again_meta.fingerprint == meta.fingerprint  # the same weights, stored the same way


def test_other_pretrained_weights_are_refused(tiny_checkpoint: Path, tmp_path: Path) -> None:
    payload = torch.load(tiny_checkpoint, weights_only=True)
    payload["pretrained"]["fingerprint"] = "0" * 16  # trained on another MiniLM build
    other = tmp_path / "other.pt"
    torch.save(payload, other)
    with pytest.raises(CheckpointError, match="other pretrained text weights"):
        load_checkpoint(other)
    payload["pretrained"]["names"] = payload["pretrained"]["names"][1:]
    torch.save(payload, other)
    with pytest.raises(CheckpointError, match="does not hold as frozen"):
        load_checkpoint(other)
    payload["pretrained"] = ["not", "a", "record"]
    torch.save(payload, other)
    with pytest.raises(CheckpointError, match="unreadable"):
        load_checkpoint(other)


def test_fingerprint_changes_with_the_weights(tiny_checkpoint: Path) -> None:
    model, meta = load_checkpoint(tiny_checkpoint)
    with torch.no_grad():
        model.logit_scale.add_(0.5)
    assert weights_fingerprint(model.state_dict()) != meta.fingerprint


def test_meta_is_read_without_building_the_model(tiny_checkpoint: Path) -> None:
    meta = read_checkpoint_meta(tiny_checkpoint)
    assert meta.epoch >= 0 and meta.config["train"]["batch_size"] == 8


class Payload:
    """A class the safe loader must refuse to construct."""

    def __reduce__(self):
        return (print, ("code ran while loading",))


@pytest.mark.parametrize(
    ("write", "message"),
    [
        (lambda p: p.write_bytes(pickle.dumps(Payload())), "not a loadable CMR-CLIP checkpoint"),
        (lambda p: torch.save({"state_dict": {}}, p), "not a CMR-CLIP checkpoint"),
        (lambda p: torch.save(torch.zeros(3), p), "not a CMR-CLIP checkpoint"),
        (lambda p: p.write_text("hello"), "not a loadable CMR-CLIP checkpoint"),
    ],
)
def test_foreign_files_are_refused(tmp_path: Path, write, message: str) -> None:
    path = tmp_path / "foreign.pt"
    write(path)
    with pytest.raises(CheckpointError, match=message):
        load_checkpoint(path)


def test_torch_pickled_object_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "object.pt"
    torch.save({"format": "cmr-clip-checkpoint", "obj": Payload()}, path)
    with pytest.raises(CheckpointError, match="safe loader"):
        load_checkpoint(path)


def test_truncated_and_missing_files_are_refused(tiny_checkpoint: Path, tmp_path: Path) -> None:
    broken = tmp_path / "broken.pt"
    broken.write_bytes(tiny_checkpoint.read_bytes()[:5000])
    with pytest.raises(CheckpointError):
        load_checkpoint(broken)
    with pytest.raises(CheckpointError, match="does not exist"):
        load_checkpoint(tmp_path / "missing.pt")


def test_mismatched_config_is_refused(tiny_checkpoint: Path, tmp_path: Path) -> None:
    model, meta = load_checkpoint(tiny_checkpoint)
    config = json.loads(json.dumps(meta.config))
    config["model"]["embed_dim"] = 64
    path = tmp_path / "mismatch.pt"
    save_checkpoint(path, model, config, data_fingerprint="d", epoch=0, step=0)
    with pytest.raises(CheckpointError, match="do not match"):
        load_checkpoint(path)


def test_rng_capture_and_restore_replays_draws() -> None:
    state = capture_rng()
    first = (torch.rand(3), np.random.rand(2), random.random())
    restore_rng(state)
    second = (torch.rand(3), np.random.rand(2), random.random())
    assert torch.equal(first[0], second[0])
    assert (first[1] == second[1]).all() and first[2] == second[2]
