"""Prompt vectors kept on disk per checkpoint (``model.text_store``): read back by a new process
without building the model, never for other weights, bounded, merged on write, a damaged file
ignored and rebuilt, a read-only folder only logged, and tidied with the caches of its
checkpoint."""

from __future__ import annotations

import logging
import os
import time
from pathlib import Path

import numpy as np
import pytest
from read_only_tree import read_only_tree

from dashboard.scoring import CachedTextEncoder
from model import embedding_cache, text_store
from model.errors import UserError
from model.text_store import TextReading, TextStore, read_texts, shipped_prompt_texts

CHECKPOINT = "0a1b2c3d4e5f6071"
DATA = "0123456789abcdef"


def _reading(seed: int, cut: bool = False, unknown: tuple[str, ...] = ()) -> TextReading:
    vector = np.random.default_rng(seed).normal(size=8).astype(np.float32)
    return TextReading(vector / np.linalg.norm(vector), cut, unknown)


def _same(a: TextReading, b: TextReading) -> bool:
    return np.array_equal(a.vector, b.vector) and (a.cut, a.unknown) == (b.cut, b.unknown)


class Encoder:
    """A text tower stand-in counting the texts it is asked to read."""

    def __init__(self) -> None:
        self.asked: list[str] = []

    def __call__(self, texts: list[str]) -> dict[str, TextReading]:
        self.asked.extend(texts)
        return {
            text: _reading(len(text), unknown=("心",) if "心" in text else ()) for text in texts
        }


def test_readings_added_are_read_back_by_another_store_of_the_same_checkpoint(
    tmp_path: Path,
) -> None:
    added = {"LV dilated": _reading(1), "Long prompt": _reading(2, cut=True), "心": _reading(3)}
    added["心"] = TextReading(added["心"].vector, False, ("心",))
    TextStore(tmp_path, CHECKPOINT).add(added)
    read = TextStore(tmp_path, CHECKPOINT).read()
    assert list(read) == list(added)
    assert all(_same(read[text], reading) for text, reading in added.items())


def test_another_checkpoint_never_reads_them_even_from_a_renamed_file(tmp_path: Path) -> None:
    TextStore(tmp_path, CHECKPOINT).add({"LV dilated": _reading(1)})
    other = "ffff0000ffff0000"
    assert TextStore(tmp_path, other).read() == {}
    os.replace(tmp_path / f"{CHECKPOINT}.texts.npz", tmp_path / f"{other}.texts.npz")
    assert TextStore(tmp_path, other).read() == {}  # the file says whose it is


def test_the_store_keeps_the_newest_texts_up_to_its_bound(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(text_store, "MAX_TEXTS", 5)
    store = TextStore(tmp_path, CHECKPOINT)
    store.add({f"text {i}": _reading(i) for i in range(4)})
    store.add({f"text {i}": _reading(i) for i in range(4, 7)})
    assert list(TextStore(tmp_path, CHECKPOINT).read()) == [f"text {i}" for i in range(2, 7)]


def test_two_writers_merge_what_they_add(tmp_path: Path) -> None:
    """Two dashboard processes, each holding its own store: the second keeps the first's texts."""
    first, second = TextStore(tmp_path, CHECKPOINT), TextStore(tmp_path, CHECKPOINT)
    assert first.read() == {} and second.read() == {}
    first.add({"a": _reading(1)})
    second.add({"b": _reading(2)})
    assert sorted(TextStore(tmp_path, CHECKPOINT).read()) == ["a", "b"]
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".tmp")]


