"""Impression text as sentences: how the text tower pools and how training varies its targets.

An impression is a few independent statements ("Dilated LV (LVEDD 64 mm). No LGE."). The text
tower embeds each sentence on its own and averages them, so a one-sentence zero-shot prompt lives
in the same space as the sentences the model was trained on. During training a random subset of
each impression's sentences is kept, so every sentence is, some of the time, the whole target.
"""

from __future__ import annotations

import re

import numpy as np

# A sentence ends at . ! or ? followed by whitespace and the start of the next sentence; decimal
# points ("3.5 mm") and abbreviations inside a sentence are not followed by whitespace + capital.
_BOUNDARY = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])")


def split_sentences(text: str) -> list[str]:
    """``"A. B."`` -> ``["A.", "B."]``; a text without a boundary (or empty) is one sentence."""
    parts = [part.strip() for part in _BOUNDARY.split(text.strip())]
    parts = [part for part in parts if part]
    return parts or [text.strip()]


def sentence_layout(texts: list[str]) -> tuple[list[str], list[int]]:
    """Every sentence occurrence of ``texts`` in order, and the index of the text it came from.

    The one definition of "the batch's sentences" shared by the text tower (which embeds them) and
    the sentence-level loss (which needs their owners and texts).
    """
    per_text = [split_sentences(text) for text in texts]
    flat = [sentence for sentences in per_text for sentence in sentences]
    owner = [i for i, sentences in enumerate(per_text) for _ in sentences]
    return flat, owner


def drop_sentences(text: str, drop_rate: float, rng: np.random.Generator) -> str:
    """Drop each sentence of ``text`` with probability ``drop_rate``, keeping at least one.

    Order is kept; the draw depends only on ``rng``. ``drop_rate`` 0 returns ``text`` unchanged.
    """
    if drop_rate <= 0.0:
        return text
    sentences = split_sentences(text)
    keep = rng.random(len(sentences)) >= drop_rate
    if not keep.any():
        keep[rng.integers(len(sentences))] = True
    return " ".join(s for s, kept in zip(sentences, keep, strict=True) if kept)
