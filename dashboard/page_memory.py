"""Widget values and edited tables a page keeps while its user visits other pages.

Streamlit forgets a widget's value once a run does not draw it, so a user who left the
Zero-shot page for the Case browser came back to the shipped prompt set, an empty trial finding
and none of their table edits. A page copies its values aside after drawing them (``remember``,
``remember_tables``) and, on its next visit, puts them back before drawing them again
(``restore``, ``kept_tables``): the copies are plain session keys, which Streamlit keeps.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import streamlit as st

_PREFIX = "kept:"


def restore(defaults: dict[str, Any]) -> None:
    """Give each widget key of ``defaults`` its remembered value (its default the first time),
    unless the widget still holds one; draw those widgets without a ``value``."""
    for key, default in defaults.items():
        if key not in st.session_state:
            st.session_state[key] = st.session_state.get(_PREFIX + key, default)


def remember(keys: Iterable[str]) -> None:
    """Copy the values of these widget keys aside, for ``restore`` on the page's next visit."""
    for key in keys:
        if key in st.session_state:
            st.session_state[_PREFIX + key] = st.session_state[key]


def remember_tables(name: str, origin: str, tables: tuple[Any, ...]) -> None:
    """Keep the tables a data editor returned (its edits applied) under ``name``, with what
    they were loaded from (``origin``)."""
    st.session_state[_PREFIX + name] = (origin, tables)


def kept_tables(name: str, origin: str, editor_key: str) -> tuple[Any, ...] | None:
    """The tables kept under ``name`` for ``origin`` when the data editor ``editor_key`` has
    lost its edits (the page was left); None while it holds them, or without kept tables."""
    kept = st.session_state.get(_PREFIX + name)
    if editor_key in st.session_state or kept is None or kept[0] != origin:
        return None
    return kept[1]


def changed(name: str, value: Any) -> bool:
    """Whether ``value`` differs from the one this session last gave under ``name`` (which it
    now remembers): to say something once when a selection changes, not on every rerun."""
    key = f"{_PREFIX}changed:{name}"
    before = st.session_state.get(key)
    st.session_state[key] = value
    return before != value
