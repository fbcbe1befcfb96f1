"""``forget`` and the product's own binary per-study files under a data root: ``embed --out``
files (``.npz``/``.parquet``, recognised by content) lose the withdrawn studies' rows (removed
when every row goes), ``.parquet`` tables lose them like CSVs, a dataset's own files are left
to it, and a dry run changes nothing while saying what would happen."""

from __future__ import annotations

import hashlib
import os
from pathlib import Path

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest

from model.erasure import Targets
from model.erasure_report import Erasure, _mention_lines, write_record
from model.erasure_scan import find_mentions, rewrite_mentions
from model.study_embeddings import StudyEmbeddings

GONE, KEPT = "S0000000000000001", "S0000000000000002"
WHEN = "2026-12-07T07:00:00Z"


def _embeddings(ids: list[str]) -> StudyEmbeddings:
    vectors = np.eye(len(ids), 4, dtype=np.float32)
    return StudyEmbeddings(ids, vectors, {"checkpoint_fingerprint": "abc"})


@pytest.fixture()
def root(tmp_path: Path) -> Path:
    """A data root holding embedding files under odd names, a parquet table, a parquet that
    cannot be read, and a dataset folder with its own parquet and caches."""
    root = tmp_path / "root"
    (root / "embeddings").mkdir(parents=True)  # a user's folder, not a dataset's caches
    _embeddings([GONE, KEPT]).save(root / "embeddings" / "vectors.npz")
    _embeddings([GONE, KEPT]).save(root / "out.parquet")
    _embeddings([GONE]).save(root / "only_gone.npz")
    table = pa.table({"study_id": [GONE, KEPT], "score": [0.9, 0.1]})
    pq.write_table(table.replace_schema_metadata({"made_by": "zeroshot"}), root / "scores.parquet")
    (root / "broken.parquet").write_bytes(b"not a parquet")
    other = root / "other_ds"
    (other / "embeddings").mkdir(parents=True)
    pd.DataFrame({"study_id": [GONE]}).to_parquet(other / "studies.parquet")
    (other / "dataset.json").write_text("{}")
    _embeddings([GONE]).save(other / "embeddings" / "cache.npz")
    return root


def _digests(root: Path) -> dict[str, str]:
    return {
        str(p.relative_to(root)): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(root.rglob("*"))
        if p.is_file()
    }


def test_embedding_files_and_parquet_tables_are_sorted_by_content(root: Path) -> None:
    found = find_mentions(root, [], [GONE])
    assert found.embeddings == {
        root / "embeddings" / "vectors.npz": 1,
        root / "out.parquet": 1,
        root / "only_gone.npz": 1,
    }
    assert found.emptied == [root / "only_gone.npz"]
    assert found.rows == {root / "scores.parquet": 1}
    assert found.unread == [root / "broken.parquet"]
    assert found.other == [root / "other_ds" / "studies.parquet"]  # listed, not rewritten


def test_a_dry_run_says_what_would_happen_and_writes_nothing(root: Path) -> None:
    before = _digests(root)
    found = find_mentions(root, [], [GONE])
    text = "\n".join(_mention_lines(found, root, "would remove", apply=False))
    assert "embedding file out.parquet: would remove 1 rows" in text
    assert "embedding file only_gone.npz: every row is theirs: would remove the file" in text
    assert "per-study results: would remove 1 rows of scores.parquet" in text
    assert "cannot be read (check it names none of them yourself): broken.parquet" in text
    assert _digests(root) == before


def test_apply_rewrites_them_without_the_withdrawn_rows(root: Path) -> None:
    found = find_mentions(root, [], [GONE])
    rewrite_mentions(found, {GONE}, WHEN, 1)
    for name in ("embeddings/vectors.npz", "out.parquet"):
        kept = StudyEmbeddings.load(root / name)
        assert kept.ids == [KEPT] and kept.vectors.shape == (1, 4)
        assert kept.provenance["checkpoint_fingerprint"] == "abc"
        assert kept.provenance["withdrawn"] == [{"erased_at": WHEN, "rows_removed": 1}]
    assert not (root / "only_gone.npz").exists()
    scores = pq.read_table(root / "scores.parquet")
    assert scores.column("study_id").to_pylist() == [KEPT]
    assert scores.schema.metadata[b"made_by"] == b"zeroshot"
    assert pd.read_parquet(root / "other_ds" / "studies.parquet")["study_id"].tolist() == [GONE]
    assert StudyEmbeddings.load(root / "other_ds" / "embeddings" / "cache.npz").ids == [GONE]
    assert find_mentions(root, [], [GONE]).embeddings == {}


