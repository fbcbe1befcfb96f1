"""``python -m model index`` / ``search`` end to end on the tiny dataset and a tiny checkpoint."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from chroma_server import free_port
from index_fakes import make_records
from tiny_dataset import make_tiny_checkpoint, make_tiny_dataset

from model.cli import main
from model.index import cli_index, held_datasets
from model.index.cli_index import _write
from model.index.client import ChromaLocation, open_client
from model.index.embedding_index import EmbeddingIndex
from model.index.label_fields import (
    LABELS_KEY,
    NO_RECORD,
    IndexedLabels,
    recorded_labels,
    stale_reason,
    stale_title,
)
from model.index.records import dataset_identity
from model.index.writer_lock import WriterLock
from model.training.checkpoint import read_checkpoint_meta

N = 16


@pytest.fixture(scope="module")
def setup(tmp_path_factory):
    root = tmp_path_factory.mktemp("cli")
    data = make_tiny_dataset(root / "demo", n=N)
    other = make_tiny_dataset(root / "other", n=6, seed=3)
    checkpoint = make_tiny_checkpoint(data, root / "runs" / "tiny")
    built = root, data, other, checkpoint
    assert _index(built) == 0
    return built


def _index(setup, *extra: str) -> int:
    root, data, other, checkpoint = setup
    argv = ["index", "--checkpoint", str(checkpoint), "--data", str(data), "--data", str(other)]
    return main([*argv, "--labels", str(data / "labels.csv"), *extra])


def _search(setup, capsys, *args: str) -> tuple[int, list[dict]]:
    root, data, _, checkpoint = setup
    code = main(["search", *args, "--checkpoint", str(checkpoint), "--data", str(data), "--json"])
    lines = capsys.readouterr().out.splitlines()
    return code, [json.loads(line) for line in lines if line.startswith("{")]


def test_index_then_search(setup, capsys):
    root, data, other, checkpoint = setup
    assert _index(setup) == 0, "a rerun is a no-op, not an error"
    fingerprint = read_checkpoint_meta(checkpoint).fingerprint
    index = EmbeddingIndex(open_client(ChromaLocation(path=root / "chroma")), fingerprint)
    assert index.count() == N + 6
    code, hits = _search(setup, capsys, "Dilated left ventricle.", "--k", "5")
    assert code == 0 and len(hits) == 5
    assert [h["rank"] for h in hits] == [1, 2, 3, 4, 5]
    assert all(h["impression"] and "site" in h["metadata"] for h in hits)
    sims = [h["similarity"] for h in hits]
    assert sims == sorted(sims, reverse=True)


def test_filters_labels_and_like(setup, capsys):
    where = json.dumps({"site": "internal", "lv_dilation": 1, "dataset": "demo"})
    code, hits = _search(
        setup, capsys, "late gadolinium enhancement", "--k", "50", "--where", where
    )
    assert code == 0 and hits
    assert all(h["metadata"]["site"] == "internal" for h in hits)
    assert all(h["metadata"]["lv_dilation"] == 1 for h in hits)
    code, like = _search(setup, capsys, "--like", hits[0]["study_id"], "--k", "3")
    assert code == 0 and len(like) == 3
    assert hits[0]["study_id"] not in [h["study_id"] for h in like]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["   "], "search query is empty"),
        (["x" * 10_000], "limit is 2000"),
        (["lv", "--k", "0"], "k must be at least 1"),
        (["lv", "--where", '{"colour": "red"}'], "unknown filter field 'colour'"),
        (["lv", "--where", "{oops"], "not valid JSON"),
        (["--like", "no-such-study"], "not in the index"),
        ([], "give either a text query or --like"),
    ],
)
def test_bad_search_input_is_one_clear_line(setup, capsys, caplog, args, message):
    code, hits = _search(setup, capsys, *args)
    assert code == 2 and hits == []
    assert message in caplog.text
    assert "Traceback" not in caplog.text


def test_search_with_a_checkpoint_that_has_no_index(setup, capsys, caplog, tmp_path):
    root, data, _, checkpoint = setup
    chroma = tmp_path / "chroma"
    open_client(ChromaLocation(path=chroma))  # an empty index folder
    code = main(["search", "lv", "--checkpoint", str(checkpoint), "--chroma-path", str(chroma)])
    assert code == 2 and "no index for checkpoint" in caplog.text
    code = main(
        ["search", "lv", "--checkpoint", str(checkpoint), "--chroma-path", str(tmp_path / "x")]
    )
    assert code == 2 and "no index at" in caplog.text
    elsewhere = tmp_path / "documents"  # a folder that holds no index
    elsewhere.mkdir()
    code = main(["search", "lv", "--checkpoint", str(checkpoint), "--chroma-path", str(elsewhere)])
    assert code == 2 and f"no index at {elsewhere}" in caplog.text
    assert list(elsewhere.iterdir()) == [], "search only reads: it creates no database"


def test_k_above_the_index_size_returns_everything(setup, capsys):
    code, hits = _search(setup, capsys, "normal study", "--k", "500")
    assert code == 0 and len(hits) == N + 6


def test_second_index_command_stops_with_a_clear_message(setup, caplog):
    root = setup[0]
    with WriterLock(root / "chroma"):
        assert _index(setup) == 2
    assert "is writing the index" in caplog.text and "one writer per folder" in caplog.text
    assert _index(setup) == 0


def test_an_unreachable_server_stops_the_index_command_before_embedding(setup, monkeypatch, caplog):
    embedded: list[object] = []
    monkeypatch.setattr(cli_index, "collect_records", lambda *args: embedded.append(args))
    port = str(free_port())  # nothing listens there
    assert _index(setup, "--chroma-host", "127.0.0.1", "--chroma-port", port) == 2
    assert f"cannot reach Chroma server 127.0.0.1:{port}" in caplog.text
    assert embedded == []  # an hour of embedding is not spent before the server is checked


def test_a_folder_a_chroma_server_serves_is_not_written_as_embedded(setup, monkeypatch, caplog):
    """``chroma run --path ROOT/chroma`` holds the collections in memory: an index run (a
    rebuild too) into the folder itself would corrupt them; it says to go through the server."""
    from file_holder import server_on

    embedded: list[object] = []
    monkeypatch.setattr(cli_index, "collect_records", lambda *args: embedded.append(args))
    with server_on(setup[0] / "chroma", "--port", "8825") as server:
        assert _index(setup, "--rebuild") == 2
        assert _index(setup) == 2
    said = f"{setup[0] / 'chroma'}: a Chroma server (pid {server.pid}, `"
    assert said in caplog.text and embedded == []
    assert "index through the server: --chroma-host localhost --chroma-port 8825" in caplog.text


def test_a_dataset_given_as_dot_is_indexed_under_its_folder_name(setup, monkeypatch, tmp_path):
    root, data, _, checkpoint = setup
    chroma = tmp_path / "chroma"
    monkeypatch.chdir(data)
    argv = ["index", "--checkpoint", str(checkpoint), "--chroma-path", str(chroma)]
    assert main([*argv, "--data", "."]) == 0
    fingerprint = read_checkpoint_meta(checkpoint).fingerprint
    index = EmbeddingIndex(open_client(ChromaLocation(path=chroma)), fingerprint)
    stored = index.collection().get(include=["metadatas"])["metadatas"]
    assert {meta["dataset"] for meta in stored} == {data.name}
    assert len(index.search_like("s000001", k=50, where={"dataset": data.name})) == N - 1
    # the dataset's own identity, so a same-named dataset elsewhere is never pruned with it
    salt_id = json.loads((data / "dataset.json").read_text())["salt_id"]
    assert {meta["dataset_id"] for meta in stored} == {salt_id}
    assert len({meta["dataset_folder"] for meta in stored}) == 1


def test_a_damaged_index_folder_is_one_clear_line(setup, caplog, tmp_path):
    root, data, _, checkpoint = setup
    fingerprint = read_checkpoint_meta(checkpoint).fingerprint
    built = EmbeddingIndex(open_client(ChromaLocation(path=root / "chroma")), fingerprint)
    records = make_records(1100, dim=int(built.collection().metadata["dim"]))
    chroma = tmp_path / "chroma"
    _write(ChromaLocation(path=chroma), fingerprint, records, None)  # another process writes it
    headers = list(chroma.glob("*/header.bin"))
    assert headers, "1100 studies are enough for Chroma to keep an HNSW graph on disk"
    for header in headers:
        header.write_bytes(b"not an HNSW header")
    argv = ["--checkpoint", str(checkpoint), "--chroma-path", str(chroma)]
    assert main(["search", "--like", records.ids[0], *argv]) == 2
    assert main(["index", "--data", str(data), *argv]) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelname == "ERROR"]
    assert len(errors) == 2
    assert all(f"Chroma folder {chroma}" in e and "rebuild it" in e for e in errors)
    assert "Traceback" not in caplog.text


def test_without_labels_each_dataset_attaches_its_own(setup, tmp_path, caplog):
    """A re-index from the command line keeps the findings filters the dashboard's index job
    gave the records: the dataset's own labels.csv is used when --labels is not given."""
    root, data, other, checkpoint = setup
    chroma = tmp_path / "chroma"
    argv = ["index", "--checkpoint", str(checkpoint), "--data", str(data), "--data", str(other)]
    with caplog.at_level("INFO"):
        assert main([*argv, "--chroma-path", str(chroma)]) == 0
    assert f"demo: labels for {N} of {N} studies from {data / 'labels.csv'}" in caplog.text
    fingerprint = read_checkpoint_meta(checkpoint).fingerprint
    index = EmbeddingIndex(open_client(ChromaLocation(path=chroma)), fingerprint)
    metadatas = index.collection().get(include=["metadatas"])["metadatas"]
    labelled = [m for m in metadatas if "lv_dilation" in m]
    assert len(labelled) == len(metadatas) == N + 6


