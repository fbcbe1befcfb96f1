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
# Function words a prompt-like fragment never consists of ("Of the." says nothing).
FUNCTION_WORDS = frozenset(
    {"a", "an", "the", "of", "in", "on", "at", "to", "by", "for", "from", "with", "and", "or",
     "as", "is", "are", "was", "were", "be", "there", "this", "that", "which", "seen", "noted"}
)  # fmt: skip


# Spelled-out chamber names and their standard abbreviations; plurals ("both ventricles") and
# other compounds ("biventricular", "right heart") are left as written.
_CHAMBERS = (
    (re.compile(r"\bleft ventric(?:le|ular)\b", re.IGNORECASE), "LV"),
    (re.compile(r"\bright ventric(?:le|ular)\b", re.IGNORECASE), "RV"),
    (re.compile(r"\bleft atri(?:um|al)\b", re.IGNORECASE), "LA"),
    (re.compile(r"\bright atri(?:um|al)\b", re.IGNORECASE), "RA"),
)


# Which side of the heart a text names: a chamber's abbreviation (LV and RV in any case, also
# inside "LVEF", "RVEDV"; LA and RA in capitals, alone), or "left" / "right" before a word for the
# heart or a chamber ("right ventricular", "left heart", "right-sided"; not "right lower lobe").
_FOLLOWED_BY_CHAMBER = r"[\s-]+(?i:heart|ventric\w*|atri\w*|chambers?|sided)\b"
_SIDES = (
    ("left", re.compile(r"\b(?i:lv[a-z]*)\b|\bLA\b|\b(?i:left)" + _FOLLOWED_BY_CHAMBER)),
    ("right", re.compile(r"\b(?i:rv[a-z]*)\b|\bRA\b|\b(?i:right)" + _FOLLOWED_BY_CHAMBER)),
)


def heart_sides(text: str) -> frozenset[str]:
    """The sides of the heart ``text`` names: ``"Dilated RV; reduced RVEF."`` -> {"right"},
    ``"Enlarged left heart chamber"`` -> {"left"}, ``"No LGE."`` -> {}; both when it names both."""
    return frozenset(side for side, pattern in _SIDES if pattern.search(text))


def abbreviate_chambers(text: str) -> str:
    """``"The left ventricle is dilated."`` -> ``"The LV is dilated."`` (idempotent)."""
    for pattern, abbreviation in _CHAMBERS:
        text = pattern.sub(abbreviation, text)
    return text


def close_sentence(text: str) -> str:
    """End ``text`` with a full stop unless it already ends with ``.``, ``!`` or ``?``:
    ``"Myocardial LGE"`` -> ``"Myocardial LGE."``; an empty text stays empty (idempotent).

    Every sentence training reads ends with one (reports are written in sentences, and word
    dropout and fragments keep the closing stop), while prompts are typed without: for a
    two-word prompt the stop is a third of its tokens, so the text tower reads prompts in the
    closed form too.
    """
    body = text.rstrip()
    return body if not body or body[-1] in ".!?" else body + "."


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


def is_polarity_word(word: str) -> bool:
    """True for a word that carries a statement's polarity ("No", "normal,", "non-dilated"),
    whatever its case and surrounding punctuation."""
    bare = word.strip(".,;:!?\"'").lower()
    return bare in POLARITY_WORDS or bare.startswith("non-")


def _body_and_end(sentence: str) -> tuple[str, str]:
    """``"No LGE. "`` -> ``("No LGE", ".")``: the words' part and the closing punctuation."""
    body = sentence.rstrip()
    end = body[-1] if body[-1:] in (".", "!", "?") else ""
    return body[: len(body) - len(end)], end


def word_spans(sentence: str) -> tuple[list[tuple[int, int]], np.ndarray]:
    """Word dropout's words of ``sentence`` as character spans ``(start, end)`` into it (the
    closing punctuation belongs to none), and bool ``[W]``: droppable, i.e. not a polarity word.

    The one definition of a word shared by ``drop_words`` on strings and
    ``model.nn.token_word_drop`` on the text tower's tokens.
    """
    body, end = _body_and_end(sentence)
    matches = list(_WORD.finditer(body))
    droppable = np.array([not is_polarity_word(m.group()) for m in matches], dtype=bool)
    return [m.span() for m in matches], droppable


