"""``--rebuild`` while others search: the old index answers, whole, until the new one is whole.

The rebuild writes into a staging collection and swaps it in at the end. A searcher (the same
embedded folder, or another client of a shared ``chroma run`` server) sees the old studies at
every batch of the rebuild; a rebuild that dies half-way leaves the old index as it was, and the
next run deletes what it left (on a server, once its heartbeat is old; one killed mid-swap has
its swap finished). A reader that asks during the swap itself waits for it. Of two rebuilds of
one checkpoint at once, the later one's index is kept and the earlier one says so.
"""

from __future__ import annotations

import threading
import time

import pytest
from chroma_server import chroma_server
from chromadb.api.client import Client
from chromadb.api.models.Collection import Collection
from index_fakes import CHECKPOINT, embedded_index, make_records

from model.errors import UserError
from model.index import rebuild, swap_wait
from model.index.cli_index import _write_here
from model.index.client import ChromaLocation, open_client, reopen_client
from model.index.collection_spec import collection_name, staging_name
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


def test_a_read_the_swap_answered_with_nothing_is_done_again_on_the_new_index(
    tmp_path, monkeypatch
):
    """A server deleting the old collection's segments may answer a read of it with nothing
    rather than an error (the full suite caught "more like this" saying an indexed study was
    not in the index, once): an empty answer from a collection a swap replaced is read again."""
    records = make_records(30)
    upsert_records(embedded_index(tmp_path / "chroma"), records)
    reader = embedded_index(tmp_path / "chroma")
    old = reader.collection()  # the reader's, a moment before the swap
    fresh = EmbeddingIndex(reader.client, CHECKPOINT, name=f"swapping-cmrclip-{CHECKPOINT}")
    upsert_records(fresh, records)
    reader.client.delete_collection(collection_name(CHECKPOINT))
    reader.client.get_collection(fresh.name).modify(name=collection_name(CHECKPOINT))
    real_get, real_query = Collection.get, Collection.query

    def empty_if_old(real, empty):
        return lambda self, *a, **k: empty if self.id == old.id else real(self, *a, **k)

    nothing = {"ids": [], "embeddings": [], "documents": [], "metadatas": []}
    monkeypatch.setattr(Collection, "get", empty_if_old(real_get, nothing))
    nothing_found = {key: [[]] for key in ("ids", "distances", "documents", "metadatas")}
    monkeypatch.setattr(Collection, "query", empty_if_old(real_query, nothing_found))
    handed = iter([old, old])
    monkeypatch.setattr(
        reader, "collection", lambda: next(handed, None) or reader._get_collection()
    )
    hits = reader.search_like(records.ids[2], k=3)
    assert len(hits) == 3 and records.ids[2] not in [hit.study_id for hit in hits]
    handed = iter([old])
    assert reader.search_vector(records.vectors[4], k=1)[0].study_id == records.ids[4]
    monkeypatch.setattr(Collection, "count", empty_if_old(Collection.count, 0))
    handed = iter([old])
    assert reader.count() == len(records)
    handed = iter([old])
    assert [hit.study_id for hit in reader.get_studies([records.ids[1]])] == [records.ids[1]]
    handed = iter([old])
    assert sorted(reader.snapshot().ids.tolist()) == sorted(records.ids)


