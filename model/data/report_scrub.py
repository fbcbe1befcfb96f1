"""Patient identifiers scrubbed from ``ingest_report.csv`` (``deidentify_report``): source paths,
series descriptions and reasons name folders and files after patients in every way exports write
them, including as a Windows zip archiver misencoded a CJK name; and every patient's whole
identifiers of one ingest scrubbed from each study's impression (``other_patients_scrubber``).
"""

from __future__ import annotations

import itertools
import os
import re
import unicodedata
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from pathlib import Path

from model.data.deid import (
    NAME_SEPARATORS,
    UNSPACED,
    WORD_RUN,
    derived_short_kana,
    identifier_parts,
    name_orders,
    name_representations,
    scrub_birth_dates,
    written_forms,
)
from model.data.impression_names import CLINICAL_WORDS, scrub_named
from model.data.joined_prefixes import JoinedNames
from model.data.latin_variants import name_keys, scrub_variants, spelling_of
from model.data.name_contexts import naming_parts
from model.data.name_encodings import legacy_readings, misread_names, scrub_unaccented
from model.data.name_particles import particle_forms, particle_joins, scrub_orphaned_particles
from model.data.text_fold import inside_kana_word, scrub_folded
from model.data.transliteration import READINGS, TRANSLITERATED, latin_readings

# a reason is cut to this length once scrubbed: cut before, a name or ID it ends in would be left
# as a fragment no identifier matches (``'/export/SMITH`` of ``SMITHSON``)
REASON_CHARS = 200
_SCRIPT_RUN = re.compile(r"[^\W\d_]+|\d+")  # a run of letters, or of digits
# runs of a script written without spaces (CJK, kana, hangul), apart only by name separators
_UNSPACED_PHRASE = re.compile(
    rf"(?:{UNSPACED.pattern})+(?:{NAME_SEPARATORS.pattern}(?:{UNSPACED.pattern})+)*"
)


def identifier_tokens(identifiers: Iterable[str]) -> set[str]:
    """Lower-cased ``identifier_parts`` of every identifier: name parts, IDs, dates."""
    return {
        token.lower()
        for identifier in identifiers
        for parts in name_representations(identifier)
        for token in identifier_parts(parts)
    }


def _name_sequences(identifiers: set[str]) -> set[tuple[str, ...]]:
    """Every name of several parts as lower-cased parts in either order (``王 小明``, ``小明_王``:
    a lone one-character family name is a word), also without particles (``Rashid, Khalid``)
    or a middle name (``Jane Doe``), never with a title (``DR``: ``Watson, John. Dr Smith``)."""
    return {
        tuple(part.lower() for part in order)
        for identifier in identifiers
        for form in written_forms(identifier)
        for parts in name_representations(form)
        if len(parts) > 1
        for named in particle_forms(parts)
        for order in name_orders(named)
    }


@dataclass(frozen=True)
class _Sought:
    """What a scrub looks for, worked out once per ingest report, so that scrubbing one text
    takes a time that does not grow with the number of identifiers (worked out per text, a
    hospital's export of thousands of patients and skipped files took hours)."""

    tokens: set[str]  # ``identifier_tokens``
    sequences: set[tuple[str, ...]]  # ``_name_sequences``
    sequence_lengths: list[int]  # their lengths, longest first
    unspaced: set[str]  # the tokens written in a script without spaces
    unspaced_lengths: list[int]
    kana: set[str]  # ``derived_short_kana``: only as a whole run of their script

    @classmethod
    def of(cls, identifiers: set[str], tokens: set[str] | None = None) -> _Sought:
        """What to seek of ``identifiers``: ``tokens`` when given (another patient's), else
        their own (``identifier_tokens``)."""
        tokens = identifier_tokens(identifiers) if tokens is None else tokens
        sequences = _name_sequences(identifiers)
        unspaced = {token for token in tokens if all(UNSPACED.match(char) for char in token)}
        return cls(
            tokens,
            sequences,
            _longest_first(sequences),
            unspaced,
            _longest_first(unspaced),
            derived_short_kana(identifiers),
        )


