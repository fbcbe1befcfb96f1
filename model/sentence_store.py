"""A dataset's report sentences as a checkpoint's text tower read them, kept on disk beside the
study embeddings of that checkpoint, so a new process reads a prompt's nearest report sentences
without building the model.

The Zero-shot page's "How does the model read these two wordings?" compares the two wordings
with every unique impression sentence of the dataset (``model.prompt_reading``): up to
``MAX_SENTENCES`` texts, embedded by the text tower. Building the model for that (torch,
transformers, the weights) took seconds on a 2-core machine, on every new dashboard process,
though neither the dataset nor the checkpoint had changed. ``stored_report_sentences`` keeps the
vectors in ``<cache stem>.sentences.npz`` (``embedding_cache.sentences_file``) beside the study
embeddings cache ``<checkpoint fp>-<dataset fp>.npz``, which ``embedding_cache.tidy`` removes
with its cache.

- Trusted only for the same weights and sentences: the file records the checkpoint's fingerprint
  and the sentences with their study counts, which are worked out again from the impressions on
  each read (cheap: no model) and must match exactly; otherwise the model encodes them anew and
  the file is replaced.
- Written atomically under the folder's writers lock; a folder that cannot be written keeps no
  file (logged), and a damaged file is ignored (logged) and replaced.
"""

from __future__ import annotations

import logging
import zipfile
from collections.abc import Callable, Iterable
from pathlib import Path

import numpy as np

from model import embedding_cache
from model.prompt_reading import ReportSentences, sentences_of, unique_sentences

log = logging.getLogger(__name__)

FORMAT = 1


def stored_report_sentences(
    cache: Path,
    fingerprint: str,
    impressions: Iterable[str],
    encode: Callable[[list[str]], np.ndarray],
) -> ReportSentences:
    """The unique sentences of ``impressions`` read by the checkpoint of ``fingerprint``: from
    the file beside the study embeddings ``cache`` when it holds exactly these, else encoded
    with ``encode`` (which may build the model) and kept there for the next process."""
    texts, studies = unique_sentences(impressions)
    path = embedding_cache.sentences_file(Path(cache))
    vectors = _read(path, fingerprint, texts, studies)
    if vectors is not None:
        return sentences_of(texts, studies, vectors)
    if not texts:
        return sentences_of(texts, studies, None)
    vectors = np.asarray(encode(texts), np.float32)  # kept as encoded: unit-normed alike on read
    _write(path, fingerprint, texts, studies, vectors)
    return sentences_of(texts, studies, vectors)


def _read(path: Path, fingerprint: str, texts: list[str], studies: np.ndarray) -> np.ndarray | None:
    """The stored vectors [S, D] of ``texts`` (with those study counts) read by the checkpoint
    of ``fingerprint``; None when the file is missing, damaged, or holds other sentences."""
    if not texts or not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as arrays:
            if int(arrays["format"]) != FORMAT or str(arrays["checkpoint"]) != fingerprint:
                return None
            stored, counts = arrays["texts"].tolist(), arrays["studies"]
            vectors = np.asarray(arrays["vectors"], np.float32)
    except (OSError, ValueError, TypeError, KeyError, EOFError, zipfile.BadZipFile) as err:
        log.warning("stored report sentences %s ignored (%s); they are encoded again", path, err)
        return None
    if stored != texts or not np.array_equal(counts, studies):
        return None  # the impressions changed since: encode them again
    if vectors.shape[0] != len(texts) or vectors.ndim != 2 or not np.isfinite(vectors).all():
        log.warning("stored report sentences %s ignored (its vectors do not match)", path)
        return None
    return vectors


def _write(
    path: Path, fingerprint: str, texts: list[str], studies: np.ndarray, vectors: np.ndarray
) -> None:
    """Replace ``path`` atomically with the sentences ``texts``, the number of ``studies``
    stating each and their ``vectors``; only a log line when it cannot be."""
    arrays = {
        "format": np.asarray(FORMAT),
        "checkpoint": np.asarray(fingerprint),
        "texts": np.asarray(texts, dtype=str),
        "studies": np.asarray(studies, dtype=np.int64),
        "vectors": vectors,
    }
    refused = embedding_cache.keep_beside(path, arrays)
    if refused:
        log.warning(
            "report sentences not kept in %s (%s); a new process encodes them again",
            path.parent,
            refused,
        )
