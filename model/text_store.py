"""Prompt vectors of one checkpoint kept on disk, so a new process reads them back instead of
building the model.

Scoring a prompt set needs each prompt's vector from the checkpoint's text tower: building the
model (torch, transformers, the weights) took 3-4 s on a 2-core machine, paid by the first
Zero-shot, Embeddings-with-prompts, text-search or prompted few-shot use of every new dashboard
process, even for the shipped prompt sets nothing changed in. ``TextStore`` keeps what the tower
read of each text (``TextReading``: its unit vector, whether the tower reads only its start,
and the words it has no word pieces for) in ``DATASET/embeddings/<checkpoint fp>.texts.npz``
(``model.embedding_cache.text_store_file``), beside the study-embedding caches of that
checkpoint; the model is built only for a text the store lacks.

- Keyed by the checkpoint's fingerprint (of its weights): in the file name and inside the file,
  so a store is never read for other weights, even renamed.
- Bounded: at most ``MAX_TEXTS`` texts (about 4 MB of 512-d vectors); the texts added first are
  dropped first. ``embedding_cache.tidy`` removes a store once no study cache of its checkpoint
  is kept in the folder (the pages that read prompts all need those embeddings).
- Concurrency: merge on write. A writer re-reads the file, adds its texts and replaces it
  atomically (``model.atomic``) under the folder's shared writers lock, so a reader never sees
  half a file and ``tidy`` never removes one being written. Two processes writing in the same
  instant may lose one's additions (the last replace wins): those texts are encoded again by the
  next process that needs them.
- A damaged file is ignored (one warning per version of the file) and replaced by the next
  write; a folder that cannot be written (a dataset shared read-only) keeps the texts in memory
  only, said once per folder. A write that fails for another reason (the writers lock still held
  by a long tidy) is said and tried again with the next new text.
- Typed Case browser queries are never added (``dashboard.scoring.CachedTextEncoder``'s
  ``keep=False``): free text about a case stays in the server's memory.
"""

from __future__ import annotations

import json
import logging
import zipfile
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from model import embedding_cache
from model.atomic import atomic_write_npz
from model.errors import UserError

log = logging.getLogger(__name__)

FORMAT = 1
MAX_TEXTS = 2048  # the shipped prompt sets hold about 70; the rest are users' own prompts
_UNWRITABLE: set[Path] = set()  # folders a store may not be written in (said once)
_DAMAGE_SAID: set[tuple[Path, int, int]] = set()  # (path, size, mtime ns) of files said damaged


@dataclass(frozen=True)
class TextReading:
    """How the text tower read one text: ``vector`` float32 [D] unit-norm, ``cut`` when it
    reads only the start of a sentence of it, ``unknown`` the words it has no word pieces for."""

    vector: np.ndarray
    cut: bool = False
    unknown: tuple[str, ...] = ()


class TextStore:
    """The texts the checkpoint of ``fingerprint`` read, kept in ``folder`` (a dataset's
    ``embeddings/``). ``read`` never raises; ``add`` never raises and never half-writes."""

    def __init__(self, folder: Path, fingerprint: str):
        self.fingerprint = fingerprint
        self.path = embedding_cache.text_store_file(Path(folder), fingerprint)
        self._closed = self.path is None

    def close(self, why: str) -> None:
        """Neither read nor write the store any more (the weights read changed: ``why``)."""
        if not self._closed:
            log.info("prompt vectors of %s not kept: %s", self.fingerprint, why)
        self._closed = True

    def read(self) -> dict[str, TextReading]:
        """Every stored text -> its reading, oldest first; {} when there is no usable store."""
        if self._closed or self.path is None or not self.path.is_file():
            return {}
        try:
            with np.load(self.path, allow_pickle=False) as arrays:
                return _readings(arrays, self.fingerprint)
        except (OSError, ValueError, TypeError, KeyError, EOFError, zipfile.BadZipFile) as err:
            _say_damage(self.path, err)
            return {}

    def add(self, readings: dict[str, TextReading]) -> None:
        """Keep ``readings`` with the stored texts (re-read now: another process may have added
        some), the newest ``MAX_TEXTS`` of them; only a log line when the folder cannot be
        written."""
        path = self.path
        if self._closed or path is None or not readings or path.parent in _UNWRITABLE:
            return
        try:
            with embedding_cache.writing(path.parent):
                kept = self.read()
                kept.update((text, r) for text, r in readings.items() if text not in kept)
                _write(path, self.fingerprint, list(kept.items())[-MAX_TEXTS:])
        except (OSError, UserError) as err:
            read_only = isinstance(err, OSError)  # not UserError: the lock busy past its wait
            if read_only:  # a dataset shared read-only: memory only, said once
                _UNWRITABLE.add(path.parent)
            log.warning(
                "prompt vectors not kept in %s (%s); %s",
                path.parent,
                getattr(err, "strerror", None) or err,
                "a new process builds the model to encode them again"
                if read_only
                else "tried again with the next new prompt",
            )


