"""``--rebuild`` on a shared ``chroma run`` server while another index run writes the same
checkpoint's index: a colleague indexing another dataset, or new studies of this one, in the
minutes the rebuild writes its staging collection.

The rebuild's new collection held only what it was given, and replaced the live one whole: what
the colleague wrote meanwhile was dropped without a word (their run had reported success). The
rebuild now carries into its new collection every study the live one gained while it ran, and
those datasets' labels records, before it swaps.
"""

from __future__ import annotations

import pytest
from chroma_server import chroma_server
from chromadb.api.models.Collection import Collection
from index_fakes import CHECKPOINT, clustered_vectors, labels_table, make_records, studies_table

from model.index.cli_index import _write_here
from model.index.client import open_client
from model.index.collection_spec import STAGING_PREFIX
from model.index.embedding_index import EmbeddingIndex
from model.index.label_fields import dataset_record, recorded_labels
from model.index.records import IndexRecords, build_records

OLD, NEW, OTHER = 120, 90, 40


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with chroma_server(tmp_path_factory.mktemp("rebuild-writers")) as location:
        yield location


def other_dataset(n: int, seed: int) -> IndexRecords:
    """A colleague's dataset ``beta`` (its own ids, vectors and labels record)."""
    studies = studies_table(n, seed)
    ids = studies["study_id"].tolist()
    labels = labels_table(ids, seed)
    records = build_records(studies, ids, clustered_vectors(n, seed=seed), "beta", labels)
    records.labels["/colleague/beta"] = dataset_record(labels, [])
    return records


def _meanwhile(monkeypatch, write) -> list[int]:
    """Run ``write()`` once, after the rebuild's first batch into its staging collection."""
    real = Collection.upsert
    done: list[int] = []

    def upsert(self, ids, **kwargs):
        real(self, ids=ids, **kwargs)
        if self.name.startswith(STAGING_PREFIX) and not done:
            done.append(len(ids))
            write()

    monkeypatch.setattr(Collection, "upsert", upsert)
    return done


def _held(server, checkpoint: str) -> tuple[EmbeddingIndex, set[str]]:
    index = EmbeddingIndex(open_client(server), checkpoint)
    return index, set(index.collection().get(include=[])["ids"])


def test_another_dataset_indexed_during_a_rebuild_is_kept(server, monkeypatch) -> None:
    checkpoint = f"{CHECKPOINT}colleague"
    old, new, beta = make_records(OLD, seed=1), make_records(NEW, seed=2), other_dataset(OTHER, 5)
    _write_here(server, checkpoint, old, None)
    done = _meanwhile(monkeypatch, lambda: _write_here(server, checkpoint, beta, None))
    report = _write_here(server, checkpoint, new, 25, rebuild=True)
    assert done == [25]
    index, held = _held(server, checkpoint)
    assert held == set(new.ids) | set(beta.ids)  # the old studies gone, the colleague's kept
    assert report.total == index.count() == NEW + OTHER
    assert index.search_vector(beta.vectors[3], k=1)[0].study_id == beta.ids[3]
    assert "/colleague/beta" in recorded_labels(index.collection().metadata)


def test_new_studies_of_the_rebuilt_dataset_indexed_meanwhile_are_kept(server, monkeypatch) -> None:
    """A re-index of the same dataset with studies ingested since the rebuild read it: those
    studies stay; its studies the rebuild also wrote are the rebuild's."""
    checkpoint = f"{CHECKPOINT}sameset"
    old, new = make_records(OLD, seed=1), make_records(NEW, seed=2)
    more = make_records(NEW + 10, seed=2)  # the same 90 studies and 10 newly ingested
    _write_here(server, checkpoint, old, None)
    _meanwhile(monkeypatch, lambda: _write_here(server, checkpoint, more, None))
    _write_here(server, checkpoint, new, 25, rebuild=True)
    index, held = _held(server, checkpoint)
    assert held == set(more.ids)
    assert index.search_vector(more.vectors[NEW + 4], k=1)[0].study_id == more.ids[NEW + 4]


def test_an_upsert_whose_collection_a_rebuild_replaced_says_to_rerun(monkeypatch) -> None:
    """A colleague's index run on a shared server, its collection swapped by a --rebuild
    mid-way, stops with a line saying what happened and to rerun, not Chroma's raw error."""
    from chromadb.errors import NotFoundError

    from model.errors import UserError
    from model.index import cli_index
    from model.index.client import ChromaLocation

    def replaced(*_args, **_kwargs):
        raise NotFoundError("Collection [1b2c] does not exist")

    monkeypatch.setattr(cli_index, "open_client", lambda location: object())
    monkeypatch.setattr(cli_index, "drop_dead_leftovers", lambda client: None)
    monkeypatch.setattr(cli_index, "EmbeddingIndex", lambda client, fingerprint: None)
    monkeypatch.setattr(cli_index, "upsert_records", replaced)
    location = ChromaLocation(host="127.0.0.1", port=8735)
    with pytest.raises(UserError, match="replaced while this run wrote.*rerun the same command"):
        cli_index._write_here(location, "abc", records=None, batch_size=None)
