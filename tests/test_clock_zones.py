"""Times shown to a reader in another zone than the server's say their zone; names sort in the
order things were made across a daylight-saving change (``model.clock``)."""

from __future__ import annotations

import json
import logging
import os
import time
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from dashboard_fixtures import finished_run

from dashboard.evaluation_view import evaluation_command, list_evaluations
from dashboard.job import _clock
from dashboard.run_state import _state_elsewhere
from dashboard.run_view import runs_columns
from dashboard.runs import runs_table, updated_at
from dashboard.settings import Settings
from model.clock import LOG_DATE_FORMAT, local_clock, stamped_at, utc_stamp, zone_name
from model.file_lock import FileLock, _read_holder
from model.progress import LOG_FORMAT

# 2026-11-01 01:30 PDT, then 40 minutes later 01:10 PST: Los Angeles' clocks went back at 02:00.
BEFORE_FALL_BACK = 1793521800.0
AFTER_FALL_BACK = BEFORE_FALL_BACK + 40 * 60


@pytest.fixture
def zone(monkeypatch: pytest.MonkeyPatch) -> Iterator[object]:
    """Set the server's zone for the test (``TZ`` and ``time.tzset``), restored afterwards."""

    def use(name: str) -> None:
        monkeypatch.setenv("TZ", name)
        time.tzset()

    yield use
    monkeypatch.undo()
    time.tzset()


def test_a_job_time_names_the_server_zone(zone) -> None:  # type: ignore[no-untyped-def]
    """A reader in Berlin read 'started at 09:03:04' from a server in Tokyo as Berlin time."""
    zone("Asia/Tokyo")
    now = time.mktime((2026, 12, 5, 18, 0, 0, 0, 0, -1))
    assert _clock(time.mktime((2026, 12, 5, 9, 3, 4, 0, 0, -1)), now) == "09:03:04 JST"
    assert _clock(time.mktime((2026, 12, 3, 14, 2, 5, 0, 0, -1)), now) == "12-03 14:02:05 JST"


def test_the_zone_is_that_of_the_instant_across_daylight_saving(zone) -> None:  # type: ignore[no-untyped-def]
    """The earlier of two jobs showed 01:30 and the later 01:10 on the night clocks went back."""
    zone("America/Los_Angeles")
    assert local_clock(BEFORE_FALL_BACK) == "01:30:00 PDT"
    assert local_clock(AFTER_FALL_BACK) == "01:10:00 PST"
    assert _clock(AFTER_FALL_BACK, AFTER_FALL_BACK) == "01:10:00 PST"
    heard = _state_elsewhere("running", "gpu1", 3600.0)
    assert heard.startswith("lost on gpu1 (last heard ") and heard.endswith(("PST)", "PDT)"))


def test_a_zone_without_letters_is_written_as_its_offset(zone) -> None:  # type: ignore[no-untyped-def]
    zone("Asia/Kolkata")
    assert local_clock(0, "%H:%M") == "05:30 IST"
    zone("<+0530>-5:30")
    assert zone_name(time.localtime(0)) == "UTC+05:30"
    zone("<-03>3")
    assert zone_name(time.localtime(0)) == "UTC-03:00"


def test_names_stamped_across_the_change_sort_in_the_order_made(
    zone, monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """``eval-YYYYMMDD-HHMMSS`` on the local clock named the later evaluation 01:10, before the
    earlier one's 01:30; in UTC with a ``Z`` the names are in the order made, in any zone."""
    zone("America/Los_Angeles")
    settings = Settings(data_root=tmp_path)
    args = (settings, tmp_path / "best.pt", tmp_path / "ds", None, [tmp_path / "l.csv"], tmp_path)
    names = []
    for stamp in (BEFORE_FALL_BACK, AFTER_FALL_BACK):
        monkeypatch.setattr(time, "time", lambda stamp=stamp: stamp)
        names.append(evaluation_command(*args)[0].name)
    assert names == ["eval-20261101-083000Z", "eval-20261101-091000Z"]
    assert utc_stamp(AFTER_FALL_BACK) == "20261101-091000Z"


def test_a_lock_holder_and_a_log_line_name_the_zone(zone, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    zone("Asia/Tokyo")
    with FileLock(tmp_path / "lock", str):
        fd = os.open(tmp_path / "lock", os.O_RDONLY)
        try:
            assert _read_holder(fd).endswith(" JST")
        finally:
            os.close(fd)
    record = logging.LogRecord("model", logging.INFO, __file__, 1, "epoch 1", None, None)
    record.created = BEFORE_FALL_BACK
    line = logging.Formatter(LOG_FORMAT, datefmt=LOG_DATE_FORMAT).format(record)
    assert line.startswith("2026-11-01 17:30:00 JST INFO model: epoch 1")


def test_the_runs_table_sorts_updated_by_time_across_the_change(zone, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    """The Updated column was text ("11-01 01:10"): sorted by its letters, the run updated after
    the clocks went back came before the one 40 minutes earlier; January's before December's."""
    zone("America/Los_Angeles")
    stamps = {"before": BEFORE_FALL_BACK, "after": AFTER_FALL_BACK, "last-year": 1767225600.0}
    runs = []
    for name, stamp in stamps.items():
        best = finished_run(tmp_path, name, 0)
        status = best.parent / "status.json"
        status.write_text(json.dumps({"state": "finished", "updated": stamp}))
        runs.append(best.parent)
    table = runs_table(runs, tmp_path)
    newest_first = table.sort_values("updated", ascending=False)["run"].tolist()
    assert newest_first == ["runs/after", "runs/before", "runs/last-year"]
    assert str(table["updated"].dt.tz) == "UTC"
    shown = runs_columns("Europe/Berlin")["updated"]["type_config"]
    assert (shown["type"], shown["timezone"]) == ("datetime", "Europe/Berlin")


def test_an_unreadable_update_time_is_left_blank() -> None:
    assert updated_at(None) is pd.NaT and updated_at("soon") is pd.NaT


def test_evaluations_named_before_and_after_the_z_stamp_list_in_the_order_made(
    zone, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    """Listed by modification time, a data root copied without times (``cp -r``) listed its
    evaluations in copy order; by name, ``eval-20261205-180000`` (JST, 09:00 UTC) came before
    ``eval-20261205-100000Z`` made an hour after it."""
    zone("Asia/Tokyo")
    made = ["eval-20261205-170000", "eval-20261205-180000", "eval-20261205-100000Z",
            "eval-20261205-110000Z"]  # fmt: skip
    settings = Settings(data_root=tmp_path)
    for age, name in enumerate(made):  # the copy wrote the newest first: mtimes in reverse
        (settings.evaluations_dir / name).mkdir(parents=True)
        (settings.evaluations_dir / name / "zeroshot.csv").write_text("model\nm\n")
        os.utime(settings.evaluations_dir / name, (1e9 - age, 1e9 - age))
    named = settings.evaluations_dir / "my-rerun"  # no stamp: its modification time
    named.mkdir()
    (named / "zeroshot.csv").write_text("model\nm\n")
    stamp = time.mktime((2026, 12, 5, 19, 30, 0, 0, 0, -1))  # 10:30 UTC
    os.utime(named, (stamp, stamp))
    listed = [folder.name for folder in list_evaluations(settings)]
    assert listed == [made[3], "my-rerun", made[2], made[1], made[0]]
    assert stamped_at("eval-20261399-250000") is None and stamped_at("eval-x") is None
