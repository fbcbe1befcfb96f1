"""A job's progress line: a pipeline's step says its ETA is of the part of the step it reports
(a site, a stage of a command), not the step's nor the whole job's."""

from __future__ import annotations

import contextlib
import json
from pathlib import Path

import pytest

from dashboard.formatting import progress_label
from model.progress import PROGRESS_ENV, Progress, stage_prefix


def _written(path: Path, prefix: str | None) -> dict:
    steps = stage_prefix(prefix) if prefix else contextlib.nullcontext()
    with steps, Progress("ingest", total=4) as bar:
        bar.update(4)
    return json.loads(path.read_text())


def test_a_pipeline_steps_eta_is_named_as_the_parts(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    path = tmp_path / "progress.json"
    monkeypatch.setenv(PROGRESS_ENV, str(path))
    step = _written(path, "2/4 ingest")
    assert step["pipeline_step"] is True
    alone = _written(path, None)
    assert alone["pipeline_step"] is False
    for progress in (step, alone):
        progress["eta_s"] = 90.0
    assert progress_label(step) == "2/4 ingest · ingest — 4/4 · ETA of this part 1m 30s"
    assert progress_label(alone) == "ingest — 4/4 · ETA 1m 30s"


def test_a_job_without_progress_yet_is_starting() -> None:
    assert progress_label({}) == "starting…"


def test_a_total_a_time_budget_still_chooses_is_shown_as_an_estimate(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A budgeted run's job bar read "3/15" beside the runs table's "3/~14": the same open
    count, once as if chosen. Once chosen, the count is exact again."""
    path = tmp_path / "progress.json"
    monkeypatch.setenv(PROGRESS_ENV, str(path))
    with Progress("train", total=200) as bar:
        bar.update(3)
        bar.set_total(15, estimated=True)
        assert progress_label(json.loads(path.read_text())).startswith("train — 3/~15")
        bar.set_total(26)
        assert progress_label(json.loads(path.read_text())).startswith("train — 3/26")
