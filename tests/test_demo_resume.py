"""The demo build continues after an interruption at any step, redoing only what is unfinished."""

from __future__ import annotations

import json
from pathlib import Path

from model import demo
from model.demo import DemoLayout, DemoOptions


def test_a_run_killed_before_its_first_checkpoint_starts_again(tmp_path: Path) -> None:
    """A run folder with no last.pt (killed in its first epoch) cannot be resumed: train fresh."""
    layout = DemoLayout(tmp_path)
    layout.run.mkdir(parents=True)
    (layout.run / "config.json").write_text("{}")
    (layout.run / "status.json").write_text(json.dumps({"state": "running"}))
    assert "--resume" not in demo._train_argv(DemoOptions(root=tmp_path), layout)
    (layout.run / "last.pt").write_bytes(b"checkpoint")
    assert demo._train_argv(DemoOptions(root=tmp_path), layout)[-1] == "--resume"
