"""Filter validation and evaluation; index records built from a study table and labels CSV."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from index_fakes import clustered_vectors, studies_table

from model.errors import DataError, UserError
from model.index.filters import evaluate_where, load_where, normalize_where
from model.index.records import (
    age_lower_bound,
    attach_labels,
    build_records,
    read_labels,
    study_metadata,
)


def test_several_top_level_fields_are_joined_with_and():
    assert normalize_where({"site": "external", "lv_dilation": 1}) == {
        "$and": [{"site": {"$eq": "external"}}, {"lv_dilation": {"$eq": 1}}]
    }
    assert normalize_where({"$and": [{"sex": "F"}]}) == {"sex": {"$eq": "F"}}
    assert normalize_where({}) is None and load_where("  ") is None


def test_values_are_coerced_to_the_stored_types():
    assert normalize_where({"field_strength": 3}) == {"field_strength": {"$eq": 3.0}}
    assert normalize_where({"lge": True}) == {"lge": {"$eq": 1}}
    assert normalize_where({"age_min": {"$gte": 60.0}}) == {"age_min": {"$gte": 60}}


@pytest.mark.parametrize(
    ("where", "message"),
    [
        ({"sitee": "external"}, "unknown filter field 'sitee'"),
        ({"site": {"$gt": "a"}}, "compares numbers, but 'site' is text"),
        ({"age_min": {"$gte": "sixty"}}, "'age_min' holds int values"),
        ({"age_min": {"$gte": 60.5}}, "'age_min' holds int values"),
        ({"site": {"$like": "ext"}}, "unknown operator '\\$like'"),
        ({"$not": [{"site": "x"}]}, "unknown operator '\\$not'"),
        ({"$or": []}, "needs a non-empty list"),
        ({"sex": {"$in": []}}, "needs a non-empty list"),
        ({"sex": {"$eq": "F", "$ne": "M"}}, "one operator per condition"),
        (["site"], "must be a JSON object"),
    ],
)
def test_bad_filters_name_the_problem(where, message):
    with pytest.raises(UserError, match=message):
        normalize_where(where)


def test_bad_json_is_a_user_error():
    with pytest.raises(UserError, match="not valid JSON"):
        load_where("{site: external}")


def test_evaluate_where_matches_pandas_semantics():
    meta = pd.DataFrame(
        {
            "site": ["internal", "external", "external", "internal"],
            "lge": [1, 0, 1, np.nan],
            "age_min": [40, 70, 60, 90],
        }
    )

    def check(where, expected):
        assert evaluate_where(normalize_where(where), meta).tolist() == expected

    check({"site": "external", "lge": 1}, [False, False, True, False])
    check({"$or": [{"age_min": {"$gte": 90}}, {"lge": 0}]}, [False, True, False, True])
    check({"lge": {"$ne": 1}}, [False, True, False, False])  # absent never matches
    check({"site": {"$nin": ["internal"]}}, [False, True, True, False])
    check({"diagnosis": "nicm"}, [False, False, False, False])  # field absent everywhere
    assert evaluate_where(None, meta).all()


def test_age_bands():
    assert [age_lower_bound(b) for b in ("40-49", "90+", "unknown", "")] == [40, 90, None, None]


def test_records_metadata_and_labels_through_linkage(tmp_path):
    studies = studies_table(12)
    ids = studies["study_id"].tolist()
    linkage = pd.DataFrame({"study_id": ids, "accession_number": [f"A{i:03d}" for i in range(12)]})
    labels_csv = tmp_path / "labels.csv"
    pd.DataFrame(
        {
            "accession_number": [f"A{i:03d}" for i in range(12)],
            "lv_dilation": [1, 0, None] * 4,
            "normal": [0, 1, 1] * 4,
            "nicm": [1, 0, 0] * 4,
        }
    ).to_csv(labels_csv, index=False)
    labels = read_labels(labels_csv, linkage)
    records = build_records(studies, ids, clustered_vectors(12), "demo", labels)
    first, second, third = records.metadatas[:3]
    assert first["lv_dilation"] == 1 and first["diagnosis"] == "nicm"
    assert second["lv_dilation"] == 0 and second["diagnosis"] == "normal"
    assert "lv_dilation" not in third, "a blank label stays unknown"
    assert first["dataset"] == "demo" and first["site"] == "external"
    assert first["n_views"] == len(first["views"].split(","))
    assert first["field_strength"] == 3.0 and first["age_min"] == 30
    assert all("accession_number" not in m for m in records.metadatas)
    assert records.documents[0] == studies["impression"][0]


def test_bad_labels_csv_is_a_data_error(tmp_path):
    linkage = pd.DataFrame({"study_id": ["s1"], "accession_number": ["A1"]})
    with pytest.raises(DataError, match="does not exist"):
        read_labels(tmp_path / "missing.csv", linkage)
    bad = tmp_path / "bad.csv"
    bad.write_text("accession,lv_dilation\nA1,1\n")
    with pytest.raises(DataError, match="no 'accession_number' column"):
        read_labels(bad, linkage)
    bad.write_text("accession_number,lv_dilation\nA1,7\n")
    with pytest.raises(DataError, match="value '7' is not 1, 0 or blank"):
        read_labels(bad, linkage)
    bad.write_text("accession_number,patient_name\nA1,1\n")  # no column the index can take
    with pytest.raises(DataError, match="none of the finding or diagnosis columns"):
        read_labels(bad, linkage)


def test_records_refuse_ids_missing_from_the_dataset():
    studies = studies_table(3)
    with pytest.raises(DataError, match="not in the dataset"):
        build_records(studies, ["nope"], clustered_vectors(1), "demo")


def test_records_read_the_study_and_labels_tables_once_not_a_row_lookup_per_study(
    tmp_path, monkeypatch
):
    """A large hospital's index (20,000 studies) spent 25 s building its records with two
    ``.loc`` row lookups per study; the tables are read once, and each study's record is
    what the row lookups gave, missing values included."""
    studies = studies_table(40)
    studies.loc[3, "sex"] = None  # a missing value of a text column
    studies.loc[5, "field_strength"] = np.nan
    ids = studies["study_id"].tolist()[::-1]
    linkage = pd.DataFrame({"study_id": ids, "accession_number": [f"A{i:03d}" for i in range(40)]})
    labels_csv = tmp_path / "labels.csv"
    pd.DataFrame(
        {
            "accession_number": [f"A{i:03d}" for i in range(40)],
            "lv_dilation": [1, 0, None, 1] * 10,
            "normal": [0, 1, 1, 0] * 10,
            "nicm": [1, 0, 0, 1] * 10,
        }
    ).to_csv(labels_csv, index=False)
    labels = read_labels(labels_csv, linkage)
    table = studies.set_index("study_id")
    expected = []
    for study_id in ids:  # the per-study lookups the records were built from before
        meta = study_metadata(table.loc[study_id], "demo")
        attach_labels(meta, labels, study_id)
        expected.append(meta)
    lookups = []
    real = pd.core.indexing._LocIndexer.__getitem__

    def counted(self, key):
        lookups.append(key)
        return real(self, key)

    monkeypatch.setattr(pd.core.indexing._LocIndexer, "__getitem__", counted)
    records = build_records(studies, ids, clustered_vectors(40), "demo", labels)
    assert len(lookups) <= 2, f"{len(lookups)} row lookups for 40 studies"
    assert records.metadatas == expected
    assert records.documents == [str(table["impression"][i]) for i in ids]
