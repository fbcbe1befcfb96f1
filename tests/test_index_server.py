"""Server mode for real: ``chroma run`` on a free loopback port, reached through HttpClient.

The same records are indexed into an embedded folder and into the server; every search must give
the same studies in the same order. A server that is down, frozen, restarted, or not a Chroma 1.x
server at all is a clear error within the client's timeouts, never a wait without end.
"""

from __future__ import annotations

import logging
import signal
import socket
import threading
from collections.abc import Callable
from pathlib import Path

import pytest
from chroma_server import chroma_process, chroma_server, free_port, other_service
from index_fakes import (
    CHECKPOINT,
    embedded_index,
    hash_text_encoder,
    make_records,
    sarcoid_records,
)

import model.index.client as client_module
from model.errors import UserError
from model.index.client import ChromaLocation, index_failures, open_client, resolve_location
from model.index.embedding_index import EmbeddingIndex
from model.index.writer import upsert_records
from model.progress import configure_logging


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


def test_a_server_index_takes_own_label_filters(server, tmp_path):
    """A hospital's own label column is filterable on a shared server as in an embedded folder:
    the collection records the field, a typo of it is still unknown."""
    sarcoid = [1 if i % 4 == 0 else 0 for i in range(20)]
    records = sarcoid_records(sarcoid)
    remote = EmbeddingIndex(open_client(server), "5a4c01d", exact_filters=False)
    upsert_records(remote, records)
    assert remote.label_fields() == {"sarcoid"}
    expected = {sid for sid, s in zip(records.ids, sarcoid, strict=True) if s}
    for exact in (False, True):
        remote.exact_filters = exact
        hits = remote.search_vector(records.vectors[1], 20, {"sarcoid": 1})
        assert {hit.study_id for hit in hits} == expected
    with pytest.raises(UserError, match="unknown filter field 'sarcoids'"):
        remote.search_vector(records.vectors[1], 5, {"sarcoids": 1})


def test_a_server_index_answers_the_case_browsers_diagnosis_filter(server):
    """The Case browser's Diagnosis filter (``index_where``: the diagnoses chosen, as the text
    field the index stores) finds the same studies on a server as in memory, approximate or
    exact, for more-like-this and text search."""
    from dashboard.case_search import index_where
    from dashboard.studies import StudyFilter

    records = make_records(40, seed=5)
    remote = EmbeddingIndex(
        open_client(server), "d1a9c0de", text_encoder=hash_text_encoder(), exact_filters=False
    )
    upsert_records(remote, records)
    where = index_where(StudyFilter(values={"diagnosis": ["nicm"]}), "synthetic")
    expected = {
        sid
        for sid, meta in zip(records.ids, records.metadatas, strict=True)
        if meta.get("diagnosis") == "nicm"
    }
    assert 0 < len(expected) < 40
    for exact in (False, True):
        remote.exact_filters = exact
        assert {hit.study_id for hit in remote.search_text("dilated LV", 40, where)} == expected
        like = {hit.study_id for hit in remote.search_like(records.ids[0], 40, where)}
        assert like == expected - {records.ids[0]}


def test_two_writers_at_once_keep_both_datasets_label_records(server, monkeypatch):
    """Two index runs write one server collection at once (two datasets indexed together, or a
    page's job and a colleague's): the second one's closing metadata update, made while the
    first is between reading the collection's record of labels and writing it back, must not
    be lost, nor make the first lose its own. The first writer is held at that point until the
    second has finished or is waiting its turn."""
    import time

    import model.index.writer as writer

    first = sarcoid_records([1, 0, 1, 0], folder="a")
    second = make_records(5, seed=4)
    second.labels["b"] = {"fields": ["amyloid"], "values": "abc"}
    second_turn = threading.Event()
    recorded = writer.with_labels_recorded
    real_sleep = time.sleep

    def hold_first(metadata, labels):
        if "a" in labels:  # the first writer, between its read and its write
            worker.start()
            assert second_turn.wait(30), "the second writer neither finished nor waited"
        return recorded(metadata, labels)

    def waiting(seconds: float) -> None:
        if threading.current_thread() is worker:
            second_turn.set()
        real_sleep(seconds)

    def write_second() -> None:
        try:
            upsert_records(EmbeddingIndex(open_client(server), "c0ncurrent"), second)
        except Exception as err:  # reported by the assertion below
            failed.append(err)
        finally:
            second_turn.set()

    failed: list[Exception] = []
    worker = threading.Thread(target=write_second)
    monkeypatch.setattr(writer, "with_labels_recorded", hold_first)
    monkeypatch.setattr(time, "sleep", waiting)
    index = EmbeddingIndex(open_client(server), "c0ncurrent")
    upsert_records(index, first)
    worker.join(30)
    assert not worker.is_alive() and not failed
    assert index.label_fields() == {"sarcoid", "amyloid"}
    assert index.count() == 9


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


