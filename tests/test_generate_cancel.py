"""A generate (the demo's first step) stopped by SIGTERM to its process group, as the
dashboard's Cancel sends it, ends cleanly: its worker pool closed and its semaphores unlinked.
Killed outright, its multiprocessing resource tracker wrote "There appear to be 6 leaked
semaphore objects" warnings into the cancelled job's log."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from model_process import spawn_model, terminate_when

pytestmark = pytest.mark.slow


def _done(progress: Path) -> int:
    try:
        return int(json.loads(progress.read_text()).get("done") or 0)
    except (OSError, ValueError):
        return 0


def test_sigterm_to_a_generate_with_workers_leaves_no_leaked_semaphores(tmp_path: Path) -> None:
    log, progress = tmp_path / "generate.log", tmp_path / "progress.json"
    command = ["generate", "--out", str(tmp_path / "raw"), "--studies", "40", "--workers", "2"]
    proc = spawn_model(command, log, progress, own_session=True)
    code = terminate_when(proc, lambda: _done(progress) >= 2, log)
    time.sleep(1.0)  # the resource tracker writes its warnings once its last client is gone
    text = log.read_text(errors="replace")
    assert "leaked" not in text and "resource_tracker" not in text, text[-2000:]
    assert code == 130, text[-2000:]  # "interrupted; finished work is kept ..."
    assert "finished work is kept" in text
