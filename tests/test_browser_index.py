"""The Case browser searches the ChromaDB case index of the active checkpoint.

A copy of the tiny data root is indexed in-process with ``python -m model index``; the page then
answers text queries and more-like-this from Chroma (its caption names the collection) and pushes
its filters into the index. Without an index the page ranks in memory and offers the index job,
which runs as a separate process (the dashboard never writes the index folder itself).
"""

from __future__ import annotations

import re
import shutil
import time
from collections.abc import Callable
from pathlib import Path

import httpx
import numpy as np
import pandas as pd
import pytest
from chromadb.api.client import SharedSystemClient
from dashboard_fixtures import tiny_data_root
from streamlit.testing.v1 import AppTest

from dashboard.case_search import index_where
from dashboard.jobs import JobManager
from dashboard.settings import Settings
from dashboard.studies import StudyFilter
from model.cli import main
from model.errors import UserError
from model.index import swap_wait
from model.index.cli_index import _write
from model.index.client import ChromaLocation, open_client
from model.index.embedding_index import EmbeddingIndex, clean_metadata
from model.index.records import IndexRecords
from model.text_store import TextStore
from model.training.checkpoint import read_checkpoint_meta

APP = str(Path(__file__).resolve().parent.parent / "app.py")
pytestmark = pytest.mark.slow
EXTERNAL = {f"s00{i:04d}" for i in range(0, 24, 5)}  # tiny_dataset: every fifth study


def _copy(tmp_path_factory: pytest.TempPathFactory, name: str) -> Path:
    """A private copy of the shared tiny data root (dataset, checkpoint, cached embeddings)."""
    shared = tiny_data_root(tmp_path_factory)
    return Path(shutil.copytree(shared, tmp_path_factory.mktemp(name) / "data"))


def _active_checkpoint(root: Path) -> Path:
    checkpoint = Settings(root).active_checkpoint()
    assert checkpoint is not None
    return checkpoint


