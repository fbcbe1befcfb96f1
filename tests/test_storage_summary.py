"""Home's line on what the data root takes on disk: counted in the background at most once per
``REFRESH_S``, the last count shown."""

from __future__ import annotations

import time
from pathlib import Path

import pytest
from streamlit.testing.v1 import AppTest

from dashboard import storage_summary
from dashboard.storage_summary import REFRESH_S, storage_line, usage_line
from model.storage import survey
from tests.tiny_dataset import make_tiny_dataset

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture
def root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.setattr(storage_summary, "_COUNTS", {})
    root = (tmp_path / "data").resolve()
    make_tiny_dataset(root / "ds" / "tiny", n=4)
    (root / "jobs" / "j1").mkdir(parents=True)
    (root / "jobs" / "j1" / "log.txt").write_text("x" * 10_000)
    return root


def test_the_line_names_the_total_and_the_largest_kinds(root: Path) -> None:
    line = usage_line(survey(root).usage)
    assert line.startswith("On disk: ") and "datasets" in line and "job records" in line
    assert "python -m model storage --clean-caches" in line
    assert usage_line(survey(root / "nowhere").usage) == ""


def test_a_count_is_made_once_per_refresh_and_the_last_one_shown(root: Path) -> None:
    first = storage_line(root, now=1000.0, wait=True)
    assert first.startswith("On disk: ")
    (root / "jobs" / "j2").mkdir()
    (root / "jobs" / "j2" / "log.txt").write_text("y" * 2_000_000)
    assert storage_line(root, now=1000.0 + REFRESH_S / 2, wait=True) == first  # not counted again
    later = storage_line(root, now=1000.0 + REFRESH_S + 1, wait=True)
    assert later != first and "job records 2.0 MB" in later


def test_nothing_is_said_before_the_first_count_has_finished(
    root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(storage_summary, "_count", lambda *args: time.sleep(0.2))
    assert storage_line(root) == ""


def test_home_shows_it(root: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    line = storage_line(root, wait=True)
    at = AppTest.from_file(APP, default_timeout=60).run()
    assert not at.exception
    assert line in [caption.value for caption in at.caption]
