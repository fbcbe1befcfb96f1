"""What the embedding map colours by, shows on hover and says of a selection.

A student's first questions of the map are "where are the diagnoses?" and "what is in this
cluster?": the label columns (named as on the Zero-shot page, "LGE (label)") come before
scanner details in the colour box, one Diagnosis column names each study's diagnosis (the
labels file holds them as one-hot columns, one colour choice each), and a selection is
summed up by the labels it holds more often than the whole map.

Pure: tables in, tables and text out.
"""

from __future__ import annotations

from collections.abc import Iterable
from itertools import chain, count

import numpy as np
import pandas as pd

from dashboard.studies import column_label, known_field_strength
from model.evaluation.tables import display_name
from model.labels import diagnosis_targets
from model.schema import DIAGNOSES
from model.wording import counted

LABEL_SUFFIX = " (label)"
DIAGNOSIS = f"Diagnosis{LABEL_SUFFIX}"
SEVERAL = "several"  # a study labelled with more than one diagnosis
NO_COLOUR = "(none)"
# the study facts asked about first; scanner details (matrix, pixel spacing...) after them
FIRST_FACTS = ("site", "split", "age_band", "sex")
NOT_COLOURS = frozenset({"x", "y", "study_id", "impression", "patient_key", "view_frames"})


def label_name(key: str) -> str:
    """A label column as the map names it: ``lge`` -> ``LGE (label)``."""
    return f"{display_name(key)}{LABEL_SUFFIX}"


def diagnosis(labels: pd.DataFrame, diagnoses: tuple[str, ...] = DIAGNOSES) -> pd.Series | None:
    """Each study's diagnosis by name (its one diagnosis column holding 1), ``SEVERAL`` where
    more than one does, missing where none does; None when ``labels`` has no diagnosis column."""
    present = [key for key in diagnoses if key in labels.columns]
    if not present:
        return None
    known, index = diagnosis_targets(labels, list(diagnoses))  # as the confusion matrix reads
    names = np.array([display_name(key) for key in diagnoses], dtype=object)
    named = pd.Series(np.where(known, names[index], None), index=labels.index, name=DIAGNOSIS)
    return named.mask(labels[present].eq(1).sum(axis=1) > 1, SEVERAL)


def map_table(
    ids: list[str], coords: np.ndarray, studies: pd.DataFrame, labels: pd.DataFrame | None
) -> pd.DataFrame:
    """One row a mapped study: its ``x``, ``y`` (``coords [N, 2]``, in ``ids`` order) beside its
    row of ``studies``, an unknown field strength (stored 0.0) NaN so that it is coloured as
    unknown, and with ``labels`` the label columns (``labelled_map``)."""
    table = pd.DataFrame(np.asarray(coords), columns=["x", "y"])
    table["study_id"] = list(ids)
    table = table.merge(studies, on="study_id", how="left")
    if "field_strength" in table.columns:
        table["field_strength"] = known_field_strength(table["field_strength"])
    return table if labels is None else labelled_map(table, labels)


