"""Several people on one data root: when the checkpoint or dataset an open page uses is deleted
by someone else, the page moves on to another one and says so, instead of showing another
model's or dataset's results under the same headings without a word."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from dashboard_fixtures import finished_run, make_tiny_dataset
from streamlit.testing.v1 import AppTest

from dashboard.settings import Settings

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def _notices(at: AppTest) -> list[str]:
    return [w.value for w in at.warning if "no longer exists" in w.value]


def test_a_page_says_its_checkpoint_was_deleted_and_which_it_uses_now(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "data"
    make_tiny_dataset(root / "ds" / "tiny", n=2)
    older, newer = finished_run(root, "older", 600), finished_run(root, "newer", 300)
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    Settings(root).write_active(checkpoint=newer)
    home = AppTest.from_file(APP, default_timeout=60).run()  # Bob's page, on newer
    assert not home.exception and not _notices(home)
    Settings(root).write_active(checkpoint=older)  # Alice chooses another run...
    shutil.rmtree(newer.parent)  # ...and deletes the one Bob has open
    home.run()
    assert not home.exception, [e.value for e in home.exception]
    [notice] = _notices(home)
    assert "runs/newer/best.pt" in notice and "runs/older/best.pt" in notice
    home.run()  # said once: the page now shows older, as its status line says
    assert not _notices(home)
    [status] = [m.value for m in home.markdown if "**active checkpoint**" in m.value]
    assert "`runs/older/best.pt`" in status


def test_a_page_says_its_dataset_was_deleted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "data"
    tiny = make_tiny_dataset(root / "ds" / "tiny", n=2)
    other = make_tiny_dataset(root / "ds" / "other", n=2, seed=1)
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    Settings(root).write_active(dataset=other)
    home = AppTest.from_file(APP, default_timeout=60).run()
    assert home.selectbox(key="home-dataset").value == other
    shutil.rmtree(other)  # deleted on another dashboard
    home.run()
    assert not home.exception, [e.value for e in home.exception]
    [notice] = _notices(home)
    assert "ds/other" in notice and "ds/tiny" in notice
    assert home.selectbox(key="home-dataset").value == tiny


def test_the_last_checkpoint_deleted_is_said_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "data"
    make_tiny_dataset(root / "ds" / "tiny", n=2)
    only = finished_run(root, "only", 300)
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    home = AppTest.from_file(APP, default_timeout=60).run()
    shutil.rmtree(only.parent)  # on another dashboard: no checkpoint is left
    home.run()
    [notice] = _notices(home)
    assert "runs/only/best.pt" in notice and "none" in notice
    home.run()
    assert not home.exception and not _notices(home)
