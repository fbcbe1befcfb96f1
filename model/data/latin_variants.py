"""Arabic and Hebrew names in the other Latin spellings they are written in, for the impression
scrubs.

A header's ``ABDULRAHMAN^MOHAMMED`` is a report's ``Abd al-Rahman``, ``Abdel Rahman``, ``Mohamed``
or ``Muhammad``; ``HUSSEIN`` its ``Husayn``, ``YAAKOV`` its ``Ya'akov``, ``YITZHAK`` its
``Itzhak``, and the reverse. Their letters differ where the script has no Latin letter (``ح``,
``ח``: ``h``, ``kh``, ``ch``; ``ق``: ``q``, ``k``; ``צ``: ``tz``, ``ts``, ``z``), in the short
vowels the script does not write, in doubled letters (a shadda or dagesh) and in how the article
joins (``Abd al-``, ``Abdul``, ``Abdel``). ``variant_key`` reads a spelling as what those leave:
its consonants in order, each run of vowels as one, so ``Mohammed`` and ``Muhammad`` are both
``mVhVmVd`` while ``Ahmed`` (``VhmVd``) and ``Hamid`` (``hVmVd``) stay apart. An English name
(``Isaac`` for ``Yitzhak``, ``Joseph`` for ``Yosef``) is another name, not a spelling: not sought.

Only capitalised words of 4 letters or more count, a word alone with three consonants or more
(``Moore`` reads like ``More``), never a clinical word (``Smooth`` is ``smVth`` like ``Smith``),
so "the LV is normal" loses nothing.
"""

from __future__ import annotations

import functools
import itertools
import re
from collections.abc import Callable, Iterator

from model.data.deid import NAME_SEPARATORS, WORD_RUN, family_and_given, name_representations
from model.data.impression_names import CLINICAL_WORDS
from model.data.name_particles import ASSIMILATED_ARTICLES, PARTICLES

_LETTERS = re.compile(r"[a-z]+")
_SOUNDS = (("tz", "z"), ("ts", "z"), ("ch", "h"), ("kh", "h"), ("ph", "f"), ("q", "k"), ("c", "k"))
_FINAL_H = re.compile(r"(?<=[aeiou])h$")  # Fatimah, Rivkah, Abdullah: a final h after a vowel
# a doubled y between vowels (the shadda on ya: Sayyid, Hayyim) reads as one: Sayid, Hayim
_DOUBLE_Y = re.compile(r"(?<=[aeiou])yy(?=[aeiou])")
_GLIDE_Y = re.compile(r"(?<=[aeiou])y(?=[aeiou])")  # Hayim, Zayed: Haim, Zaid
_VOWEL_Y = re.compile(r"(?<!^)y(?![aeiou])")  # Husayn, Zayd: y as a vowel
_DOUBLE = re.compile(r"(.)\1+")
_DOUBLE_DIGRAPH = re.compile(r"(sh|th|dh)\1+")  # Abd ash-Shakur: one sound, doubled
_VOWELS = re.compile(r"[aeiou]+")
MIN_LETTERS = 4
# a word alone counts from 3 consonants: of 2, names read like English words (``Moore`` and
# ``More``, ``Sami`` and ``Some``, ``Vera`` and ``Very``), so ``Omar`` as ``Umar`` or ``Zaid``
# as ``Zayd`` go only within a whole name
MIN_ONE_WORD_CONSONANTS = 3
MAX_WORDS = 6  # a name written out: Muhammad ibn Abd al-Rahman al-Rashid
# the Arabic article's l before a sun letter takes its sound (Abd al-Rahman is Abd ar-Rahman,
# Abdurrahman; Nur al-Din is Nur ad-Din, Nuruddin): inside a name, after a first element of 3
# letters and its vowel (Abd-u-, Nur-a-, Noor-u-), with 3 letters or more after the l
_SUN = r"(?:th|dh|sh|[tdrzsnl])"
# or at a name's start (Al-Rashid is Ar-Rashid, ArRashid) with 5 letters or more after the l
_ARTICLE_L = re.compile(
    rf"(?<=[a-z]{{3}}[aeiou])l(?={_SUN}[a-z]{{2}})|(?<=^[aeu])l(?={_SUN}[a-z]{{4}})"
)
_ASSIMILATED = re.compile(  # Abdur|rahman, a|rrashid
    rf"(?<=[a-z]{{3}}[aeiou])(?=({_SUN})\1[a-z]{{2}})|(?<=^[aeu])(?=({_SUN})\2[a-z]{{3}})"
)
MAX_ARTICLES = 3  # in one name: Muhammad Nur al-Din Abd al-Rahman
# the words a name written out holds in lower case (``Abd al-Rahman``, ``Khalid bin Said``), the
# article assimilated too (``Abd ar-Rahman``, ``Nur ad-Din``, ``Abd ash-Shakur``)
_LOWER_IN_NAMES = frozenset(PARTICLES) | frozenset(ASSIMILATED_ARTICLES)