def dropped_words(droppable: np.ndarray, drop_rate: float, rng: np.random.Generator) -> np.ndarray:
    """Which words word dropout removes: bool ``[W]`` from ``droppable [W]``.

    Each droppable word goes with probability ``drop_rate``; a sentence with fewer than two
    droppable words loses none, and one droppable word always stays.
    """
    if drop_rate <= 0.0 or droppable.sum() < 2:
        return np.zeros(droppable.shape, dtype=bool)
    drop = droppable & (rng.random(len(droppable)) < drop_rate)
    if drop.sum() == droppable.sum():  # keep one of the droppable words
        drop[rng.choice(np.flatnonzero(droppable))] = False
    return drop


def _words(sentence: str) -> tuple[list[str], str, np.ndarray]:
    """``sentence`` -> (its words, its closing punctuation, bool [W]: droppable, i.e. not a
    polarity word)."""
    body, end = _body_and_end(sentence)
    spans, droppable = word_spans(sentence)
    return [body[start:stop] for start, stop in spans], end, droppable


def _join(words: list[str], drop: np.ndarray, end: str) -> str:
    """The words not dropped, then ``end``; the first word capitalised (still a sentence start
    for ``split_sentences``)."""
    kept = " ".join(word for word, gone in zip(words, drop, strict=True) if not gone) + end
    return kept[:1].upper() + kept[1:]


def drop_words(sentence: str, drop_rate: float, rng: np.random.Generator) -> str:
    """Drop each word of one sentence with probability ``drop_rate``, keeping polarity words,
    at least one other word and the closing punctuation; the first word kept is capitalised.

    ``"Subendocardial LGE of the inferior wall."`` -> e.g. ``"Subendocardial LGE wall."``;
    ``"No LGE."`` never loses its "No". ``drop_rate`` 0 returns ``sentence`` unchanged.
    """
    if drop_rate <= 0.0:
        return sentence
    words, end, droppable = _words(sentence)
    if droppable.sum() < 2:
        return sentence
    return _join(words, dropped_words(droppable, drop_rate, rng), end)


def fragment_sentence(sentence: str, rng: np.random.Generator, max_words: int = 2) -> str:
    """Cut one sentence down to its polarity words and a run of 1 to ``max_words`` consecutive
    content words (neither polarity nor ``FUNCTION_WORDS``), as a user types a prompt:
    ``"Subendocardial LGE of the inferior wall."`` -> e.g. ``"Subendocardial LGE."`` or
    ``"LGE."``; ``"No myocardial LGE."`` -> e.g. ``"No LGE."``.

    Word dropout at 0.3 almost never leaves a bare finding name, so without fragments "LGE"
    is read only beside "No" and a prompt "LGE" lands among the studies without it. A sentence
    with fewer than two content words is returned unchanged.
    """
    words, end, droppable = _words(sentence)
    content = [w.strip(".,;:!?\"'").lower() not in FUNCTION_WORDS for w in words]
    others = np.flatnonzero(droppable & np.array(content, dtype=bool))
    if others.size < 2:
        return sentence
    length = int(rng.integers(1, min(max_words, others.size - 1) + 1))
    start = int(rng.integers(others.size - length + 1))
    drop = droppable.copy()
    drop[others[start : start + length]] = False
    return _join(words, drop, end)


def vary_impression(
    text: str,
    sentence_drop: float,
    word_drop: float,
    rng: np.random.Generator,
    fragment_rate: float = 0.0,
) -> str:
    """Training-time text augmentation: ``drop_sentences``, then in each sentence kept either
    ``fragment_sentence`` (with probability ``fragment_rate``) or ``drop_words``. With
    ``fragment_rate`` 0 the result and the draws equal those of the two drops alone, and with
    ``word_drop`` 0 as well those of ``drop_sentences`` alone."""
    kept = drop_sentences(text, sentence_drop, rng)
    if word_drop <= 0.0 and fragment_rate <= 0.0:
        return kept
    varied = []
    for sentence in split_sentences(kept):
        if fragment_rate > 0.0 and rng.random() < fragment_rate:
            varied.append(fragment_sentence(sentence, rng))
        else:
            varied.append(drop_words(sentence, word_drop, rng))
    return " ".join(varied)
