"""Server mode for real: ``chroma run`` on a free loopback port, reached through HttpClient.

The same records are indexed into an embedded folder and into the server; every search must give
the same studies in the same order.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from chroma_server import chroma_server, free_port
from index_fakes import CHECKPOINT, embedded_index, hash_text_encoder, make_records

from model.errors import UserError
from model.index.client import ChromaLocation, open_client, resolve_location
from model.index.embedding_index import EmbeddingIndex
from model.index.writer import upsert_records


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    with chroma_server(tmp_path_factory.mktemp("server")) as location:
        yield location


def test_server_and_embedded_give_the_same_results(server, tmp_path):
    records = make_records(200)
    local = embedded_index(tmp_path / "chroma", exact_filters=False)
    remote = EmbeddingIndex(
        open_client(server), CHECKPOINT, text_encoder=hash_text_encoder(), exact_filters=False
    )
    upsert_records(local, records, batch_size=64)
    report = upsert_records(remote, records, batch_size=64)
    assert report.total == remote.count() == 200
    assert upsert_records(remote, records).written == 0

    def same(a, b):
        assert [(h.study_id, h.metadata, h.impression) for h in a] == [
            (h.study_id, h.metadata, h.impression) for h in b
        ]
        assert [h.similarity for h in a] == pytest.approx([h.similarity for h in b], abs=1e-5)

    same(local.search_text("dilated LV", k=10), remote.search_text("dilated LV", k=10))
    same(local.search_like(records.ids[3], k=5), remote.search_like(records.ids[3], k=5))
    where = {"site": "external", "lv_dilation": 1}
    same(
        local.search_vector(records.vectors[9], 7, where),
        remote.search_vector(records.vectors[9], 7, where),
    )
    remote.exact_filters = True
    same(
        local.search_vector(records.vectors[9], 7, where),
        remote.search_vector(records.vectors[9], 7, where),
    )
    assert remote.search_vector(records.vectors[42], k=1)[0].study_id == records.ids[42]
    assert [c.checkpoint for c in remote.collections()] == [CHECKPOINT]


def test_environment_selects_the_server(server, monkeypatch):
    monkeypatch.setenv("CMR_CHROMA_HOST", server.host)
    monkeypatch.setenv("CMR_CHROMA_PORT", str(server.port))
    location = resolve_location(None, None, None, default_path=Path("/unused"))
    assert location == ChromaLocation(host=server.host, port=server.port)
    open_client(location).heartbeat()


def test_telemetry_is_off_in_both_modes(server, tmp_path):
    for location in (server, ChromaLocation(path=tmp_path / "chroma")):
        assert open_client(location).get_settings().anonymized_telemetry is False


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"chroma_path": "x", "chroma_host": "h"}, "not both"),
        ({"chroma_port": 8000}, "needs --chroma-host"),
        ({"chroma_host": "h", "chroma_port": "eighty"}, "must be a number"),
        ({"chroma_host": "h", "chroma_port": 70000}, "between 1 and 65535"),
    ],
)
def test_bad_locations_are_user_errors(kwargs, message, monkeypatch):
    monkeypatch.delenv("CMR_CHROMA_HOST", raising=False)
    args = {"chroma_path": None, "chroma_host": None, "chroma_port": None, **kwargs}
    with pytest.raises(UserError, match=message):
        resolve_location(**args, default_path=Path("/unused"))


def test_unreachable_server_is_a_clear_error():
    location = ChromaLocation(host="127.0.0.1", port=free_port())
    with pytest.raises(UserError, match=rf"cannot reach Chroma server 127.0.0.1:{location.port}"):
        open_client(location)
