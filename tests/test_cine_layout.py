"""The cine player's grid in a real browser: every view fits the width the case view gives it.

The case view puts the player in the left three quarters of the page; on a laptop projector
(1280 px, sidebar open) that is about 550 px, on a narrow window less. Views drawn at a fixed
size past that width were cut off at the iframe's right edge.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_browser_e2e import CHROMIUM, LAUNCH_ARGS

from dashboard.cine import cine_player_html

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="/usr/bin/chromium missing (apt-get install chromium)"
    ),
]

# right edge of each view's card and of its frame, and the width the page has for them
EDGES = """() => ({
    width: document.documentElement.clientWidth,
    cards: [...document.querySelectorAll(".card")].map((c) => c.getBoundingClientRect().right),
    frames: [...document.querySelectorAll(".frame")].map((f) => f.getBoundingClientRect().width),
})"""


@pytest.mark.parametrize("width", [320, 550, 900])
def test_every_cine_view_fits_the_player_width(width: int) -> None:
    from playwright.sync_api import sync_playwright

    views = {name: np.full((4, 16, 16), 90, np.uint8) for name in ("sax", "4ch", "2ch", "3ch")}
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 900})
            page.set_content(cine_player_html(views))
            edges = page.evaluate(EDGES)
        finally:
            browser.close()
    assert len(edges["cards"]) == len(views)
    assert max(edges["cards"]) <= edges["width"], edges
    assert min(edges["frames"]) >= min(100, width / 4), edges  # still large enough to read
