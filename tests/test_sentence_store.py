"""Report sentences kept beside a checkpoint's study embeddings (``model.sentence_store``): read
back only for the same weights and sentences, else encoded again; removed with their cache."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from read_only_tree import read_only_tree

from model import embedding_cache
from model.sentence_store import stored_report_sentences

IMPRESSIONS = [
    "Dilated LV. No LGE.",
    "Normal LV size. No LGE.",
    "Dilated LV. Subepicardial LGE.",
]
FP = "ab12"


class Encoder:
    """A text tower stand-in: a fixed vector per text, and a count of the texts it encoded."""

    def __init__(self, offset: float = 0.0) -> None:
        self.encoded: list[str] = []
        self.offset = offset

    def __call__(self, texts: list[str]) -> np.ndarray:
        self.encoded.extend(texts)
        return np.array([[len(t), t.count("L") + self.offset, 1.0] for t in texts], np.float32)


@pytest.fixture
def cache(tmp_path: Path) -> Path:
    folder = tmp_path / "embeddings"
    folder.mkdir()
    path = folder / f"{FP}-{'0' * 16}.npz"
    path.write_bytes(b"a cache")
    return path


def test_kept_sentences_are_read_back_without_the_encoder(cache: Path) -> None:
    first = Encoder()
    made = stored_report_sentences(cache, FP, IMPRESSIONS, first)
    assert sorted(first.encoded) == sorted(made.texts) and len(made.texts) == 4
    assert embedding_cache.sentences_file(cache).is_file()
    second = Encoder()
    again = stored_report_sentences(cache, FP, IMPRESSIONS, second)
    assert second.encoded == []
    assert again.texts == made.texts and np.array_equal(again.studies, made.studies)
    assert np.array_equal(again.vectors, made.vectors)
    assert np.array_equal(again.negative, made.negative) and again.sides == made.sides


@pytest.mark.parametrize(
    "fingerprint, impressions",
    [("cd34", IMPRESSIONS), (FP, [*IMPRESSIONS, "Pericardial effusion."]), (FP, IMPRESSIONS[:2])],
    ids=["other weights", "a new sentence", "other counts"],
)
def test_other_weights_or_sentences_are_encoded_again(
    cache: Path, fingerprint: str, impressions: list[str]
) -> None:
    stored_report_sentences(cache, FP, IMPRESSIONS, Encoder())
    encoder = Encoder(offset=5.0)
    got = stored_report_sentences(cache, fingerprint, impressions, encoder)
    assert sorted(encoder.encoded) == sorted(got.texts)
    assert stored_report_sentences(cache, fingerprint, impressions, Encoder()).texts == got.texts


def test_a_damaged_file_is_encoded_again_and_replaced(cache: Path) -> None:
    embedding_cache.sentences_file(cache).write_bytes(b"PK\x03\x04 not a zip")
    encoder = Encoder()
    stored_report_sentences(cache, FP, IMPRESSIONS, encoder)
    assert encoder.encoded
    again = Encoder()
    stored_report_sentences(cache, FP, IMPRESSIONS, again)
    assert again.encoded == []


def test_a_read_only_folder_keeps_no_file(cache: Path) -> None:
    with read_only_tree(cache.parent):
        got = stored_report_sentences(cache, FP, IMPRESSIONS, Encoder())
        assert len(got.texts) == 4
        assert not embedding_cache.sentences_file(cache).exists()


def test_no_impressions_need_no_encoder(cache: Path) -> None:
    encoder = Encoder()
    got = stored_report_sentences(cache, FP, ["", None], encoder)  # type: ignore[list-item]
    assert got.texts == [] and encoder.encoded == []
    assert not embedding_cache.sentences_file(cache).exists()


def test_tidy_removes_the_sentences_of_a_removed_cache(cache: Path) -> None:
    stored_report_sentences(cache, FP, IMPRESSIONS, Encoder())
    kept = cache.with_name(f"{FP}-{'1' * 16}.npz")
    kept.write_bytes(b"the current cache")
    stored_report_sentences(kept, FP, IMPRESSIONS, Encoder())
    embedding_cache.tidy(cache.parent, data_fingerprint="1" * 16)
    assert not embedding_cache.sentences_file(cache).exists() and not cache.exists()
    assert embedding_cache.sentences_file(kept).is_file()
