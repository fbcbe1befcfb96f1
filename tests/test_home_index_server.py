"""Home with a shared Chroma server (``CMR_CHROMA_HOST``): it names the server the case index is
on, not a count of embedded index folders that no page searches."""

from __future__ import annotations

from pathlib import Path

import pytest
from dashboard_fixtures import make_tiny_dataset
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def test_home_names_the_shared_chroma_server_instead_of_counting_unused_folders(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With CMR_CHROMA_HOST every page searches the server: the demo's embedded index folder
    beside the datasets is not the one in use, and "Search indexes 1" counted it."""
    root = tmp_path / "data"
    make_tiny_dataset(root / "ds" / "tiny", n=2)
    (root / "ds" / "chroma").mkdir()
    (root / "ds" / "chroma" / "chroma.sqlite3").write_bytes(b"")  # an embedded index, unused
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    monkeypatch.setenv("CMR_CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("CMR_CHROMA_PORT", "8676")
    home = AppTest.from_file(APP, default_timeout=60).run()
    assert not home.exception, [e.value for e in home.exception]
    assert "Search indexes" not in [m.label for m in home.metric]
    [index] = [m for m in home.metric if m.label == "Search index"]
    assert index.value == "Server" and "Chroma server 127.0.0.1:8676" in index.proto.help