def test_a_swap_its_rebuild_left_undone_is_waited_for_once(tmp_path, monkeypatch):
    """A rebuild killed mid-swap leaves ``swapping-...`` and no index: a long-lived reader (the
    dashboard, asking on every rerun) waits SWAP_WAIT_S for it once, then says at once that
    there is no index, until another rebuild's swap comes, which it waits for again."""
    monkeypatch.setattr(swap_wait, "SWAP_WAIT_S", 0.3)
    index = embedded_index(tmp_path / "chroma")
    records = make_records(30)
    upsert_records(index, records)
    index.collection().modify(name=f"swapping-cmrclip-{CHECKPOINT}")  # then the kill
    reader = embedded_index(tmp_path / "chroma")
    asked = _count_listings(reader, monkeypatch)
    assert not reader.exists() and reader.swap_stalled
    waited = len(asked)
    assert waited > 1
    assert not reader.exists() and not reader.exists()
    assert len(asked) == waited + 2  # one listing each, no wait
    stalled = reader.client.get_collection(f"swapping-cmrclip-{CHECKPOINT}")
    reader.client.delete_collection(stalled.name)  # the next rebuild: a new collection swapping
    fresh = EmbeddingIndex(reader.client, CHECKPOINT, name=f"swapping-cmrclip-{CHECKPOINT}")
    upsert_records(fresh, records)
    renamed = reader.client.get_collection(fresh.name)
    threading.Timer(0.1, lambda: renamed.modify(name=collection_name(CHECKPOINT))).start()
    assert reader.exists() and not reader.swap_stalled


def _count_listings(index: EmbeddingIndex, monkeypatch) -> list[int]:
    """Record each ``list_collections`` call ``index``'s client answers."""
    real = index.client.list_collections
    calls: list[int] = []

    def counted(*args, **kwargs):
        calls.append(1)
        return real(*args, **kwargs)

    monkeypatch.setattr(index.client, "list_collections", counted)
    return calls


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


def _rebuild_meanwhile(monkeypatch, after: int, rebuild) -> None:
    """Run ``rebuild()`` (another user's) once this one's ``after``-th batch is written."""
    real = Collection.upsert
    batches = []

    def upsert(self, ids, **kwargs):
        real(self, ids=ids, **kwargs)
        batches.append(len(ids))
        if len(batches) == after and threading.current_thread() is threading.main_thread():
            rebuild()

    monkeypatch.setattr(Collection, "upsert", upsert)


@pytest.mark.parametrize("after", [1, 4])  # mid-way; all 4 batches written, not yet swapped
def test_a_rebuild_replaced_by_a_later_one_stops_and_says_so(server, monkeypatch, after):
    checkpoint = f"{CHECKPOINT}replaced{after}"
    old, first, later = make_records(OLD, seed=1), make_records(100, seed=2), make_records(60, 3)
    _write_here(server, checkpoint, old, None)
    _rebuild_meanwhile(
        monkeypatch, after, lambda: _write_here(server, checkpoint, later, None, rebuild=True)
    )
    with pytest.raises(UserError, match="another rebuild .* replaced its new index"):
        _write_here(server, checkpoint, first, 25, rebuild=True)
    index = EmbeddingIndex(open_client(server), checkpoint)
    assert index.count() == len(later)
    assert index.search_vector(later.vectors[4], k=1)[0].study_id == later.ids[4]
    names = {c.name for c in index.client.list_collections()}
    assert not {n for n in names if n.endswith(checkpoint) and n != collection_name(checkpoint)}


def test_a_rebuild_never_swaps_in_a_later_rebuilds_half_written_index(server, monkeypatch):
    """The later rebuild starts, and writes its first batch, just as the earlier one has written
    its last and fetches its staging collection to swap it in."""
    checkpoint = f"{CHECKPOINT}halfway"
    old, first, later = make_records(OLD, seed=1), make_records(50, seed=2), make_records(60, 3)
    _write_here(server, checkpoint, old, None)
    later_writing, first_done = threading.Event(), threading.Event()
    outcome: list[object] = []

    def later_rebuild() -> None:
        try:
            outcome.append(_write_here(server, checkpoint, later, 20, rebuild=True))
        except Exception as err:
            outcome.append(err)

    thread = threading.Thread(target=later_rebuild)
    real_get, real_upsert = Client.get_collection, Collection.upsert

    def get_collection(self, name, **kwargs):
        mine = threading.current_thread() is threading.main_thread()
        if mine and name == staging_name(checkpoint) and thread.ident is None:
            thread.start()  # once: the earlier rebuild has written its last batch
            assert later_writing.wait(60)
        return real_get(self, name, **kwargs)

    def upsert(self, ids, **kwargs):
        real_upsert(self, ids=ids, **kwargs)
        if threading.current_thread() is thread and not later_writing.is_set():
            later_writing.set()
            first_done.wait(60)

    monkeypatch.setattr(Client, "get_collection", get_collection)
    monkeypatch.setattr(Collection, "upsert", upsert)
    try:
        with pytest.raises(UserError, match="another rebuild .* replaced its new index"):
            _write_here(server, checkpoint, first, 25, rebuild=True)
    finally:
        first_done.set()
        thread.join(60)
    assert len(outcome) == 1 and not isinstance(outcome[0], Exception), outcome
    index = EmbeddingIndex(open_client(server), checkpoint)
    assert index.count() == len(later)