@pytest.fixture(scope="module")
def indexed_root(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = _copy(tmp_path_factory, "indexed")
    data = root / "ds" / "tiny"
    argv = ["index", "--checkpoint", str(_active_checkpoint(root)), "--data", str(data)]
    assert main([*argv, "--labels", str(data / "labels.csv")]) == 0
    return root


@pytest.fixture(scope="module")
def restore(tmp_path_factory: pytest.TempPathFactory) -> Callable[[str], Path]:
    """``restore(kind)``: a data root holding the tiny data root indexed in-process by
    ``python -m model index`` (kind "plain": as copied; "sarcoid": its labels given
    ``_add_sarcoid_column``'s column first), each kind built once per module and copied back
    for every test into one and the same folder. The index was built in that very folder, so it
    records the dataset's folder as it would have had the test built it there (a root copied
    elsewhere would find its labels record only by the dataset's id)."""
    root = tmp_path_factory.mktemp("restored") / "data"
    templates: dict[str, Path] = {}

    def restore_kind(kind: str) -> Path:
        SharedSystemClient.clear_system_cache()  # no client keeps the last test's folder open
        shutil.rmtree(root, ignore_errors=True)
        if kind in templates:
            return Path(shutil.copytree(templates[kind], root))
        shutil.copytree(tiny_data_root(tmp_path_factory), root)
        data = root / "ds" / "tiny"
        if kind == "sarcoid":
            _add_sarcoid_column(data)
        argv = ["index", "--checkpoint", str(_active_checkpoint(root)), "--data", str(data)]
        assert main(argv) == 0
        templates[kind] = Path(shutil.copytree(root, tmp_path_factory.mktemp(kind) / "data"))
        return root

    return restore_kind


@pytest.fixture(autouse=True)
def _embedded_index(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("CMR_CHROMA_HOST", "CMR_CHROMA_PORT", "CMR_CHROMA_TOKEN"):
        monkeypatch.delenv(name, raising=False)


def _open(root: Path, monkeypatch: pytest.MonkeyPatch, query: str = "", **state: object):
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    at = AppTest.from_file(APP, default_timeout=120)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page("pages/browser.py").run()
    if query:
        at.text_input(key="b-query").input(query).run()
    assert not at.exception, [e.value for e in at.exception]
    assert not at.error, [e.value for e in at.error]
    return at


def _cards(at: AppTest) -> list[str]:
    """Study ids of the case cards shown, in order."""
    return [
        re.match(r"\*\*(\S+)\*\*", m.value).group(1) for m in at.markdown if "similarity" in m.value
    ]


def _captions(at: AppTest) -> str:
    return " ".join(c.value for c in at.caption)


def _stale_search(root: Path, monkeypatch, key: str, value: str) -> AppTest:
    """A text search filtered by ``key`` = ``value`` once the labels file was edited after the
    index was built: the page says the index is older and ranks in memory."""
    at = _open(root, monkeypatch, "Dilated left ventricle")
    at.multiselect(key=key).select(value).run()
    assert not at.exception and not at.error
    assert any("older than this dataset's labels" in i.value for i in at.info)
    assert "exact in-memory ranking" in _captions(at)
    return at


def test_text_search_answers_from_the_chroma_index(indexed_root, monkeypatch) -> None:
    at = _open(indexed_root, monkeypatch, "Dilated left ventricle")
    fingerprint = read_checkpoint_meta(_active_checkpoint(indexed_root)).fingerprint
    assert "case index: 24 studies of tiny" in _captions(at)  # the dataset, not its hash:
    assert fingerprint not in _captions(at) and "cmrclip-" not in _captions(at)
    assert not any("No case index" in i.value for i in at.info)
    assert len(_cards(at)) == 12  # first page of 24 hits
    scores = [
        float(re.search(r"similarity (-?[\d.]+)", m.value).group(1))
        for m in at.markdown
        if "similarity" in m.value
    ]
    assert scores == sorted(scores, reverse=True)
    at.text_input(key="b-query").input("ünïcödé 心臓 " * 40).run()
    assert not at.exception and not at.error
    assert "case index: " in _captions(at) and len(_cards(at)) == 12
    stored = [TextStore(p.parent, fingerprint).read() for p in indexed_root.rglob("*.texts.npz")]
    assert stored and all("Dilated left ventricle" in texts for texts in stored)  # a prompt
    assert not any("ünïcödé" in text for texts in stored for text in texts)  # typed: memory only


def test_more_like_this_shows_the_index_neighbours(indexed_root, monkeypatch) -> None:
    at = _open(indexed_root, monkeypatch, like_id="s000003")
    assert "case index: " in _captions(at)
    location = ChromaLocation(path=indexed_root / "ds" / "chroma")
    fingerprint = read_checkpoint_meta(_active_checkpoint(indexed_root)).fingerprint
    index = EmbeddingIndex(open_client(location, create=False), fingerprint)
    expected = [
        hit.study_id for hit in index.search_like("s000003", k=12, where={"dataset": "tiny"})
    ]
    assert _cards(at) == expected
    assert "s000003" not in _cards(at)


def test_filters_reach_the_index_and_an_empty_match_is_a_message(indexed_root, monkeypatch) -> None:
    at = _open(indexed_root, monkeypatch, "Late gadolinium enhancement is present.")
    at.multiselect(key="b-site").select("external").run()
    assert not at.exception and not at.error
    assert f"case index: {len(EXTERNAL)} studies of tiny" in _captions(at)
    assert "indexed in all" not in _captions(at), "the index holds no other dataset's studies"
    assert set(_cards(at)) == EXTERNAL
    at.multiselect(key="b-split").select("test").run()
    at.multiselect(key="b-sex").select("F").run()  # the one external test study is M
    assert not at.exception and not at.error
    assert _cards(at) == []
    assert any("No study matches" in w.value for w in at.warning)


def test_an_index_folder_rebuilt_from_scratch_is_read_afresh(restore, monkeypatch) -> None:
    root = restore("plain")
    checkpoint = _active_checkpoint(root)
    at = _open(root, monkeypatch, "Dilated left ventricle")
    assert "case index: 24 studies" in _captions(at)
    location = ChromaLocation(path=root / "ds" / "chroma")
    fingerprint = read_checkpoint_meta(checkpoint).fingerprint
    kept = (
        EmbeddingIndex(open_client(location, create=False), fingerprint)
        .collection()
        .get(limit=10, include=["embeddings", "metadatas", "documents"])
    )
    shutil.rmtree(location.path)  # e.g. a damaged folder, moved aside and rebuilt
    records = IndexRecords(
        ids=kept["ids"],
        vectors=np.asarray(kept["embeddings"], dtype=np.float32),
        metadatas=[clean_metadata(meta) for meta in kept["metadatas"]],
        documents=kept["documents"],
    )
    _write(location, fingerprint, records, None)
    at = _open(root, monkeypatch, "Dilated left ventricle")
    assert "case index: 10 studies" in _captions(at)
    assert set(_cards(at)) == set(kept["ids"])


@pytest.mark.parametrize("dies_at", ["exists", "search_text"])
def test_a_server_that_went_away_falls_back_to_memory_with_a_notice(
    indexed_root, monkeypatch, dies_at: str
) -> None:
    """The server went away before the page asked whether the index exists, or between that and
    the search itself (one user's click while the IT person restarts it): the same notice, which
    names the server and says to check it is running, not a bare ConnectError."""

    def refused(*args: object, **kwargs: object) -> None:
        raise httpx.ConnectError("[Errno 111] Connection refused")

    monkeypatch.setattr(EmbeddingIndex, dies_at, refused)  # the index answered once, then died
    at = _open(indexed_root, monkeypatch, "Dilated left ventricle")
    assert "exact in-memory ranking over 24 studies" in _captions(at)
    assert len(_cards(at)) == 12
    notices = [w.value for w in at.warning]
    assert any("case index is unavailable" in n and "Connection refused" in n for n in notices)


def test_a_server_that_does_not_answer_is_asked_once_per_search(indexed_root, monkeypatch) -> None:
    """A host that drops connections costs its timeout once per click, not once for the page's
    setup and again for its search."""
    import model.index.client as client_module

    asked: list[ChromaLocation] = []

    def silent(location: ChromaLocation) -> None:
        asked.append(location)
        raise UserError(f"{location.describe()} did not answer within 10 s (ConnectTimeout)")

    monkeypatch.setattr(client_module, "probe_server", silent)
    monkeypatch.setenv("CMR_CHROMA_HOST", "127.0.0.1")
    monkeypatch.setenv("CMR_CHROMA_PORT", "9")
    at = _open(indexed_root, monkeypatch)
    asked.clear()
    at.text_input(key="b-query").input("Dilated left ventricle").run()
    assert len(asked) == 1
    assert "exact in-memory ranking over 24 studies" in _captions(at)
    assert any("did not answer within" in w.value for w in at.warning)


def test_an_index_left_mid_swap_is_named_and_the_index_job_finishes_the_swap(
    restore, monkeypatch
) -> None:
    """A rebuild killed between deleting the old index and renaming the new one: the page says
    so (not "holds no index yet") and its index job brings the index back."""
    monkeypatch.setattr(swap_wait, "SWAP_WAIT_S", 0.3)
    root = restore("plain")
    data, checkpoint = root / "ds" / "tiny", _active_checkpoint(root)
    argv = ["index", "--checkpoint", str(checkpoint), "--data", str(data)]
    fingerprint = read_checkpoint_meta(checkpoint).fingerprint
    client = open_client(ChromaLocation(path=root / "ds" / "chroma"))
    client.get_collection(f"cmrclip-{fingerprint}").modify(name=f"swapping-cmrclip-{fingerprint}")
    at = _open(root, monkeypatch, "Dilated left ventricle")
    assert any("was left mid-rebuild" in i.value for i in at.info)
    assert any("stopped while swapping" in i.value for i in at.info)
    assert "exact in-memory ranking over 24 studies" in _captions(at)
    assert main(argv) == 0  # the offered index job
    at = _open(root, monkeypatch, "Dilated left ventricle")
    assert "case index: 24 studies of tiny" in _captions(at)


def test_without_an_index_the_page_ranks_in_memory_and_builds_one(
    tmp_path_factory, monkeypatch
) -> None:
    root = _copy(tmp_path_factory, "unindexed")
    at = _open(root, monkeypatch, "Dilated left ventricle")
    assert "exact in-memory ranking over 24 studies" in _captions(at)
    # named as Home and Train name it, not by its fingerprint
    name = str(_active_checkpoint(root).relative_to(root))
    assert any(f"No case index for the active checkpoint {name}" in i.value for i in at.info)
    assert len(_cards(at)) == 12
    assert any("holds no index yet" in i.value for i in at.info)
    assert not (root / "ds" / "chroma").exists(), "the dashboard never creates the index"
    foreign = EmbeddingIndex(
        open_client(ChromaLocation(path=root / "ds" / "chroma")), "feedface0123"
    )
    foreign.create_collection(dim=4).add(ids=["x1"], embeddings=[[1.0, 0.0, 0.0, 0.0]])
    at = _open(root, monkeypatch, "Dilated left ventricle")
    assert any("holds only another checkpoint's index (1 study)" in i.value for i in at.info)
    assert not any("feedface" in i.value for i in at.info)  # a fingerprint says nothing here
    assert "exact in-memory ranking" in _captions(at)
    at.button(key="offer-index").click().run()
    assert not at.exception and not at.error
    job = JobManager(root / "jobs").latest("index")
    assert job is not None
    command = job.info["command"]
    assert command[command.index("index") :][:1] == ["index"]
    assert command[command.index("--data") + 1] == str(root / "ds" / "tiny")
    deadline = time.monotonic() + 300
    while JobManager(root / "jobs").get(job.id).running and time.monotonic() < deadline:
        time.sleep(0.1)
    finished = JobManager(root / "jobs").get(job.id)
    assert finished.state == "finished", finished.log_tail(30)
    at = _open(root, monkeypatch, "Dilated left ventricle")
    assert "case index: " in _captions(at)
    assert len(_cards(at)) == 12


def test_an_index_of_a_sibling_dataset_is_not_an_empty_answer(restore, monkeypatch) -> None:
    from dashboard_fixtures import make_tiny_dataset

    from model.data.dataset import CMRDataset
    from model.embed import cached_study_embeddings

    root = restore("plain")
    checkpoint = _active_checkpoint(root)
    sibling = make_tiny_dataset(root / "ds" / "sibling", n=8, seed=4)  # shares ds/chroma
    cached_study_embeddings(checkpoint, CMRDataset.open(sibling))
    Settings(root).write_active(dataset=sibling)
    at = _open(root, monkeypatch, "Dilated left ventricle")
    assert "exact in-memory ranking over 8 studies" in _captions(at)
    assert len(_cards(at)) == 8 and not any("No study matches" in w.value for w in at.warning)
    assert any("holds none of these sibling studies" in i.value for i in at.info)
    assert at.button(key="offer-index") is not None  # builds the index of the active dataset


def test_page_filters_become_a_typed_where() -> None:
    chosen = StudyFilter(values={"site": ["external"], "field_strength": ["1.5", "3"], "sex": []})
    where = index_where(chosen, "tiny")
    assert where == {
        "$and": [
            {"dataset": {"$eq": "tiny"}},
            {"site": {"$in": ["external"]}},
            {"field_strength": {"$in": [1.5, 3.0]}},
        ]
    }
    assert index_where(StudyFilter(), "tiny") == {"dataset": {"$eq": "tiny"}}
    with pytest.raises(UserError, match="field_strength = 'strong' is not a number"):
        index_where(StudyFilter(values={"field_strength": ["strong"]}), "tiny")
    with pytest.raises(UserError, match="cannot filter on 'colour'"):
        index_where(StudyFilter(values={"colour": ["red"]}), "tiny")


def test_a_dataset_ingested_again_is_not_answered_from_its_old_index(restore, monkeypatch) -> None:
    from dashboard_fixtures import make_tiny_dataset

    from model.data.dataset import CMRDataset
    from model.embed import cached_study_embeddings

    root = restore("plain")
    checkpoint = _active_checkpoint(root)
    data = root / "ds" / "tiny"
    shutil.rmtree(data)  # the same folder ingested again: new study ids, the old index stays
    make_tiny_dataset(data, n=24, seed=1)
    cached_study_embeddings(checkpoint, CMRDataset.open(data))
    at = _open(root, monkeypatch, "Dilated left ventricle")
    assert not any("No study matches" in w.value for w in at.warning)
    assert "exact in-memory ranking over 24 studies" in _captions(at)
    assert len(_cards(at)) == 12 and all(card.startswith("s01") for card in _cards(at))
    assert any("holds none of these tiny studies" in i.value for i in at.info)
    assert at.button(key="offer-index") is not None


def test_more_like_this_when_the_filters_allow_the_example_alone(indexed_root, monkeypatch) -> None:
    at = _open(indexed_root, monkeypatch, like_id="s000020")  # the one external test study
    at.multiselect(key="b-site").select("external").run()
    at.multiselect(key="b-split").select("test").run()
    assert not at.exception and not at.error
    assert _cards(at) == []
    assert any("No other study matches" in w.value for w in at.warning)
    assert not at.info, [i.value for i in at.info]  # the index is fine: no offer to rebuild it


def test_studies_ingested_after_the_index_was_built_are_named_with_the_rebuild(
    restore, tmp_path_factory, monkeypatch
) -> None:
    from dashboard_fixtures import make_tiny_dataset

    from model.data.dataset import CMRDataset
    from model.embed import cached_study_embeddings

    root = restore("plain")
    checkpoint = _active_checkpoint(root)
    data = root / "ds" / "tiny"
    grown = make_tiny_dataset(tmp_path_factory.mktemp("grown") / "tiny", n=30, seed=0)
    for name in ("studies.parquet", "linkage.csv", "labels.csv"):  # ingest appended 6 studies
        shutil.copy(grown / name, data / name)
    for study in range(24, 30):
        shutil.copy(grown / "tensors" / f"s00{study:04d}.npy", data / "tensors")
    cached_study_embeddings(checkpoint, CMRDataset.open(data))
    at = _open(root, monkeypatch, "Dilated left ventricle")
    assert "case index: " in _captions(at)
    [info] = [i.value for i in at.info]
    assert "The case index lacks 6 of these 30 studies" in info
    assert at.button(key="offer-index") is not None
    at.multiselect(key="b-split").select("train").run()  # the new studies are all test
    assert "case index: " in _captions(at)
    assert not any("lacks" in i.value for i in at.info)
    # labels.csv was replaced too (the new studies' rows): the index is older than the labels
    assert [("older than this dataset's labels" in i.value) for i in at.info] == [True]


def test_a_same_named_dataset_on_the_index_does_not_crowd_out_the_results(
    restore: Callable[[str], Path], monkeypatch: pytest.MonkeyPatch
) -> None:
    """Another hospital's dataset also called "tiny" shares the index (a shared server): its
    studies, closer to the query than ours, must not take the page's 200 best places, which it
    would then drop (no card at all)."""
    from model.embed import embed_texts
    from model.training.checkpoint import load_checkpoint

    root = restore("plain")
    checkpoint = _active_checkpoint(root)
    location = ChromaLocation(path=root / "ds" / "chroma")
    fingerprint = read_checkpoint_meta(checkpoint).fingerprint
    query = "Dilated left ventricle"
    vector = np.asarray(embed_texts(load_checkpoint(checkpoint)[0], [query]), dtype=np.float32)
    n = 220  # more than the page asks the index for
    meta = {"dataset": "tiny", "dataset_id": "another-salt", "site": "internal", "split": "test"}
    _write(
        location,
        fingerprint,
        IndexRecords(
            ids=[f"x{i:04d}" for i in range(n)],
            vectors=np.repeat(vector.reshape(1, -1), n, axis=0),
            metadatas=[dict(meta) for _ in range(n)],
            documents=["Dilated left ventricle."] * n,
        ),
        None,
    )
    at = _open(root, monkeypatch, query)
    # the studies searched are this dataset's 24, not the index's whole 244
    searched = f"24 studies of tiny ({24 + n} indexed in all, other datasets' included)"
    assert searched in _captions(at)
    assert len(_cards(at)) == 12 and not any(card.startswith("x") for card in _cards(at))


def test_a_damaged_index_is_not_searched_and_the_page_rebuilds_it(
    tmp_path_factory, monkeypatch
) -> None:
    """The rebuild keeps the data root's sibling dataset the index held, and names the dataset
    from elsewhere that it drops (the command line would otherwise stop, naming it)."""
    from dashboard_fixtures import make_tiny_dataset
    from index_fakes import make_records

    root = _copy(tmp_path_factory, "damaged")
    data = root / "ds" / "tiny"
    sibling = make_tiny_dataset(root / "ds" / "sibling", n=8, seed=4)  # shares ds/chroma
    Settings(root).write_active(dataset=data)
    checkpoint = _active_checkpoint(root)
    argv = ["index", "--checkpoint", str(checkpoint), "--data", str(data)]
    assert main([*argv, "--data", str(sibling)]) == 0
    location = ChromaLocation(path=root / "ds" / "chroma")
    fingerprint = read_checkpoint_meta(checkpoint).fingerprint
    dim = EmbeddingIndex(open_client(location, create=False), fingerprint).collection().metadata
    _write(location, fingerprint, make_records(1100, dim=int(dim["dim"])), None)  # HNSW on disk
    for lengths in location.path.glob("*/length.bin"):  # a disk fault: Chroma reads zero vectors
        lengths.write_bytes(bytes(lengths.stat().st_size))
    at = _open(root, monkeypatch, "Dilated left ventricle")
    assert "exact in-memory ranking over 24 studies" in _captions(at)
    assert len(_cards(at)) == 12
    damaged = [i.value for i in at.info if "The case index is damaged" in i.value]
    assert damaged and "drops synthetic (1,100 studies) from it" in damaged[0]
    at.button(key="offer-index").click().run()
    job = JobManager(root / "jobs").latest("index")
    assert job is not None and "--rebuild" in job.info["command"]
    assert str(sibling) in job.info["command"] and "--drop-others" in job.info["command"]
    deadline = time.monotonic() + 300
    while JobManager(root / "jobs").get(job.id).running and time.monotonic() < deadline:
        time.sleep(0.1)
    finished = JobManager(root / "jobs").get(job.id)
    assert finished.state == "finished", finished.log_tail(30)
    at = _open(root, monkeypatch, "Dilated left ventricle")
    assert "(32 indexed in all" in _captions(at) and len(_cards(at)) == 12  # the sibling kept
    assert not any("damaged" in i.value for i in at.info)


def _add_sarcoid_column(data: Path) -> None:
    """Give the tiny dataset's labels.csv a hospital's own 0/1 column, ``sarcoid`` (1, blank, 0,
    0 in turn over its 24 studies)."""
    labels = pd.read_csv(data / "labels.csv", dtype=str)
    labels["sarcoid"] = ["1" if i % 4 == 0 else ("" if i % 4 == 1 else "0") for i in range(24)]
    labels.to_csv(data / "labels.csv", index=False)


def _sarcoid_column(data: Path) -> tuple[pd.DataFrame, set[str]]:
    """The labels ``_add_sarcoid_column`` wrote (blanks read as blank text), and the IDs of the
    studies it labelled 1."""
    labels = pd.read_csv(data / "labels.csv", dtype=str, keep_default_na=False)
    assert labels["sarcoid"].tolist()[:4] == ["1", "", "0", "0"]
    return labels, {f"s00{i:04d}" for i in range(0, 24, 4)}


def test_a_hospital_label_column_is_a_filter_the_index_answers(restore, monkeypatch):
    """The dataset's own label column (sarcoid) is offered beside the findings under its own
    name and filtered in the index; once labels.csv changes, the page says the index is older
    than the labels and answers label filters in memory, with the job that indexes it again."""

    root = restore("sarcoid")
    data = root / "ds" / "tiny"
    labels, sarcoid = _sarcoid_column(data)
    at = _open(root, monkeypatch, "Dilated left ventricle")
    assert at.multiselect(key="b-label-sarcoid").label == "sarcoid"
    assert at.multiselect(key="b-label-lge").options == ["0", "1"]
    at.multiselect(key="b-label-sarcoid").select("1").run()
    assert not at.exception and not at.error
    assert "case index: " in _captions(at) and not at.info
    assert set(_cards(at)) == sarcoid
    labels["amyloid_confirmed"] = "0"
    labels.loc[3, "sarcoid"] = "1"  # edited since the index was built
    labels.to_csv(data / "labels.csv", index=False)
    at = _stale_search(root, monkeypatch, "b-label-sarcoid", "1")
    assert set(_cards(at)) == sarcoid | {"s000003"}
    assert at.multiselect(key="b-label-amyloid_confirmed") is not None
    at.multiselect(key="b-label-sarcoid").set_value([]).run()
    assert "case index: " in _captions(at), "no label filter: the index answers"
    assert any("older than this dataset's labels" in i.value for i in at.info)


def test_an_index_built_with_another_labels_file_is_judged_by_its_values(
    tmp_path_factory, monkeypatch
):
    """Indexed with ``--labels`` from a file of every site's labels (rows in another order,
    another site's row, a column the index does not take), the index holds the dataset's own
    labels file's values: the page searches it with label filters and shows no notice. Once the
    values differ, it says the index holds another file's labels (not that it is older than the
    dataset's) and answers label filters in memory, with the job that indexes it again."""
    import pandas as pd

    root = _copy(tmp_path_factory, "other-labels")
    data = root / "ds" / "tiny"
    own = pd.read_csv(data / "labels.csv", dtype=str)
    combined = own.iloc[::-1].assign(patient_id="1")[["patient_id", *own.columns[::-1]]]
    elsewhere = {column: "0" for column in combined.columns}
    combined = pd.concat([combined, pd.DataFrame([{**elsewhere, "accession_number": "ELSE1"}])])
    combined.to_csv(root / "all_sites.csv", index=False)
    argv = ["index", "--checkpoint", str(_active_checkpoint(root)), "--data", str(data)]
    assert main([*argv, "--labels", str(root / "all_sites.csv")]) == 0
    at = _open(root, monkeypatch, "Dilated left ventricle")
    at.multiselect(key="b-label-lge").select("1").run()
    assert not at.exception and not at.error
    assert "searched with the case index: " in _captions(at) and not at.info, [
        i.value for i in at.info
    ]
    combined["lge"] = "1"
    combined.to_csv(root / "all_sites.csv", index=False)
    assert main([*argv, "--labels", str(root / "all_sites.csv")]) == 0
    at = _open(root, monkeypatch, "Dilated left ventricle")
    at.multiselect(key="b-label-lge").select("1").run()
    [info] = [i.value for i in at.info]
    assert "holds other labels than this dataset's" in info and "of all_sites.csv" in info
    assert "exact in-memory ranking" in _captions(at)
    link = pd.read_csv(data / "linkage.csv", dtype=str)
    positive = set(link.merge(own[own["lge"] == "1"], on="accession_number")["study_id"])
    assert _cards(at) and set(_cards(at)) <= positive, "the file's labels, not the index's"
    assert at.button(key="offer-index") is not None


def test_label_filters_become_typed_where_clauses() -> None:
    chosen = StudyFilter(values={"sarcoid": ["1"], "lge": ["0", "1"]})
    assert index_where(chosen, "tiny", "", frozenset({"sarcoid"})) == {
        "$and": [
            {"dataset": {"$eq": "tiny"}},
            {"sarcoid": {"$in": [1]}},
            {"lge": {"$in": [0, 1]}},
        ]
    }
    with pytest.raises(UserError, match="cannot filter on 'sarcoid'"):
        index_where(chosen, "tiny")  # an index that does not hold it


def test_the_labels_are_joined_to_the_studies_once_per_rerun(indexed_root, monkeypatch) -> None:
    """The page's filters and the search re-checking the index's answers share one join of the
    labels to the studies (at 50,000 studies each join is a reindex of every label column)."""
    from dashboard import case_search, label_filters

    joins = []
    join = label_filters.labelled_studies

    def counted(*args, **kwargs):
        joins.append(1)
        return join(*args, **kwargs)

    monkeypatch.setattr(label_filters, "labelled_studies", counted)
    monkeypatch.setattr(case_search, "labelled_studies", counted, raising=False)
    at = _open(indexed_root, monkeypatch)
    joins.clear()
    at.text_input(key="b-query").input("Dilated left ventricle").run()
    assert "case index: " in _captions(at) and len(_cards(at)) == 12
    assert len(joins) == 1


def test_an_index_with_an_earlier_versions_label_record_says_so(restore, monkeypatch):
    """An index whose record of the dataset's labels an earlier version wrote (the labels file's
    hash, not the values it holds) answers label filters while the file is unchanged; once the
    file's bytes change (here only its rows reordered) the page says the index predates the
    record of values and a rebuild records them: not that the labels were edited, nor that the
    index lacks the dataset."""
    import json

    from model.index.label_fields import LABELS_KEY, labels_fingerprint, recorded_labels

    root = restore("sarcoid")
    data = root / "ds" / "tiny"
    labels, sarcoid = _sarcoid_column(data)
    checkpoint = _active_checkpoint(root)
    fingerprint = read_checkpoint_meta(checkpoint).fingerprint
    location = ChromaLocation(path=root / "ds" / "chroma")
    collection = EmbeddingIndex(open_client(location, create=False), fingerprint).collection()
    old = {
        folder: {"fields": record["fields"], "labels": labels_fingerprint([data / "labels.csv"])}
        for folder, record in recorded_labels(collection.metadata).items()
    }
    collection.modify(metadata={**collection.metadata, LABELS_KEY: json.dumps(old)})
    at = _open(root, monkeypatch, "Dilated left ventricle")
    at.multiselect(key="b-label-sarcoid").select("1").run()
    assert "case index: " in _captions(at) and not at.info, [i.value for i in at.info]
    assert set(_cards(at)) == sarcoid
    labels.iloc[::-1].to_csv(data / "labels.csv", index=False)
    at = _open(root, monkeypatch, "Dilated left ventricle")
    at.multiselect(key="b-label-sarcoid").select("1").run()
    [info] = [i.value for i in at.info]
    assert "predates its record of this dataset's labels" in info
    assert "recorded only a hash of tiny's labels file" in info and "building it again" in info
    assert "lacks" not in info and "older than" not in info and "edited" not in info
    assert set(_cards(at)) == sarcoid and at.button(key="offer-index") is not None


def _diagnosed(data: Path, diagnosis: str) -> set[str]:
    """The tiny dataset's studies whose one-hot ``diagnosis`` column holds 1 in labels.csv."""
    labels = pd.read_csv(data / "labels.csv", dtype=str)
    link = pd.read_csv(data / "linkage.csv", dtype=str)
    return set(link.merge(labels[labels[diagnosis] == "1"], on="accession_number")["study_id"])


def test_a_diagnosis_is_a_filter_the_index_answers_for_text_and_like(restore, monkeypatch):
    """ "Show me NICM cases like this one": the one-hot diagnosis columns' class is one Diagnosis
    filter (named as the other pages name them), answered by the index for a text search and a
    more-like-this; once labels.csv moves a study to another diagnosis (its findings unchanged)
    the page says the index is older than the labels and answers the filter in memory."""
    root = restore("plain")
    data = root / "ds" / "tiny"
    nicm = _diagnosed(data, "nicm")
    assert 0 < len(nicm) < 12
    at = _open(root, monkeypatch, "Dilated left ventricle")
    box = at.multiselect(key="b-label-diagnosis")
    assert box.label == "Diagnosis" and box.options == ["Normal", "NICM"]
    box.select("nicm").run()
    assert not at.exception and not at.error
    assert "case index: " in _captions(at) and not at.info, [i.value for i in at.info]
    assert set(_cards(at)) == nicm
    like = sorted(nicm)[0]
    at = _open(root, monkeypatch, like_id=like)
    at.multiselect(key="b-label-diagnosis").select("nicm").run()
    assert "case index: " in _captions(at) and set(_cards(at)) == nicm - {like}
    labels = pd.read_csv(data / "labels.csv", dtype=str)
    moved = labels.index[labels["normal"] == "1"][0]
    labels.loc[moved, ["normal", "nicm"]] = ["0", "1"]
    labels.to_csv(data / "labels.csv", index=False)
    at = _stale_search(root, monkeypatch, "b-label-diagnosis", "nicm")
    assert set(_cards(at)) == _diagnosed(data, "nicm") and len(_cards(at)) == len(nicm) + 1