@functools.lru_cache(maxsize=8192)  # an impression's words recur in every report of a site
def variant_key(spelling: str) -> str | None:
    """What a Latin ``spelling`` of a name keeps in every common transliteration (its
    consonants, each run of vowels as ``V``); None for one of under ``MIN_LETTERS`` letters or
    under two consonants (``Ali``, ``Omar`` as ``Umar`` still counts)."""
    word = "".join(_LETTERS.findall(spelling.lower()))
    if len(word) < MIN_LETTERS:
        return None
    word = word[1:] if word.startswith("yi") else word  # Yitzhak, Itzhak
    word = _DOUBLE_DIGRAPH.sub(r"\1", word)
    for sound, kept in _SOUNDS:
        word = word.replace(sound, kept)
    word = _GLIDE_Y.sub("", _DOUBLE_Y.sub("y", _FINAL_H.sub("", word)))
    word = _VOWEL_Y.sub("i", word)
    key = _VOWELS.sub("V", _DOUBLE.sub(r"\1", word))
    return key if _consonants(key) >= 2 else None


@functools.lru_cache(maxsize=8192)  # a site's names recur from study to study
def assimilations(spelling: str) -> frozenset[str]:
    """``spelling``'s letters (lower-cased) as written and with the Arabic article assimilated
    to the sun letter after it (``abdulrahman`` as ``abdurahman``: ``Abdurrahman`` reads so, its
    doubled letter counting once) or, where the name writes it assimilated, put back
    (``abdussalam`` as ``abdulssalam``: ``Abd al-Salam``), at each article or some of them."""
    word = "".join(_LETTERS.findall(spelling.lower()))
    spellings = {word}
    for pattern, put in ((_ARTICLE_L, ""), (_ASSIMILATED, "l")):
        spans = [found.span() for found in pattern.finditer(word)][:MAX_ARTICLES]
        for chosen in itertools.product((False, True), repeat=len(spans)) if spans else ():
            pieces, last = [], 0
            for (begin, end), change in zip(spans, chosen, strict=True):
                pieces += [word[last:begin], put if change else word[begin:end]]
                last = end
            spellings.add("".join(pieces) + word[last:])
    return frozenset(spellings)


def _consonants(key: str) -> int:
    return len(key) - key.count("V")


def name_keys(identifiers: list[str] | set[str]) -> set[str]:
    """The ``variant_key`` of each whole name of two parts or more of ``identifiers``' Latin
    spellings, family or given name first (``MOHAMMED ABDULRAHMAN``, ``KHALID AL RASHID``), also
    with the Arabic article before a part that has none (``Khalid al-Rashid``, ``el-Rashid`` of
    ``RASHID^KHALID``: ``_with_article``). A scrub takes such a key only as two words or more:
    one word spelling a whole name is a word (``Grade`` of ``DOE^GRAY`` given name first)."""
    return {
        key
        for index, parts in _latin_names(identifiers, whole=True)
        if len(parts) > 1
        for run in _with_article(parts)
        for spelling in assimilations(run)
        if (key := variant_key(spelling))
    }


