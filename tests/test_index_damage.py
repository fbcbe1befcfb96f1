"""A damaged embedded index is named, never searched, and ``--rebuild`` mends it.

Chroma keeps each stored vector's direction in ``data_level0.bin`` and its length in
``length.bin``; zeroed or cut short (a disk fault, a copy cut short), the second makes Chroma
hand back zero vectors without an error, which ranked every study alike. A zeroed
``link_lists.bin`` crashes Chroma's native code on the next insert, which left the index command
waiting forever for its dead writer process.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from index_fakes import CHECKPOINT, exact_top_k, hash_text_encoder, make_records

from model.errors import DamagedIndex
from model.index.cli_index import _write
from model.index.client import ChromaLocation, index_failures, open_client
from model.index.embedding_index import EmbeddingIndex

N = 1100  # enough for Chroma to keep an HNSW graph on disk


@pytest.fixture(scope="module")
def records():
    return make_records(N)


@pytest.fixture(scope="module")
def built(tmp_path_factory, records) -> Path:
    """An embedded folder holding ``records``, written once per module by another process, as
    the CLI does; each test damages a copy of its own (``_built``)."""
    folder = tmp_path_factory.mktemp("built") / "chroma"
    _write(ChromaLocation(path=folder), CHECKPOINT, records, None)
    return folder


def _built(folder: Path, built: Path) -> ChromaLocation:
    """A copy of the module's built folder at ``folder``."""
    shutil.copytree(built, folder)
    return ChromaLocation(path=folder)


def _zero(location: ChromaLocation, name: str) -> None:
    files = list(location.path.glob(f"*/{name}"))
    assert files, f"no {name} in {location.path}"
    for path in files:
        path.write_bytes(bytes(path.stat().st_size))


def _index(location: ChromaLocation) -> EmbeddingIndex:
    client = open_client(location, create=False)
    return EmbeddingIndex(client, CHECKPOINT, text_encoder=hash_text_encoder())


def test_zeroed_vector_lengths_are_named_and_rebuild_mends_them(tmp_path, records, built):
    location = _built(tmp_path / "chroma", built)
    _zero(location, "length.bin")
    index = _index(location)
    searches = [
        lambda: index.search_like(records.ids[3], k=5),
        lambda: index.search_text("dilated left ventricle", k=5, where={"site": "internal"}),
    ]
    for search in searches:
        with pytest.raises(DamagedIndex) as caught, index_failures(location):
            search()
        message = str(caught.value)
        assert f"Chroma folder {location.path}" in message and "damaged" in message
        assert "python -m model index --rebuild" in message
    with pytest.raises(DamagedIndex, match="damaged"), index_failures(location):
        _write(location, CHECKPOINT, records, None)  # not "1100 unchanged"

    report = _write(location, CHECKPOINT, records, None, True)
    assert report.written == N and report.total == N
    index = _index(location)
    query = records.vectors[3]
    where = {"site": "internal"}
    mask = [meta["site"] == "internal" for meta in records.metadatas]
    found = [hit.study_id for hit in index.search_vector(query, k=10, where=where)]
    assert found == exact_top_k(records, query, 10, mask)


@pytest.mark.timeout(180)
def test_a_writer_that_crashes_on_a_damaged_graph_is_reported_not_awaited(tmp_path, built):
    location = _built(tmp_path / "chroma", built)
    _zero(location, "link_lists.bin")
    changed = make_records(N, seed=1)  # new studies: they have to go into the damaged graph
    with pytest.raises(DamagedIndex) as caught, index_failures(location):
        _write(location, CHECKPOINT, changed, None)
    message = str(caught.value)
    assert "index writer process was stopped by SIGSEGV" in message
    assert "python -m model index --rebuild" in message
    assert _write(location, CHECKPOINT, changed, None, True).total == N
