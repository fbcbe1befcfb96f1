"""The Studies page's server-side order: every matching study sorted before the listed rows are cut.

The page lists at most ``TABLE_ROWS`` studies, and a click on a column header sorts only those in
the browser: on a 20,000-study site "sort by" there showed the top of an arbitrary 2,000, which
read as the top of all of them. The order chosen here is applied to the whole filtered table first.
Pure pandas; the columns are those of ``dashboard.studies.display_table``.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from dashboard.studies import UNKNOWN, column_label

DATASET_ORDER = ""  # the "Sort by" choice that keeps the order ingest wrote the studies in
DIRECTIONS = ("Ascending", "Descending")
# free text sorts by its first letters, which says nothing about a study
UNSORTED_COLUMNS = frozenset({"impression"})
NUMERIC_COLUMNS = frozenset({"cine_phases", "pixel_spacing_mm", "field_strength"})


def sort_columns(columns: Iterable[str]) -> list[str]:
    """The "Sort by" choices for a study table with these columns: the dataset's own order first,
    then every shown column but the impression."""
    return [DATASET_ORDER, *(str(c) for c in columns if c not in UNSORTED_COLUMNS)]


def sort_label(column: str) -> str:
    """A "Sort by" choice as the page names it: ``Dataset order`` or the column's header."""
    return "Dataset order" if column == DATASET_ORDER else column_label(column)


def sort_key(values: pd.Series, column: str) -> pd.Series:
    """What a column sorts by: numbers as numbers, a matrix (``52x60``) by its pixel count, the
    views by how many are present, text without regard to case; unknown or blank values NaN, so
    they come last in either direction."""
    if column in NUMERIC_COLUMNS:
        return pd.to_numeric(values, errors="coerce")
    text = values.astype("string").str.strip()
    text = text.mask(text.isna() | (text == "") | (text.str.lower() == UNKNOWN))
    if column == "matrix":
        sides = text.str.extract(r"^(\d+)\s*[x×]\s*(\d+)$").astype(float)
        return sides[0] * sides[1]
    if column == "views":
        return text.str.split(",").map(
            lambda views: sum(bool(v) for v in views), na_action="ignore"
        )
    return text.str.casefold()


def ordered(table: pd.DataFrame, column: str, descending: bool) -> pd.DataFrame:
    """Every row of ``table`` in the chosen order (stable: ties keep the dataset's order); the
    dataset's order, or its reverse, for ``DATASET_ORDER`` or a column the table lacks."""
    if column == DATASET_ORDER or column not in table.columns:
        return table.iloc[::-1] if descending else table
    key = sort_key(table[column], column).reset_index(drop=True)
    order = key.sort_values(ascending=not descending, kind="stable", na_position="last").index
    return table.iloc[order.to_numpy()]


def order_words(column: str, descending: bool) -> str:
    """The order as a caption says it: ``in dataset order``, ``by Site, descending``."""
    if column == DATASET_ORDER:
        return "in reverse dataset order" if descending else "in dataset order"
    return f"by {sort_label(column)}, {DIRECTIONS[descending].lower()}"
