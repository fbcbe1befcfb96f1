"""When an evaluation ran is in run.json, apart from the outputs a repeat writes byte for byte;
the Evaluate page says it, and for an evaluation written before run.json its summary's date."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dashboard.evaluated_weights import evaluated_line
from model.evaluation.run_times import RunClock, RunTimes, read_run_times, write_run_times


def test_run_json_says_when_it_started_and_finished_and_how_long_it_took(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = RunClock(wall=1_796_000_000.25, monotonic=100.0)
    monkeypatch.setattr("model.evaluation.run_times.time.monotonic", lambda: 378.44)
    path = write_run_times(tmp_path, clock)
    assert path == tmp_path / "run.json"
    assert json.loads(path.read_text()) == {
        "started": "2026-11-30T00:53:20Z",
        "finished": "2026-11-30T00:57:58Z",
        "duration_s": 278.4,
    }
    assert read_run_times(tmp_path, {}) == RunTimes(1_796_000_278.0, 278.4)


@pytest.mark.parametrize(
    ("run", "summary", "expected"),
    [
        (None, {"created": "2026-12-04T12:03:00Z"}, RunTimes(1_796_385_780.0)),  # before run.json
        ("[1]", {"created": "2026-12-04T12:03:00Z"}, RunTimes(1_796_385_780.0)),  # damaged
        ('{"finished": "2026-12-04T12:03:00Z", "duration_s": true}', {}, RunTimes(1_796_385_780.0)),
        ('{"finished": "yesterday"}', {"created": 5}, None),
        (None, {}, None),
    ],
)
def test_what_an_earlier_or_damaged_evaluation_says(
    tmp_path: Path, run: str | None, summary: dict, expected: RunTimes | None
) -> None:
    if run is not None:
        (tmp_path / "run.json").write_text(run)
    assert read_run_times(tmp_path, summary) == expected


def test_the_page_line_is_in_the_reader_s_zone() -> None:
    times = RunTimes(1_796_385_780.0, 278.4)
    assert evaluated_line(times, "UTC") == "Evaluated 2026-12-04 12:03 UTC, in 4 min 38 s."
    assert (
        evaluated_line(times, "Europe/Berlin") == "Evaluated 2026-12-04 13:03 CET, in 4 min 38 s."
    )
    assert evaluated_line(RunTimes(1_796_385_780.0), "UTC") == "Evaluated 2026-12-04 12:03 UTC."
    assert evaluated_line(None, "UTC") is None