def test_a_rebuild_names_the_datasets_it_would_drop(setup, tmp_path, caplog):
    """One checkpoint's index holds every dataset indexed with it (siblings sharing a folder, a
    colleague's on a server): a rebuild from some of them stops, naming the others, unless they
    are given too or --drop-others says to drop them."""
    root, data, other, checkpoint = setup
    chroma = tmp_path / "chroma"
    argv = ["index", "--checkpoint", str(checkpoint), "--chroma-path", str(chroma)]
    assert main([*argv, "--data", str(data), "--data", str(other)]) == 0
    fingerprint = read_checkpoint_meta(checkpoint).fingerprint
    index = EmbeddingIndex(open_client(ChromaLocation(path=chroma)), fingerprint)
    assert main([*argv, "--data", str(data), "--rebuild"]) == 2
    assert "also holds other (6 studies)" in caplog.text and "--drop-others" in caplog.text
    assert index.count() == N + 6, "nothing was dropped"
    assert main([*argv, "--data", str(data), "--data", str(other), "--rebuild"]) == 0
    assert index.count() == N + 6
    assert main([*argv, "--data", str(data), "--drop-others"]) == 2
    assert "--drop-others goes with --rebuild" in caplog.text
    caplog.clear()
    with caplog.at_level("INFO"):
        assert main([*argv, "--data", str(data), "--rebuild", "--drop-others"]) == 0
    assert index.count() == N
    assert f"{N} studies ({N} written, 0 unchanged, 6 removed)" in caplog.text, caplog.text