def test_an_encoder_with_a_filled_store_never_calls_the_tower(tmp_path: Path) -> None:
    tower = Encoder()
    first = CachedTextEncoder(tower, TextStore(tmp_path, CHECKPOINT))
    vectors = first(["LV dilated", "Normal LV", "LV dilated"])
    assert tower.asked == ["LV dilated", "Normal LV"]

    def no_tower(texts: list[str]) -> np.ndarray:
        raise AssertionError(f"the tower was asked for {texts}")

    fresh = CachedTextEncoder(no_tower, TextStore(tmp_path, CHECKPOINT))  # a new process
    assert np.array_equal(fresh(["LV dilated", "Normal LV", "LV dilated"]), vectors)
    again = CachedTextEncoder(tower, TextStore(tmp_path, CHECKPOINT))
    assert [r.unknown for r in again.readings(["Normal LV", "心 new"])] == [(), ("心",)]
    assert tower.asked == ["LV dilated", "Normal LV", "心 new"]  # only the new text


def test_a_text_not_to_keep_is_read_from_the_store_but_never_added_to_it(tmp_path: Path) -> None:
    """A Case browser query is free text typed about a case: kept in memory, not on disk."""
    tower = Encoder()
    CachedTextEncoder(tower, TextStore(tmp_path, CHECKPOINT))(["Normal LV"])
    typed = CachedTextEncoder(tower, TextStore(tmp_path, CHECKPOINT))
    typed(["Normal LV", "like the case of Mr Smith"], keep=False)
    assert tower.asked == ["Normal LV", "like the case of Mr Smith"]  # the prompt read back
    assert set(TextStore(tmp_path, CHECKPOINT).read()) == {"Normal LV"}
    typed(["like the case of Mr Smith"], keep=False)
    assert tower.asked.count("like the case of Mr Smith") == 1  # remembered in memory


def test_a_reading_read_back_keeps_only_its_own_vector(tmp_path: Path) -> None:
    """A dashboard keeps the readings it takes from the store for as long as it runs: each one
    read back owns its vector, so the store's whole vectors array (2,048 rows at most) is not
    kept in memory behind every reading taken from each of its reads."""
    TextStore(tmp_path, CHECKPOINT).add({f"prompt {i}": _reading(i) for i in range(64)})
    read = TextStore(tmp_path, CHECKPOINT).read()
    kept = read["prompt 5"].vector
    assert kept.base is None and kept.nbytes == 8 * 4
    assert np.array_equal(kept, _reading(5).vector)


