"""Outside text on the pages renders as typed: a labels-file column, a site name, a file name in an
error message or a prompt can carry Markdown (``![x](http://host/t.png)`` makes the browser fetch
that URL as it draws the page), and Streamlit renders messages, captions, metric labels and card
titles as Markdown. Each is checked by rendering what Streamlit was handed with a CommonMark
renderer (markdown-it, installed with chromadb's ``rich``): no image, link or HTML comes out."""

from __future__ import annotations

import html
import re

import pytest
from markdown_it import MarkdownIt
from streamlit.testing.v1 import AppTest

from dashboard.inert_text import WORD_JOINER, markdown_text, plotly_text

HOSTILE = [
    "![x](http://evil.example/t.png)",
    "<img src=http://evil.example/t.png>",
    "[open](javascript:alert(1))",
    "<http://evil.example/a>",
    "![r][ref]\n\n[ref]: http://evil.example/t.png",
    "lv_dysfunction* $x^2$ ~~gone~~ :red[alarm] a\\[b\\] `tick",
    "trailing backslash \\",
]
_MARKDOWN = MarkdownIt("commonmark").enable(["table", "strikethrough"])


def _inert(source: str) -> bool:
    """Whether ``source`` renders with no image, link, raw HTML, emphasis or strikethrough."""
    rendered = _MARKDOWN.render(source)
    tags = set(re.findall(r"<\s*([a-zA-Z]+)", rendered))
    return tags <= {"p", "code", "br"}


def _rendered_text(source: str) -> str:
    """The text ``source`` renders to, whitespace collapsed (paragraphs join with a space)."""
    return " ".join(html.unescape(re.sub(r"<[^>]+>", " ", _MARKDOWN.render(source))).split())


def _shown_text(source: str) -> str:
    """The words ``source`` shows: its text without the invisible word joiners."""
    return _rendered_text(source).replace(WORD_JOINER, "")


@pytest.mark.parametrize("text", HOSTILE)
def test_outside_text_renders_as_typed_with_no_image_link_or_html(text: str) -> None:
    escaped = markdown_text(text)
    assert _inert(escaped), _MARKDOWN.render(escaped)
    assert _shown_text(escaped) == " ".join(text.split())
    assert "$" not in escaped.replace("\\$", "")  # Streamlit's LaTeX opens on a bare $


# GitHub-flavoured Markdown's autolink literals, as Streamlit's renderer finds them in the text
# after escapes are resolved (mdast-util-gfm-autolink-literal): "http(s)://", "www.", e-mail
_GFM_AUTOLINK = re.compile(r"https?://|www\.|[-.\w+]+@[-\w]+\.", re.IGNORECASE)


@pytest.mark.parametrize(
    "text",
    [
        "Impression: see http://evil.example/report for the full study",
        "compare HTTPS://evil.example/a?b=1 and www.evil.example/x",
        "mail dr.smith@evil.example or mailto:a@evil.example",
        "[x](http://evil.example) then http://evil.example/bare",
    ],
)
def test_bare_addresses_in_outside_text_are_not_autolinked(text: str) -> None:
    """Streamlit links a bare http:// address, www. name or e-mail address in Markdown (GFM
    autolinking, which backslash escapes do not stop): a prompt or a report impression shown
    escaped as inert became a clickable link."""
    rendered = _rendered_text(markdown_text(text))
    assert not _GFM_AUTOLINK.search(rendered), rendered
    assert _shown_text(markdown_text(text)) == " ".join(text.split())


def _bare(text: str) -> str:
    return text.replace(" ", "").replace("`", "")


def test_our_command_spans_stay_code_and_hostile_backticks_stay_inert() -> None:
    rendered = _MARKDOWN.render(markdown_text("run `python -m model index` first"))
    assert "<code>python -m model index</code>" in rendered
    for text in ("a `![x](http://evil.example/t.png)` b", "`x` ![y](http://e/t.png) `z"):
        shown = _shown_text(markdown_text(text))
        assert _inert(markdown_text(text)) and _bare(shown) == _bare(text)


def test_plotly_text_shows_tags_instead_of_following_them() -> None:
    name = '<a href="http://evil.example">x</a> & <span style="cursor:url(http://e/c.png)">'
    shown = plotly_text(name)
    assert "<" not in shown and ">" not in shown
    assert html.unescape(shown) == name


def _guarded_page(message: str) -> None:
    from dashboard.ui import page_guard
    from model.errors import UserError

    with page_guard():
        raise UserError(message)


def _crashing_page(message: str) -> None:
    from dashboard.ui import page_guard

    with page_guard():
        raise KeyError(message)


@pytest.mark.parametrize("page", [_guarded_page, _crashing_page])
def test_an_error_naming_an_outside_value_renders_it_as_text(page) -> None:
    """A labels file's column name (or a zip entry's name) quoted in a refusal, or in the
    message of an unexpected error, is shown as typed."""
    column = "![x](http://evil.example/t.png)"
    at = AppTest.from_function(page, args=(f"labels file has no column {column!r}",)).run()
    [error] = at.error
    assert _inert(error.value), error.value
    assert column in _shown_text(error.value)


class _Studio:
    """A studio whose every study reads with no views."""

    def readable_frames(self, study_id: str) -> tuple[dict, str | None]:
        return {}, None


def _card_page(studio: object, row: dict) -> None:
    from dashboard.ui import case_card

    case_card(studio, row, 0.5, key="card")


def test_a_case_cards_title_keeps_its_bold_id_and_shows_outside_values_as_text() -> None:
    site = "![x](http://evil.example/t.png)"
    row = {"study_id": "s000001", "site": site, "age_band": "40-49", "sex": "F",
           "impression": "[click](http://evil.example)"}  # fmt: skip
    at = AppTest.from_function(_card_page, args=(_Studio(), row)).run()
    [title] = [m.value for m in at.markdown if "similarity" in m.value]
    assert "<strong>s000001</strong>" in _MARKDOWN.render(title)
    assert "img" not in _MARKDOWN.render(title) and site in _shown_text(title)
    assert [t.value for t in at.text] == [row["impression"]]  # the report: plain text


def test_chart_titles_legends_ticks_and_hovers_show_outside_tags_as_text() -> None:
    """Plotly reads its own HTML subset (``<a href>``, ``<span style>``) in every title, legend
    name, tick label and hover value: a labels-file column or a site named with one of them
    became a link or a styled element of the chart."""

    import numpy as np
    import pandas as pd

    from dashboard.map_figure import embedding_map
    from dashboard.plots import confusion_figure, roc_figure, score_histogram

    tag = '<a href="http://evil.example">x</a>'
    coords = pd.DataFrame({"x": [0.0, 1.0], "y": [0.0, 1.0], "study_id": ["s1", "s2"],
                           "site": [tag, "b"], f"label_{tag}": [tag, "y"]})  # fmt: skip
    figures = [
        embedding_map(coords, color=f"label_{tag}", hover=["site"]),
        confusion_figure(np.eye(2, dtype=int), [tag, "b"]),
        roc_figure(np.array([0.0, 1.0]), np.array([0.0, 1.0]), 0.5, (0.4, 0.6), tag),
        score_histogram(np.array([0.2, 0.8]), 0.5, tag),
    ]
    for figure in figures:
        spec = figure.to_json()
        assert "<a " not in spec and "&lt;a href" in spec, spec[:300]
