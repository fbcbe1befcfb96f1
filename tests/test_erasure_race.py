"""``forget --apply`` racing an ``index`` run (``model.index.withdrawn_guard``): a study erased
while the run embedded is not written back into the index, a forget is refused while the run
writes, and the refusal names an index run rather than the pid a killed ingest left behind."""

from __future__ import annotations

import json
import logging
import os
import time
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest
from index_fakes import CHECKPOINT
from test_erasure import GONE_TEXT, KEPT_TEXT, _forget, _tree, erasure_world

from model.cli import main
from model.data.deid import load_or_create_salt
from model.data.store import LOCK_FILE, ingest_lock
from model.data.withdrawn import record_withdrawn, study_hash
from model.errors import UserError
from model.file_lock import FileLock
from model.index import cli_index
from model.index.client import ChromaLocation, open_client
from model.index.embedding_index import EmbeddingIndex
from model.index.records import IndexRecords, dataset_identity
from model.index.withdrawn_guard import during_write, without_withdrawn
from model.training import checkpoint as checkpoint_module


@pytest.fixture()
def world(tmp_path: Path) -> dict:
    return erasure_world(tmp_path)


def _records(world: dict) -> IndexRecords:
    """What an index run embeds of the world's dataset: both studies, with its identity."""
    salt_id = json.loads((world["data"] / "dataset.json").read_text())["salt_id"]
    meta = {"dataset": "internal", **dataset_identity(salt_id, world["data"])}
    ids = [world["gone"], world["kept"]]
    return IndexRecords(ids, np.eye(2, 8, dtype=np.float32), [meta, meta], [GONE_TEXT, KEPT_TEXT])


def test_a_study_erased_while_the_index_run_embedded_is_not_written(
    world, tmp_path, monkeypatch, caplog
) -> None:
    """The index run reads both studies, a forget erases one while it embeds (an index it
    cannot see yet: a server's, here a folder outside the data root), then the run writes."""

    def embed_while_forgetting(*args: object) -> IndexRecords:
        records = _records(world)  # read before the erasure
        assert _forget(world, "--accession", "ACC0001", "--apply") == 0
        return records

    caplog.set_level(logging.INFO)
    meta = SimpleNamespace(fingerprint=CHECKPOINT)
    monkeypatch.setattr(checkpoint_module, "read_checkpoint_meta", lambda path: meta)
    monkeypatch.setattr(cli_index, "collect_records", embed_while_forgetting)
    elsewhere = tmp_path / "elsewhere"
    argv = ["index", "--checkpoint", str(tmp_path / "best.pt"), "--data", str(world["data"])]
    assert main([*argv, "--chroma-path", str(elsewhere), "--device", "cpu"]) == 0
    index = EmbeddingIndex(open_client(ChromaLocation(path=elsewhere)), CHECKPOINT)
    got = index.collection().get(include=["documents"])
    assert got["ids"] == [world["kept"]] and got["documents"] == [KEPT_TEXT]
    assert "left out 1 studies withdrawn" in caplog.text and world["gone"] not in caplog.text


def test_withdrawn_csv_alone_leaves_a_study_out(world) -> None:
    """An erasure stopped after recording the withdrawal, before the dataset changed."""
    salt = load_or_create_salt(world["data"], create=False)
    record_withdrawn(world["data"], [("study", study_hash(salt, world["gone"]))])
    with during_write([world["data"]], 0):
        kept = without_withdrawn(_records(world), [world["data"]])
    assert kept.ids == [world["kept"]] and kept.documents == [KEPT_TEXT]
    assert kept.vectors.tolist() == np.eye(2, 8, dtype=np.float32)[1:].tolist()


def test_a_forget_while_an_index_run_writes_is_refused_naming_it(world, caplog) -> None:
    before = _tree(world["root"])
    with during_write([world["data"]], 0):
        assert _forget(world, "--accession", "ACC0001", "--apply") == 2
    assert "being read by another process (an index run writing its studies" in caplog.text
    assert _tree(world["root"]) == before
    forget = ingest_lock(world["data"], doing="forget")
    with forget, pytest.raises(UserError) as refused, during_write([world["data"]], 0):
        pass  # never reached
    said = str(refused.value)
    assert f"changed by another command (forget: pid {os.getpid()}" in said
    assert "embedded but not written" in said


def test_an_ingest_refused_by_a_forget_is_told_it_is_a_forget(world) -> None:
    forget, ingest = ingest_lock(world["data"], doing="forget"), ingest_lock(world["data"])
    with forget, pytest.raises(UserError) as refused, ingest:
        pass  # never reached
    said = str(refused.value)
    assert said.startswith(f"another forget (pid {os.getpid()}, since ")
    assert f"is erasing studies from {world['data']}" in said
    forget, ingest = ingest_lock(world["data"], doing="forget"), ingest_lock(world["data"])
    plain = r"^another ingest \(pid \d+, since .* is writing"  # a plain ingest's, as before
    with ingest, pytest.raises(UserError, match=plain), forget:
        pass  # never reached


def test_a_stale_holder_pid_is_not_named_for_a_shared_holder(tmp_path: Path) -> None:
    """A killed ingest left its pid in the lock file; an index run now holds it shared."""
    dataset = tmp_path / "ds"
    dataset.mkdir()
    stale = {"pid": 999999999, "since": time.time() - 3600}
    (dataset / LOCK_FILE).write_text(json.dumps(stale))
    index_run = FileLock(dataset / LOCK_FILE, str, shared=True)
    with index_run, pytest.raises(UserError) as refused, ingest_lock(dataset):
        pass  # never reached
    said = str(refused.value)
    assert "an index run" in said and "999999999" not in said and "another ingest" not in said


def test_an_embedding_cache_of_studies_erased_meanwhile_is_not_written(tmp_path: Path) -> None:
    """An index run (or a page) embedded the dataset as it was before a forget: its cache,
    written after the forget tidied the caches, would keep the erased study's vector."""
    from model.embed import _write_cache
    from model.schema import DatasetPaths
    from model.study_embeddings import StudyEmbeddings

    paths = DatasetPaths(tmp_path / "ds")
    paths.embeddings.mkdir(parents=True)
    pd.DataFrame({"study_id": ["kept"]}).to_parquet(paths.studies, index=False)
    vectors = np.eye(2, 4, dtype=np.float32)
    _write_cache(StudyEmbeddings(["gone", "kept"], vectors), paths.embeddings / "a.npz", paths)
    _write_cache(StudyEmbeddings(["kept"], vectors[1:]), paths.embeddings / "b.npz", paths)
    assert sorted(p.name for p in paths.embeddings.glob("*.npz")) == ["b.npz"]


def test_a_map_of_a_cache_tidied_away_meanwhile_is_not_written(tmp_path: Path) -> None:
    """A page fitted a map (or read report sentences) of the cache as it was before a forget
    tidied it away: written after, it would keep the erased study's id."""
    from model.embedding_cache import keep_beside, map_file

    cache = tmp_path / f"{CHECKPOINT}-{'0' * 16}.npz"
    arrays = {"ids": np.asarray(["gone", "kept"])}
    said = keep_beside(map_file(cache, "ab"), arrays)
    assert said is not None and "removed meanwhile" in said
    assert list(tmp_path.glob("*.npz")) == []
    np.savez(cache, ids=np.asarray(["kept"]))
    assert keep_beside(map_file(cache, "ab"), arrays) is None
    assert map_file(cache, "ab").is_file()
