"""A file's age on the data root is read on the clock that stamped it (``dashboard.file_clock``):
a probe written in a folder above it, or beside it, and this machine's clock only where none can
be written."""

from __future__ import annotations

import os
import tempfile
import time
from pathlib import Path

import pytest

from dashboard import file_clock
from dashboard.file_clock import silent_s


def _written_ago(path: Path, seconds: float) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("{}")
    stamp = time.time() - seconds
    os.utime(path, (stamp, stamp))
    return path


def test_a_files_age_is_the_file_systems_whatever_this_clock_says(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    older = _written_ago(tmp_path / "job" / "log.txt", 500)
    newer = _written_ago(tmp_path / "job" / "job.json", 100)
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 86_400)  # a day off
    assert 100 <= silent_s([older, newer, tmp_path / "job" / "none.json"]) < 160
    assert sorted(p.name for p in (tmp_path / "job").iterdir()) == ["job.json", "log.txt"]
    assert silent_s([tmp_path / "job" / "none.json"]) is None


def _writable_only(monkeypatch: pytest.MonkeyPatch, names: set[str]) -> list[str]:
    """Probes succeed only in folders called one of ``names``; returns the folders tried."""
    real_mkstemp, probed = tempfile.mkstemp, []

    def mkstemp(*args, dir: str, **kwargs):  # noqa: A002 - tempfile's own name
        probed.append(Path(dir).name)
        if Path(dir).name not in names:
            raise PermissionError(13, "Permission denied", dir)
        return real_mkstemp(*args, dir=dir, **kwargs)

    monkeypatch.setattr(file_clock.tempfile, "mkstemp", mkstemp)
    return probed


def test_a_folder_this_account_cannot_write_is_probed_above_and_else_by_this_clock(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    status = _written_ago(tmp_path / "runs" / "alices-run" / "status.json", 100)
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 86_400)
    probed = _writable_only(monkeypatch, {"alices-run"})  # runs/ and the root are not hers
    assert 100 <= silent_s([status]) < 160
    assert probed == ["runs", tmp_path.name, "alices-run"]
    assert not [p for p in status.parent.iterdir() if p.name.startswith(".")]
    _writable_only(monkeypatch, set())  # nothing to probe: this machine's clock, as before
    assert 86_400 + 100 <= silent_s([status]) < 86_400 + 160


def test_judging_a_run_leaves_its_folder_as_old_as_it_was(tmp_path: Path) -> None:
    """A probe beside status.json moved the run folder's modification time, which lists runs
    newest first: another machine's silent run rose to the top (and became the default
    checkpoint) whenever a page judged it."""
    from dashboard.settings import Settings

    lost = _written_ago(tmp_path / "runs" / "lost-elsewhere" / "status.json", 7200)
    _written_ago(tmp_path / "runs" / "mine" / "status.json", 60)
    stamp = time.time() - 7200
    os.utime(lost.parent, (stamp, stamp))
    newest_first = Settings(data_root=tmp_path).runs()
    assert 7200 <= silent_s([lost]) < 7260
    assert lost.parent.stat().st_mtime == stamp
    assert Settings(data_root=tmp_path).runs() == newest_first