def labelled_map(table: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """The map's ``table`` (one row per study, ``study_id``) with the Diagnosis column and each
    label column of ``labels`` (indexed by study_id) joined to it; unlabelled studies missing.

    A labels file's own ``diagnosis`` column keeps the name Diagnosis (the one-hots' column is
    then left out), and columns whose names read alike get distinct ones (``label_names``): a
    name twice crashed the page."""
    named = labels.rename(columns=label_names(labels.columns, taken=table.columns))
    found = diagnosis(labels)
    if found is not None and DIAGNOSIS not in {*named.columns, *table.columns}:
        named.insert(0, DIAGNOSIS, found)
    return table.merge(named, left_on="study_id", right_index=True, how="left")


def label_names(keys: Iterable[str], taken: Iterable[str] = ()) -> dict[str, str]:
    """Each label column's name on the map, none twice nor one of ``taken``: ``label_name``,
    else the header as the file writes it (``abc_def`` and ``abc def`` both read "Abc def"),
    else that header numbered."""
    used = {str(name) for name in taken}
    names = {}
    for key in map(str, keys):
        numbered = (f"{key} {n}{LABEL_SUFFIX}" for n in count(2))
        tries = chain([label_name(key), f"{key}{LABEL_SUFFIX}"], numbered)
        names[key] = next(name for name in tries if name not in used)
        used.add(names[key])
    return names


def colour_options(table: pd.DataFrame) -> list[str]:
    """``NO_COLOUR``, the labels (Diagnosis first), the first study facts, then the rest; none
    that holds one value for every study (the demo's scanner, matrix, views, source...: each
    drew the whole map in one colour)."""
    columns = [str(c) for c in table.columns if c not in NOT_COLOURS and _varies(table[c])]
    labels = [c for c in columns if c.endswith(LABEL_SUFFIX)]
    labels.sort(key=lambda c: c != DIAGNOSIS)  # stable: the labels file's order after it
    facts = [c for c in FIRST_FACTS if c in columns]
    rest = [c for c in columns if c not in labels and c not in facts]
    return [NO_COLOUR, *labels, *facts, *rest]


def _varies(values: pd.Series) -> bool:
    """Whether a column draws the map in more than one colour: two known values, or one and a
    missing one (drawn "unknown"). None, NaN and NA are one "unknown" (``nunique(dropna=False)``
    counts them apart); values hashed as they are, not as text (0.4 s a rerun at 50,000 studies
    by 25 columns), except unhashable ones (lists) that only text compares."""
    try:
        return values.nunique() + values.hasnans > 1
    except TypeError:
        return values.astype(str).nunique(dropna=False) > 1


def default_colour(options: list[str]) -> str:
    """Diagnosis where the labels give one: an uncoloured map says nothing at first sight."""
    return DIAGNOSIS if DIAGNOSIS in options else NO_COLOUR


def hover_columns(table: pd.DataFrame, colour: str | None) -> list[str]:
    """The hover text's rows: the diagnosis, the first study facts, and the colour's column (a
    point's colour was named only by the legend)."""
    wanted = [DIAGNOSIS, *FIRST_FACTS, *([colour] if colour and colour != NO_COLOUR else [])]
    return [c for c in dict.fromkeys(wanted) if c in table.columns]


def selection_note(chosen: pd.DataFrame, table: pd.DataFrame, limit: int = 3) -> str:
    """What a selection holds more often than the whole map: its ``limit`` labels furthest
    above their share of all studies, e.g. ``HCM 80% (12% of all)``; "" when none is."""
    rows = []
    for column in table.columns:
        if not str(column).endswith(LABEL_SUFFIX) or column == DIAGNOSIS:
            continue
        here, everywhere = _share(chosen[column]), _share(table[column])
        if here is not None and everywhere is not None and here > everywhere:
            rows.append((here - everywhere, str(column)[: -len(LABEL_SUFFIX)], here, everywhere))
    rows.sort(key=lambda row: -row[0])
    parts = [f"{name} {here:.0%} ({everywhere:.0%} of all)" for _, name, here, everywhere in rows]
    return " · ".join(parts[:limit])


def _share(values: pd.Series) -> float | None:
    """The share of the known 0/1 values that are 1; None when none is known."""
    known = values.dropna()
    return float(known.eq(1).mean()) if len(known) else None


def selection_message(count: int, note: str) -> str:
    """The toast a new map selection raises, with the first label of its ``selection_note``: on
    a laptop the list is under the fold, below the 620 px map, so a lasso seemed to do nothing."""
    listed = f"{counted(count, 'study')} selected: listed below the map"
    first = note.split(" · ")[0]  # the rest under the map: a toast cuts a long line
    return f"{listed}. More common here: {first}" if note else listed


def map_title(method: str, checkpoint: str, dataset: str, colour: str | None) -> str:
    """The map's title, in the Evaluate figures' form (what · model · site): the method, the
    checkpoint whose embeddings are drawn, the dataset and what the colours show; untitled,
    a screenshot of the map on a slide did not say which model or which studies it was."""
    coloured = f" · coloured by {column_label(colour)}" if colour else ""
    return f"Study embeddings ({method}) · {checkpoint} · {dataset}{coloured}"


def map_description(
    count: int, method: str, checkpoint: str, dataset: str, colour: str | None
) -> str:
    """The map's alt text, as the Evaluate figures have one: what a point is, how the points
    are placed and what the colours (and marker shapes) tell apart."""
    coloured = f", coloured by {column_label(colour)}" if colour else ""
    return (
        f"Scatter map of {counted(count, 'study')} of {dataset}, each a point placed by "
        f"{method} of {checkpoint}'s embeddings (nearby studies look alike to the encoder)"
        f"{coloured}."
    )
