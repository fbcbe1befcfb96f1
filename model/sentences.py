"""Impression text as sentences: how the text tower pools and how training varies its targets.

An impression is a few independent statements ("Dilated LV (LVEDD 64 mm). No LGE."). The text
tower embeds each sentence on its own and averages them, so a one-sentence zero-shot prompt lives
in the same space as the sentences the model was trained on. During training a random subset of
each impression's sentences is kept, so every sentence is, some of the time, the whole target;
word dropout (EDA-style random deletion) also shortens sentences ("Subendocardial LGE of the
inferior wall." -> "Subendocardial LGE."), so short prompt-like statements are seen in training,
but never deletes the words that carry a statement's polarity ("No", "normal", "non-...").

Chamber names can be put in one canonical form (``abbreviate_chambers``: "left ventricular" ->
"LV") before the text tower reads them: pretrained MiniLM embeds "Dilated right ventricle" and
"Dilated left ventricle" at cosine 0.98 (antonyms share their contexts), but "Dilated RV" and
"Dilated LV" at 0.72, and training does not pull the spelled-out forms apart.
"""

from __future__ import annotations

import re

import numpy as np

# A sentence ends at . ! or ? followed by whitespace and the start of the next sentence; decimal
# points ("3.5 mm") and abbreviations inside a sentence are not followed by whitespace + capital.
_BOUNDARY = re.compile(r"(?<=[.!?])\s+(?=[A-Z0-9(\"'])")
# Word dropout's units: a parenthetical aside ("(LVEF 35%)") counts as one word.
_WORD = re.compile(r"\([^)]*\)|\S+")
# Words that carry polarity or normality; word dropout keeps them (and every "non-..." word), so
# an augmented sentence may lose detail but never turns "No pericardial effusion." into
# "Pericardial effusion.".
POLARITY_WORDS = frozenset(
    {"no", "not", "nor", "without", "absent", "normal", "normally", "preserved", "negative",
     "unremarkable", "free", "resolved"}
)  # fmt: skip


# Spelled-out chamber names and their standard abbreviations; plurals ("both ventricles") and
# other compounds ("biventricular", "right heart") are left as written.
_CHAMBERS = (
    (re.compile(r"\bleft ventric(?:le|ular)\b", re.IGNORECASE), "LV"),
    (re.compile(r"\bright ventric(?:le|ular)\b", re.IGNORECASE), "RV"),
    (re.compile(r"\bleft atri(?:um|al)\b", re.IGNORECASE), "LA"),
    (re.compile(r"\bright atri(?:um|al)\b", re.IGNORECASE), "RA"),
)


def abbreviate_chambers(text: str) -> str:
    """``"The left ventricle is dilated."`` -> ``"The LV is dilated."`` (idempotent)."""
    for pattern, abbreviation in _CHAMBERS:
        text = pattern.sub(abbreviation, text)
    return text


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


def _keeps_polarity(word: str) -> bool:
    bare = word.strip(".,;:!?\"'").lower()
    return bare in POLARITY_WORDS or bare.startswith("non-")


def drop_words(sentence: str, drop_rate: float, rng: np.random.Generator) -> str:
    """Drop each word of one sentence with probability ``drop_rate``, keeping polarity words,
    at least one other word and the closing punctuation; the first word kept is capitalised.

    ``"Subendocardial LGE of the inferior wall."`` -> e.g. ``"Subendocardial LGE wall."``;
    ``"No LGE."`` never loses its "No". ``drop_rate`` 0 returns ``sentence`` unchanged.
    """
    if drop_rate <= 0.0:
        return sentence
    body = sentence.rstrip()
    end = body[-1] if body[-1:] in (".", "!", "?") else ""
    words = _WORD.findall(body[: len(body) - len(end)])
    droppable = np.array([not _keeps_polarity(word) for word in words], dtype=bool)
    if droppable.sum() < 2:
        return sentence
    drop = droppable & (rng.random(len(words)) < drop_rate)
    if drop.sum() == droppable.sum():  # keep one of the droppable words
        drop[rng.choice(np.flatnonzero(droppable))] = False
    kept = " ".join(word for word, gone in zip(words, drop, strict=True) if not gone) + end
    return kept[:1].upper() + kept[1:]  # still a sentence start for ``split_sentences``


def vary_impression(
    text: str, sentence_drop: float, word_drop: float, rng: np.random.Generator
) -> str:
    """Training-time text augmentation: ``drop_sentences``, then ``drop_words`` in each sentence
    kept. With ``word_drop`` 0 the result (and the draws) equal ``drop_sentences`` alone."""
    kept = drop_sentences(text, sentence_drop, rng)
    if word_drop <= 0.0:
        return kept
    return " ".join(drop_words(sentence, word_drop, rng) for sentence in split_sentences(kept))
