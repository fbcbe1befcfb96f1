"""The cine player's grid in a real browser: every view fits the width the case view gives it.

The case view puts the player in the left three quarters of the page; on a laptop projector
(1280 px, sidebar open) that is about 550 px, on a narrow window less. Views drawn at a fixed
size past that width were cut off at the iframe's right edge.
"""

from __future__ import annotations

import json
import re
import sys
from pathlib import Path

import numpy as np
import pytest
import streamlit as st

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_browser_e2e import CHROMIUM, LAUNCH_ARGS

from dashboard.cine import SIZE_MESSAGE, cine_player_html

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


def streamlit_size_script() -> str:
    """The script Streamlit appends to an ``st.iframe(height="content")`` page (its IFrame
    bundle), with its message type: the player's frame is sized by the two together."""
    bundles = sorted((Path(st.__file__).parent / "static" / "static" / "js").glob("IFrame.*.js"))
    source = "\n".join(path.read_text(encoding="utf-8") for path in bundles)
    found = re.search(r"`(<script>\s*\(function\(\) \{\s*var lastW.*?<\\/script>)`", source, re.S)
    assert found, "Streamlit's st.iframe size script not found: has its protocol changed?"
    assert f"`{SIZE_MESSAGE}`" in source, "Streamlit's st.iframe size message type changed"
    return found.group(1).replace("${d}", SIZE_MESSAGE).replace("<\\/script>", "</script>")


# a parent page that sizes the frame from its messages, as Streamlit does
PARENT = """<!doctype html><html><body style="margin:0"><iframe id="player" style="border:0"></iframe>
<script>
const frame = document.getElementById("player");
window.addEventListener("message", (e) => {
  if (e.source === frame.contentWindow && e.data.type === %s) frame.style.height = e.data.height + "px";
});
</script></body></html>"""
FRAME = """() => { const f = document.getElementById("player");
  return { frame: Math.round(f.getBoundingClientRect().height),
           content: Math.ceil(f.contentDocument.querySelector(".grid").getBoundingClientRect().bottom) }; }"""


def test_the_player_frame_shrinks_back_when_its_width_grows_again() -> None:
    """Narrow (one view to a row, a tall frame) then wide again, as when a tablet turns: the frame
    stayed as tall as it once was, a screen of blank under the views."""
    from playwright.sync_api import sync_playwright

    views = {name: np.full((4, 16, 16), 90, np.uint8) for name in ("sax", "4ch", "2ch", "3ch")}
    page_html = cine_player_html(views) + streamlit_size_script()
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": 800, "height": 900})
            page.set_content(PARENT % json.dumps(SIZE_MESSAGE))
            page.evaluate(
                "(html) => { document.getElementById('player').srcdoc = html; }", page_html
            )
            sizes = []
            for width in (424, 170, 424):
                page.evaluate(
                    f"() => {{ document.getElementById('player').style.width = '{width}px'; }}"
                )
                page.wait_for_timeout(600)
                sizes.append(page.evaluate(FRAME))
        finally:
            browser.close()
    wide, narrow, wide_again = sizes
    assert narrow["frame"] > wide["frame"], sizes  # one view to a row: taller
    assert abs(wide_again["frame"] - wide_again["content"]) <= 2, sizes
    assert abs(wide_again["frame"] - wide["frame"]) <= 2, sizes
