"""SIGTERM to a long command (the dashboard's Cancel signals the job's process group) ends it as
Ctrl-C does: one "stopped by SIGTERM; finished work is kept" line in its log and exit status 130,
its pool workers gone without tracebacks, nothing half-written. Before, ingest, index, embed and
evaluate took SIGTERM's default action and their job logs ended without a word."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from model_process import spawn_model, terminate_when

from model.atomic import temporaries
from model.data.dataset import DatasetPaths

pytestmark = pytest.mark.slow


def _ingest_stage_done(progress: Path) -> int:
    try:
        state = json.loads(progress.read_text())
    except (OSError, ValueError):
        return 0
    return int(state.get("done") or 0) if "ingest" in str(state.get("stage")) else 0


def test_sigterm_to_an_ingest_with_workers_says_so_and_leaves_nothing_half_written(
    tmp_path: Path,
) -> None:
    from sample_data.generate import generate

    raw = generate(tmp_path / "raw", studies=24, site="internal", seed=0).out
    out, log, progress = tmp_path / "ds", tmp_path / "ingest.log", tmp_path / "progress.json"
    command = ["ingest", str(raw / "dicom"), "--out", str(out), "--workers", "2"]
    proc = spawn_model(command, log, progress, own_session=True)
    code = terminate_when(proc, lambda: _ingest_stage_done(progress) >= 1, log)
    text = log.read_text(errors="replace")
    assert code == 130, text[-2000:]
    assert "stopped by SIGTERM; finished work is kept" in text, text[-2000:]
    assert "Traceback" not in text, text[-2000:]
    paths = DatasetPaths(out)
    assert not temporaries(out) and not temporaries(paths.tensors)
    assert not paths.studies.exists()  # its tables are written whole at the end, or not at all


def test_train_and_sweep_keep_their_own_stop() -> None:
    """SIGTERM to train finishes its step and saves last.pt (``stop_requests``), and a sweep
    passes it to the run in training and starts no other: the shared interrupt must not wrap
    either."""
    from model.cli import COMMANDS

    assert [c.name for c in COMMANDS if c.own_stop] == ["train", "sweep"]


def test_ingest_workers_leave_the_commands_process_group() -> None:
    """A Cancel signals the job's process group: a worker killed while writing its result left
    part of a message in the pool's result pipe, and the parent's shutdown waited for the rest
    forever (1 run in 5 on a loaded machine). Out of the group, the parent alone is signalled
    and stops the pool between studies."""
    from model.workers import process_pool

    executor = process_pool(2)
    assert executor is not None
    with executor:
        groups = {executor.submit(os.getpgrp).result(timeout=60) for _ in range(4)}
    assert os.getpgrp() not in groups
