"""``python -m model forget``: a withdrawn study is gone from every place the product keeps it
(dataset, caches, index, per-study results), others stay, a dry run changes nothing, a
re-ingest skips it, and an unknown accession number is a clear message."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dicom_factory import StudySpec, write_study
from index_fakes import CHECKPOINT, embedded_index
from pydicom.uid import generate_uid

from model.cli import main
from model.data.ingest import ingest
from model.index.client import open_client
from model.index.records import IndexRecords
from model.index.writer import upsert_records
from model.study_embeddings import StudyEmbeddings

GONE_TEXT = "Withdrawn patient's unique impression zebra"
KEPT_TEXT = "Kept patient's impression okapi"


def _source(folder: Path) -> tuple[Path, Path, Path]:
    """Two DICOM studies, a reports CSV and a labels CSV, outside the data root."""
    write_study(folder / "dicom", StudySpec())
    spec = StudySpec(accession="ACC0002", patient_id="PID0002", study_uid=generate_uid())
    write_study(folder / "dicom", spec)
    reports, labels = folder / "reports.csv", folder / "labels.csv"
    texts = [f"IMPRESSION:\n{GONE_TEXT}.\n", f"IMPRESSION:\n{KEPT_TEXT}.\n"]
    frame = {"accession_number": ["ACC0001", "ACC0002"], "report": texts}
    pd.DataFrame(frame).to_csv(reports, index=False)
    pd.DataFrame({"accession_number": ["ACC0001", "ACC0002"], "lge": [1, 0]}).to_csv(
        labels, index=False
    )
    return folder / "dicom", reports, labels


def _files_naming(root: Path, text: str) -> list[Path]:
    needles = (text.encode(), text.encode("utf-32-le"))
    return [p for p in root.rglob("*") if p.is_file() and any(n in p.read_bytes() for n in needles)]


@pytest.fixture()
def world(tmp_path: Path) -> dict:
    return erasure_world(tmp_path)


def erasure_world(tmp_path: Path) -> dict:
    """A data root: a dataset with an embedding cache, its index, an evaluation, an example
    set, a zero-shot output, an ``embed --out`` file and a run trained on it."""
    src, reports, labels = _source(tmp_path / "export")
    root = tmp_path / "root"
    dataset = root / "ds" / "internal"
    ingest(src, dataset, reports=reports, labels=labels)
    link = pd.read_csv(dataset / "linkage.csv", dtype=str)
    sid = dict(zip(link.accession_number, link.study_id, strict=True))
    ids = [sid["ACC0001"], sid["ACC0002"]]
    salt_id = json.loads((dataset / "dataset.json").read_text())["salt_id"]
    (dataset / "embeddings").mkdir()
    cache = dataset / "embeddings" / f"{CHECKPOINT}-{'0' * 16}.npz"
    np.savez(cache, ids=np.array(ids), vectors=np.eye(2, 4, dtype=np.float32))
    vectors = np.eye(2, 8, dtype=np.float32)
    metas = [{"dataset": "internal", "dataset_id": salt_id, "site": "internal"} for _ in ids]
    index = embedded_index(root / "ds" / "chroma")
    upsert_records(index, IndexRecords(ids, vectors, metas, [GONE_TEXT, KEPT_TEXT]))
    evaluation = root / "evaluations" / "e1"
    (evaluation / "internal").mkdir(parents=True)
    (evaluation / "summary.json").write_text(json.dumps({"auc": 0.8}))
    scores = pd.DataFrame({"study_id": ids, "lge": [0.9, 0.1]})
    scores.to_csv(evaluation / "internal" / "zeroshot.csv", index=False)
    scores.to_csv(root / "zeroshot_out.csv", index=False)
    (root / "fewshot").mkdir()
    example = {"name": "lge", "positive": [ids[0]], "negative": [ids[1]]}
    (root / "fewshot" / "lge.json").write_text(json.dumps(example))
    (root / "vectors").mkdir()
    StudyEmbeddings(ids, np.eye(2, 4, dtype=np.float32)).save(root / "vectors" / "ds.npz")
    (root / "runs" / "r1").mkdir(parents=True)
    config = {"data": str(dataset), "data_fingerprint": "abc"}
    (root / "runs" / "r1" / "config.json").write_text(json.dumps(config))
    (root / "runs" / "r1" / "best.pt").write_bytes(b"weights")
    return {"root": root, "data": dataset, "gone": ids[0], "kept": ids[1], "src": src}


def _tree(root: Path) -> dict[str, str]:
    """Every file's digest, but the index's (Chroma rewrites its files when it is opened: its
    records are compared instead)."""
    files = {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file() and not p.name.endswith(".lock") and "chroma" not in p.parts
    }
    got = (
        embedded_index(root / "ds" / "chroma").collection().get(include=["documents", "metadatas"])
    )
    rows = zip(got["ids"], got["documents"], got["metadatas"], strict=True)
    return {**files, "index": repr(sorted((i, d, sorted(m.items())) for i, d, m in rows))}


def _forget(world: dict, *extra: str) -> int:
    return main(["forget", "--data", str(world["data"]), "--data-root", str(world["root"]), *extra])


def _copies(world: dict) -> Path:
    """A copy of the dataset's labels (keyed by accession number) under the data root, and a
    result a user named after the withdrawn study's accession number."""
    shared = world["root"] / "shared"
    shared.mkdir()
    labels = pd.read_csv(world["data"] / "labels.csv", dtype=str)
    labels.to_csv(shared / "labels.csv", index=False)
    pd.DataFrame({"study_id": [world["gone"]]}).to_csv(shared / "ACC0001.csv", index=False)
    return shared


