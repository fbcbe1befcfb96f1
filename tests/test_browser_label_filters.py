"""The Case browser's label filters as plain functions: the Diagnosis filter reads a study's
diagnosis from the one-hot columns by the rule the index stores it by."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboard.case_search import index_where
from dashboard.label_filters import label_columns, label_options, label_title, labelled_studies
from dashboard.studies import StudyFilter, apply_filter
from model.index.records import read_labels

NAN = np.nan


@pytest.fixture
def labels() -> pd.DataFrame:
    """Five studies' labels (``Studio.labels``: 1.0 / 0.0 / NaN by study_id): HCM, NICM, two
    diagnoses marked, none marked, HCM with the other columns blank."""
    return pd.DataFrame(
        {
            "lge": [1.0, 0.0, NAN, 1.0, 0.0],
            "nicm": [0.0, 1.0, 1.0, 0.0, NAN],
            "hcm": [1.0, 0.0, 1.0, 0.0, 1.0],
            "sarcoid": [0.0, 1.0, NAN, NAN, 0.0],
        },
        index=pd.Index([f"s{i}" for i in range(5)], name="study_id"),
    )


def _studies() -> pd.DataFrame:
    return pd.DataFrame({"study_id": [f"s{i}" for i in range(6)], "site": "internal"})


def test_the_diagnosis_is_one_filter_before_the_findings(labels) -> None:
    assert label_columns(_studies(), labels) == ["diagnosis", "lge", "sarcoid"]
    assert label_title("diagnosis") == "Diagnosis"
    table = labelled_studies(_studies(), labels)
    assert table["diagnosis"].fillna("-").tolist() == ["hcm", "nicm", "-", "-", "hcm", "-"]
    assert table["lge"].tolist()[:2] == ["1", "0"]
    options = label_options(table, label_columns(_studies(), labels))
    assert options["diagnosis"] == ["nicm", "hcm"], "the diagnoses in the schema's order"
    assert options["sarcoid"] == ["0", "1"]


def test_the_page_and_the_index_read_one_diagnosis(labels, tmp_path) -> None:
    """The page's in-memory filter and re-check find the studies the index's ``diagnosis``
    field holds (``model.index.records.read_labels``), by the same value."""
    frame = labels.rename_axis("accession_number").reset_index()
    frame.to_csv(tmp_path / "labels.csv", index=False, na_rep="")
    linkage = pd.DataFrame({"study_id": labels.index, "accession_number": labels.index})
    indexed = read_labels(tmp_path / "labels.csv", linkage)["diagnosis"].dropna()
    table = labelled_studies(_studies(), labels)
    chosen = StudyFilter(values={"diagnosis": ["hcm"]})
    assert set(apply_filter(table, chosen)["study_id"]) == set(indexed[indexed == "hcm"].index)
    assert index_where(chosen, "tiny") == {
        "$and": [{"dataset": {"$eq": "tiny"}}, {"diagnosis": {"$in": ["hcm"]}}]
    }


def test_a_file_without_diagnosis_columns_has_no_diagnosis_filter(labels) -> None:
    own = labels.drop(columns=["nicm", "hcm"])
    assert label_columns(_studies(), own) == ["lge", "sarcoid"]
    assert "diagnosis" not in labelled_studies(_studies(), own).columns
