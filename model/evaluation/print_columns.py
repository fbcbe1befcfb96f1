"""A report table too wide for a printed page, in parts of its columns that each fit one.

A printed cell breaks a line only between words (at a space, a hyphen or an underscore), never
inside a word or a figure: breaking anywhere had printed "median_r" over "ank" and "hypertro" over
"phy". The retrieval table's seventeen columns are then wider than A4 or Letter, which would cut
its last ones off at the paper's edge; so a table whose narrowest layout is wider than the page
is printed as several, each with the columns that say what a row is (model, direction, label)
and as many of the others as fit, a figure's interval beside it.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

# A4's printable width in CSS pixels at Chromium's default 0.4 in margins (Letter's is wider),
# less a margin for the estimate below
PRINT_WIDTH_PX = 690.0
# the report prints tables at 9 px: a character of a bold header is at most this wide, and a
# cell adds its padding and border
_CHAR_PX, _CELL_PX = 5.6, 8.0
_BREAKS = re.compile(r"(?<=[ \-_])")  # a line may break after a space, a hyphen, an underscore
_FIGURE = re.compile(r"^[-+−]?[\d.,]+(?:e[-+]?\d+)?$|\d[\d.]*–\d[\d.]*|[-+]\d[\d.]* to [-+]\d")
_INTERVAL_SUFFIX = " 95% CI"


def column_parts(view: pd.DataFrame, width_px: float = PRINT_WIDTH_PX) -> list[list[Any]]:
    """``view``'s columns in parts that each fit ``width_px`` at their narrowest; one part (every
    column, in its order) when the whole table fits."""
    columns = list(view.columns)
    widths = {c: _narrowest_px(c, view[c]) for c in columns}
    if sum(widths.values()) <= width_px:
        return [columns]
    keys = []
    for column in columns:  # the leading columns of words: what each row is
        if pd.api.types.is_numeric_dtype(view[column]) or len(keys) == len(columns) - 1:
            break
        keys.append(column)
    room = width_px - sum(widths[key] for key in keys)
    parts: list[list[Any]] = []
    current: list[Any] = []
    for group in _with_intervals([c for c in columns if c not in keys]):
        needed = sum(widths[c] for c in group)
        if current and sum(widths[c] for c in current) + needed > room:
            parts.append(keys + current)
            current = []
        current += group
    return [*parts, keys + current]


def _with_intervals(columns: list[str]) -> list[list[str]]:
    """``columns`` in groups: a figure with its interval column (``AUC``, ``AUC 95% CI``)."""
    intervals = {
        c.removesuffix(_INTERVAL_SUFFIX): c for c in columns if c.endswith(_INTERVAL_SUFFIX)
    }
    groups = []
    for column in columns:
        if column in intervals.values() and column.removesuffix(_INTERVAL_SUFFIX) in columns:
            continue  # goes with its figure
        groups.append([column, intervals[column]] if column in intervals else [column])
    return groups


def _narrowest_px(header: object, values: pd.Series) -> float:
    """The width of a column whose lines break only between words, its figures whole."""
    texts = [str(header), *(_shown(v) for v in values)]
    longest = max(len(piece.strip()) for text in texts for piece in _pieces(text))
    return longest * _CHAR_PX + _CELL_PX


def _pieces(text: str) -> list[str]:
    """The parts of a cell's text no line may break inside: a figure or an interval whole."""
    if _FIGURE.search(text) and " " not in text.strip():
        return [text]
    return [piece for word in text.split(" ") for piece in _BREAKS.split(word)] or [""]


def _shown(value: object) -> str:
    return f"{value:.3f}" if isinstance(value, float) else str(value)