def test_a_damaged_store_is_ignored_with_a_warning_and_rebuilt(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / f"{CHECKPOINT}.texts.npz"
    for damage in (b"not a zip", b"PK\x03\x04" + b"\x00" * 40):
        path.write_bytes(damage)
        tower = Encoder()
        with caplog.at_level(logging.WARNING, logger="model.text_store"):
            encoder = CachedTextEncoder(tower, TextStore(tmp_path, CHECKPOINT))
            assert encoder(["LV dilated"]).shape == (1, 8)
        assert tower.asked == ["LV dilated"]
        assert "stored prompt vectors" in caplog.text and "ignored" in caplog.text
        assert list(TextStore(tmp_path, CHECKPOINT).read()) == ["LV dilated"]  # rebuilt
        caplog.clear()


def test_a_damaged_store_that_cannot_be_replaced_is_warned_about_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """In a read-only folder the damaged file stays and is read at each new text: it was warned
    about for every prompt typed."""
    folder = tmp_path / "embeddings"
    folder.mkdir()
    (folder / f"{CHECKPOINT}.texts.npz").write_bytes(b"not a zip")
    tower = Encoder()
    with read_only_tree(folder), caplog.at_level(logging.WARNING, logger="model.text_store"):
        encoder = CachedTextEncoder(tower, TextStore(folder, CHECKPOINT))
        for text in ("LV dilated", "Normal LV", "RV dilated"):
            encoder([text])
    assert tower.asked == ["LV dilated", "Normal LV", "RV dilated"]
    assert caplog.text.count("ignored") == 1, caplog.text


def test_a_write_that_fails_for_a_while_is_tried_again_with_the_next_text(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """A tidy holding the writers lock past the wait is no read-only folder: one such failure
    stopped every later write of the folder until the server restarted."""
    real_writing = embedding_cache.writing
    busy = [True]

    def writing(folder: Path):
        if busy.pop(0) if busy else False:
            raise UserError("the writers lock is held")
        return real_writing(folder)

    monkeypatch.setattr(embedding_cache, "writing", writing)
    encoder = CachedTextEncoder(Encoder(), TextStore(tmp_path, CHECKPOINT))
    with caplog.at_level(logging.WARNING, logger="model.text_store"):
        encoder(["LV dilated"])
    assert "tried again" in caplog.text
    encoder(["Normal LV"])
    assert list(TextStore(tmp_path, CHECKPOINT).read()) == ["Normal LV"]


def test_a_store_of_mismatched_arrays_is_ignored(tmp_path: Path) -> None:
    path = tmp_path / f"{CHECKPOINT}.texts.npz"
    TextStore(tmp_path, CHECKPOINT).add({"a": _reading(1), "b": _reading(2)})
    with np.load(path) as arrays:
        kept = dict(arrays)
    kept["vectors"] = kept["vectors"][:1]
    with open(path, "wb") as handle:
        np.savez(handle, **kept)
    assert TextStore(tmp_path, CHECKPOINT).read() == {}


def test_a_folder_that_cannot_be_written_keeps_texts_in_memory_and_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    folder = tmp_path / "embeddings"
    folder.mkdir()
    tower = Encoder()
    with read_only_tree(folder), caplog.at_level(logging.WARNING, logger="model.text_store"):
        encoder = CachedTextEncoder(tower, TextStore(folder, CHECKPOINT))
        encoder(["LV dilated"])
        encoder(["Normal LV"])
        CachedTextEncoder(tower, TextStore(folder, CHECKPOINT))(["RV dilated"])
        assert encoder(["LV dilated", "Normal LV"]).shape == (2, 8)
    assert tower.asked == ["LV dilated", "Normal LV", "RV dilated"]
    assert list(folder.iterdir()) == []
    assert caplog.text.count("prompt vectors not kept") == 1, caplog.text


def _file(path: Path, when: float) -> Path:
    path.write_bytes(b"x" * 100)
    os.utime(path, (when, when))
    return path


def test_tidy_keeps_a_store_while_a_cache_of_its_checkpoint_is_kept(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A store is never counted as a cache nor left as a stray file: it goes with the last
    cache of its checkpoint, whether that one is stale or the least recently used."""
    now = time.time()
    caches = [
        _file(tmp_path / f"{i:04x}-{DATA}.npz", now - 3600 + i)
        for i in range(embedding_cache.KEPT_CACHES)
    ]
    kept_store = TextStore(tmp_path, "0003")
    kept_store.add({"a": _reading(1)})
    oldest_store = TextStore(tmp_path, "0000")
    oldest_store.add({"a": _reading(1)})
    stale = _file(tmp_path / f"eeee-{'f' * 16}.npz", now)
    stale_store = TextStore(tmp_path, "eeee")
    stale_store.add({"a": _reading(1)})
    lone_store = TextStore(tmp_path, "dddd")
    lone_store.add({"a": _reading(1)})
    own = _file(tmp_path / "mine.texts.npz", now)  # not a name the store gives
    assert not embedding_cache.is_cache_name(kept_store.path.name)
    embedding_cache.tidy(tmp_path, DATA)  # the stale cache goes: 16 current ones are kept
    assert not stale.exists() and not stale_store.path.exists() and not lone_store.path.exists()
    assert kept_store.path.is_file() and oldest_store.path.is_file() and own.is_file()
    _file(tmp_path / f"ffff-{DATA}.npz", now)  # a 17th cache: the oldest one goes
    with caplog.at_level(logging.INFO, logger="model.embedding_cache"):
        embedding_cache.tidy(tmp_path, DATA)
    assert not caches[0].exists() and not oldest_store.path.exists()
    assert kept_store.path.is_file() and list(kept_store.read()) == ["a"]
    assert "1 prompt vectors of checkpoints without a kept cache" in caplog.text


def test_a_model_reads_as_its_tower_and_embedding_stores_the_shipped_prompts(
    tmp_path: Path,
) -> None:
    """What is stored is what the tower reads (vector, cut, unknown words); the scale is read
    without building the model; embedding the studies, with the model built, stores every
    shipped prompt, so the first Zero-shot visit needs no model."""
    import shutil

    from model.data.dataset import CMRDataset
    from model.embed import cache_path, cached_study_embeddings, embed_texts
    from model.prompt_reading import unknown_words
    from model.training.checkpoint import load_checkpoint
    from model.zeroshot import checkpoint_scale
    from tests.tiny_dataset import shared_tiny_checkpoint

    dataset, checkpoint = shared_tiny_checkpoint()
    model, meta = load_checkpoint(checkpoint)
    texts = ["Left ventricle is dilated", "心脏扩大", "dilated " * 300]
    read = read_texts(model, texts)
    assert np.allclose(np.stack([read[t].vector for t in texts]), embed_texts(model, texts))
    assert [t for t in texts if read[t].cut] == model.text.cut_texts(texts) == [texts[2]]
    assert read[texts[1]].unknown == tuple(unknown_words(model.text.tokenizer, texts[1]))
    assert read[texts[1]].unknown and not read[texts[0]].unknown
    assert checkpoint_scale(checkpoint) == min(float(model.logit_scale.detach().exp()), 100.0)

    copy = Path(shutil.copytree(dataset, tmp_path / "data", ignore=shutil.ignore_patterns("emb*")))
    ds = CMRDataset.open(copy)
    cached_study_embeddings(checkpoint, ds)
    stored = TextStore(cache_path(ds, meta.fingerprint).parent, meta.fingerprint).read()
    assert set(shipped_prompt_texts()) <= set(stored)
    assert len(shipped_prompt_texts()) > 20


def test_the_zero_shot_page_scores_on_a_read_only_root_without_a_store(
    tmp_path_factory: pytest.TempPathFactory,
    monkeypatch: pytest.MonkeyPatch,
    caplog: pytest.LogCaptureFixture,
) -> None:
    """A colleague's root that was embedded before stores existed: the page builds the model,
    scores, shows no error, and the log says once that the vectors are not kept."""
    import shutil

    from dashboard_fixtures import page_opener, tiny_data_root

    root = tmp_path_factory.mktemp("ro-texts") / "data"
    shutil.copytree(tiny_data_root(tmp_path_factory), root)
    for store in root.rglob("*.texts.npz"):
        store.unlink()
    open_page = page_opener(root, monkeypatch)
    with read_only_tree(root), caplog.at_level(logging.WARNING, logger="model.text_store"):
        page = open_page("pages/zeroshot.py")  # no exception nor error shown
        assert any(str(c.value).startswith("Scored ") for c in page.caption)
        page.run()
    assert caplog.text.count("prompt vectors not kept") == 1, caplog.text
    assert not list(root.rglob("*.texts.npz"))


def test_vectors_of_weights_replaced_while_they_are_read_are_never_stored(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The dashboard's encoder keys its store by the fingerprint it read first; a model built
    from a checkpoint file replaced since (a training still running) is another one's."""
    import dataclasses

    from dashboard import cache
    from model.training.checkpoint import load_checkpoint
    from tests.tiny_dataset import shared_tiny_checkpoint

    _dataset, checkpoint = shared_tiny_checkpoint()
    model, meta = load_checkpoint(checkpoint)
    replaced = dataclasses.replace(meta, fingerprint="ffff0000ffff0000")
    monkeypatch.setattr(cache, "checkpoint_model", lambda path, version: (model, replaced))
    encoder = cache.text_encoder(str(checkpoint), (1.0,), str(tmp_path))
    assert encoder(["LV dilated"]).shape[0] == 1
    assert list(tmp_path.iterdir()) == []
