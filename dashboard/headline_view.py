"""The evaluation's headline sentence as Home and Evaluate show it: readable from the back of a
room, and copied whole with one click.

It was a 14 px monospace code block (``st.code``, kept for its copy button): on a projector the
line a talk quotes was the smallest text on the page. It stays a code block, for the button,
inside a keyed container whose documented class (``st-key-KEY``) gives its text the page's own
font at a larger size, wrapped at spaces; no selector names a class of Streamlit's own, which
change between versions.
"""

from __future__ import annotations

import streamlit as st

SENTENCE_KEY = "headline-sentence"
# 1.25 rem: above the page's body text (1 rem); the font the page's (inherited), not monospace
SENTENCE_STYLE = (
    f".st-key-{SENTENCE_KEY} pre, .st-key-{SENTENCE_KEY} code {{font-family: inherit; "
    "font-size: 1.25rem; line-height: 1.5; white-space: pre-wrap; overflow-wrap: normal}"
)


def quotable_sentence(sentence: str) -> None:
    """``sentence`` at a projector's size, with the code block's copy button."""
    st.html(f"<style>{SENTENCE_STYLE}</style>")
    with st.container(key=SENTENCE_KEY):
        st.code(sentence, language=None, wrap_lines=True)
