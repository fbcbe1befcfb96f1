"""Names a screen reader can say: every image, embedded frame and player control on the pages
describes what it shows or does (an image without alt text is read as its file URL)."""

from __future__ import annotations

import re
from html.parser import HTMLParser

import numpy as np
import pytest

from dashboard.cine import cine_player_html

pytestmark = pytest.mark.slow


class _Controls(HTMLParser):
    """The accessible name of every button, slider and menu of an HTML page, in order."""

    def __init__(self) -> None:
        super().__init__()
        self.names: list[str] = []
        self._open: list[str] | None = None  # a button's text so far

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        label = dict(attrs).get("aria-label") or ""
        if tag in ("input", "select"):
            self.names.append(label)
        elif tag == "button":
            self.names.append(label)
            self._open = [] if not label else None

    def handle_data(self, data: str) -> None:
        if self._open is not None:
            self._open.append(data)

    def handle_endtag(self, tag: str) -> None:
        if tag == "button" and self._open is not None:
            self.names[-1], self._open = "".join(self._open).strip(), None


def test_every_cine_control_has_a_name_a_screen_reader_can_say() -> None:
    """The per-view play button read as its "▶" glyph; the frame slider and speed menu had no
    name at all, so a screen reader could not tell which view they drive."""
    controls = _Controls()
    controls.feed(cine_player_html({"4ch": np.zeros((5, 8, 8), np.uint8)}))
    assert len(controls.names) == 4  # play all, and the view's play, slider and speed
    for name in controls.names:
        assert re.search(r"[A-Za-z]{3}", name), controls.names
    assert sum("4ch" in name for name in controls.names) == 3


def _images(at) -> list:
    return [image for images in at.get("image") for image in images.proto.imgs]


def test_case_cards_thumbnails_say_which_study_they_show(app) -> None:
    at = app("pages/zeroshot.py")
    alts = [image.alt for image in _images(at)]
    assert alts and all(re.fullmatch(r"views of study s\d{6}", alt) for alt in alts), alts


def test_the_case_views_player_and_lge_images_have_alt_text(app) -> None:
    at = app("pages/studies.py", studies_view="Case view", case_id="s000002")
    [player] = at.get("iframe")
    assert "s000002" in player.proto.alt and "cine" in player.proto.alt
    alts = [image.alt for image in _images(at)]
    assert alts and all(alt.startswith("lge") for alt in alts), alts