def _left_by_rebuild(client, checkpoint: str, name: str, beat: float | None, n: int = 30):
    """A collection ``name`` holding ``n`` studies as a rebuild writes it, last stamped ``beat``
    (None: by a version without heartbeats)."""
    records = make_records(n, seed=4)
    upsert_records(EmbeddingIndex(client, checkpoint, name=name), records)
    collection = client.get_collection(name)
    if beat is not None:
        collection.modify(metadata={**collection.metadata, rebuild.HEARTBEAT: beat})
    return records


def test_leftovers_of_dead_rebuilds_on_a_server_are_cleaned_and_live_ones_kept(server):
    """Any index run on the server cleans up after rebuilds (of any checkpoint) whose heartbeat
    stopped; a rebuild still writing, or a leftover that cannot be judged, is left alone."""
    client = open_client(server)
    dead = time.time() - rebuild.LEFTOVER_AFTER_S - 60
    names = {
        tag: (f"{CHECKPOINT}{tag}", prefix + collection_name(f"{CHECKPOINT}{tag}"))
        for tag, prefix in [
            ("dead", "rebuilding-"),
            ("live", "rebuilding-"),
            ("unjudged", "rebuilding-"),
            ("midswap", "swapping-"),
        ]
    }
    _left_by_rebuild(client, *names["dead"], dead)
    _left_by_rebuild(client, *names["live"], time.time())
    _left_by_rebuild(client, *names["unjudged"], None)
    swapped = _left_by_rebuild(client, *names["midswap"], dead)

    _write_here(server, f"{CHECKPOINT}other", make_records(20), None)  # a colleague's index run
    left = {c.name for c in client.list_collections()}
    assert names["dead"][1] not in left and names["midswap"][1] not in left
    assert {names["live"][1], names["unjudged"][1]} <= left
    finished = EmbeddingIndex(client, names["midswap"][0])  # the swap its rebuild did not finish
    assert finished.count() == len(swapped)
    assert finished.search_vector(swapped.vectors[2], k=1)[0].study_id == swapped.ids[2]
    assert rebuild.HEARTBEAT not in finished.collection().metadata


def test_a_rebuild_under_way_is_left_alone_by_another_index_run(server, monkeypatch):
    """Its heartbeat is stamped as it writes: a colleague's index run in the middle keeps it."""
    checkpoint = f"{CHECKPOINT}underway"
    client = open_client(server)
    beats: list[float] = []
    started = time.time()

    def colleague_indexes() -> None:
        if len(beats) == 1:  # once, mid-way: cleaning up as if a batch took that long
            rebuild.drop_dead_leftovers(client, older_than_s=time.time() - started)
        beats.append(client.get_collection(staging_name(checkpoint)).metadata[rebuild.HEARTBEAT])

    new = make_records(NEW, seed=2)
    _watch_batches(monkeypatch, colleague_indexes)
    report = _write_here(server, checkpoint, new, 25, rebuild=True)
    assert report.total == NEW and len(beats) == 4
    assert beats == sorted(beats) and beats[0] >= started
    index = EmbeddingIndex(client, checkpoint)
    assert index.count() == NEW and rebuild.HEARTBEAT not in index.collection().metadata