def test_the_record_names_the_files_changed_and_removed(root: Path, tmp_path: Path) -> None:
    dataset = tmp_path / "ds"
    erasure = Erasure(dataset, root, Targets([GONE], []), given=0)
    erasure.mentions = find_mentions(root, [], [GONE])
    record = write_record(erasure).read_text()
    assert '"only_gone.npz"' in record and '"out.parquet": 1' in record
    assert '"broken.parquet"' in record and GONE not in record


def test_a_table_that_only_looks_like_embeddings_keeps_its_columns(tmp_path: Path) -> None:
    path = tmp_path / "scores.parquet"
    pd.DataFrame({"study_id": [GONE, KEPT], "lge": [0.9, 0.1]}).to_parquet(path, index=False)
    found = find_mentions(tmp_path, [], [GONE])
    assert found.rows == {path: 1} and found.embeddings == {}
    rewrite_mentions(found, {GONE}, WHEN, 1)
    assert pd.read_parquet(path).to_dict("list") == {"study_id": [KEPT], "lge": [0.1]}


def test_a_parquet_naming_them_in_another_column_is_listed(tmp_path: Path) -> None:
    neighbours = tmp_path / "neighbours.parquet"
    table = {"query_study_id": [KEPT, KEPT], "neighbour_study_id": [GONE, KEPT], "rank": [1, 2]}
    pd.DataFrame(table).to_parquet(neighbours, index=False)
    lists = tmp_path / "lists.parquet"
    pq.write_table(pa.table({"query": [KEPT], "hits": [[KEPT, GONE]]}), lists)
    pd.DataFrame({"note": ["none"]}).to_parquet(tmp_path / "clean.parquet", index=False)
    found = find_mentions(tmp_path, [], [GONE])
    assert sorted(found.other) == [lists, neighbours]
    assert found.rows == {} and found.unread == []


def test_a_table_naming_them_beyond_its_study_id_rows_is_also_listed(tmp_path: Path) -> None:
    """Its study_id rows go, and it is listed: a kept row names the study in another column
    (a CSV did not say so; a parquet was not found at all)."""
    table = pd.DataFrame({"study_id": [GONE, KEPT], "nearest": [KEPT, GONE]})
    table.to_csv(tmp_path / "near.csv", index=False)
    table.to_parquet(tmp_path / "near.parquet", index=False)
    found = find_mentions(tmp_path, [], [GONE])
    both = [tmp_path / "near.csv", tmp_path / "near.parquet"]
    assert found.rows == dict.fromkeys(both, 1) and sorted(found.other) == both
    text = "\n".join(_mention_lines(found, tmp_path, "would remove", apply=False))
    assert "still names them (remove or make again yourself): near.csv (in other columns" in text
    rewrite_mentions(found, {GONE}, WHEN, 1)
    assert pd.read_parquet(tmp_path / "near.parquet").to_dict("list") == {
        "study_id": [KEPT],
        "nearest": [GONE],
    }


def test_a_folder_that_cannot_be_listed_is_listed_as_not_read(tmp_path, monkeypatch) -> None:
    (tmp_path / "locked").mkdir()
    real = os.scandir

    def scandir(path):  # root reads every folder: a folder it may not list, simulated
        if Path(path).name == "locked":
            raise PermissionError(13, "Permission denied", str(path))
        return real(path)

    monkeypatch.setattr(os, "scandir", scandir)
    assert find_mentions(tmp_path, [], [GONE]).unread == [tmp_path / "locked"]