def part_keys(identifiers: list[str] | set[str]) -> set[str]:
    """The ``variant_key`` of each run of consecutive parts, short of the whole, of
    ``identifiers``' Latin names as the header writes them (``ABDULRAHMAN``, ``ABD AL RAHMAN``,
    ``GRAY``): a scrub takes one as a word alone (``MIN_ONE_WORD_CONSONANTS``) or as several."""
    return {
        key
        for index, parts in _latin_names(identifiers, whole=False)
        if index == 0
        for start in range(len(parts))
        for end in range(start + 1, min(len(parts), start + MAX_WORDS) + 1)
        if end - start < len(parts) or len(parts) == 1  # the whole name: ``name_keys``
        for spelling in assimilations("".join(parts[start:end]))
        if (key := variant_key(spelling))
    }


def _latin_names(identifiers: list[str] | set[str], whole: bool) -> Iterator[tuple[int, tuple]]:
    """Each Latin name of ``identifiers`` (of two parts or more where ``whole``) as its parts,
    with the index of its form (``_latin_forms``)."""
    for identifier in identifiers:
        if identifier.isascii() and not _may_name(WORD_RUN.findall(identifier), whole):
            continue  # an ID, a date, a number: read as written, it spells no name
        yield from _latin_forms(identifier)


@functools.lru_cache(maxsize=1024)  # both keys of a study read its names: worked out once
def _latin_forms(identifier: str) -> tuple[tuple[int, tuple[str, ...]], ...]:
    """``identifier``'s Latin names as their parts, with the index of each form: 0 as the
    header writes it, then given name first, then each without a middle name. Without a title
    (WATSON^JOHN^^DR: "Watson, John. Dr Smith")."""
    full, short = family_and_given(identifier, 3), family_and_given(identifier)
    forms = (full, _given_first(full), *((short, _given_first(short)) if short != full else ()))
    return tuple(
        (index, tuple(parts))
        for index, form in enumerate(forms if "^" in identifier else (full,))
        for parts in name_representations(form)
        if all(part.isascii() and part.isalpha() for part in parts)
    )


def _with_article(parts: tuple[str, ...]) -> list[str]:
    """A whole name's ``parts`` joined, and with the article ``al`` before each part that is
    no particle nor after one (its keys read ``el``, ``ul`` and ``ar-`` alike)."""
    lower = [part.lower() for part in parts]
    return ["".join(lower)] + [
        "".join([*lower[:index], "al", *lower[index:]])
        for index, part in enumerate(lower)
        if part not in PARTICLES and (index == 0 or lower[index - 1] not in PARTICLES)
    ]


def spelling_of(parts: set[str]) -> Callable[[str], bool]:
    """Whether a word spells one of the Latin name ``parts`` (lower-cased) another way
    (``variant_key``, its article assimilated or not: ``Mohamed`` of ``muhammad``): for a scrub
    that takes such a word only where the text names a person with it; a clinical word never,
    nor one of under ``MIN_ONE_WORD_CONSONANTS`` (``Today's`` reads like a patient Teddy's)."""
    keys = {
        key
        for part in parts
        if part.isascii() and part.isalpha()
        for spelling in assimilations(part)
        if (key := variant_key(spelling)) and _consonants(key) >= MIN_ONE_WORD_CONSONANTS
    }
    return lambda word: (
        word.isascii() and word.lower() not in CLINICAL_WORDS and variant_key(word) in keys
    )


def _may_name(parts: list[str], whole: bool) -> bool:
    """Whether an ASCII identifier's ``parts`` may spell a name: letters only, two parts or
    more for a ``whole`` name."""
    return bool(parts) and all(map(str.isalpha, parts)) and (len(parts) > 1 or not whole)


