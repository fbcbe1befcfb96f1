"""``forget --also DIR``: results kept outside the data root are searched with the data root's
rules (tables rewritten, embedding files too, example sets, evaluations marked, an index folder
erased, another dataset's table and other files listed), a dry run writing nothing, and a
folder that cannot be searched refused before anything changes."""

from __future__ import annotations

import hashlib
import json
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from test_erasure import _forget, erasure_world

from model.erasure import Targets
from model.erasure_cli import also_folders
from model.erasure_report import Erasure, index_locations
from model.study_embeddings import StudyEmbeddings


@pytest.fixture()
def world(tmp_path: Path) -> dict:
    """``erasure_world`` and a folder outside its data root holding results about both
    studies: a zero-shot CSV, an evaluation, an embedding file, an example set, a log named
    after the withdrawn study (removed), another dataset's table and a run trained on it."""
    world = erasure_world(tmp_path)
    gone, kept, ids = world["gone"], world["kept"], [world["gone"], world["kept"]]
    out = tmp_path / "elsewhere"
    (out / "eval" / "internal").mkdir(parents=True)
    (out / "eval" / "summary.json").write_text(json.dumps({"auc": 0.8}))
    scores = pd.DataFrame({"study_id": ids, "lge": [0.9, 0.1]})
    scores.to_csv(out / "eval" / "internal" / "study_scores.csv", index=False)
    scores.to_parquet(out / "scores.parquet", index=False)
    StudyEmbeddings(ids, np.eye(2, 4, dtype=np.float32)).save(out / "vectors.npz")
    (out / "lge.json").write_text(json.dumps({"name": "lge", "positive": ids, "negative": []}))
    (out / f"{gone}.log").write_text(f"scored {gone}\n")
    (out / "copy").mkdir()
    pd.DataFrame({"study_id": ids}).to_parquet(out / "copy" / "studies.parquet")
    (out / "copy" / "dataset.json").write_text("{}")
    (out / "runs" / "r2").mkdir(parents=True)
    config = {"data": str(world["data"]), "data_fingerprint": "abc"}
    (out / "runs" / "r2" / "config.json").write_text(json.dumps(config))
    return {**world, "out": out, "kept": kept}


def _digests(folder: Path) -> dict[str, str]:
    return {
        str(p): hashlib.sha256(p.read_bytes()).hexdigest()
        for p in sorted(folder.rglob("*"))
        if p.is_file() and "chroma" not in p.parts
    }


def test_also_searches_a_folder_as_the_data_root(world, capsys) -> None:
    out, gone, kept = world["out"], world["gone"], world["kept"]
    before = _digests(out)
    assert _forget(world, "--study-id", gone, "--also", str(out)) == 0
    dry = capsys.readouterr().out
    assert f"would remove 1 rows of {out / 'eval' / 'internal' / 'study_scores.csv'}" in dry
    assert f"embedding file {out / 'vectors.npz'}: would remove 1 rows" in dry
    named = f"would remove the file {out}/[names a withdrawn study] (a per-study result named"
    assert named in dry and gone not in dry  # the log named after the study; no id printed
    assert str(out / "runs" / "r2") in dry
    assert _digests(out) == before

    assert _forget(world, "--study-id", gone, "--also", str(out), "--apply") == 0
    capsys.readouterr()
    rows = pd.read_csv(out / "eval" / "internal" / "study_scores.csv", dtype=str)
    assert rows["study_id"].tolist() == [kept]
    assert pd.read_parquet(out / "scores.parquet")["study_id"].tolist() == [kept]
    assert StudyEmbeddings.load(out / "vectors.npz").ids == [kept]
    assert json.loads((out / "lge.json").read_text())["positive"] == [kept]
    assert (out / "eval" / "WITHDRAWN.json").is_file()
    assert not (out / f"{gone}.log").exists()
    assert len(pd.read_parquet(out / "copy" / "studies.parquet")) == 2  # that dataset's own
    record = next((world["data"] / "erasures").glob("*.json")).read_text()
    assert gone not in record and "ACC0001" not in record
    searched = json.loads(record)["folders_searched"]
    assert searched == [str(world["root"].resolve()), str(out.resolve())]
    assert f"{out}/[names a withdrawn study]" in record


def test_an_also_folder_that_cannot_be_searched_stops_it_first(world, tmp_path, caplog) -> None:
    before = _digests(world["root"] / "ds" / "internal")
    missing, a_file = tmp_path / "missing", tmp_path / "export" / "labels.csv"
    for folder, why in ((missing, "does not exist"), (a_file, "is a file, not a folder")):
        caplog.clear()
        assert _forget(world, "--study-id", world["gone"], "--also", str(folder), "--apply") != 0
        assert f"--also folder {folder} {why}" in caplog.text
    assert _digests(world["root"] / "ds" / "internal") == before


def test_index_folders_under_an_also_folder_are_erased_too(tmp_path: Path) -> None:
    """Each embedded index folder (found by its chroma.sqlite3) under the data root or an
    ``--also`` folder is one of forget's index locations (erased as the root's are)."""
    root, out = tmp_path / "root", tmp_path / "elsewhere"
    dataset = root / "ds" / "internal"
    for folder in (root / "ds" / "chroma", root / "idx", out / "a" / "chroma"):
        folder.mkdir(parents=True)
        (folder / "chroma.sqlite3").write_bytes(b"")
    erasure = Erasure(dataset, root, Targets([], []), 0, also=[out])
    args = SimpleNamespace(chroma_path=None, chroma_host=None, chroma_port=None)
    found = [loc.path for loc in index_locations(erasure, args)]
    assert found == [root / "ds" / "chroma", root / "idx", out / "a" / "chroma"]


def test_an_also_folder_searched_already_is_left_out(tmp_path: Path) -> None:
    """One inside the data root or inside another ``--also`` folder is searched already (each
    file once); one holding the data root is searched around it (``erase_everywhere``)."""
    root = tmp_path / "root"
    for folder in (root / "runs", tmp_path / "a" / "b", tmp_path / "c"):
        folder.mkdir(parents=True)
    given = [root / "runs", tmp_path / "a" / "b", tmp_path / "a", tmp_path / "c", root]
    assert also_folders(root, given) == [tmp_path / "a", tmp_path / "c"]
    assert also_folders(root, [tmp_path]) == [tmp_path]
