"""Readers of a shared Chroma server never fail while a ``--rebuild`` swaps the index in.

The swap deletes the old collection and renames the new one in its place. A reader that got the
old collection a moment before and reads it after (a query, a count, a page of its snapshot)
used to fail with "Collection [...] does not exist", and one that asked while the server was
deleting it with "Missing metadata segment": the Search page showed an error, ``python -m model
search`` exited. Now such a read is done again on the collection swapped in
(``model.index.swap_wait``); a collection deleted and not replaced still fails at once.
"""

from __future__ import annotations

import threading
from collections.abc import Callable

import pytest
from chroma_server import chroma_server
from chromadb.errors import NotFoundError
from index_fakes import CHECKPOINT, make_records

from model.index.cli_index import _write_here
from model.index.client import index_failures, open_client, reopen_client
from model.index.collection_spec import collection_name
from model.index.embedding_index import EmbeddingIndex

INTERNAL = {"site": "internal"}


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with chroma_server(tmp_path_factory.mktemp("rebuild-readers")) as location:
        yield location


def _reads(index: EmbeddingIndex, records) -> dict[str, Callable[[], object]]:
    """What the Search page, similar-case search and ``python -m model search`` ask."""
    vector, study = records.vectors[5], records.ids[5]
    return {
        "search": lambda: index.search_vector(vector, k=3),
        "filtered search": lambda: index.search_vector(vector, k=3, where=INTERNAL),
        "more like this": lambda: index.search_like(study, k=3),
        "count": index.count,
        "studies": lambda: index.get_studies([study]),
        "snapshot": index.snapshot,
        "label fields": index.label_fields,
    }


def test_readers_looping_while_rebuilds_swap_never_fail(server) -> None:
    checkpoint = f"{CHECKPOINT}loop"
    records = make_records(150, seed=4)
    _write_here(server, checkpoint, records, None)
    errors: list[str] = []
    done = threading.Event()
    asked: list[str] = []

    def read_in_a_loop() -> None:
        reader = EmbeddingIndex(
            reopen_client(server), checkpoint, reopen=lambda: reopen_client(server)
        )
        while not done.is_set():
            for name, read in _reads(reader, records).items():
                try:
                    with index_failures(server):
                        read()
                    asked.append(name)
                except Exception as err:  # what the page would have shown
                    errors.append(f"{name}: {type(err).__name__}: {err}")

    readers = [threading.Thread(target=read_in_a_loop) for _ in range(2)]
    for thread in readers:
        thread.start()
    try:
        for _ in range(8):
            _write_here(server, checkpoint, records, 50, rebuild=True)
    finally:
        done.set()
        for thread in readers:
            thread.join()
    assert errors == []
    assert len(asked) > 0
    index = EmbeddingIndex(open_client(server), checkpoint)
    assert index.count() == len(records)
    assert [c.name for c in index.collections()] == [collection_name(checkpoint)]


@pytest.mark.parametrize(
    "read", ["search", "filtered search", "more like this", "count", "studies", "snapshot"]
)
def test_a_read_of_a_collection_swapped_out_under_it_reads_the_new_one(
    server, monkeypatch, read
) -> None:
    """The reader gets the old collection, the whole rebuild runs, then the reader reads."""
    checkpoint = f"{CHECKPOINT}under{read.replace(' ', '')}"
    old, new = make_records(60, seed=5), make_records(40, seed=6)
    _write_here(server, checkpoint, old, None)
    reader = EmbeddingIndex(open_client(server), checkpoint)
    got = reader.collection

    def got_then_rebuilt():
        collection = got()
        if not rebuilt:
            rebuilt.append(checkpoint)
            _write_here(server, checkpoint, new, None, rebuild=True)
        return collection

    rebuilt: list[str] = []
    monkeypatch.setattr(reader, "collection", got_then_rebuilt)
    answer = _reads(reader, new)[read]()
    assert rebuilt == [checkpoint]
    if read == "count":
        assert answer == len(new)
    elif read == "snapshot":
        assert sorted(answer.ids.tolist()) == sorted(new.ids)
    else:  # hits of the rebuilt index (its ids are not the old one's)
        assert answer and {hit.study_id for hit in answer} <= set(new.ids), answer


def test_a_collection_deleted_not_replaced_still_fails(server, monkeypatch) -> None:
    checkpoint = f"{CHECKPOINT}deleted"
    records = make_records(30, seed=7)
    _write_here(server, checkpoint, records, None)
    reader = EmbeddingIndex(open_client(server), checkpoint)
    got = reader.collection

    def got_then_deleted():
        collection = got()
        reader.client.delete_collection(collection_name(checkpoint))
        return collection

    monkeypatch.setattr(reader, "collection", got_then_deleted)
    with pytest.raises(NotFoundError):
        reader.count()
