"""Text from outside (report-derived names, labels-file columns, prompt texts, file names in
error messages) made inert for the two renderers the pages hand it to.

Streamlit renders ``st.markdown``, ``st.caption``, ``st.info``/``warning``/``error``, ``st.toast``,
``st.subheader``, ``st.table``'s cells, headers and index labels, image captions and widget
labels as Markdown: ``![x](http://host/t.png)`` in a
labels-file column name would make the browser fetch that URL (a tracking beacon, and a download
at run time), ``[x](http://host)`` a link, ``<http://host>`` an autolink, ``$...$`` LaTeX,
``:red[...]`` colour. ``markdown_text`` backslash-escapes the characters that open those
constructs (and emphasis by ``*`` or ``~``); CommonMark renders an escaped character as itself, so
the text reads as typed. Bare addresses (``http://host``, ``www.host``, ``name@host``) are
linked by GitHub-flavoured Markdown's autolinking, which Streamlit's renderer runs on the text
after escapes are resolved (``http\\://`` is linked all the same): ``markdown_text`` puts an
invisible word joiner (U+2060) inside each, where no autolink pattern matches, so the text reads
as typed (copied, it carries that invisible character). Plotly reads titles, legend names, tick
labels and hover text as its own HTML subset (``<a href>``, ``<span style>``): ``plotly_text`` writes ``<``, ``>`` and ``&`` as
entities.
"""

from __future__ import annotations

import re

import pandas as pd

_SPECIAL = frozenset("\\`*[]<>$~")  # links, images, HTML, autolinks, LaTeX, emphasis, code
_CODE_SPAN = re.compile(r"`[^`\n]+`")
WORD_JOINER = "\u2060"  # zero width, no break: splits an address so nothing autolinks it
# where GFM's autolink literals start: "http(s)://", "www." and the "@" of an e-mail address
_AUTOLINK = re.compile(r"(?<=https)(?=://)|(?<=http)(?=://)|(?<=www)(?=\.)|(?<=@)", re.IGNORECASE)


def _escaped(text: str) -> str:
    text = _AUTOLINK.sub(WORD_JOINER, text)
    return "".join(f"\\{c}" if c in _SPECIAL else c for c in text)


def markdown_text(text: object) -> str:
    """``text`` escaped for Streamlit Markdown, reading as typed; single-backtick code spans
    (``run `python -m model index` first``, as our messages write commands) are kept as code:
    CommonMark renders nothing inside a code span, and every backtick outside one is escaped,
    so the spans the browser sees are exactly these."""
    text = str(text)
    parts, start = [], 0
    for span in _CODE_SPAN.finditer(text):
        parts += [_escaped(text[start : span.start()]), span.group()]
        start = span.end()
    parts.append(_escaped(text[start:]))
    return "".join(parts)


def plotly_text(text: object) -> str:
    """``text`` for a Plotly title, legend name or hover value: its tags shown, not followed."""
    return str(text).replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


def plotly_texts(values: pd.Series) -> pd.Series:
    """``plotly_text`` of every value of ``values`` in three vectorised replacements: the
    Embeddings map's hover text holds a handful of values per study, escaped on every rerun
    (one call per value took 0.1 s at 20,000 studies)."""
    text = values.astype(str)
    for tag, shown in (("&", "&amp;"), ("<", "&lt;"), (">", "&gt;")):
        text = text.str.replace(tag, shown, regex=False)
    return text


def _inert_cell(value: object) -> object:
    return markdown_text(value) if isinstance(value, str) else value


def markdown_table(table: pd.DataFrame) -> pd.DataFrame:
    """A copy of ``table`` for ``st.table``, which reads every cell, column name and index label
    as Markdown: their text escaped by ``markdown_text`` (a DICOM Manufacturer or an ingest
    reason is shown as typed, never fetched as an image), numbers as they are."""
    shown = table.map(_inert_cell)
    shown.columns = shown.columns.map(_inert_cell)
    shown.index = shown.index.map(_inert_cell).rename(table.index.name)
    return shown
