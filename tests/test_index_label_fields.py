"""A hospital's own label columns (beyond the seven findings) as index fields: which columns
qualify, how a search learns them from the index, and when the index is out of date with them."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

import pandas as pd
import pytest
from index_fakes import embedded_index, make_records, sarcoid_records

import model.labels
from model.errors import DataError, UserError
from model.index.filters import normalize_where
from model.index.held_datasets import labels_state
from model.index.label_fields import (
    HASH_RECORD,
    LABELS_KEY,
    NO_RECORD,
    IndexedLabels,
    dataset_record,
    label_fields,
    labels_fingerprint,
    own_label_fields,
    stale_reason,
)
from model.index.records import read_labels
from model.index.writer import upsert_records

N = 12  # sarcoid_records' studies


def _labels_csv(path, ids: list[str], **columns: list[str]) -> pd.DataFrame:
    """A labels file of accession numbers ACC<i> for ``ids``, and the matching linkage."""
    frame = pd.DataFrame({"accession_number": [f"ACC{i}" for i in range(len(ids))], **columns})
    frame.to_csv(path, index=False)
    return pd.DataFrame({"study_id": ids, "accession_number": frame["accession_number"]})


def test_only_plain_binary_label_columns_qualify(tmp_path, caplog):
    ids = [f"st{i}" for i in range(4)]
    csv = tmp_path / "labels.csv"
    linkage = _labels_csv(
        csv,
        ids,
        lge=["1", "0", "", "1"],
        sarcoid=["1", "0", "", "0"],
        patient_id=["1", "0", "1", "0"],
        **{"LGE present": ["1", "1", "0", "0"]},
        Site=["0", "1", "0", "1"],
        amyloid_confirmed=["", "", "", ""],
        nicm=["0", "1", "0", "0"],
        **{"DOE_19700101": ["1", "0", "0", "0"]},
    )
    with caplog.at_level(logging.INFO, logger="model.index.label_fields"):
        labels = read_labels(csv, linkage)
    assert list(labels.columns) == ["lge", "sarcoid", "diagnosis"]
    assert labels["sarcoid"].tolist()[:2] == [1, 0] and pd.isna(labels["sarcoid"].iloc[2])
    lines = caplog.text.splitlines()
    assert len(lines) == 5, "one line per column left out"
    assert "column [not shown] is not indexed: its name looks like data" in caplog.text
    assert "19700101" not in caplog.text
    assert "'patient_id' is not indexed: its name looks like an identifier" in caplog.text
    assert "'LGE present' is not indexed" in caplog.text and "'LGE_present'" in caplog.text
    assert "'Site' is not indexed: the index has a field 'site'" in caplog.text
    assert "'amyloid_confirmed' is not indexed: it holds no 1 or 0" in caplog.text


def test_a_file_of_own_labels_only_is_indexed(tmp_path):
    ids = [f"st{i}" for i in range(3)]
    csv = tmp_path / "labels.csv"
    linkage = _labels_csv(csv, ids, sarcoid=["1", "", "0"])
    assert read_labels(csv, linkage)["sarcoid"].tolist()[::2] == [1, 0]
    _labels_csv(csv, ids, notes=["", "", ""])
    with pytest.raises(DataError, match="nor another label column the index can take"):
        read_labels(csv, linkage)


def test_a_column_with_other_values_is_refused_naming_it(tmp_path):
    """The labels reader every command shares refuses a column that is not 1, 0 or blank."""
    ids = [f"st{i}" for i in range(2)]
    csv = tmp_path / "labels.csv"
    linkage = _labels_csv(csv, ids, sarcoid=["1", "0"], grade=["2", "3"])
    with pytest.raises(DataError, match="column 'grade': value '2' is not 1, 0 or blank"):
        read_labels(csv, linkage)


def test_a_filter_takes_the_index_label_fields_and_still_names_a_typo():
    assert normalize_where({"sarcoid": 1}, {"sarcoid"}) == {"sarcoid": {"$eq": 1}}
    assert normalize_where({"sarcoid": True}, {"sarcoid"}) == {"sarcoid": {"$eq": 1}}
    with pytest.raises(UserError, match="unknown filter field 'sarcoidd'"):
        normalize_where({"sarcoidd": 1}, {"sarcoid"})
    with pytest.raises(UserError, match="unknown filter field 'sarcoid'"):
        normalize_where({"sarcoid": 1})  # an index without label fields: the old behaviour
    with pytest.raises(UserError, match="'sarcoid' holds int values"):
        normalize_where({"sarcoid": "yes"}, {"sarcoid"})


@pytest.mark.parametrize("exact", [True, False])
def test_search_filters_on_an_own_label_the_index_records(tmp_path, exact):
    sarcoid = [1 if i % 3 == 0 else (0 if i % 3 == 1 else None) for i in range(N)]
    records = sarcoid_records(sarcoid)
    index = embedded_index(tmp_path / "chroma", exact_filters=exact)
    upsert_records(index, records)
    assert index.label_fields() == {"sarcoid"}
    hits = index.search_vector(records.vectors[0], k=N, where={"sarcoid": 1})
    expected = {sid for sid, s in zip(records.ids, sarcoid, strict=True) if s == 1}
    assert {hit.study_id for hit in hits} == expected
    assert all(hit.metadata["sarcoid"] == 1 for hit in hits)
    with pytest.raises(UserError, match="unknown filter field 'sarcoidd'"):
        index.search_vector(records.vectors[0], k=3, where={"sarcoidd": 1})


def test_an_index_built_before_label_fields_searches_as_before(tmp_path):
    records = make_records(20)  # no recorded label fields: an index of an earlier version
    index = embedded_index(tmp_path / "chroma")
    upsert_records(index, records)
    assert LABELS_KEY not in (index.collection().metadata or {})
    assert index.label_fields() == frozenset()
    assert index.search_vector(records.vectors[0], k=3, where={"lge": 1})
    with pytest.raises(UserError, match="unknown filter field 'sarcoid'"):
        index.search_vector(records.vectors[0], k=3, where={"sarcoid": 1})


def test_a_label_now_blank_leaves_the_index(tmp_path):
    """Chroma merges an upsert's metadata into the stored one: a re-index must delete a label
    that became blank (or whose column was removed), not keep its old value."""
    index = embedded_index(tmp_path / "chroma")
    upsert_records(index, sarcoid_records([1] * N))
    records = sarcoid_records([None] * (N - 1) + [1])
    assert upsert_records(index, records).written == N - 1
    hits = index.search_vector(records.vectors[0], k=N, where={"sarcoid": 1})
    assert len(hits) == 1
    stored = index.collection().get(include=["metadatas"])["metadatas"]
    assert sum("sarcoid" in meta for meta in stored) == 1


def test_the_collection_records_each_dataset_label_fields(tmp_path):
    index = embedded_index(tmp_path / "chroma")
    upsert_records(index, sarcoid_records([1] * N, folder="a"))
    other = make_records(5, seed=4)
    other.labels["b"] = {"fields": ["amyloid"], "values": "abc"}
    upsert_records(index, other)
    assert label_fields(index.collection().metadata) == {"sarcoid", "amyloid"}
    again = sarcoid_records([1] * N, folder="a")
    again.labels["a"] = {"fields": [], "values": ""}  # its column was removed
    upsert_records(index, again)
    assert index.label_fields() == {"amyloid"}


def _indexed_with_own_labels(tmp_path, **columns: list[str]):
    """A dataset folder (labels.csv and linkage.csv of s1..s3), its index recording the labels
    as the index command does; returns (dataset, collection metadata)."""
    dataset = tmp_path / "hospital"
    dataset.mkdir()
    csv = dataset / "labels.csv"
    linkage = _labels_csv(csv, ["s1", "s2", "s3"], **columns)
    linkage.to_csv(dataset / "linkage.csv", index=False)
    index = embedded_index(tmp_path / "chroma")
    records = sarcoid_records([1] * N, folder=_folder(dataset))
    records.labels[_folder(dataset)] = dataset_record(read_labels(csv, linkage), [csv], own=True)
    upsert_records(index, records)
    return dataset, index.collection().metadata


def test_only_an_edit_of_what_the_index_holds_makes_it_outdated(tmp_path):
    """The index is judged by the label values it holds of the dataset's studies, not by the
    labels file's bytes: rows or columns in another order, another dataset's rows and a column
    the index does not take change nothing; a value, a new label column or a blanked label do."""
    dataset, metadata = _indexed_with_own_labels(
        tmp_path, lge=["1", "0", ""], sarcoid=["1", "0", "0"]
    )
    csv = dataset / "labels.csv"
    assert labels_state(metadata, dataset).current
    frame = pd.read_csv(csv, dtype=str, keep_default_na=False)
    elsewhere = {"accession_number": "OTHER9", "lge": "1", "sarcoid": "1", "patient_id": "1"}
    edited = pd.concat([frame.iloc[::-1], pd.DataFrame([elsewhere])]).fillna("")
    edited[["sarcoid", "patient_id", "accession_number", "lge"]].to_csv(csv, index=False)
    assert labels_state(metadata, dataset).current, "nothing the index holds was edited"
    for column, value in (("sarcoid", ["1", "1", "0"]), ("lge", ["1", "0", "0"])):
        changed = frame.copy()
        changed[column] = value
        changed.to_csv(csv, index=False)
        state = labels_state(metadata, dataset)
        assert not state.current and state.own, f"{column} edited"
    frame.assign(amyloid_confirmed=["0", "", ""]).to_csv(csv, index=False)
    assert not labels_state(metadata, dataset).current, "a label column added"
    assert labels_state(None, dataset).current, "an index that did not record it: not judged"
    csv.unlink()  # its labels given with index --labels from elsewhere: nothing to compare
    assert labels_state(metadata, dataset).current


def test_an_index_of_an_earlier_version_is_judged_by_the_file_hash(tmp_path):
    dataset, _ = _indexed_with_own_labels(tmp_path, sarcoid=["1", "0", "0"])
    csv = dataset / "labels.csv"
    record = {"fields": ["sarcoid"], "labels": labels_fingerprint([csv])}
    metadata = {LABELS_KEY: json.dumps({_folder(dataset): record})}
    assert labels_state(metadata, dataset).current
    pd.read_csv(csv, dtype=str).iloc[::-1].to_csv(csv, index=False)
    state = labels_state(metadata, dataset)
    assert not state.current and state.record == HASH_RECORD
    assert "recorded only a hash of hospital's labels file" in stale_reason(state, "hospital")


def _folder(dataset) -> str:
    from model.index.records import dataset_identity

    return dataset_identity("", dataset)["dataset_folder"]


def test_own_label_fields_never_takes_the_key_or_the_findings():
    frame = pd.DataFrame({"lge": [1.0], "nicm": [0.0], "accession_number": [1.0], "x1": [1.0]})
    assert own_label_fields(frame, "labels.csv") == ["x1"]


def test_a_writer_keeps_the_label_fields_another_recorded_meanwhile(tmp_path):
    """Two writers on a server: one records its dataset's label fields while the other writes;
    the other's closing update keeps them."""
    index = embedded_index(tmp_path / "chroma")
    other = make_records(5, seed=4)
    other.labels["b"] = {"fields": ["amyloid"], "values": "abc"}
    written = []

    def meanwhile(collection) -> None:
        if not written:
            written.append(upsert_records(embedded_index(tmp_path / "chroma"), other))

    upsert_records(index, sarcoid_records([1] * N, folder="a"), batch_size=4, on_batch=meanwhile)
    assert written and index.label_fields() == {"sarcoid", "amyloid"}