def _given_first(identifier: str) -> str:
    """A DICOM name with each group's given name(s) before its family name (``AL-RASHID^KHALID``
    as ``KHALID^AL-RASHID``: a family name of several words stays whole)."""
    groups = [group.split("^") for group in identifier.split("=")]
    return "=".join("^".join([*parts[1:2], parts[0], *parts[2:]]) for parts in groups)


def scrub_variants(
    text: str, keys: set[str], parts: frozenset[str] | set[str] = frozenset()
) -> str:
    """``text`` with each run of up to ``MAX_WORDS`` Latin words, apart only by name separators,
    each capitalised, a particle (``Abd al-Rahman``) or after an apostrophe, whose letters
    joined have a key (``variant_key``) in ``keys`` (whole names: two words or more, ``Grade``
    spells ``Gray Doe`` and is no name) or in ``parts`` (a name's parts: a word alone too, from
    ``MIN_ONE_WORD_CONSONANTS``) replaced by ``[removed]`` word by word, the longest run first;
    a run all of clinical words, or ending in a letter alone ("Grade A"), never."""
    if not keys and not parts:
        return text
    few = len(keys) + len(parts) <= MAX_KEYS_LEADING
    leads = {key[0] for key in (*keys, *parts)} | {""} if few else set()
    words = [w for w in WORD_RUN.finditer(text) if w.group().isascii() and w.group().isalpha()]
    removed: set[int] = set()
    for start, first in enumerate(words):
        if start in removed or not first.group()[0].isupper():
            continue
        if few and _lead(first.group()) not in leads:
            continue
        stop = start + 1
        while stop < min(len(words), start + MAX_WORDS) and _in_name(text, words, stop):
            stop += 1
        for end in range(stop, start, -1):
            window = words[start:end]
            if not _apart_by_separators(text, window):
                continue
            spelled = [word.group() for word in window]
            if all(word.lower() in CLINICAL_WORDS for word in spelled) or len(spelled[-1]) < 2:
                continue  # a name ends in no letter alone: "Grade A" is no ``GRAY^DOE``
            key = variant_key("".join(spelled))
            if key in keys and len(window) > 1 or key in parts and _as_part(key, len(window)):
                removed.update(range(start, end))
                break
    for index in sorted(removed, reverse=True):
        begin, end = words[index].span()
        text = text[:begin] + "[removed]" + text[end:]
    return text


def _as_part(key: str, words: int) -> bool:
    """Whether a run of ``words`` words whose key is a name part's spells it: several words, or
    one with ``MIN_ONE_WORD_CONSONANTS`` (``Moore`` alone reads like ``More``)."""
    return words > 1 or _consonants(key) >= MIN_ONE_WORD_CONSONANTS


# a run's first word is checked against the keys' first letters where the keys are this few (one
# study's own names): for every patient of an ingest nearly every letter leads some key
MAX_KEYS_LEADING = 64
_LEADS = {"tz": "z", "ts": "z", "ch": "h", "kh": "h", "ph": "f", "yi": "V"}


def _lead(word: str) -> str:
    """What ``variant_key`` of a run starting with ``word`` starts with (``V`` for a vowel);
    empty for a word of one letter, which the next one may join (``T Sadiq`` reads ``ts``)."""
    if len(word) < 2:
        return ""
    lower = word[:2].lower()
    first = lower[0]
    return "V" if first in "aeiou" else _LEADS.get(lower) or ("k" if first in "qc" else first)


def _in_name(text: str, words: list[re.Match], index: int) -> bool:
    """Whether ``words[index]`` may go on a name: capitalised, a particle, or after an
    apostrophe (``Ya'akov``)."""
    word = words[index].group()
    after_apostrophe = text[words[index - 1].end() : words[index].start()] in ("'", "’")
    return word[0].isupper() or word in _LOWER_IN_NAMES or after_apostrophe


def _apart_by_separators(text: str, window: list[re.Match]) -> bool:
    return all(
        NAME_SEPARATORS.fullmatch(text[before.end() : after.start()])
        for before, after in zip(window, window[1:], strict=False)
    )