@pytest.mark.parametrize("where", ["embedded", "server"])
def test_a_rebuild_killed_during_its_swap_has_it_finished_by_the_next_run(
    where, server, tmp_path, monkeypatch
):
    """Killed after deleting the old index and before renaming the new one: the new one, whole,
    becomes the index at the next index run (of any checkpoint) once its heartbeat is old."""
    location = server if where == "server" else ChromaLocation(path=tmp_path / "chroma")
    checkpoint = f"{CHECKPOINT}swapkill{where}"
    old, new = _old_and_new()
    _write_here(location, checkpoint, old, None)
    real_drop = EmbeddingIndex.drop

    def killed(self) -> None:
        real_drop(self)
        raise KeyboardInterrupt  # stands for the kill, right after the old index went

    monkeypatch.setattr(EmbeddingIndex, "drop", killed)
    with pytest.raises(KeyboardInterrupt):
        _write_here(location, checkpoint, new, None, rebuild=True)
    monkeypatch.undo()
    assert not EmbeddingIndex(open_client(location), checkpoint).exists()
    monkeypatch.setattr(rebuild, "LEFTOVER_AFTER_S", 0.0)  # as if its heartbeat were old
    _write_here(location, f"{CHECKPOINT}another", make_records(20), None)
    index = EmbeddingIndex(open_client(location), checkpoint)
    assert index.count() == NEW
    assert index.search_vector(new.vectors[6], k=1)[0].study_id == new.ids[6]


@pytest.mark.parametrize(
    ("writer_ahead_s", "colleague_ahead_s"),
    [(-20 * 60, 0.0), (0.0, 20 * 60)],
    ids=["writer-clock-behind", "colleague-clock-ahead"],
)
def test_a_rebuild_under_way_is_kept_whatever_the_machines_clocks_say(
    server, monkeypatch, writer_ahead_s, colleague_ahead_s
):
    """The rebuilding machine's clock and a colleague's disagree by 20 minutes (no time server
    on a hospital network): the colleague's index run mid-way still keeps the rebuild."""
    checkpoint = f"{CHECKPOINT}skew{int(abs(writer_ahead_s))}"
    client = open_client(server)
    real_time = time.time
    ahead = [writer_ahead_s]  # of the machine running the code now
    monkeypatch.setattr(time, "time", lambda: real_time() + ahead[0])
    cleaned: list[int] = []

    def colleague_indexes() -> None:
        if not cleaned:
            cleaned.append(1)
            ahead[0] = colleague_ahead_s
            rebuild.drop_dead_leftovers(open_client(server))
            ahead[0] = writer_ahead_s

    new = make_records(NEW, seed=2)
    _watch_batches(monkeypatch, colleague_indexes)
    report = _write_here(server, checkpoint, new, 25, rebuild=True)
    assert cleaned and report.total == NEW
    assert EmbeddingIndex(client, checkpoint).count() == NEW


def test_a_dead_rebuild_is_judged_on_the_servers_clock_not_its_machines(server, monkeypatch):
    """Killed on a machine whose clock runs 20 minutes ahead: its heartbeat is not taken for one
    from the future, so it is as old as the server says (here: older than no time at all)."""
    checkpoint = f"{CHECKPOINT}aheaddead"
    real_time = time.time
    monkeypatch.setattr(time, "time", lambda: real_time() + 20 * 60)

    def killed() -> None:
        raise KeyboardInterrupt

    _watch_batches(monkeypatch, killed)
    with pytest.raises(KeyboardInterrupt):
        _write_here(server, checkpoint, make_records(NEW, seed=2), 25, rebuild=True)
    monkeypatch.undo()
    client = open_client(server)
    assert staging_name(checkpoint) in {c.name for c in client.list_collections()}
    rebuild.drop_dead_leftovers(client, older_than_s=0.0)
    assert staging_name(checkpoint) not in {c.name for c in client.list_collections()}