def read_texts(model: Any, texts: Sequence[str]) -> dict[str, TextReading]:
    """What the text tower of ``model`` (a ``CMRClip``) reads of each of ``texts``."""
    from model.embed import embed_texts
    from model.prompt_reading import unknown_words

    texts = list(dict.fromkeys(texts))
    vectors = embed_texts(model, texts)
    cut = set(model.text.cut_texts(texts)) if texts else set()
    return {
        text: TextReading(vector, text in cut, tuple(unknown_words(model.text.tokenizer, text)))
        for text, vector in zip(texts, vectors, strict=True)
    }


def prefill(folder: Path, fingerprint: str, model: Any, texts: Iterable[str]) -> None:
    """Store what ``model`` (of ``fingerprint``) reads of those ``texts`` the store lacks (the
    shipped prompt sets, while a command has the model built anyway)."""
    store = TextStore(folder, fingerprint)
    stored = store.read()
    missing = [text for text in dict.fromkeys(texts) if text not in stored]
    if missing:
        store.add(read_texts(model, missing))


def shipped_prompt_texts() -> list[str]:
    """Every prompt of the shipped prompt sets (``sample_data/prompts``), the first a page
    scores."""
    from model.prompts import DEFAULT_PROMPTS, PromptSet

    texts: list[str] = []
    for path in sorted(DEFAULT_PROMPTS.parent.glob("*.yaml")):
        try:
            texts.extend(PromptSet.load(path).all_texts())
        except (OSError, UserError) as err:
            log.warning("shipped prompt set %s not read: %s", path, err)
    return list(dict.fromkeys(texts))


def _say_damage(path: Path, err: Exception) -> None:
    """Warn once per version of a damaged store file (a read-only one stays, read at each new
    text: it said so for every prompt typed)."""
    try:
        stat = path.stat()
        version = (path, stat.st_size, stat.st_mtime_ns)
    except OSError:
        version = (path, -1, -1)
    if version not in _DAMAGE_SAID:
        _DAMAGE_SAID.add(version)
        log.warning("stored prompt vectors %s ignored (%s); they are encoded again", path, err)


def _readings(arrays: Any, fingerprint: str) -> dict[str, TextReading]:
    """The readings of a loaded store file; ValueError naming what is wrong with it."""
    if int(arrays["format"]) != FORMAT or str(arrays["checkpoint"]) != fingerprint:
        raise ValueError("written for another format or checkpoint")
    texts, vectors = arrays["texts"], np.asarray(arrays["vectors"], np.float32)
    cut, unknown = arrays["cut"], arrays["unknown"]
    n = len(texts)
    if texts.ndim != 1 or vectors.ndim != 2 or len(vectors) != n or cut.shape != unknown.shape:
        raise ValueError("its arrays do not match")
    if cut.shape != (n,) or not np.isfinite(vectors).all():
        raise ValueError("its arrays do not match")
    words = [json.loads(str(item)) for item in unknown]
    if not all(isinstance(w, list) and all(isinstance(x, str) for x in w) for w in words):
        raise ValueError("its unknown words are not lists of words")
    return {  # each row copied: a view would keep the whole array alive behind one reading
        str(text): TextReading(vector.copy(), bool(flag), tuple(w))
        for text, vector, flag, w in zip(texts, vectors, cut, words, strict=True)
    }


def _write(path: Path, fingerprint: str, items: list[tuple[str, TextReading]]) -> None:
    """Replace ``path`` atomically with ``items`` (text, reading)."""
    arrays = {
        "format": np.asarray(FORMAT),
        "checkpoint": np.asarray(fingerprint),
        "texts": np.asarray([text for text, _ in items], dtype=str),
        "vectors": np.stack([np.asarray(r.vector, np.float32) for _, r in items]),
        "cut": np.asarray([r.cut for _, r in items], dtype=bool),
        "unknown": np.asarray([json.dumps(list(r.unknown)) for _, r in items], dtype=str),
    }

    atomic_write_npz(path, arrays)
