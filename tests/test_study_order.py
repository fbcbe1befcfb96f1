"""The Studies page sorts every matching study before it lists the first ``TABLE_ROWS``: a
header click in the browser sorted only the 2,000 listed, so on a large site "newest" or "by
site" showed the top of an arbitrary 2,000 as if it were the top of all of them."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from dashboard_fixtures import APP, tiny_writable_root
from streamlit.testing.v1 import AppTest

from dashboard.studies import TABLE_ROWS, display_table, listed_rows
from dashboard.study_order import DATASET_ORDER, order_words, ordered, sort_columns, sort_label


def _site(n: int) -> pd.DataFrame:
    """``n`` studies in ingest order, the last ones the only scanner at 3 T."""
    return pd.DataFrame(
        {
            "study_id": [f"s{i:06d}" for i in range(n)],
            "patient_key": "p",
            "site": ["b" if i % 2 else "a" for i in range(n)],
            "field_strength": [3.0 if i >= n - 3 else 1.5 for i in range(n)],
        }
    )


def test_the_order_applies_to_every_match_before_the_listed_rows_are_cut() -> None:
    studies = _site(TABLE_ROWS + 500)  # the last study lies beyond the first 2,000
    matching = ordered(display_table(studies), "study_id", descending=True)
    listed, caption = listed_rows(matching, len(studies), order_words("study_id", True))
    assert len(listed) == TABLE_ROWS
    assert listed["study_id"].iloc[0] == f"s{TABLE_ROWS + 499:06d}"
    assert listed["study_id"].tolist() == sorted(studies["study_id"], reverse=True)[:TABLE_ROWS]
    strongest = ordered(display_table(studies), "field_strength", descending=True).head(3)
    assert set(strongest["study_id"]) == {f"s{i:06d}" for i in range(TABLE_ROWS + 497, 2500)}


def test_the_caption_says_the_order_and_how_many_of_how_many_are_listed() -> None:
    studies = _site(TABLE_ROWS + 500)
    matching = ordered(display_table(studies), "site", descending=False)
    _, caption = listed_rows(matching, 30_000, order_words("site", False))
    assert f"the first {TABLE_ROWS:,} of {TABLE_ROWS + 500:,} matching studies" in caption
    assert "(30,000 in all) by Site, ascending; narrow the filters" in caption
    assert f"a click on a column header sorts only these {TABLE_ROWS:,}, not all 2,500" in caption
    _, whole = listed_rows(matching.head(10), 30_000, order_words(DATASET_ORDER, False))
    assert whole.startswith("10 of 30,000 studies in dataset order ·")
    assert "column header" not in whole  # every match listed: the browser's sort is whole too


def test_unknown_values_come_last_either_way_and_ties_keep_the_dataset_order() -> None:
    table = pd.DataFrame(
        {
            "study_id": ["a", "b", "c", "d", "e"],
            "field_strength": ["1.5", "unknown", "3.0", "1.5", "3.0"],
            "matrix": ["128x128", "52x60", "", "96x96", "52x60"],
            "views": ["sax_mid", "sax_mid,4ch,2ch", None, "sax_mid,4ch", "4ch"],
            "sex": ["F", "unknown", "m", "M", "f"],
        }
    )

    def ids(column: str, descending: bool) -> list[str]:
        return ordered(table, column, descending)["study_id"].tolist()

    assert ids("field_strength", False) == ["a", "d", "c", "e", "b"]
    assert ids("field_strength", True) == ["c", "e", "a", "d", "b"]
    assert ids("matrix", True) == ["a", "d", "b", "e", "c"]  # by pixels, not "5" > "1"
    assert ids("views", True) == ["b", "d", "a", "e", "c"]
    assert ids("sex", False) == ["a", "e", "c", "d", "b"]  # f before m, whatever the case
    assert ids(DATASET_ORDER, True) == ["e", "d", "c", "b", "a"]


def test_the_choices_are_the_dataset_order_and_the_shown_columns_but_free_text() -> None:
    choices = sort_columns(["study_id", "impression", "site", "field_strength"])
    assert choices == [DATASET_ORDER, "study_id", "site", "field_strength"]
    assert [sort_label(c) for c in choices] == [
        "Dataset order",
        "Study ID",
        "Site",
        "Field strength (T)",
    ]
    assert order_words("field_strength", True) == "by Field strength (T), descending"


def test_the_studies_page_sorts_all_matching_studies_before_listing(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    tiny_writable_root(tmp_path, monkeypatch)  # 8 studies, s000000 to s000007
    monkeypatch.setattr("dashboard.studies.TABLE_ROWS", 5, raising=False)
    at = AppTest.from_file(APP, default_timeout=60)
    at.run()
    at.switch_page("pages/studies.py").run()
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="f-sort").value == DATASET_ORDER  # the order the page had
    assert at.radio(key="f-order").value == "Ascending"
    at.selectbox(key="f-sort").set_value("study_id")
    at.radio(key="f-order").set_value("Descending").run()
    listed = at.dataframe(key="studies-table").value["study_id"].tolist()
    assert listed == [f"s{i:06d}" for i in range(7, 2, -1)]  # the newest beyond the first 5
    captions = " ".join(c.value for c in at.caption)
    assert "first 5 of 8 matching studies (8 in all) by Study ID, descending" in captions
    assert "sorts only these 5" in captions
    # a picked row opens the study listed there, not the one at its place in ingest order
    assert at.session_state["studies-table-ids"] == listed
