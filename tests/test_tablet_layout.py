"""The page width a hospital tablet in landscape (1024 x 768) leaves beside the sidebar.

Streamlit's own sidebar is 300 px: the page then had 564 px, the case view's cine player ~250
px of it (one view to a row, eight stacked under each other) and each of two charts side by side
~250 px. ``app.SIDEBAR_PX`` opens the sidebar narrower.
"""

from __future__ import annotations

from types import SimpleNamespace

import pytest
import streamlit as st

import app
from dashboard.cine import GRID_GAP_PX, MIN_VIEW_PX
from dashboard.ui import CASE_FACTS_PX

TABLET_LANDSCAPE_PX = 1024
WIDE_PADDING_PX = 2 * 80  # layout="wide": 5rem each side of the page (measured in Chromium)
MEDIUM_GAP_PX = 32  # st.container(gap="medium"): 2rem between the cine and the case facts


def test_a_landscape_tablet_plays_two_cine_views_to_a_row_beside_the_case_facts() -> None:
    page = TABLET_LANDSCAPE_PX - app.SIDEBAR_PX - WIDE_PADDING_PX
    player = page - CASE_FACTS_PX - MEDIUM_GAP_PX
    assert player >= 2 * MIN_VIEW_PX + GRID_GAP_PX, player


def test_the_sidebar_width_is_one_streamlit_accepts() -> None:
    """``initial_sidebar_state`` takes a width from 200 to 600 px (outside it: an exception)."""
    assert 200 <= app.SIDEBAR_PX <= 600


def test_the_app_opens_its_sidebar_at_that_width(monkeypatch: pytest.MonkeyPatch) -> None:
    config: dict = {}
    monkeypatch.setattr(st, "set_page_config", lambda **kwargs: config.update(kwargs))
    monkeypatch.setattr(st, "Page", lambda *args, **kwargs: args[0])
    monkeypatch.setattr(st, "navigation", lambda *args, **kwargs: SimpleNamespace(run=lambda: None))
    app.main()
    assert config["initial_sidebar_state"] == app.SIDEBAR_PX
    assert config["layout"] == "wide"
