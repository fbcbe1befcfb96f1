"""The Zero-shot page's "Try a finding": what the user typed shows its result at once.

In a demo the positive wording typed alone changed nothing on screen, and with both wordings
the page still showed the first finding's top studies (the trial's were one pick away in a box
a screen further down), so typing a prompt looked like it did nothing.
"""

from __future__ import annotations

import pytest

pytestmark = pytest.mark.slow


def test_a_positive_wording_alone_says_a_negative_one_is_needed(app) -> None:
    at = app("pages/zeroshot.py")
    before = {c.value for c in at.caption}
    at.text_input(key="zs-try-pos").input("Amyloid with diffuse subendocardial LGE").run()
    assert not at.exception
    new = [c.value for c in at.caption if c.value not in before]
    assert any("negative" in text for text in new), new


def test_a_tried_finding_shows_its_top_studies(app) -> None:
    at = app("pages/zeroshot.py")
    assert at.selectbox(key="zs-top").value != "Custom"
    at.text_input(key="zs-try-pos").input("Amyloid with diffuse subendocardial LGE").run()
    at.text_input(key="zs-try-neg").input("No late gadolinium enhancement").run()
    assert not at.exception
    assert at.selectbox(key="zs-top").value == "Custom"
    assert "p(Custom)" in [m.label for m in at.metric]
    at.selectbox(key="zs-top").select(at.selectbox(key="zs-top").options[0]).run()
    first = at.selectbox(key="zs-top").options[0]
    assert at.selectbox(key="zs-top").value == first  # the user's own pick then stays
    at.text_input(key="zs-try-name").input("amyloid").run()  # a new trial is shown again
    assert at.selectbox(key="zs-top").value == "Amyloid"