def test_a_label_filter_on_an_index_built_without_labels_says_so(setup, tmp_path, caplog):
    """No study matches lge = 1 because no study was indexed with labels, not because none has
    LGE: the message says which, and how to give the labels."""
    root, data, other, checkpoint = setup
    unlabelled = tmp_path / "unlabelled"
    shutil.copytree(other, unlabelled, ignore=shutil.ignore_patterns("labels.csv", "embeddings"))
    chroma = ["--chroma-path", str(tmp_path / "chroma")]
    argv = ["--checkpoint", str(checkpoint), *chroma]
    assert main(["index", *argv, "--data", str(unlabelled)]) == 0
    with caplog.at_level("INFO"):
        assert main(["search", "LGE", *argv, "--where", '{"lge": 1}']) == 0
    assert "no indexed study has a value for lge (they were indexed without labels" in caplog.text
    caplog.clear()
    with caplog.at_level("INFO"):
        assert main(["search", "LGE", *argv, "--where", '{"site": "nowhere"}']) == 0
    assert "no studies match the filter" in caplog.text and "no indexed study" not in caplog.text


def test_search_without_an_index_location_names_data_first(caplog, monkeypatch):
    """``search`` with neither ``--data`` nor a Chroma option names ``--data``, the usual way
    (its index is DATASET/../chroma), beside the two explicit locations."""
    monkeypatch.delenv("CMR_CHROMA_HOST", raising=False)
    code = main(["search", "dilated LV", "--checkpoint", "never-read.pt"])
    assert code == 2
    assert "--data DATASET" in caplog.text and "--chroma-path DIR" in caplog.text
    assert "Traceback" not in caplog.text


