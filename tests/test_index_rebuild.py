"""``--rebuild`` while others search: the old index answers, whole, until the new one is whole.

The rebuild writes into a staging collection and swaps it in at the end. A searcher (the same
embedded folder, or another client of a shared ``chroma run`` server) sees the old studies at
every batch of the rebuild; a rebuild that dies half-way leaves the old index as it was, and the
next run deletes what it left. A reader that asks during the swap itself waits for it.
"""

from __future__ import annotations

import threading
import time

import pytest
from chroma_server import chroma_server
from chromadb.api.models.Collection import Collection
from index_fakes import CHECKPOINT, embedded_index, make_records

from model.index.cli_index import _write_here
from model.index.client import ChromaLocation, open_client, reopen_client
from model.index.collection_spec import collection_name
from model.index.embedding_index import EmbeddingIndex
from model.index.writer import upsert_records

OLD, NEW = 120, 90


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with chroma_server(tmp_path_factory.mktemp("rebuild-server")) as location:
        yield location


def _old_and_new():
    return make_records(OLD, seed=1), make_records(NEW, seed=2)


def _watch_batches(monkeypatch, check) -> list[int]:
    """Run ``check()`` after every upsert batch anyone writes; returns the batch sizes."""
    real = Collection.upsert
    sizes: list[int] = []

    def upsert(self, ids, **kwargs):
        real(self, ids=ids, **kwargs)
        sizes.append(len(ids))
        check()

    monkeypatch.setattr(Collection, "upsert", upsert)
    return sizes


@pytest.mark.parametrize("where", ["embedded", "server"])
def test_searchers_see_the_old_index_until_the_rebuild_is_whole(
    where, server, tmp_path, monkeypatch
):
    location = server if where == "server" else ChromaLocation(path=tmp_path / "chroma")
    checkpoint = f"{CHECKPOINT}{where}"
    old, new = _old_and_new()
    upsert_records(EmbeddingIndex(open_client(location), checkpoint), old)
    searcher = EmbeddingIndex(open_client(location), checkpoint)  # another user's client
    seen: list[tuple[int, str]] = []

    def search_now() -> None:
        hits = searcher.search_vector(old.vectors[7], k=3)
        seen.append((searcher.count(), hits[0].study_id if hits else ""))

    sizes = _watch_batches(monkeypatch, search_now)
    _write_here(location, checkpoint, new, 25, rebuild=True)
    assert sizes == [25, 25, 25, 15]
    assert seen == [(OLD, old.ids[7])] * len(sizes), "an empty or partial index was searched"
    assert searcher.count() == NEW
    assert searcher.search_vector(new.vectors[3], k=1)[0].study_id == new.ids[3]
    assert [c.name for c in searcher.collections()] == [collection_name(checkpoint)]


def test_a_rebuild_that_dies_leaves_the_old_index_and_the_next_run_cleans_up(tmp_path, monkeypatch):
    location = ChromaLocation(path=tmp_path / "chroma")
    old, new = _old_and_new()
    upsert_records(embedded_index(location.path), old)

    def killed() -> None:
        raise KeyboardInterrupt  # stands for the kill: nothing after the first batch runs

    _watch_batches(monkeypatch, killed)
    with pytest.raises(KeyboardInterrupt):
        _write_here(location, CHECKPOINT, new, 25, rebuild=True)
    monkeypatch.undo()
    index = embedded_index(location.path)
    assert index.count() == OLD
    assert index.search_vector(old.vectors[5], k=1)[0].study_id == old.ids[5]
    leftovers = [c.name for c in index.client.list_collections()]
    assert sorted(leftovers) == [collection_name(CHECKPOINT), f"rebuilding-cmrclip-{CHECKPOINT}"]
    assert [c.name for c in index.collections()] == [collection_name(CHECKPOINT)]
    _write_here(location, CHECKPOINT, old, None)  # the next run, even a plain one, cleans up
    assert [c.name for c in index.client.list_collections()] == [collection_name(CHECKPOINT)]
    _write_here(location, CHECKPOINT, new, None, rebuild=True)
    assert index.count() == NEW


def test_a_reader_during_the_swap_waits_for_the_new_index(tmp_path):
    index = embedded_index(tmp_path / "chroma")
    records = make_records(30)
    upsert_records(index, records)
    collection = index.collection()
    collection.modify(name=f"swapping-cmrclip-{CHECKPOINT}")  # the old one just deleted
    threading.Timer(0.3, lambda: collection.modify(name=collection_name(CHECKPOINT))).start()
    reader = embedded_index(tmp_path / "chroma")
    assert reader.exists()
    assert reader.search_vector(records.vectors[2], k=1)[0].study_id == records.ids[2]


def test_a_rebuild_on_a_server_keeps_one_client_per_reader(server):
    """The dashboard reopens its client when a rebuild bumps the revision: a server needs no
    new client (each one chromadb keeps, with its connections, until it is closed)."""
    checkpoint = f"{CHECKPOINT}clients"
    records = make_records(40, seed=3)
    _write_here(server, checkpoint, records, None)
    reader = EmbeddingIndex(reopen_client(server), checkpoint, reopen=lambda: reopen_client(server))
    client = reader.client
    for _ in range(3):
        reader.search_vector(records.vectors[0], k=1)
        time.sleep(0.01)  # a new revision stamp
        _write_here(server, checkpoint, records, None, rebuild=True)
    assert reader.search_vector(records.vectors[0], k=1)[0].study_id == records.ids[0]
    assert reader.client is client and reopen_client(server) is client
