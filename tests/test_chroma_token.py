"""The Chroma token for shared deployments, against a real ``chroma run`` behind a token gate.

Chroma 1.x (``chroma run``) has no built-in authentication. The product sends
``CMR_CHROMA_TOKEN`` as ``Authorization: Bearer <token>`` on every request, so a reverse proxy
in front of the loopback-only server can refuse everyone else (README, *Patient data and
security*). Here the proxy is ``tests/chroma_server.token_gate``: without the token, or with a
wrong one, the client stops with a clear message; with it, indexing and search work. When the
server behind the proxy stops, the proxy's 502 page is a message saying so, not a traceback.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest
from chroma_server import chroma_process, chroma_server, token_gate
from index_fakes import CHECKPOINT, hash_text_encoder, make_records

from model.errors import UserError
from model.index.client import ChromaLocation, index_failures, open_client, resolve_location
from model.index.embedding_index import EmbeddingIndex
from model.index.writer import upsert_records

TOKEN = "test-token-7f3a"  # a per-test value, not a credential


@pytest.fixture(scope="module")
def gated(tmp_path_factory: pytest.TempPathFactory):
    folder = tmp_path_factory.mktemp("chroma-token")
    with chroma_server(folder) as server, token_gate(server, TOKEN) as gate:
        yield gate


def test_without_the_token_the_client_stops_with_a_clear_message(gated: ChromaLocation) -> None:
    with pytest.raises(UserError, match="refused the request.*CMR_CHROMA_TOKEN"):
        open_client(gated)
    with pytest.raises(UserError, match="refused the request.*CMR_CHROMA_TOKEN"):
        open_client(dataclasses.replace(gated, token="wrong-token"))


def test_with_the_token_indexing_and_search_work(gated: ChromaLocation) -> None:
    client = open_client(dataclasses.replace(gated, token=TOKEN))
    index = EmbeddingIndex(client, CHECKPOINT, text_encoder=hash_text_encoder())
    records = make_records(40)
    assert upsert_records(index, records, batch_size=16).total == 40
    assert index.search_like(records.ids[3], k=3)[0].study_id != records.ids[3]
    assert index.search_vector(records.vectors[7], k=1)[0].study_id == records.ids[7]


def test_the_token_comes_from_the_environment(
    gated: ChromaLocation, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("CMR_CHROMA_HOST", gated.host or "")
    monkeypatch.setenv("CMR_CHROMA_PORT", str(gated.port))
    monkeypatch.setenv("CMR_CHROMA_TOKEN", TOKEN)
    location = resolve_location(None, None, None, default_path=Path("/unused"))
    assert location.token == TOKEN
    assert TOKEN not in location.describe()  # never printed in messages or logs
    open_client(location).heartbeat()


def test_a_server_down_behind_the_proxy_is_a_clear_error(tmp_path: Path) -> None:
    with chroma_process(tmp_path / "behind") as (server, proc), token_gate(server, TOKEN) as gate:
        gated = dataclasses.replace(gate, token=TOKEN)
        index = EmbeddingIndex(open_client(gated), CHECKPOINT)
        upsert_records(index, make_records(10))
        proc.terminate()
        proc.wait(timeout=20)
        stopped = pytest.raises(UserError, match=r"502 Bad Gateway\); check that it is still")
        with stopped as caught, index_failures(gated):
            index.count()
        assert "<" not in str(caught.value)  # the proxy's page without its markup
        with pytest.raises(UserError, match="proxy answers there but the Chroma server behind"):
            open_client(gated)
