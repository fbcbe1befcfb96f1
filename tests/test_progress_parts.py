"""While a training run validates, the job's bar keeps saying which epoch of how many it is
(``Progress.part``): the validation's embedding wrote its own record over the training's, and
the bar jumped to "embed studies — 40/100" and back after every epoch."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from tiny_dataset import make_tiny_checkpoint, make_tiny_dataset

from dashboard.formatting import progress_label
from model.progress import PROGRESS_ENV, Progress
from model.training import validation


def test_a_progress_opened_in_a_part_reports_into_the_outer_record(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "progress.json"
    monkeypatch.setenv(PROGRESS_ENV, str(path))
    with Progress("train", total=160, estimated=True) as bar:
        bar.update(30)
        with bar.part("epoch 3/~16 · validating"):
            with Progress("embed studies", total=10) as inner:
                inner.update(4)
            during = json.loads(path.read_text())  # its last share (the first one's throttled)
        after = json.loads(path.read_text())
    assert (during["stage"], during["done"], during["total"]) == ("train", 30, 160)
    assert (during["part"], during["part_fraction"]) == ("epoch 3/~16 · validating", 0.4)
    assert progress_label(during).startswith("train — 30/~160 · epoch 3/~16 · validating 40 %")
    assert after["part"] is None and progress_label(after).startswith("train — 30/~160")
    with Progress("embed studies", total=10) as alone:  # outside a part: its own record
        alone.update(5)
    assert json.loads(path.read_text())["stage"] == "embed studies"


def test_training_validates_under_its_own_bar(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "progress.json"
    monkeypatch.setenv(PROGRESS_ENV, str(path))
    seen = []
    real = validation.encode_studies

    def encode(*args, **kwargs):
        embeddings = real(*args, **kwargs)
        seen.append(json.loads(path.read_text()))
        return embeddings

    monkeypatch.setattr(validation, "encode_studies", encode)
    data = make_tiny_dataset(tmp_path / "demo", n=6)
    make_tiny_checkpoint(data, tmp_path / "run")
    assert seen, "the run validated"
    for epoch, record in enumerate(seen, start=1):
        assert record["stage"] == "train"
        assert record["part"] == f"epoch {epoch}/{len(seen)} · validating"
        assert record["part_fraction"] == 1.0
