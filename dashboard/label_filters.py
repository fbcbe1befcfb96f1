"""The Case browser's label filters: the diagnosis, the findings and a hospital's own labels.

The labels are the dataset's labels file (``Studio.labels``) joined to its studies: the
diagnosis (``DIAGNOSIS``: the class of the one-hot diagnosis columns of ``model.schema``, read by
``model.labels.diagnosis_targets``, the rule by which the index stores its ``diagnosis`` field),
the findings and the file's own 0/1 columns that the case index takes as fields
(``model.index.label_fields.own_label_fields``), each under its column name, with the values
"1" and "0" (a blank is neither). The index filters on the same fields, and its record of the
label values it holds covers the diagnosis (``values_fingerprint``); when the values it
holds are not the file's (``model.index.held_datasets.labels_state``: built from another version
of the file, or from another file with ``index --labels``), or it lacks a chosen own field,
``dashboard.case_search`` answers label filters in memory, with the job that indexes the dataset
with its own labels.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from dashboard.studies import StudyFilter, filter_options
from model.errors import DataError
from model.evaluation.tables import display_name
from model.index.label_fields import own_label_fields
from model.labels import diagnosis_targets
from model.schema import DIAGNOSES, FINDINGS

if TYPE_CHECKING:
    from dashboard.context import Studio

log = logging.getLogger(__name__)
DIAGNOSIS = "diagnosis"  # the index's field (model.index.records.read_labels), values DIAGNOSES


def dataset_labels(studio: Studio) -> pd.DataFrame | None:
    """The active dataset's labels by study_id; None without a labels file or with one the
    page cannot use (then there are no label filters, and the page says nothing more)."""
    try:
        return studio.labels()
    except DataError as err:
        log.info("no label filters for %s: %s", studio.dataset_path(), err)
        return None


def label_columns(studies: pd.DataFrame, labels: pd.DataFrame | None) -> list[str]:
    """The label columns to filter on: the diagnosis (when the file has one-hot diagnosis
    columns), the findings, then the file's own, in file order; none whose name is already a
    study column."""
    if labels is None:
        return []
    diagnosis = [DIAGNOSIS] if any(c in labels.columns for c in DIAGNOSES) else []
    findings = [c for c in FINDINGS if c in labels.columns]
    columns = diagnosis + findings + own_label_fields(labels)
    return [c for c in columns if c not in studies.columns]


def label_title(name: str) -> str:
    """A label filter's title: the diagnosis and a finding as the other pages name them
    (``Diagnosis``, ``Left ventricle dilation``), a hospital's own column as its labels file
    does (``sarcoid``: the name a ``search --where`` takes)."""
    return display_name(name) if name in FINDINGS or name == DIAGNOSIS else name


def label_value(name: str, value: str) -> str:
    """A label filter's option as shown: a diagnosis as the other pages name it (``nicm`` ->
    ``NICM``), a 0/1 label as it is."""
    return display_name(value) if name == DIAGNOSIS else value


def label_options(table: pd.DataFrame, columns: list[str]) -> dict[str, list[str]]:
    """The values each label column of ``table`` (``labelled_studies``) holds, the diagnoses in
    the schema's order (normal first), the 0/1 labels "0" then "1"."""
    options = filter_options(table, columns)
    if DIAGNOSIS in options:
        options[DIAGNOSIS].sort(key=DIAGNOSES.index)
    return options


def diagnoses(labels: pd.DataFrame) -> pd.Series:
    """Each row's diagnosis key (``nicm``) where exactly one one-hot diagnosis column holds 1
    (``diagnosis_targets``, as the index stores it), missing elsewhere."""
    known, target = diagnosis_targets(labels, list(DIAGNOSES))
    names = np.array(DIAGNOSES, dtype=object)
    return pd.Series(np.where(known, names[target], None), index=labels.index, dtype=object)


def labelled_studies(studies: pd.DataFrame, labels: pd.DataFrame | None) -> pd.DataFrame:
    """``studies`` with each of ``label_columns`` as text "1" / "0" and the diagnosis as its key
    (``diagnoses``; NaN when blank or unlabelled), for the filters and their re-check of the
    index's answers."""
    columns = label_columns(studies, labels)
    if not columns:
        return studies
    assert labels is not None
    binary = {c: labels[c].map({1.0: "1", 0.0: "0"}) for c in columns if c != DIAGNOSIS}
    text = pd.DataFrame(binary, index=labels.index)
    if DIAGNOSIS in columns:
        text.insert(0, DIAGNOSIS, diagnoses(labels))
    text.index = text.index.astype(str)
    text = text[~text.index.duplicated()].reindex(studies["study_id"].astype(str).to_numpy())
    text.index = studies.index
    return pd.concat([studies, text], axis=1)


@dataclass(frozen=True)
class LabelledStudies:
    """The active dataset's studies joined to its labels once per rerun, for the page's filters
    and the search that re-checks the index's answers against them: ``table``
    (``labelled_studies``) and its label ``columns`` (``label_columns``)."""

    table: pd.DataFrame
    columns: tuple[str, ...] = ()


def case_studies(studio: Studio) -> LabelledStudies:
    """The active dataset's studies with its labels file's label columns (``labelled_studies``)."""
    studies = studio.studies()
    labels = dataset_labels(studio)
    columns = tuple(label_columns(studies, labels))
    return LabelledStudies(labelled_studies(studies, labels), columns)


def chosen_labels(filters: StudyFilter, columns: tuple[str, ...]) -> set[str]:
    """The label ``columns`` that ``filters`` restricts (a value chosen)."""
    return {name for name, values in filters.values.items() if values and name in columns}