def test_search_refuses_a_data_folder_that_is_not_a_dataset(setup, caplog, tmp_path):
    """A mistyped --data searched the index beside it (DATASET/../chroma) as if it were right."""
    root, data, _, checkpoint = setup
    for wrong in (data.parent / "dmeo", data / "tensors"):
        code = main(["search", "lv", "--checkpoint", str(checkpoint), "--data", str(wrong)])
        assert code == 2 and str(wrong) in caplog.text
    assert "is not a dataset" in caplog.text


def test_a_hospital_label_column_is_a_search_filter(setup, tmp_path, caplog, capsys):
    """A labels file's own 0/1 column (sarcoid) is filterable once indexed; a typo of it is still
    an unknown field, and a column added to labels.csv later makes search say the index is out
    of date until the dataset is indexed again."""
    root, data, other, checkpoint = setup
    hospital = tmp_path / "hospital"
    shutil.copytree(other, hospital)
    labels = pd.read_csv(hospital / "labels.csv", dtype=str)
    labels["sarcoid"] = ["1", "0", "", "1", "0", "0"]
    labels.to_csv(hospital / "labels.csv", index=False)
    argv = ["--checkpoint", str(checkpoint), "--data", str(hospital)]
    assert main(["index", *argv]) == 0
    search = ["search", "--like", "s030000", *argv, "--json", "--where"]
    assert main([*search, '{"sarcoid": 1}']) == 0
    hits = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert [h["study_id"] for h in hits] == ["s030003"]
    assert main([*search, '{"sarcoidd": 1}']) == 2
    assert "unknown filter field 'sarcoidd'" in caplog.text
    labels["amyloid_confirmed"] = ["0", "1", "1", "", "", ""]
    labels.to_csv(hospital / "labels.csv", index=False)
    caplog.clear()
    assert main([*search, '{"sarcoid": 0}']) == 0
    assert "changed since the index was built" in caplog.text
    assert main([*search, '{"amyloid_confirmed": 1}']) == 2
    assert main(["index", *argv]) == 0
    capsys.readouterr()
    caplog.clear()
    assert main([*search, '{"amyloid_confirmed": 1}']) == 0
    hits = [json.loads(line) for line in capsys.readouterr().out.splitlines()]
    assert sorted(h["study_id"] for h in hits) == ["s030001", "s030002"]
    assert "changed since the index was built" not in caplog.text


def test_search_judges_the_index_by_the_label_values_it_holds(setup, tmp_path, caplog, capsys):
    """A dataset indexed with ``--labels`` from another file (all sites' labels in one) holds its
    own labels file's values: search says nothing. Nor after edits the index does not hold (rows
    reordered, another site's row, a column it does not take); a value the index holds that the
    labels file no longer has is named as coming from the other file, not as an edit."""
    root, data, other, checkpoint = setup
    hospital = tmp_path / "hospital"
    shutil.copytree(other, hospital)
    own = pd.read_csv(hospital / "labels.csv", dtype=str)
    elsewhere = pd.read_csv(data / "labels.csv", dtype=str)
    combined = pd.concat([elsewhere, own.iloc[::-1]])[own.columns[::-1]]
    combined.to_csv(tmp_path / "all_sites.csv", index=False)
    argv = ["--checkpoint", str(checkpoint), "--data", str(hospital)]
    assert main(["index", *argv, "--labels", str(tmp_path / "all_sites.csv")]) == 0
    search = ["search", "--like", "s030000", *argv, "--json", "--where", '{"lge": 1}']
    caplog.clear()
    assert main(search) == 0
    assert "since the index was built" not in caplog.text and "all_sites.csv" not in caplog.text
    shuffled = own.iloc[[3, 0, 5, 1, 4, 2]].copy()
    shuffled["patient_id"] = "1"  # not an index field
    pd.concat([shuffled, elsewhere.head(1)]).to_csv(hospital / "labels.csv", index=False)
    assert main(search) == 0
    assert "since the index was built" not in caplog.text and "all_sites.csv" not in caplog.text
    own.loc[0, "lge"] = "0" if own.loc[0, "lge"] == "1" else "1"
    own.to_csv(hospital / "labels.csv", index=False)
    assert main(search) == 0
    assert "with the labels of all_sites.csv" in caplog.text
    assert "not with hospital's own labels file" not in caplog.text  # the path, as it was given
    assert f"not with {hospital}'s own labels file" in caplog.text
    assert "since the index was built" not in caplog.text
    capsys.readouterr()


