"""A reload of the Studies page (a new session) opens the view the user was on, from the
page's address (``?view=``, ``&study=``), not Browse: a user importing a zip came back to the
study table and thought the import gone."""

from __future__ import annotations

from pathlib import Path

import pytest
from dashboard_fixtures import APP, tiny_writable_root
from streamlit.testing.v1 import AppTest

from dashboard.studies import view_from_query, view_slug


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return tiny_writable_root(tmp_path, monkeypatch)


def _studies(query: dict[str, str], **state: str) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.query_params.update(query)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page("pages/studies.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_the_view_the_user_is_on_is_kept_in_the_address(data_root: Path) -> None:
    at = _studies({}, studies_view="Import")
    assert at.query_params.get("view") == "import"


def test_a_reload_on_the_import_view_opens_it_again(data_root: Path) -> None:
    at = _studies({"view": "import"})  # a new session: nothing in session state
    assert at.session_state["studies_view"] == "Import"
    assert any(box.label == "Dataset name" for box in at.text_input)


def test_a_reload_on_a_case_opens_that_case_again(data_root: Path) -> None:
    first = _studies({}, studies_view="Case view", case_id="s000003")
    assert first.query_params == {"view": "case", "study": "s000003"}
    at = _studies(dict(first.query_params))
    assert at.session_state["studies_view"] == "Case view"
    assert at.selectbox(key="case-select").value == "s000003"


def test_an_unknown_view_in_the_address_opens_browse() -> None:
    assert view_from_query("nonsense") == view_from_query(None) == "Browse"
    assert view_slug(None) == "browse" and view_from_query(view_slug("Case view")) == "Case view"
