"""The demo build retrains a run that trained on another version of its dataset: a root an
older version built, whose sites a repair redid."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pandas as pd
import pytest
from test_demo_resume import SMALL, _fake_sites, _record_commands

from model.demo import DemoLayout, DemoOptions, build_demo
from model.errors import UserError


def _ingested_dataset(folder: Path, splits: tuple[str, ...]) -> None:
    """A real (tiny) dataset: one study per split entry, each with its tensor."""
    (folder / "tensors").mkdir(parents=True, exist_ok=True)
    (folder / "dataset.json").write_text(json.dumps({"frames": 2, "size": 4}))
    ids = [f"s{n:015x}" for n in range(len(splits))]
    studies = pd.DataFrame(
        {"study_id": ids, "split": list(splits), "view_frames": [[2] * 9] * len(ids)}
    )
    studies["impression"] = "Normal study."
    studies.to_parquet(folder / "studies.parquet")
    for study in ids:
        (folder / "tensors" / f"{study}.npy").write_bytes(b"T" * 64)


def test_a_demo_run_trained_on_an_earlier_version_of_its_dataset_is_set_aside_and_retrained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A root an older version built keeps no completion records, so 'Check and repair' redoes
    its sites (the ingest re-splits the studies by today's rule); its finished run, trained on
    the earlier dataset, must not be indexed and evaluated as the demo model of the new one
    (studies it trained on now in the test split), nor resumed (train refuses another dataset)."""
    layout = DemoLayout(tmp_path)
    _fake_sites(layout, ingested=("external",))
    _ingested_dataset(layout.dataset("internal"), ("train", "test"))
    layout.dataset_output("internal").finish()
    layout.run.mkdir(parents=True)
    layout.checkpoint.write_bytes(b"checkpoint")
    (layout.run / "last.pt").write_bytes(b"checkpoint")
    (layout.run / "status.json").write_text(json.dumps({"state": "finished"}))
    (layout.run / "config.json").write_text(json.dumps({"data_fingerprint": "0123456789abcdef"}))
    ran = _record_commands(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="model.demo"), pytest.raises(UserError):
        build_demo(DemoOptions(root=tmp_path, **SMALL))  # the recorder trains nothing
    train = [argv for name, argv in ran if name == "model.training.train"]
    assert len(train) == 1 and "--resume" not in train[0]
    aside = layout.run.with_name(f"{layout.run.name}-previous")
    assert (aside / "best.pt").read_bytes() == b"checkpoint" and not layout.run.exists()
    assert "trained on another version of" in caplog.text and str(aside) in caplog.text


def test_a_demo_run_trained_on_its_dataset_as_it_is_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from model.data.dataset import CMRDataset

    layout = DemoLayout(tmp_path)
    _fake_sites(layout, ingested=("external",))
    _ingested_dataset(layout.dataset("internal"), ("train", "test"))
    layout.dataset_output("internal").finish()
    layout.run.mkdir(parents=True)
    layout.checkpoint.write_bytes(b"checkpoint")
    (layout.run / "status.json").write_text(json.dumps({"state": "finished"}))
    current = CMRDataset.open(layout.dataset("internal")).fingerprint()
    (layout.run / "config.json").write_text(json.dumps({"data_fingerprint": current}))
    ran = _record_commands(monkeypatch)
    build_demo(DemoOptions(root=tmp_path, **SMALL))
    assert "model.training.train" not in [name for name, _ in ran]
    assert layout.checkpoint.read_bytes() == b"checkpoint"