def test_dry_run_changes_nothing_and_says_what_would_go(world, capsys) -> None:
    _copies(world)
    before = _tree(world["root"])
    assert _forget(world, "--accession", "ACC0001") == 0
    out = capsys.readouterr().out
    assert "DRY RUN" in out and "would remove 1 rows of studies.parquet" in out
    assert "would remove 1 rows of shared/labels.csv" in out
    assert "would remove 1 rows of shared/[names a withdrawn study]" in out
    assert "ACC0001" not in out, "an accession number is never printed, not even in a path"
    assert "runs/r1" in out and "cannot be un-trained" in out
    assert "embedding file vectors/ds.npz: would remove 1 rows" in out
    assert _tree(world["root"]) == before


def test_forget_removes_the_study_everywhere_and_keeps_the_others(world, capsys) -> None:
    shared = _copies(world)
    assert _forget(world, "--accession", "ACC0001", "--apply") == 0
    out = capsys.readouterr().out
    assert "ACC0001" not in out
    root, data = world["root"], world["data"]
    copied = pd.read_csv(shared / "labels.csv", dtype=str)
    assert copied["accession_number"].tolist() == ["ACC0002"]
    assert _files_naming(root, world["gone"]) == []
    assert _files_naming(root, GONE_TEXT) == []
    assert _files_naming(root, "ACC0001") == []
    studies = pd.read_parquet(data / "studies.parquet")
    assert studies["study_id"].tolist() == [world["kept"]]
    assert (data / "tensors" / f"{world['kept']}.npy").is_file()
    assert pd.read_csv(data / "labels.csv", dtype=str)["accession_number"].tolist() == ["ACC0002"]
    assert not list((data / "embeddings").glob("*.npz")), "every cache of the dataset goes"
    index = embedded_index(root / "ds" / "chroma")
    assert index.collection().get()["ids"] == [world["kept"]]
    assert pd.read_csv(root / "zeroshot_out.csv")["study_id"].tolist() == [world["kept"]]
    assert StudyEmbeddings.load(root / "vectors" / "ds.npz").ids == [world["kept"]]
    note = json.loads((root / "evaluations" / "e1" / "WITHDRAWN.json").read_text())
    assert note["erasures"][0]["studies"] == 1
    assert json.loads((root / "evaluations" / "e1" / "summary.json").read_text()) == {"auc": 0.8}
    record = json.loads(next((data / "erasures").glob("erasure-*.json")).read_text())
    assert record["studies_erased"] == 1 and record["runs_trained_with_them"][0]["run"] == "runs/r1"
    assert "erasure record" in out


def test_a_reingest_skips_the_withdrawn_study(world, caplog) -> None:
    assert _forget(world, "--accession", "ACC0001", "--apply") == 0
    caplog.set_level("INFO")
    summary = ingest(world["src"], world["data"])
    assert summary.studies_written == 1
    studies = pd.read_parquet(world["data"] / "studies.parquet")
    assert studies["study_id"].tolist() == [world["kept"]]
    assert "skipped 1 studies withdrawn" in caplog.text
    assert _files_naming(world["root"], world["gone"]) == []


def test_an_unknown_accession_is_a_clear_message(world, capsys) -> None:
    before = _tree(world["root"])
    assert _forget(world, "--accession", "NOPE999") == 0
    out = capsys.readouterr().out
    assert "the 1st of the 1 accession numbers given is not in this dataset" in out
    assert "NOPE999" not in out, "a typed hospital number is never echoed"
    assert _tree(world["root"]) == before


