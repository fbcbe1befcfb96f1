"""The dashboard theme's primary colour against WCAG 2 contrast ratios."""

from __future__ import annotations

import tomllib
from pathlib import Path

import numpy as np
from colour_vision import contrast_ratio

from dashboard.cine import PRIMARY_COLOUR, cine_player_html

THEME = tomllib.loads(
    (Path(__file__).resolve().parent.parent / ".streamlit" / "config.toml").read_text()
)["theme"]


def test_white_labels_on_primary_buttons_read_at_wcag_aa() -> None:
    """Primary buttons carry white labels: #ff4b4b gave 3.3:1, under AA's 4.5:1 for text."""
    assert contrast_ratio("#ffffff", THEME["primaryColor"]) >= 4.5


def test_the_primary_colour_stands_out_from_the_background() -> None:
    """Selected tabs, sliders and ticked boxes are drawn in it (WCAG non-text: 3:1)."""
    for background in (THEME["backgroundColor"], THEME["secondaryBackgroundColor"]):
        assert contrast_ratio(THEME["primaryColor"], background) >= 3, background


def test_the_cine_players_button_wears_the_theme_primary_colour() -> None:
    page = cine_player_html({"SAX": np.zeros((2, 4, 4), np.uint8)})
    assert THEME["primaryColor"] == PRIMARY_COLOUR
    assert f"background: {PRIMARY_COLOUR};" in page
