"""The demo build retrains a run that trained on a dataset the build redid: a root an older
version built (no completion records), whose internal site a repair ingests anew."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import pytest
from test_demo_resume import SMALL, _fake_sites, _record_commands

from model.demo import DemoLayout, DemoOptions, build_demo
from model.errors import UserError


def _finished_run(layout: DemoLayout) -> None:
    """The demo's run, finished (best.pt and last.pt) on the dataset as it was."""
    layout.run.mkdir(parents=True)
    layout.checkpoint.write_bytes(b"old model")
    (layout.run / "last.pt").write_bytes(b"old model")
    (layout.run / "status.json").write_text(json.dumps({"state": "finished"}))


def test_a_demo_run_whose_dataset_the_build_ingested_anew_is_set_aside_and_retrained(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A root an older version built keeps no completion records, so 'Check and repair' ingests
    its sites anew (splitting the studies by today's rule); its finished run, trained on the
    earlier dataset, must not stay the demo model of the new one (indexed, evaluated, studies it
    trained on now in the test split), nor be resumed (train refuses another dataset)."""
    layout = DemoLayout(tmp_path)
    _fake_sites(layout, ingested=("external",))
    (layout.dataset("internal") / "studies.parquet").parent.mkdir(parents=True)
    (layout.dataset("internal") / "studies.parquet").write_bytes(b"an older build's")
    _finished_run(layout)
    ran = _record_commands(monkeypatch)
    with caplog.at_level(logging.WARNING, logger="model.demo"), pytest.raises(UserError):
        build_demo(DemoOptions(root=tmp_path, **SMALL))  # the recorder trains nothing
    train = [argv for name, argv in ran if name == "model.training.train"]
    assert len(train) == 1 and "--resume" not in train[0]
    aside = layout.run.with_name(f"{layout.run.name}-previous")
    assert (aside / "best.pt").read_bytes() == b"old model" and not layout.run.exists()
    assert "which this build redid" in caplog.text and str(aside) in caplog.text


def test_a_demo_run_on_a_dataset_the_build_kept_is_kept(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Only the external site ingested anew: the run, trained on the internal one, stays."""
    layout = DemoLayout(tmp_path)
    _fake_sites(layout, ingested=("internal",))
    _finished_run(layout)
    ran = _record_commands(monkeypatch)
    build_demo(DemoOptions(root=tmp_path, **SMALL))
    assert "model.training.train" not in [name for name, _ in ran]
    assert layout.checkpoint.read_bytes() == b"old model"