def test_an_own_label_a_sibling_dataset_indexed_is_not_this_datasets(tmp_path):
    """Two datasets share the index: the sibling's labels brought 'sarcoid'; this dataset's
    studies were indexed before label fields were recorded, so the index holds no sarcoid of
    theirs. A Case browser filter on its own sarcoid column is then answered in memory as
    'older than the labels', not asked of the index (no hits: 'the index lacks this dataset')."""
    dataset = tmp_path / "hospital"
    dataset.mkdir()
    _labels_csv(dataset / "labels.csv", ["s1", "s2"], sarcoid=["1", "0"])
    index = embedded_index(tmp_path / "chroma")
    upsert_records(index, sarcoid_records([1] * N, folder="sibling"))
    metadata = index.collection().metadata
    state = labels_state(metadata, dataset, ("", ""), {"sarcoid"})
    assert not state.current and state.record == NO_RECORD
    assert "before the index took a labels file's own columns" in stale_reason(state, "tiny")
    assert labels_state(metadata, dataset, ("", ""), {"lge"}).current, "a finding: as before"


def test_the_dashboard_parses_a_labels_file_once_per_version(tmp_path, monkeypatch):
    """The Case browser's label filters (``Studio.labels``) and the index's label record check
    (``Studio.labels_prints``) share one parse of the labels file; an edit parses it again."""
    import streamlit as st
    from tiny_dataset import make_tiny_dataset

    from dashboard.context import Studio
    from dashboard.settings import Settings

    root = tmp_path / "data"
    dataset = make_tiny_dataset(root / "ds" / "tiny", n=6)
    Settings(root).write_active(dataset=dataset)
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    parses = []
    read = model.labels.read_labels

    def counted(source, path):
        parses.extend([1] if Path(path).name == "labels.csv" else [])
        return read(source, path)

    monkeypatch.setattr(model.labels, "read_labels", counted)
    st.cache_data.clear()
    studio = Studio()
    assert len(studio.labels()) == 6 and studio.labels_prints()[0]
    assert studio.labels_prints() == Studio().labels_prints()
    assert len(parses) == 1
    frame = pd.read_csv(dataset / "labels.csv", dtype=str)
    frame.iloc[::-1].to_csv(dataset / "labels.csv", index=False)
    os.utime(dataset / "labels.csv", (1e9, 1e9))  # a new version, whatever the clock's grain
    assert len(Studio().labels()) == 6 and Studio().labels_prints()[0]
    assert len(parses) == 2
    st.cache_data.clear()


@pytest.mark.parametrize(
    "state",
    [
        IndexedLabels(current=False),
        IndexedLabels(current=False, own=False, files=("all_sites.csv",)),
        IndexedLabels(current=False, own=False),
    ],
)
def test_search_and_the_case_browser_give_one_reason(state, caplog):
    """``python -m model search`` and the Case browser say why the index's labels are stale in
    the same words: one title and one reason (``stale_title``, ``stale_reason``)."""
    from dashboard.index_access import CaseIndexAccess
    from model.index.cli_search import _say_labels_state
    from model.index.label_fields import stale_title

    class Access(CaseIndexAccess):
        def dataset_path(self) -> Path:
            return Path("/data/ds/tiny")

        def index_offer(self) -> None:
            return None

    page = Access().outdated_index(state)
    with caplog.at_level(logging.WARNING, logger="model.index.cli_search"):
        _say_labels_state(state, Path("tiny"))
    reason = stale_reason(state, "tiny")
    assert page.title == stale_title(state) and stale_title(state) in caplog.text
    assert reason in page.hint and reason in caplog.text
