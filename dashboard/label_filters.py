"""The Case browser's label filters: the findings and a hospital's own label columns.

The labels are the dataset's labels file (``Studio.labels``) joined to its studies: the findings
of ``model.schema`` and the file's own 0/1 columns that the case index takes as fields
(``model.index.label_fields.own_label_fields``), each under its column name, with the values
"1" and "0" (a blank is neither). The index filters on the same fields; when the values it
holds are not the file's (``model.index.held_datasets.labels_state``: built from another version
of the file, or from another file with ``index --labels``), or it lacks a chosen own field,
``dashboard.case_search`` answers label filters in memory, with the job that indexes the dataset
with its own labels.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import TYPE_CHECKING

import pandas as pd

from dashboard.studies import StudyFilter
from model.errors import DataError
from model.evaluation.tables import display_name
from model.index.label_fields import own_label_fields
from model.schema import FINDINGS

if TYPE_CHECKING:
    from dashboard.context import Studio

log = logging.getLogger(__name__)


def dataset_labels(studio: Studio) -> pd.DataFrame | None:
    """The active dataset's labels by study_id; None without a labels file or with one the
    page cannot use (then there are no label filters, and the page says nothing more)."""
    try:
        return studio.labels()
    except DataError as err:
        log.info("no label filters for %s: %s", studio.dataset_path(), err)
        return None


def label_columns(studies: pd.DataFrame, labels: pd.DataFrame | None) -> list[str]:
    """The label columns to filter on: findings first, then the file's own, in file order;
    none whose name is already a study column."""
    if labels is None:
        return []
    columns = [c for c in FINDINGS if c in labels.columns] + own_label_fields(labels)
    return [c for c in columns if c not in studies.columns]


def label_title(name: str) -> str:
    """A label filter's title: a finding as the other pages name it (``Left ventricle
    dilation``), a hospital's own column as its labels file does (``sarcoid``: the name a
    ``search --where`` takes)."""
    return display_name(name) if name in FINDINGS else name


def labelled_studies(studies: pd.DataFrame, labels: pd.DataFrame | None) -> pd.DataFrame:
    """``studies`` with each of ``label_columns`` as text "1" / "0" (NaN when blank or
    unlabelled), for the filters and their re-check of the index's answers."""
    columns = label_columns(studies, labels)
    if not columns:
        return studies
    assert labels is not None
    text = labels[columns].apply(lambda column: column.map({1.0: "1", 0.0: "0"}))
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
