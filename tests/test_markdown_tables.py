"""``st.table`` renders every cell, header and index label as Markdown (Streamlit 1.5x): a DICOM
Manufacturer ``![b](http://host/t.png)`` in the case view's metadata made the browser fetch that
URL, and ``[x](...)`` showed a link. What the pages hand it is escaped first."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from dashboard_fixtures import APP, tiny_writable_root
from streamlit.testing.v1 import AppTest

from dashboard.inert_text import WORD_JOINER, markdown_table

HOSTILE = "![b](http://127.0.0.1:9/beacon.png) [x](http://h) :red[R] $x$"
# a word joiner (U+2060) after each "http": a bare address there would be autolinked
ESCAPED = rf"!\[b\](http{WORD_JOINER}://127.0.0.1:9/beacon.png) \[x\](http{WORD_JOINER}://h) "
ESCAPED += r":red\[R\] \$x\$"


def test_text_cells_headers_and_index_labels_are_escaped_numbers_kept() -> None:
    table = pd.DataFrame(
        {"value": [HOSTILE, 3], HOSTILE: ["a", "b"]},
        index=pd.Index([HOSTILE, "Split"], name="field"),
    )
    shown = markdown_table(table)
    assert shown["value"].tolist() == [ESCAPED, 3]
    assert list(shown.columns) == ["value", ESCAPED]
    assert list(shown.index) == [ESCAPED, "Split"] and shown.index.name == "field"
    assert table.iloc[0, 0] == HOSTILE  # the table given is left as it was


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tiny_writable_root(tmp_path, monkeypatch)
    path = root / "ds" / "tiny" / "studies.parquet"
    studies = pd.read_parquet(path)
    studies["manufacturer"] = HOSTILE
    studies.to_parquet(path)
    return root


def test_the_case_views_metadata_shows_a_dicom_value_as_typed(data_root: Path) -> None:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["studies_view"] = "Case view"
    at.session_state["case_id"] = "s000003"
    at.run()
    at.switch_page("pages/studies.py").run()
    assert not at.exception, [e.value for e in at.exception]
    metadata = at.table[0].value
    assert metadata.loc["Manufacturer", "value"] == ESCAPED
