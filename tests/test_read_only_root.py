"""A student opens the dashboard on a lab data root they may read but not write (another
account's files, or a read-only mount): everything there reads, and what would write says so in
one line instead of stopping the page."""

from __future__ import annotations

from pathlib import Path

import pytest
from dashboard_fixtures import make_tiny_dataset
from read_only_tree import read_only_tree
from streamlit.testing.v1 import AppTest

from dashboard.settings import Settings

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def test_a_dataset_is_chosen_for_the_session_on_a_root_this_user_cannot_write(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = tmp_path / "data"
    tiny = make_tiny_dataset(root / "ds" / "tiny", n=2)
    other = make_tiny_dataset(root / "ds" / "other", n=2, seed=1)
    Settings(root).write_active(dataset=tiny)
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    with read_only_tree(root):
        home = AppTest.from_file(APP, default_timeout=60).run()
        home.selectbox(key="home-dataset").select(other).run()
        assert not home.exception and not home.error, [e.value for e in home.error]
        assert home.selectbox(key="home-dataset").value == other
        [note] = [i.value for i in home.info]
        assert "this session's only" in note and str(root / "active.json") in note
        studies = home.switch_page("pages/studies.py").run()
        assert "2 of 2 studies" in " ".join(c.value for c in studies.caption)
        assert Settings(root).read_active()["dataset"] == str(tiny)  # nothing written
