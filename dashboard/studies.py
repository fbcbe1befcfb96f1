"""Study-table helpers: display columns, metadata filters, where labels live, case frames and
thumbnails.

Pure pandas/numpy; the pseudonymous patient key and the accession linkage are never shown.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from model.schema import CINE_SLOTS, VIEW_SLOTS

log = logging.getLogger(__name__)
HIDDEN_COLUMNS = ("patient_key", "accession_number")
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
    """The study table as shown in the UI (no patient keys, stable column order)."""
    columns = [c for c in DISPLAY_COLUMNS if c in studies.columns]
    return studies[columns].reset_index(drop=True)


def listed_rows(matching: pd.DataFrame, total: int) -> tuple[pd.DataFrame, str]:
    """(the rows of a filtered study table to list, at most ``TABLE_ROWS``; its caption)."""
    listed = matching.head(TABLE_ROWS)
    if len(listed) < len(matching):
        caption = (
            f"the first {len(listed):,} of {len(matching):,} matching studies ({total:,} in all); "
            "narrow the filters to list the others"
        )
    else:
        caption = f"{len(matching):,} of {total:,} studies"
    return listed, f"{caption} · select a row to open the case"


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


def filter_options(studies: pd.DataFrame) -> dict[str, list[str]]:
    """Distinct values of each filterable column present in the table."""
    return {
        col: sorted(studies[col].dropna().astype(str).unique().tolist())
        for col in FILTER_COLUMNS
        if col in studies.columns
    }


def apply_filter(studies: pd.DataFrame, chosen: StudyFilter) -> pd.DataFrame:
    """Rows matching every chosen value list, containing every required view and the text."""
    mask = pd.Series(True, index=studies.index)
    for column, allowed in chosen.values.items():
        if allowed and column in studies.columns:
            mask &= studies[column].astype(str).isin(allowed)
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