def _finishes(call, *args, wait_s: float = 30.0):
    """Run ``call(*args)`` in a thread; return the exception it raised (None when it returned),
    or fail the test when it is still waiting after ``wait_s`` (a client without timeouts)."""
    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            call(*args)
            outcome.append(None)
        except BaseException as err:  # handed to the test
            outcome.append(err)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(wait_s)
    assert outcome, f"{call.__name__} was still waiting for an answer after {wait_s:.0f} s"
    return outcome[0]


@pytest.fixture
def short_timeouts(monkeypatch):
    monkeypatch.setattr(client_module, "CONNECT_TIMEOUT_S", 0.5)
    monkeypatch.setattr(client_module, "PROBE_TIMEOUT_S", 0.5)
    monkeypatch.setattr(client_module, "READ_TIMEOUT_S", 1.0)


def test_a_port_that_never_answers_is_an_error_not_a_hang(short_timeouts):
    with socket.socket() as listening:  # accepts connections (the kernel does), never replies
        listening.bind(("127.0.0.1", 0))
        listening.listen(8)
        location = ChromaLocation(host="127.0.0.1", port=listening.getsockname()[1])
        err = _finishes(open_client, location)
    assert isinstance(err, UserError)
    assert f"Chroma server 127.0.0.1:{location.port} did not answer" in str(err)


def _page(status: int, body: str) -> Callable[[str], tuple[int, str, bytes]]:
    return lambda path: (status, "text/html", body.encode())


def _old_chroma(path: str) -> tuple[int, str, bytes]:  # a 0.5 server: no /api/v2
    if path == "/api/v1/version":
        return 200, "application/json", b'"0.5.23"'
    if path == "/api/v1/heartbeat":
        return 200, "application/json", b'{"nanosecond heartbeat": 1}'
    return 404, "application/json", b'{"detail":"Not Found"}'


def _chroma_0_6(path: str) -> tuple[int, str, bytes]:  # answers /api/v2 too
    if path.endswith("/version"):
        return 200, "application/json", b'"0.6.3"'
    return 200, "application/json", b'{"nanosecond heartbeat": 1}'


@pytest.mark.parametrize(
    ("answer", "message"),
    [
        (_page(200, "<html>Streamlit</html>"), r"is not a Chroma server \(it answered HTTP 200"),
        (_page(404, "<html>Not Found</html>"), r"is not a Chroma server \(it answered HTTP 404"),
        (_page(502, "<html>502 Bad Gateway</html>"), "the Chroma server behind it does not"),
        (_old_chroma, r"runs Chroma 0\.5\.23.*needs a Chroma 1\.x server"),
        (_chroma_0_6, r"runs Chroma 0\.6\.3.*needs a Chroma 1\.x server"),
    ],
    ids=["web-page", "not-found", "proxy-without-server", "chroma-0.5", "chroma-0.6"],
)
def test_another_service_on_the_port_is_named(answer, message):
    with other_service(answer) as location, pytest.raises(UserError, match=message) as caught:
        open_client(location)
    assert "<html>" not in str(caught.value)


def test_a_server_that_stops_answering_mid_session_is_an_error_not_a_hang(tmp_path, short_timeouts):
    with chroma_process(tmp_path / "paused") as (location, proc):
        index = EmbeddingIndex(open_client(location), CHECKPOINT)
        upsert_records(index, make_records(20))
        proc.send_signal(signal.SIGSTOP)  # frozen (swapped out, stuck disk): connects, no reply
        try:

            def count() -> None:
                with index_failures(location):
                    index.count()

            err = _finishes(count)
        finally:
            proc.send_signal(signal.SIGCONT)
        assert isinstance(err, UserError) and "Timeout" in str(err)
        assert index.count() == 20  # the same client answers again once the server does


def test_a_server_restarted_between_searches_is_searched_again(tmp_path):
    records = make_records(30)
    with chroma_process(tmp_path / "restarted") as (location, _):
        index = EmbeddingIndex(open_client(location), CHECKPOINT)
        upsert_records(index, records)
        before = [hit.study_id for hit in index.search_vector(records.vectors[4], k=5)]
    down = pytest.raises(UserError, match="check that it is still running")
    with down, index_failures(location):
        index.search_vector(records.vectors[4], k=5)
    with chroma_process(tmp_path / "restarted", port=location.port):
        after = [hit.study_id for hit in index.search_vector(records.vectors[4], k=5)]
    assert after == before


def test_commands_do_not_log_each_request_to_the_server(server, caplog):
    configure_logging(logging.INFO)  # as every command does
    caplog.set_level(logging.INFO)
    open_client(server).list_collections()
    assert [r.getMessage() for r in caplog.records if r.name.startswith("httpx")] == []