def _with_column(dataset, **columns: list[str]) -> pd.DataFrame:
    """``dataset``'s labels.csv with ``columns`` added (written back); the labels as written."""
    labels = pd.read_csv(dataset / "labels.csv", dtype=str)
    labels = labels.assign(**{name: values[: len(labels)] for name, values in columns.items()})
    labels.to_csv(dataset / "labels.csv", index=False)
    return labels


def _folder(dataset) -> str:
    return dataset_identity("", dataset)["dataset_folder"]


def test_search_names_an_own_label_filter_the_index_holds_none_of(setup, tmp_path, caplog):
    """A sibling sharing the index brought 'sarcoid'; this dataset's studies were indexed before
    its labels file had that column, by a version that recorded no labels. Its --where on its own
    sarcoid column finds none of its studies: search says why in the Case browser's words (the
    index predates its record of the labels), not nothing. A field only the sibling's file has,
    or a finding, is not a column of this dataset's file to warn about."""
    root, data, other, checkpoint = setup
    hospital, sibling = tmp_path / "hospital", tmp_path / "sibling"
    shutil.copytree(data, hospital)
    shutil.copytree(other, sibling)
    _with_column(sibling, sarcoid=["1", "0"] * 3, amyloid_confirmed=["0", "1"] * 3)
    argv = ["--checkpoint", str(checkpoint), "--chroma-path", str(tmp_path / "chroma")]
    assert main(["index", *argv, "--data", str(hospital), "--data", str(sibling)]) == 0
    fingerprint = read_checkpoint_meta(checkpoint).fingerprint
    location = ChromaLocation(path=tmp_path / "chroma")
    collection = EmbeddingIndex(open_client(location), fingerprint).collection()
    recorded = recorded_labels(collection.metadata)
    del recorded[_folder(hospital)]  # as a version before label records left it
    collection.modify(metadata={**collection.metadata, LABELS_KEY: json.dumps(recorded)})
    _with_column(hospital, sarcoid=["1", "0"] * (N // 2))
    search = ["search", "LV", *argv, "--data", str(hospital), "--where"]
    state = IndexedLabels(current=False, record=NO_RECORD)
    caplog.clear()
    assert main([*search, '{"sarcoid": 1}']) == 0
    assert stale_title(state) in caplog.text
    assert stale_reason(state, str(hospital)) in caplog.text
    for where in ('{"amyloid_confirmed": 1}', '{"lge": 1}'):
        caplog.clear()
        assert main([*search, where]) == 0
        assert "The case index" not in caplog.text, where


def test_the_index_command_says_when_the_labels_it_holds_are_not_the_datasets(
    setup, tmp_path, caplog
):
    """Indexed with --labels from another file whose values differ from the dataset's own labels
    file, or from files that label none of its studies, the index command says so in one line,
    in the words search and the Case browser use; with the same values, or the dataset's own
    file, it says nothing."""
    root, data, other, checkpoint = setup
    hospital = tmp_path / "hospital"
    shutil.copytree(other, hospital)
    own = pd.read_csv(hospital / "labels.csv", dtype=str)
    argv = ["index", "--checkpoint", str(checkpoint), "--data", str(hospital)]
    argv += ["--chroma-path", str(tmp_path / "chroma")]
    own.iloc[::-1].to_csv(tmp_path / "same.csv", index=False)
    edited = own.copy()
    edited.loc[0, "lge"] = "0" if own.loc[0, "lge"] == "1" else "1"
    edited.to_csv(tmp_path / "all_sites.csv", index=False)
    other_file = IndexedLabels(current=False, own=False, files=("all_sites.csv",))
    none = IndexedLabels(current=False, own=False)
    cases = [
        (["--labels", str(tmp_path / "all_sites.csv")], other_file),
        (["--labels", str(tmp_path / "same.csv")], None),
        (["--labels", str(data / "labels.csv")], none),
        ([], None),
    ]
    for extra, state in cases:
        caplog.clear()
        assert main([*argv, *extra]) == 0
        notes = [r.getMessage() for r in caplog.records if "The case index" in r.getMessage()]
        if state is None:
            assert notes == [], extra
            continue
        assert len(notes) == 1, (extra, notes)
        assert stale_title(state) in notes[0] and stale_reason(state, str(hospital)) in notes[0]


def _siblings_indexed(setup, tmp_path) -> tuple[Path, Path, list[str]]:
    """Copies of the two datasets side by side, both indexed into one embedded folder; the
    index command line without its --data."""
    _, data, other, checkpoint = setup
    first, second = tmp_path / "first", tmp_path / "second"
    shutil.copytree(data, first)
    shutil.copytree(other, second)
    argv = ["index", "--checkpoint", str(checkpoint), "--chroma-path", str(tmp_path / "chroma")]
    assert main([*argv, "--data", str(first), "--data", str(second)]) == 0
    return first, second, argv


def test_the_index_command_names_a_siblings_labels_it_keeps_but_cannot_refresh(
    setup, tmp_path, caplog
):
    """Two sibling datasets share an index folder; one's labels file is edited and only the
    other is indexed again: the index keeps the edited one's old labels, which this command
    cannot refresh, and says so in the same words, naming it. Indexing both says nothing."""
    first, second, argv = _siblings_indexed(setup, tmp_path)
    labels = pd.read_csv(second / "labels.csv", dtype=str)
    labels.loc[0, "lge"] = "0" if labels.loc[0, "lge"] == "1" else "1"
    labels.to_csv(second / "labels.csv", index=False)
    state = IndexedLabels(current=False)
    caplog.clear()
    assert main([*argv, "--data", str(first)]) == 0
    notes = [r.getMessage() for r in caplog.records if "The case index" in r.getMessage()]
    assert len(notes) == 1 and stale_reason(state, str(second)) in notes[0], notes
    assert stale_title(state) in notes[0]
    caplog.clear()
    assert main([*argv, "--data", str(first), "--data", str(second)]) == 0
    assert "The case index" not in caplog.text


def test_a_sibling_folder_it_may_not_read_is_no_dataset(tmp_path, monkeypatch):
    """A folder beside the given dataset that this account may not enter (a disk's lost+found,
    another user's folder): looking for sibling datasets after the index is written skips it,
    where stat's PermissionError stopped the finished command."""
    given, locked = tmp_path / "given", tmp_path / "lost+found"
    given.mkdir()
    locked.mkdir()
    real_stat = os.stat

    def stat(path, *args, **kwargs):
        if str(path).startswith(str(locked) + os.sep):
            raise PermissionError(13, "Permission denied", str(path))
        return real_stat(path, *args, **kwargs)

    monkeypatch.setattr(os, "stat", stat)
    assert held_datasets.sibling_datasets([given], {"any"}) == []


def test_a_sibling_whose_linkage_cannot_be_read_does_not_fail_the_written_index(
    setup, tmp_path, caplog, monkeypatch
):
    """Another account's sibling dataset in the same index folder, its linkage.csv (accession
    numbers) readable by that account alone: the index command, its index written, says it
    cannot judge that sibling's labels and ends well; reading it stopped the command."""
    first, second, argv = _siblings_indexed(setup, tmp_path)
    real_read_csv = pd.read_csv

    def read_csv(path, *args, **kwargs):
        if str(path) == str(second / "linkage.csv"):
            raise PermissionError(13, "Permission denied", str(path))
        return real_read_csv(path, *args, **kwargs)

    monkeypatch.setattr(pd, "read_csv", read_csv)
    caplog.clear()
    with caplog.at_level("INFO"):
        assert main([*argv, "--data", str(first)]) == 0
    assert "Permission denied" in caplog.text and str(second) in caplog.text


def test_index_ends_with_the_search_command_that_reads_it(setup, caplog, capsys):
    """The command ended with counts and timings only; now with a search line that works."""
    import logging
    import shlex

    with caplog.at_level(logging.INFO):
        assert _index(setup) == 0
    said = [r.getMessage() for r in caplog.records if r.getMessage().startswith("search it: ")]
    assert len(said) == 1
    argv = shlex.split(said[0].removeprefix("search it: python -m model "))
    assert argv[:2] == ["search", "QUERY"] and "--data" in argv
    assert main([*argv, "--k", "2", "--json"]) == 0
    assert len([line for line in capsys.readouterr().out.splitlines() if line.startswith("{")]) == 2
