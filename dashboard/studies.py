"""Study-table helpers: display columns, metadata filters, where labels live, case frames and
thumbnails.

Pure pandas/numpy; the pseudonymous patient key and the accession linkage are never shown.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from model.schema import CINE_SLOTS, VIEW_SLOTS

log = logging.getLogger(__name__)
HIDDEN_COLUMNS = ("patient_key", "accession_number")
# The case view's metadata, in this order and by these names (any other column follows by its own)
CASE_FIELDS = {
    "site": "Site",
    "split": "Split",
    "views": "Views",
    "cine_phases": "Cine phases",
    "pixel_spacing_mm": "Pixel spacing",
    "matrix": "Matrix",
    "manufacturer": "Manufacturer",
    "scanner": "Scanner",
    "field_strength": "Field strength",
    "age_band": "Age band",
    "sex": "Sex",
    "source": "Source",
}
# the Studies page's views by the name its address gives them (``?view=import``): a reload
# (a new session) opens the view the user was on, not Browse
STUDIES_VIEWS = {"browse": "Browse", "case": "Case view", "import": "Import"}
FILTER_COLUMNS = ("site", "split", "sex", "age_band", "manufacturer", "field_strength")
# the report impression next to the ID: last, it was off-screen on a laptop behind the views
DISPLAY_COLUMNS = (
    "study_id",
    "impression",
    "site",
    "split",
    "age_band",
    "sex",
    "views",
    "cine_phases",
    "pixel_spacing_mm",
    "matrix",
    "manufacturer",
    "field_strength",
)
# The study tables' headers and the filters' labels: the case view's names, units in the header
TABLE_LABELS = {
    **CASE_FIELDS,
    "study_id": "Study ID",
    "impression": "Impression",
    "pixel_spacing_mm": "Pixel spacing (mm)",
    "field_strength": "Field strength (T)",
}

UNKNOWN = "unknown"
# What ingest stores as the field strength of a study whose DICOM has no MagneticFieldStrength
# (and of a NIfTI case): the column is a float in studies.parquet and the case index.
UNKNOWN_FIELD_STRENGTH = 0.0

# Rows of the study table sent to the browser on each rerun (about 0.5 kB each): a large site's
# whole table would be megabytes on every filter change. The filters search every study.
TABLE_ROWS = 2000
# Study IDs a study picker sends to the browser at once; beyond that the user types part of one.
PICKER_IDS = 1000


@dataclass
class StudyFilter:
    """Metadata filters: column -> allowed values (empty = all), required views and free text."""

    values: dict[str, list[str]] = field(default_factory=dict)
    views: list[str] = field(default_factory=list)
    text: str = ""


def display_table(studies: pd.DataFrame) -> pd.DataFrame:
    """The study table as shown in the UI (no patient keys, stable column order, an unknown field
    strength as ``unknown``)."""
    columns = [c for c in DISPLAY_COLUMNS if c in studies.columns]
    table = studies[columns].reset_index(drop=True)
    if "field_strength" in table.columns:
        table["field_strength"] = shown_values(table, "field_strength")
    return table


def column_label(column: str) -> str:
    """A study column as the tables, filters and the map name it (``age_band`` -> ``Age band``);
    a name already written for people (the map's ``LGE (label)``) as it is."""
    if column != column.lower() or " " in column:
        return column
    return TABLE_LABELS.get(column, column.replace("_", " ").capitalize())


def table_labels(table: pd.DataFrame) -> dict[str, str]:
    """Column -> header of a study table (``display_table``), for ``st.column_config``."""
    return {str(c): column_label(str(c)) for c in table.columns}


def case_metadata(row: pd.Series) -> pd.DataFrame:
    """One study's metadata for the case view: a ``value`` column indexed by field name, every
    value short or breakable (views spaced, spacing in mm, field strength in T or ``unknown``);
    no patient key, report or frame counts."""
    hidden = {*HIDDEN_COLUMNS, "impression", "view_frames", "study_id"}
    names = [c for c in CASE_FIELDS if c in row.index]
    names += [c for c in row.index if c not in CASE_FIELDS and c not in hidden]
    values = {}
    for column in names:
        value = row[column]
        if column == "views":
            text = ", ".join(v for v in str(value or "").split(",") if v) or "none"
        elif column == "pixel_spacing_mm" and pd.notna(pd.to_numeric(value, errors="coerce")):
            text = f"{float(value):.2f} mm"
        elif column == "field_strength":
            strength = known_field_strength(pd.Series([value])).iloc[0]
            text = UNKNOWN if pd.isna(strength) else f"{strength:g} T"
        else:
            text = UNKNOWN if pd.isna(value) or str(value).strip() == "" else str(value)
        values[CASE_FIELDS.get(column, column.replace("_", " ").capitalize())] = text
    return pd.DataFrame({"value": list(values.values())}, index=pd.Index(values, name="field"))


def known_field_strength(values: pd.Series) -> pd.Series:
    """Field strengths in tesla, NaN where unknown (stored as ``UNKNOWN_FIELD_STRENGTH``)."""
    numbers = pd.to_numeric(values, errors="coerce")
    return numbers.where(numbers > UNKNOWN_FIELD_STRENGTH)


def shown_values(studies: pd.DataFrame, column: str) -> pd.Series:
    """A column's values as the pages show and filter them: text, the field strength as stored
    (``1.5``) or ``unknown``; other missing values NaN."""
    values = studies[column]
    if column == "field_strength":
        return known_field_strength(values).map(str, na_action="ignore").fillna(UNKNOWN)
    return values.astype(str).where(values.notna())


# Streamlit's data grid picks a row with Shift+Space (Enter and Space do nothing), unannounced
ROW_PICK_KEYS = "from the keyboard: Tab into the table, arrows to a row, Shift+Space"


def header_sort_note(listed: int, total: int) -> str:
    """What a click on a column header does to a table cut to its first ``listed`` rows of
    ``total``: the browser sorts only the rows it was sent."""
    return f"a click on a column header sorts only these {listed:,}, not all {total:,}"


def listed_rows(
    matching: pd.DataFrame, total: int, order: str = "in dataset order"
) -> tuple[pd.DataFrame, str]:
    """(the rows of a filtered study table to list, at most ``TABLE_ROWS``; its caption).

    ``matching`` comes already in the page's order (``dashboard.study_order.ordered``) and
    ``order`` says it (``by Site, descending``): the caption names it and, when rows are cut,
    that a column header's sort in the browser reorders only the listed ones."""
    listed = matching.head(TABLE_ROWS)
    if len(listed) < len(matching):
        caption = (
            f"the first {len(listed):,} of {len(matching):,} matching studies ({total:,} in all) "
            f"{order}; narrow the filters to list the others · "
            + header_sort_note(len(listed), len(matching))
        )
    else:
        caption = f"{len(matching):,} of {total:,} studies {order}"
    return listed, f"{caption} · select a row to open the case ({ROW_PICK_KEYS})"


def listed_selection(chosen: pd.DataFrame) -> tuple[pd.DataFrame, str]:
    """(the display rows of the studies a map selection picked, at most ``TABLE_ROWS``; a caption
    saying so): a lasso over a large site's map picks tens of thousands."""
    listed = display_table(chosen.head(TABLE_ROWS))
    # the map and its selection stay
    pick = f"select a row to see the study below the table ({ROW_PICK_KEYS})"
    if len(listed) == len(chosen):
        return listed, pick
    return listed, (
        f"the first {len(listed):,} of {len(chosen):,} selected studies; select a smaller area "
        f"to list the others · {header_sort_note(len(listed), len(chosen))} · {pick}"
    )


def picker_ids(
    ids: list[str], typed: str, current: str | None, limit: int = PICKER_IDS
) -> tuple[list[str], int]:
    """The IDs a study picker lists, and how many match ``typed`` in all.

    At most ``limit`` matches of the typed text (case-insensitive), with the current study
    first when it is one of ``ids``, so the picker keeps showing it.
    """
    needle = typed.strip().lower()
    matching = [i for i in ids if needle in i.lower()] if needle else ids
    listed = matching[:limit]
    if current in ids and current not in listed:
        listed = [current, *listed[: limit - 1]]
    return listed, len(matching)


def filter_options(
    studies: pd.DataFrame, columns: Sequence[str] = FILTER_COLUMNS
) -> dict[str, list[str]]:
    """Distinct values of each of the filterable ``columns`` present in the table."""
    return {
        col: sorted(shown_values(studies, col).dropna().unique().tolist())
        for col in columns
        if col in studies.columns
    }


def apply_filter(studies: pd.DataFrame, chosen: StudyFilter) -> pd.DataFrame:
    """Rows matching every chosen value list, containing every required view and the text."""
    mask = pd.Series(True, index=studies.index)
    for column, allowed in chosen.values.items():
        if allowed and column in studies.columns:
            mask &= shown_values(studies, column).isin(allowed)
    if chosen.views and "views" in studies.columns:
        present = studies["views"].fillna("").str.split(",")
        mask &= present.apply(lambda views: set(chosen.views) <= set(views))
    text = chosen.text.strip().lower()
    if text:
        haystack = studies.get("impression", pd.Series("", index=studies.index)).fillna("")
        haystack = haystack.str.lower() + " " + studies["study_id"].astype(str).str.lower()
        mask &= haystack.str.contains(text, regex=False)
    return studies[mask]


def view_frames(video: np.ndarray, frames_per_view: list[int] | None) -> dict[str, np.ndarray]:
    """Present views of one study: name -> uint8 frames [T_valid, H, W] (missing views left out).

    video: uint8 [V, T, H, W]; frames_per_view: valid frames per slot (0 = missing).
    """
    counts = (
        list(frames_per_view) if frames_per_view is not None else [video.shape[1]] * video.shape[0]
    )
    views = {}
    for slot, (name, count) in enumerate(zip(VIEW_SLOTS, counts, strict=False)):
        if count > 0:
            views[name] = video[slot, : int(count)]
    return views


def split_cine_lge(
    views: dict[str, np.ndarray],
) -> tuple[dict[str, np.ndarray], dict[str, np.ndarray]]:
    """(cine views, LGE views) of a ``view_frames`` result."""
    cine = {k: v for k, v in views.items() if k in CINE_SLOTS}
    lge = {k: v for k, v in views.items() if k not in CINE_SLOTS}
    return cine, lge


def thumbnail_strip(
    views: dict[str, np.ndarray], slots: tuple[str, ...] = ("sax_mid", "4ch", "2ch", "lge_sax")
) -> np.ndarray:
    """uint8 [H, W * k]: the first frame of up to four key views side by side (black if none)."""
    chosen = [views[s][0] for s in slots if s in views]
    if not chosen and views:
        chosen = [next(iter(views.values()))[0]]
    if not chosen:
        return np.zeros((64, 64), np.uint8)
    height = max(frame.shape[0] for frame in chosen)
    padded = [np.pad(f, ((0, height - f.shape[0]), (0, 0))) for f in chosen]
    return np.concatenate(padded, axis=1)


def view_from_query(slug: str | None) -> str:
    """The Studies view an address's ``?view=`` names; Browse for none or an unknown one."""
    return STUDIES_VIEWS.get(slug or "", "Browse")


def view_slug(view: str | None) -> str:
    """The ``?view=`` value of a Studies view (Browse when none is picked)."""
    return next((slug for slug, name in STUDIES_VIEWS.items() if name == view), "browse")
