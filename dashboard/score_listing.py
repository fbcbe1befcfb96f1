"""The Zero-shot page's score table, ordered and searched on the server before it is cut.

The page sent every scored study to the browser on each prompt change (2.4-3.1 MB at 20,000
studies) so that a click on a column header, or the table's own search, reached all of them.
It now sends at most ``TABLE_ROWS`` rows, as the Studies page does (``dashboard.study_order``):
the chosen order and the search are applied to every study first, so "by LGE, descending"
lists the top of all studies, not of an arbitrary 2,000. The CSV download keeps every study.
Pure pandas; the table is ``dashboard.scoring.shown_score_table``'s (indexed by study_id).
"""

from __future__ import annotations

import pandas as pd

from dashboard.studies import TABLE_ROWS, header_sort_note
from dashboard.study_order import DATASET_ORDER, order_words

STUDY_ID = "study_id"


def score_sort_columns(table: pd.DataFrame) -> list[str]:
    """The "Sort by" choices of a score table: the dataset's order, the study id, then every
    column (findings, classes, predicted diagnosis, site, split) in the table's order."""
    return [DATASET_ORDER, STUDY_ID, *(str(c) for c in table.columns)]


def _sort_key(values: pd.Series) -> pd.Series:
    """Numbers as numbers, text without regard to case; blanks NaN, so they come last."""
    if pd.api.types.is_numeric_dtype(values):
        return values.astype(float)
    text = values.astype("string").str.strip()
    return text.mask(text.isna() | (text == "")).str.casefold()


def matching_scores(table: pd.DataFrame, text: str) -> pd.DataFrame:
    """The rows whose study id or any text column (site, split, predicted diagnosis) contains
    ``text``, ignoring case; every row for blank ``text``."""
    needle = text.strip()
    if not needle:
        return table
    found = pd.Series(table.index.astype(str), index=table.index).str.contains(
        needle, case=False, regex=False
    )
    for column in table.columns:
        if not pd.api.types.is_numeric_dtype(table[column]):
            cells = table[column].astype("string").fillna("")
            found |= cells.str.contains(needle, case=False, regex=False)
    return table[found.to_numpy()]


def ordered_scores(table: pd.DataFrame, column: str, descending: bool) -> pd.DataFrame:
    """Every row of ``table`` in the chosen order (stable: ties keep the dataset's order); the
    dataset's order, or its reverse, for ``DATASET_ORDER`` or a column the table lacks."""
    if column == STUDY_ID:
        values = pd.Series(table.index, index=table.index)
    elif column in table.columns:
        values = table[column]
    else:
        return table.iloc[::-1] if descending else table
    key = _sort_key(values).reset_index(drop=True)
    order = key.sort_values(ascending=not descending, kind="stable", na_position="last").index
    return table.iloc[order.to_numpy()]


def listed_scores(
    table: pd.DataFrame, column: str, descending: bool, text: str = ""
) -> tuple[pd.DataFrame, str]:
    """(at most ``TABLE_ROWS`` rows of the score table: those matching ``text``, in the chosen
    order, study_id a column; a caption saying how many of how many, in which order, and that
    the CSV holds every study)."""
    matching = ordered_scores(matching_scores(table, text), column, descending)
    listed = matching.head(TABLE_ROWS).reset_index()
    order = order_words(column, descending)
    found = f"{len(matching):,} of {len(table):,} studies" if text.strip() else None
    if len(listed) < len(matching):
        shown = f"the first {len(listed):,} of {found or f'{len(matching):,} studies'} {order}"
        caption = f"{shown}; the CSV below holds every study · " + header_sort_note(
            len(listed), len(matching)
        )
    else:
        caption = f"{found or f'{len(matching):,} studies'} {order}"
    return listed, caption
