"""Word dropout on the text tower's tokens, after its frozen layers.

``model.sentences.drop_words`` deletes words from an impression string before the text tower
reads it. Every step then feeds the tower sentences it has never seen, so the frozen lower layers
(five of MiniLM's six in cpu-small) run again for them: on the demo data about half of an
epoch's sentence occurrences miss their cache (``TextTower.frozen_states``). Dropping the same
words from the *frozen token states* instead keeps the cache hitting: the sentence is read whole
by the frozen layers (once, then cached), and the tokens of the words drawn for dropout are
removed before the trainable top layers and the pooling, so the trainable part and the loss see
the sentence without them. cpu-small uses it (0.3) in place of string dropout: a seed-paired A/B
lifted the val split's diagnosis-probe accuracy with zero-shot AUC held (bench/RESULTS.md,
session 23; session 22's A/B, judged on zero-shot alone, had left it off).

Words and the dropout rule are ``model.sentences``' (``word_spans``, ``dropped_words``): a
parenthetical aside is one word, polarity words are never dropped, one droppable word always
stays, and a sentence with fewer than two droppable words keeps them all. Special tokens and the
closing punctuation belong to no word and are always kept.
"""

from __future__ import annotations

import numpy as np
import torch

from model.sentences import dropped_words, word_spans

NO_WORD = -1  # a token that belongs to no word: [CLS], [SEP], padding, closing punctuation


def token_words(offsets: list[tuple[int, int]], spans: list[tuple[int, int]]) -> np.ndarray:
    """Word index of each token: ``offsets [L]`` (the tokenizer's character spans, ``(0, 0)``
    for special tokens) and word ``spans [W]`` (in order, not overlapping) -> int ``[L]``,
    ``NO_WORD`` outside every word."""
    starts = np.array([start for start, _ in offsets], dtype=np.int64)
    special = np.array([stop <= start for start, stop in offsets], dtype=bool)
    word_starts = np.array([start for start, _ in spans], dtype=np.int64)
    word_stops = np.array([stop for _, stop in spans], dtype=np.int64)
    # the last word starting at or before each token's start, -1 before the first word
    owner = np.searchsorted(word_starts, starts, side="right") - 1
    inside = (owner >= 0) & ~special
    inside[inside] &= starts[inside] < word_stops[owner[inside]]
    return np.where(inside, owner, NO_WORD)


# a sentence's tokens as word dropout sees them: word index per token ``[L]`` (``token_words``)
# and whether each word may be dropped ``[W]``; ``sentence_words`` computes it
SentenceWords = tuple[np.ndarray, np.ndarray]


def sentence_words(sentence: str, offsets: list[tuple[int, int]]) -> SentenceWords:
    """``(owner [L], droppable [W])`` of ``sentence`` tokenized with character ``offsets``."""
    spans, droppable = word_spans(sentence)
    return token_words(offsets, spans), droppable


def kept_tokens(
    owner: np.ndarray, droppable: np.ndarray, drop_rate: float, rng: np.random.Generator
) -> np.ndarray:
    """Word dropout for one sentence: token word indices ``owner [L]`` and ``droppable [W]`` ->
    bool ``[L]``, False for the tokens of the words dropped (``dropped_words``)."""
    dropped = np.append(dropped_words(droppable, drop_rate, rng), False)  # [W + 1]
    return ~dropped[owner]  # NO_WORD (-1) reads the appended False: always kept


def word_keep_mask(words: list[SentenceWords], length: int, drop_rate: float) -> torch.Tensor:
    """Keep mask of a batch of sentences: each one's ``sentence_words`` (B, as tokenized for
    the frozen states) -> long ``[B, length]``, 0 for the tokens of dropped words, 1 elsewhere
    (padding included: the attention mask handles it).

    The draws come from one seed taken from torch's global generator, so a checkpoint's saved
    random state replays them on resume.
    """
    seed = int(torch.randint(2**62, ()))
    rng = np.random.default_rng(seed)
    keep = np.ones((len(words), length), dtype=np.int64)
    for row, (owner, droppable) in enumerate(words):
        keep[row, : len(owner)] = kept_tokens(owner, droppable, drop_rate, rng)
    return torch.from_numpy(keep)