def test_an_unknown_study_id_and_no_studies_are_refused(world, caplog) -> None:
    assert _forget(world, "--study-id", "s0123456789abcde") != 0
    assert "s0123456789abcde is not a study" in caplog.text
    assert _forget(world) != 0
    assert "name the studies" in caplog.text


def test_from_file_reads_an_accession_column(world, tmp_path, capsys) -> None:
    listed = tmp_path / "withdrawn.csv"
    listed.write_text("AccessionNumber,reason\nACC0001,opt-out\n")
    assert _forget(world, "--from-file", str(listed)) == 0
    assert "1 study of" in capsys.readouterr().out


def test_a_server_index_loses_only_this_datasets_records(world, tmp_path, capsys) -> None:
    """On a shared server another dataset's record of the same id (another salt) stays."""
    from chroma_server import chroma_process

    from model.index.embedding_index import EmbeddingIndex
    from model.index.folder_users import folder_users

    ids, vectors = [world["gone"], world["kept"]], np.eye(2, 8, dtype=np.float32)
    ours = json.loads((world["data"] / "dataset.json").read_text())["salt_id"]
    with chroma_process(tmp_path / "server") as (location, proc):
        (served,) = folder_users([tmp_path / "server" / "data"]).values()  # a real server's
        assert [s.pid for s in served.servers] == [proc.pid]
        assert served.servers[0].answers_at("127.0.0.1", location.port)
        index = EmbeddingIndex(open_client(location), CHECKPOINT)
        metas = [{"dataset": "internal", "dataset_id": ours} for _ in ids]
        upsert_records(index, IndexRecords(ids, vectors, metas, [GONE_TEXT, KEPT_TEXT]))
        other = EmbeddingIndex(open_client(location), "0ther")
        theirs = [{"dataset": "internal", "dataset_id": "someone-else"}]
        upsert_records(other, IndexRecords(ids[:1], vectors[:1], theirs, ["theirs"]))
        host = ["--chroma-host", "127.0.0.1", "--chroma-port", str(location.port)]
        assert _forget(world, "--accession", "ACC0001", "--apply", *host) == 0
        assert index.collection().get()["ids"] == [world["kept"]]
        assert other.collection().get()["ids"] == [world["gone"]]
    said = capsys.readouterr().out
    assert f"Chroma server 127.0.0.1:{location.port}: removed cmrclip-" in said


def test_an_index_being_written_stops_it_before_the_dataset_changes(world, caplog) -> None:
    """The dataset, which names the studies, changes last: a rerun finishes the erasure."""
    from model.index.writer_lock import WriterLock

    before = _tree(world["root"])
    with WriterLock(world["root"] / "ds" / "chroma"):
        assert _forget(world, "--accession", "ACC0001", "--apply") != 0
    assert "another process" in caplog.text
    assert _tree(world["root"]) == before
    assert _forget(world, "--accession", "ACC0001", "--apply") == 0
    assert _files_naming(world["root"], world["gone"]) == []


def test_an_index_a_chroma_server_serves_stops_it_before_anything_changes(
    world, capsys, caplog
) -> None:
    """Erasing from the files of ``chroma run --path ROOT/ds/chroma`` would corrupt what it
    serves (and leave the records in its memory): the dry run says so, --apply stops first."""
    from file_holder import server_on

    before = _tree(world["root"])
    folder = world["root"] / "ds" / "chroma"
    with server_on(folder, "--port", "8826") as server:
        assert _forget(world, "--accession", "ACC0001") == 0
        said = f"{folder}: a Chroma server (pid {server.pid}, `"
        assert said in capsys.readouterr().out
        assert _forget(world, "--accession", "ACC0001", "--apply") == 2
    assert (
        said in caplog.text and "erase through the server: --chroma-host localhost" in caplog.text
    )
    assert _tree(world["root"]) == before


def test_a_folder_the_given_server_serves_is_erased_through_it(tmp_path) -> None:
    from file_holder import server_on

    from model.erasure_index import through_servers
    from model.index.client import ChromaLocation

    served, other = tmp_path / "served", tmp_path / "other"
    server = ChromaLocation(host="127.0.0.1", port=8827)
    locations = [server, ChromaLocation(path=served), ChromaLocation(path=other)]
    with server_on(served, "--host", "127.0.0.1", "--port", "8827"):
        kept, users = through_servers(locations)
        assert kept == [server, locations[2]] and users[served].servers
        kept, _ = through_servers([ChromaLocation(host="127.0.0.1", port=8000), *locations[1:]])
        assert len(kept) == 3  # another server: the folder stays, and refuses an erasure
