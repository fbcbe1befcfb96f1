"""Spellings of one name that differ only in how a script is typed, for the scrubs.

Two texts may spell a name alike to a reader and differ in code points: a Japanese header's
phonetic name in half-width katakana (``ﾔﾏﾀﾞ``, ISO 2022 IR 13) against the report's full-width
``ヤマダ`` or hiragana ``やまだ`` (``kana_spellings``); a Hebrew or Arabic word with vowel points
(``כֹּהֵן``), a shadda or a tatweel (``حــدّاد``), in presentation forms (``ﺣﺪاد``: text copied out
of a PDF) or with direction marks inside it (``U+200F``), where the name has none. ``fold`` reads
a text as its letters alone; ``scrub_folded`` scrubs a text a second time read that way and
removes what was found from the text as written, so the marks of what stays are kept.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

KANA = ("\u3041", "\u30ff", "\uff66", "\uff9f")  # hiragana and katakana, half-width katakana
_HIRAGANA, _KATAKANA_OFFSET = range(0x3041, 0x3097), 0x60
_HALF_WIDTH = {  # full-width katakana (and the voicing marks of decomposed ones) to half-width
    **{
        unicodedata.normalize("NFKC", chr(code)): chr(code)
        for code in range(0xFF61, 0xFF9E)
        if len(unicodedata.normalize("NFKC", chr(code))) == 1
    },
    "\u3099": "\uff9e",
    "\u309a": "\uff9f",
}
# not letters: direction marks and isolates, zero widths, the soft hyphen, the Arabic tatweel
_IGNORABLE = frozenset(
    "\u00ad\u0640\u061c\u200b\u200c\u200d\u200e\u200f\u202a\u202b\u202c\u202d\u202e"
    "\u2060\u2066\u2067\u2068\u2069\ufeff"
)
_FOLDED_LETTERS = str.maketrans({"أ": "ا", "إ": "ا", "آ": "ا", "ٱ": "ا", "ى": "ي"})
# what ``fold`` changes in NFKC-normal text: Latin, Hebrew and Arabic marks, kana voicing marks,
# the letters ``_FOLDED_LETTERS`` makes plain, ignorables (a text without any is read as written)
_FOLDABLE = re.compile(
    "[\u0300-\u036f\u0591-\u05c7\u0610-\u061a\u064b-\u065f\u0670\u06d6-\u06ed\u3099\u309a"
    + "أإآٱى"
    + "".join(sorted(_IGNORABLE))
    + "]"
)
_REMOVED = "[removed]"


# the kana scripts, each apart: hiragana, full-width katakana (with ー), half-width katakana
_KANA_SCRIPTS = ("\u3041-\u309f", "\u30a0-\u30ff", "\uff66-\uff9f")
# a name's honorific after it in its own script: はなさん is the name, はなはだしい a word
_HONORIFIC = "さん|さま|ちゃん|くん|サン|サマ|チャン|クン"


def kana_script(char: str) -> str | None:
    """The range of ``_KANA_SCRIPTS`` ``char`` is in, if any."""
    return next((r for r in _KANA_SCRIPTS if r[0] <= char <= r[-1]), None)


def inside_kana_word(text: str, start: int, end: int) -> bool:
    """Whether ``text[start:end]`` (kana) stands inside a longer run of its own kana script, not
    counting an honorific after it (``はな`` in ``はなはだしい``, not in ``はな様``, ``はなさん``)."""
    script = kana_script(text[start])
    if script is None:
        return False
    before = start > 0 and kana_script(text[start - 1]) == script
    after = end < len(text) and kana_script(text[end]) == script
    return before or (after and re.match(_HONORIFIC, text[end:]) is None)


def kana_word_pattern(token: str) -> str:
    """The pattern of a kana ``token`` that may not stand inside a longer run of its script
    (``inside_kana_word``)."""
    script = kana_script(token[0]) or ""
    return f"(?<![{script}]){re.escape(token)}(?!(?!{_HONORIFIC})[{script}])"


def _has_kana(text: str) -> bool:
    return any(KANA[0] <= c <= KANA[1] or KANA[2] <= c <= KANA[3] for c in text)


def kana_spellings(text: str) -> list[str]:
    """``text`` with its kana written each other way a name's reading is (full-width katakana,
    hiragana, half-width katakana), distinct and unlike ``text``; none without kana."""
    if text.isascii() or not _has_kana(text):
        return []
    full = unicodedata.normalize("NFKC", text)  # half-width katakana composed, full-width
    katakana = "".join(chr(ord(c) + _KATAKANA_OFFSET) if ord(c) in _HIRAGANA else c for c in full)
    hiragana = "".join(
        chr(ord(c) - _KATAKANA_OFFSET) if ord(c) - _KATAKANA_OFFSET in _HIRAGANA else c
        for c in katakana
    )
    decomposed = unicodedata.normalize("NFD", katakana)
    half = "".join(_HALF_WIDTH.get(c, c) for c in decomposed)
    half = unicodedata.normalize("NFC", half)  # what it did not make half-width, composed again
    spellings = []
    for spelling in (full, katakana, hiragana, half):
        if spelling != text and spelling not in spellings:
            spellings.append(spelling)
    return spellings


def _attaches(char: str) -> bool:
    """Whether ``char`` belongs to the character before it: a combining mark (vowel points,
    harakat, accents of decomposed text, an Indic vowel sign: a decomposed Tamil ``ொ`` is two,
    composed with their letter), a half-width voicing mark, or an ignorable."""
    return (
        char in _IGNORABLE
        or char in "\uff9e\uff9f"
        or unicodedata.category(char) in ("Mn", "Mc", "Me")
    )


def _fold_cluster(cluster: str) -> str:
    """A character and what attaches to it as its letters alone: compatibility forms as their
    letters (NFKC: presentation forms, half-width katakana, full-width Latin), combining marks
    and ignorables dropped once composed, Arabic alef with hamza and alef maksura as plain."""
    composed = unicodedata.normalize("NFKC", cluster)
    kept = (c for c in composed if c not in _IGNORABLE and unicodedata.category(c) not in "MnMe")
    return "".join(kept).translate(_FOLDED_LETTERS)


def _clusters(text: str) -> list[tuple[int, int]]:
    """The (start, end) of each character of ``text`` with what attaches to it."""
    spans: list[tuple[int, int]] = []
    for index, char in enumerate(text):
        if spans and _attaches(char):
            spans[-1] = (spans[-1][0], index + 1)
        else:
            spans.append((index, index + 1))
    return spans


def fold(text: str) -> str:
    """``text`` read as its letters alone (``_fold_cluster`` on each character)."""
    if text.isascii():
        return text
    return "".join(_fold_cluster(text[start:end]) for start, end in _clusters(text))


def scrub_folded(text: str, scrub: Callable[[str], str]) -> str:
    """``scrub(text)``, and where ``text`` folds to other letters (``fold``), what ``scrub``
    removes from the folded text removed from the text as written, each span one
    ``[removed]``. Should the two not line up, the folded text scrubbed is kept: a text may
    lose its marks, never keep a name."""
    text = scrub(text)
    if text.isascii() or (unicodedata.is_normalized("NFKC", text) and not _FOLDABLE.search(text)):
        return text
    return scrub_reading(text, scrub, _fold_cluster)


def scrub_reading(text: str, scrub: Callable[[str], str], read: Callable[[str], str]) -> str:
    """``text`` with what ``scrub`` removes from it read character by character (with what
    attaches to each) through ``read`` removed from it as written, each span one
    ``[removed]``; the read text scrubbed where the two do not line up."""
    spans, pieces = [], []
    for start, end in _clusters(text):
        folded = read(text[start:end])
        spans += [(start, end)] * len(folded)
        pieces.append(folded)
    folded = "".join(pieces)
    if folded == text:
        return text
    scrubbed = scrub(folded)
    if scrubbed == folded:
        return text
    removed = _removed_ranges(folded, scrubbed)
    if removed is None:
        return scrubbed
    for begin, end in reversed(removed):
        text = text[: spans[begin][0]] + _REMOVED + text[spans[end - 1][1] :]
    return text


def _removed_ranges(before: str, after: str) -> list[tuple[int, int]] | None:
    """The ranges of ``before`` that ``after`` shows as ``[removed]`` (``after`` is ``before``
    with some runs replaced by it), in order; None where they do not line up."""
    ranges: list[tuple[int, int]] = []
    i = j = 0
    while j < len(after):
        if after.startswith(_REMOVED, j) and not before.startswith(_REMOVED, i):
            j += len(_REMOVED)
            following = after.find(_REMOVED, j)
            literal = after[j:] if following < 0 else after[j:following]
            end = _chunk_end(before, i, literal, at_end=following < 0)
            if end is None:
                return None
            ranges.append((i, end))
            i = end
        elif i < len(before) and before[i] == after[j]:
            i, j = i + 1, j + 1
        else:
            return None
    return ranges if i == len(before) else None


def _chunk_end(before: str, start: int, literal: str, at_end: bool) -> int | None:
    """The nearest end of a replaced run of ``before`` from ``start`` after which ``before``
    goes on with ``literal`` (and ends there, ``at_end``); None for two runs replaced side by
    side, whose border nothing tells."""
    if not literal and not at_end:
        return None
    for end in range(start + 1, len(before) + 1):
        if before.startswith(literal, end) and (not at_end or end + len(literal) == len(before)):
            return end
    return None
