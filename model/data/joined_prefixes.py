"""Names with a word joined to them in scripts that write one so, for the scrubs.

Thai writes no spaces between words: a title joins the name after it (``นายสมชาย``: Mr
Somchai; ``นางสาว``, ``เด็กชาย``, ``ด.ช.``) and a name the words around it (``ผู้ป่วยสมชายใจดี``:
patient Somchai Jaidee). Arabic joins its article and one-letter proclitics to the word after
them (``ال``, ``و``, ``ب``, ``ل``, ``ف``, ``ك``: ``ومحمد`` "and Muhammad", ``للرشيد`` "to
al-Rashid"), Hebrew its one-letter prefixes (``ו``, ``ה``, ``ב``, ``ל``, ``מ``, ``ש``, ``כ``:
``ולכהן`` "and to Cohen", ``שכהן``). A scrub comparing words finds none of these.

``JoinedNames.scrub`` scrubs a text around such names: a Thai name part of the header right
after a title, or a whole Thai name (its parts joined or apart), is replaced where it stands; an
Arabic or Hebrew word that is prefixes and then a name part of the header (of 3 letters or more,
as written or, Arabic, without its article: ``الرشيد`` as ``رشيد``) has the prefixes parted from
it by an invisible mark for the scrub given, which then takes the name as a word of its own
(alone, or in a whole name) and whose output loses the marks again: ``و[removed]``. A word is
parted only where its prefixes leave a name part of the header itself, so ordinary words stay
(``بكرة``, ``محمدي`` for patient ``محمد``; ``ולכן`` for patient ``כהן``), and a name that is also
a word goes with prefixes where it goes alone (``מכהן``, "serving", for patient ``כהן``).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from model.data.deid import WORD_RUN, identifier_parts, name_orders, name_representations

THAI = re.compile(r"[\u0e00-\u0e7f]")
_THAI_TITLES = tuple(
    re.compile(re.escape(title) + "[ \t]?")
    for title in (
        "นางสาว", "เด็กชาย", "เด็กหญิง", "นาย", "นาง", "น.ส.", "ด.ช.", "ด.ญ.", "คุณ", "นพ.", "พญ.",
        "ดร.", "ผศ.", "รศ.", "ศ.",
    )
)  # fmt: skip
# Thai vowels and marks written after the consonant they belong to: a name does not end before one
_THAI_AFTER = re.compile(r"[\u0e30-\u0e3a\u0e45-\u0e4e]")
_THAI_BEFORE = "\u0e40\u0e41\u0e42\u0e43\u0e44"  # vowels written before their consonant
_SEMITIC = re.compile(r"[\u05d0-\u05ea\u0621-\u063a\u0641-\u064a\u0671-\u06d3]")
_SEMITIC_WORD = re.compile(
    r"(?<![^\W\d_])(?:[\u05d0-\u05ea]{4,}|[\u0621-\u063a\u0641-\u064a\u0671-\u06d3]{4,})"
)
_HEBREW_PREFIXES = re.compile(r"[והבלמשכ]{1,3}")
# و or ف, then ب, ك or ل, then the article (ل with the article is لل)
_ARABIC_PREFIXES = re.compile(r"[وف]?(?:لل|[بكل]?(?:ال)?)")
MIN_STEM = 3  # letters a name left after the prefixes has: under it, prefixes make words
_SPLIT = "\u2063"  # INVISIBLE SEPARATOR: no letter, no mark, no name separator


@dataclass(frozen=True)
class JoinedNames:
    """The name parts of some identifiers a scrub seeks with words joined to them."""

    stems: frozenset[str]  # Arabic and Hebrew name parts (``MIN_STEM`` letters or more)
    titled: frozenset[str]  # Thai name parts, and ``whole``: what may follow a title
    whole: frozenset[str]  # Thai names of several parts, joined or apart by a space
    titled_lengths: tuple[int, ...]  # their lengths, longest first
    whole_lengths: tuple[int, ...]

    @classmethod
    def of(cls, identifiers: set[str] | list[str]) -> JoinedNames:
        """Those of ``identifiers`` (none where every one is ASCII)."""
        stems, thai, whole = set(), set(), set()
        for identifier in identifiers:
            if identifier.isascii():
                continue
            for parts in name_representations(identifier):
                # a part, or one without its article (``identifier_parts``: ``الرشيد``, ``رشيد``)
                stems |= {
                    p for p in identifier_parts(parts) if len(p) >= MIN_STEM and _SEMITIC.match(p)
                }
                thai |= {part for part in parts if THAI.match(part)}
                if len(parts) > 1 and all(THAI.match(part) for part in parts):
                    whole |= {sep.join(o) for o in name_orders(parts) for sep in ("", " ")}
        return cls(
            frozenset(stems), frozenset(thai | whole), frozenset(whole), _lengths(thai | whole),
            _lengths(whole),
        )  # fmt: skip

    def scrub(self, text: str, scrub: Callable[[str], str]) -> str:
        """``scrub(text)`` with the names this knows found though words are joined to them."""
        if text.isascii() or not (self.stems or self.titled):
            return scrub(text)
        if self.titled and THAI.search(text):
            text = _replace(text, _thai_spans(text, self))
        split = _split_prefixes(text, self.stems) if self.stems else text
        if split == text:
            return scrub(text)
        return scrub(split).replace(_SPLIT, "")  # a text's own U+2063 (invisible) goes too


def _lengths(names: set[str]) -> tuple[int, ...]:
    return tuple(sorted({len(name) for name in names}, reverse=True))


def _replace(text: str, spans: list[tuple[int, int]]) -> str:
    """``text`` with each word in ``spans`` replaced by ``[removed]``."""
    for begin, end in sorted(spans, reverse=True):
        text = text[:begin] + WORD_RUN.sub("[removed]", text[begin:end]) + text[end:]
    return text


def _thai_at(text: str, start: int, names: frozenset[str], lengths: tuple[int, ...]) -> int:
    """The end of the longest of ``names`` (of ``lengths``) at ``start`` of ``text`` that ends
    where a Thai syllable may (no vowel or mark of its consonant after it); 0 if none."""
    if start > 0 and text[start - 1] in _THAI_BEFORE:
        return 0
    for length in lengths:
        end = start + length
        if text[start:end] in names and not _THAI_AFTER.match(text, end):
            return end
    return 0


def _thai_spans(text: str, names: JoinedNames) -> list[tuple[int, int]]:
    """The spans of Thai name parts right after a title (``นาย``, then a space or none), and
    of whole Thai names anywhere, none inside another."""
    found: list[tuple[int, int]] = []
    for title in _THAI_TITLES:
        for match in title.finditer(text):
            if end := _thai_at(text, match.end(), names.titled, names.titled_lengths):
                found.append((match.end(), end))
    if names.whole:
        for start in range(len(text)):
            if THAI.match(text, start) and (
                end := _thai_at(text, start, names.whole, names.whole_lengths)
            ):
                found.append((start, end))
    spans: list[tuple[int, int]] = []
    for begin, end in sorted(found, key=lambda span: (span[0], -span[1])):
        if not spans or begin >= spans[-1][1]:
            spans.append((begin, end))
    return spans


def _split_prefixes(text: str, stems: frozenset[str]) -> str:
    """``text`` with each Arabic or Hebrew word that is prefixes of its script and then one of
    ``stems`` parted after the prefixes by ``_SPLIT`` (the longest stem)."""

    def split(match: re.Match) -> str:
        word = match.group()
        if word in stems:  # الرشيد as the header writes it: its article is no prefix
            return word
        prefixes = _HEBREW_PREFIXES if "\u05d0" <= word[0] <= "\u05ea" else _ARABIC_PREFIXES
        for cut in range(1, len(word) - MIN_STEM + 1):
            if word[cut:] in stems and prefixes.fullmatch(word, 0, cut):
                return word[:cut] + _SPLIT + word[cut:]
        return word

    return _SEMITIC_WORD.sub(split, text)