def other_patients_scrubber(identifiers: set[str]) -> Callable[[str], str]:
    """A scrub for impressions of every patient's identifiers seen in one ingest: a reader may
    name another patient (a relative, a mix-up, a comparison) where only the study's own were
    removed. Whole identifiers (IDs, accession numbers, birth dates, also with separators) and
    full names (either order, any separators, or joined) go; a lone part of another patient's
    name goes only where the text names a person with it (``scrub_named``: ``Mr Hart``,
    ``Hart, 54,``, ``Hart's``; an Arabic or Hebrew one in another Latin spelling too: ``Mr
    Mohamed`` of ``MUHAMMAD``, ``spelling_of``), as surnames such as Wall, Young or Hart are
    words of every impression. A Cyrillic or Greek name goes in Latin letters and a Latin one in either script
    too, an Arabic or Hebrew full name in another Latin spelling (``scrub_variants``: ``Mohamed
    Abd al-Rahman`` of ``ABDULRAHMAN^MUHAMMAD``), a surname joined to its particle where named
    (``Mr AlRashid`` of ``AL-RASHID``), a Thai name part after a title joined to it and a name
    with Arabic or Hebrew prefixes joined to it (``JoinedNames``: ``นายสมชาย``, ``ومحمد``)."""
    tokens: set[str] = set()
    named: set[str] = set()  # lone name parts: gone only where the text names a person
    for identifier in identifiers:
        for parts in name_representations(identifier):
            named |= naming_parts(parts)
            named.update(map(str.lower, particle_joins(parts)))
            whole = identifier_parts(parts) if len(parts) == 1 else name_orders(parts)
            tokens |= {token if isinstance(token, str) else "".join(token) for token in whole}
    # a name of one part that is a word of reports (a staff name ``UNKNOWN``, ``SELF``) names no one
    tokens = {token.lower() for token in tokens} - CLINICAL_WORDS
    sought = _Sought.of(identifiers, tokens)
    keys, spelled = name_keys(identifiers), spelling_of(named)
    joined = JoinedNames.of(identifiers)

    def scrub(text: str) -> str:
        text = _unspaced_names(scrub_birth_dates(text, identifiers), sought)
        return scrub_named(_identifier_words(text, sought, prose=True), named, spelled)

    def scrub_all(text: str) -> str:
        whole = scrub_variants(text, keys)  # another patient's whole name only
        return scrub_folded(whole, lambda text: joined.scrub(text, scrub))

    def sought_unaccented(word: str) -> bool:  # read without its diacritics: Müller as muller
        return word in named or spelled(word)

    return lambda text: scrub_orphaned_particles(
        scrub_unaccented(text, scrub_all, sought_unaccented)
    )


def _longest_first(items: set) -> list[int]:
    return sorted({len(item) for item in items}, reverse=True)


def _identifier_words(text: str, sought: _Sought, prose: bool = False) -> str:
    """``text`` with every letter/digit run in ``sought.tokens``, and every run of words
    spelling one of ``sought.sequences`` (parts apart by name separators), replaced by
    ``[removed]`` word by word; in a word of letters and digits, also its runs of letters or
    digits in the tokens. A Cyrillic or Greek word counts read in Latin letters too; in ``prose`` (an
    impression) a name all of clinical words counts only capitalised (``_as_name``)."""
    tokens, sequences, lengths = sought.tokens, sought.sequences, sought.sequence_lengths
    words = list(WORD_RUN.finditer(text))
    readings = [_readings(word.group()) for word in words] if not text.isascii() else None
    removed: set[int] = set()
    for start in range(len(words)):
        for length in lengths:
            window = words[start : start + length]
            spelled = _spelled(text, window) if len(window) == length else None
            if spelled is None:
                continue
            latin = _in_latin(window, readings, start) if readings else set()
            if (spelled in sequences or latin & sequences) and (not prose or _as_name(window)):
                removed.update(range(start, start + length))
                break
        if words[start].group().lower() in tokens or (readings and readings[start] & tokens):
            removed.add(start)
    spans = [words[index].span() for index in removed]
    for index, word in enumerate(words):
        if index not in removed:
            spans += _script_runs_in(word, tokens)
    for begin, end in sorted(spans, reverse=True):
        text = text[:begin] + "[removed]" + text[end:]
    return text


def _script_runs_in(word: re.Match, tokens: set[str]) -> list[tuple[int, int]]:
    """The spans of ``word``'s runs of letters or of digits, alone or several together (longest
    first), that are in ``tokens``: a folder ``DoeJane19700101`` or ``PID0001DOE`` writes a name
    against a number, where a name never ends inside a run of letters nor a number inside a run
    of digits (``Mark`` keeps ``Markedly``, ``123`` keeps ``1234``), as in an impression."""
    runs = list(_SCRIPT_RUN.finditer(word.group()))
    spans: list[tuple[int, int]] = []
    start = 0
    while len(runs) > 1 and start < len(runs):
        for end in range(len(runs), start, -1):
            begin, stop = runs[start].start(), runs[end - 1].end()
            if word.group()[begin:stop].lower() in tokens:
                spans.append((word.start() + begin, word.start() + stop))
                start = end - 1
                break
        start += 1
    return spans


def _unspaced_names(text: str, sought: _Sought) -> str:
    """``text`` with every token written in a script without spaces (``sought.unspaced``)
    replaced by ``[removed]`` wherever it stands in a run of that script, its characters apart
    by name separators or not: such text has no word boundaries, so a folder ``患者王小明`` or
    ``王_小明心脏MRI`` holds the name inside one longer word (``患者[removed]``,
    ``[removed]_[removed]心脏MRI``)."""
    if not sought.unspaced_lengths:
        return text
    return _UNSPACED_PHRASE.sub(lambda match: _scrub_phrase(match.group(), sought), text)


def _scrub_phrase(phrase: str, sought: _Sought) -> str:
    """``phrase`` (an ``_UNSPACED_PHRASE``) with each character of a name in ``sought.unspaced``
    (read with the separators left out; one of ``sought.kana`` not inside a longer run of its
    kana script) marked, and each run of marked characters one ``[removed]``."""
    letters = [i for i, char in enumerate(phrase) if UNSPACED.match(char)]
    joined = "".join(phrase[i] for i in letters).lower()
    removed = [False] * len(phrase)
    for start in range(len(joined)):
        for length in sought.unspaced_lengths:
            name = joined[start : start + length]
            if name in sought.kana and inside_kana_word(joined, start, start + length):
                continue
            if name in sought.unspaced:
                for index in letters[start : start + length]:
                    removed[index] = True
                break
    return "".join(
        "[removed]" if gone else "".join(char for char, _ in run)
        for gone, run in itertools.groupby(zip(phrase, removed, strict=True), key=lambda c: c[1])
    )


def _as_name(window: list[re.Match]) -> bool:
    """Whether words spelling a name read as one: each capitalised where every one is a clinical
    word (``Heart Wall`` is a patient, "heart wall thinning" is not)."""
    words = [match.group() for match in window]
    return any(w.lower() not in CLINICAL_WORDS for w in words) or all(w[0].isupper() for w in words)


def _readings(word: str) -> set[str]:
    """A word's Latin readings where it is Cyrillic or Greek (``latin_readings``), else none."""
    return set(latin_readings(word)) if TRANSLITERATED.search(word) else set()


def _spelled(text: str, window: list[re.Match]) -> tuple[str, ...] | None:
    """The lower-cased words of ``window`` when only name separators lie between them."""
    for before, after in zip(window, window[1:], strict=False):
        if not NAME_SEPARATORS.fullmatch(text[before.end() : after.start()]):
            return None
    return tuple(match.group().lower() for match in window)


def _in_latin(window: list[re.Match], readings: list[set[str]], start: int) -> set[tuple[str, ...]]:
    """``window`` (the text's words from ``start``) read in each transliteration where one of
    its words is Cyrillic or Greek (has ``readings``), else none."""
    if not any(readings[start : start + len(window)]):
        return set()
    words = [match.group() for match in window]
    by_scheme = zip(
        *(latin_readings(w) if TRANSLITERATED.search(w) else [w.lower()] * READINGS for w in words),
        strict=True,
    )
    return set(by_scheme)


def deidentify_report(rows: list[dict], src: Path, identifiers: set[str]) -> list[dict]:
    """Ingest-report rows with source paths made relative to ``src`` and identifiers scrubbed.

    Hospital exports often name folders after the patient (``DOE^JANE/...``), and a skipped file
    has no header to tell whose it is: paths lose the part above the source folder, and every
    letter/digit run that is part of a name, ID or birth date seen in this ingest (and a birth date
    written with separators, a CJK name inside a longer run of CJK text, and a Thai, Arabic or
    Hebrew name with a title or prefixes joined to it: ``JoinedNames``) is replaced by
    ``[removed]`` in paths, series descriptions and reasons (set lookups worked out once: a
    line's scrub takes no longer for more patients). A reason quoting a file's full path (a reader's error message) keeps only its part
    below the source folder too. A reason is cut to ``REASON_CHARS`` only once scrubbed. Names
    are compared composed (NFC): macOS writes file names decomposed, ``ü`` as ``u`` and ``¨``.
    """
    identifiers = {unicodedata.normalize("NFC", identifier) for identifier in identifiers}
    sought, joined = _Sought.of(identifiers), JoinedNames.of(identifiers)
    misread = sorted(misread_names(identifiers), key=len, reverse=True)
    root = os.path.abspath(src)
    prefixes = sorted({root + os.sep, os.path.realpath(root) + os.sep}, key=len, reverse=True)

    def scrub_words(text: str) -> str:
        text = _unspaced_names(scrub_birth_dates(text, identifiers), sought)
        return _identifier_words(text, sought)

    def scrub_reading(text: str) -> str:
        if not text.isascii():  # a misread name always holds a character outside ASCII
            for spelling in misread:
                text = text.replace(spelling, "[removed]")
        return scrub_unaccented(
            text, lambda t: joined.scrub(t, scrub_words), sought.tokens.__contains__
        )

    def reading(segment: str) -> str:
        """A path segment as its first legacy reading naming a patient, else the Western."""
        readings = legacy_readings(segment)
        return next((r for r in readings[:-1] if scrub_reading(r) != r), readings[-1])

    def scrub(text: str) -> str:
        for prefix in prefixes:
            text = text.replace(prefix, "")
        if not text.isascii():  # macOS writes file names decomposed (NFD: u + combining ¨)
            text = os.sep.join(reading(segment) for segment in text.split(os.sep))
            text = unicodedata.normalize("NFC", text)
        return scrub_reading(text)

    out = []
    for row in rows:
        path = os.path.abspath(str(row["path"])) if row.get("path") else ""
        if path == root or path.startswith(root + os.sep):
            path = os.path.relpath(path, root)
        elif path:
            path = os.path.basename(path)
        reason = scrub(str(row.get("reason", "")))[:REASON_CHARS]
        series = scrub(str(row.get("series", "")))
        out.append({**row, "series": series, "reason": reason, "path": scrub(path)})
    return out
