"""A study's own patient scrubbed from its impression (``scrub_identifiers``), and what every
impression scrub shares: a name part where the text names a person with it (``scrub_named``),
Cyrillic and Greek words read in Latin letters (``scrub_transliterated``) and links
(``scrub_links``).

A name part alone is an ordinary word when the name is one (``Wall``, ``Heart``, ``Young``,
``Mitral``): a surname in ``CLINICAL_WORDS`` is scrubbed only where the text names a person with it
(after a title, ``Mr Wall``; before an age, ``Wall, 54,``) or written out with the given name,
so "regional wall motion" keeps its words for patient ``WALL^JOHN``.
"""

from __future__ import annotations

import functools
import re
from collections.abc import Callable

from model.data.deid import (
    MARKS,
    NAME_SEPARATORS,
    UNSPACED,
    WORD_RUN,
    derived_short_kana,
    identifier_parts,
    long_enough,
    name_orders,
    name_representations,
)
from model.data.name_contexts import (
    INITIALS_AFTER,
    INITIALS_BEFORE,
    LATIN_TITLE,
    PATIENT_NAMED,
    TITLED,
    honorific_spans,
    name_words,
    name_words_around,
    naming_parts,
    titled_names,
)
from model.data.name_particles import scrub_particles
from model.data.text_fold import kana_word_pattern
from model.data.transliteration import TRANSLITERATED, latin_readings

# words of cardiac imaging reports (and of any report) that are also names: never scrubbed alone
_CLINICAL = """
    heart cardiac wall walls septum septal apex apical base basal mid ventricle ventricles
    ventricular atrium atria atrial valve valves valvular mitral aortic aorta tricuspid pulmonary
    pulmonic root arch trunk artery arteries coronary vein veins vena cava chamber chambers cavity
    cusp leaflet leaflets annulus annular papillary muscle muscles segment segments segmental
    territory inferior anterior posterior lateral inferolateral anterolateral inferoseptal
    anteroseptal free blood pool flow jet shunt outflow inflow tract pericardium pericardial
    myocardium myocardial endocardial subendocardial epicardial subepicardial transmural lung
    lungs chest body head hand foot liver kidney spine rib ribs fat fluid mass thrombus clot
    tumour tumor scar fibrosis oedema edema effusion infarct infarction ischaemia ischemia
    ischaemic ischemic stenosis regurgitation hypertrophy hypertrophied dilatation dilation
    dilated enlarged function dysfunction motion thickness thickening thickened thin thinning
    thinned volume volumes fraction ejection size shape diameter length area normal abnormal
    mild mildly moderate moderately severe severely marked markedly trivial small large long
    short high low good poor fair reduced preserved impaired increased decreased borderline
    minor major early late rest stress dark bright black white grey gray young old elderly male
    female man woman patient case study scan image images view views cine axis four two three
    sequence contrast gadolinium enhancement perfusion viability viable pattern focal patchy
    diffuse global regional linear concentric asymmetric symmetric eccentric kinetic
    hypokinetic akinetic dyskinetic rate rhythm sinus beat pressure load overload disease
    syndrome failure amyloid sarcoid consistent likely possible probable evidence finding
    findings impression conclusion summary report comment history indication technique
    comparison prior previous follow stable new unchanged improved worse clinical further may
    will can also only noted seen present absent see left right
    both upper lower middle centre center edge point ring band line lines spot sign signal
    field strength time phase frame slice plane breath hold gate artefact artifact fast slow
    still strong weak sharp smooth round straight full empty open fine well best main
    circumferential depth diastolic systolic dimensions end exclude cannot imaging impairment
    increase infiltration insertion interventricular keeping limits maximal maximum measuring
    physiological points predominantly significant suggest lge lvef lvedd lvedv rvef rvedv rca
    lad lcx non not the there this with within without and trace post
    unknown none self given referring referred physician physicians doctor radiologist
    cardiologist operator technician technologist staff department hospital clinic other
    cardiology radiology oncology medicine surgery surgical emergency outpatient inpatient
    team service review unit icu ccu
"""  # the last lines: what a header's staff name holds when it names no one (UNKNOWN, NONE^GIVEN)
# or a department (CARDIOLOGY, CCU; not WARD: a surname as common as the word is rare here)
CLINICAL_WORDS = frozenset(_CLINICAL.split())
# a title in capitals (MR SMITH, DR J. WALL, DR.SMITH): "MR SEVERE", "MILD MR. WALL MOTION" are
# no names, so the word after it counts as a name only where a scrub knows it
# (``_caps_title_spans``); title case and Arabic and Hebrew titles: ``name_contexts.TITLED``
_AFTER_CAPS_TITLE = re.compile(
    rf"\b{LATIN_TITLE.upper()}(?:\.[ \t]*|[ \t]+)((?:[A-Z]\.?[ \t]+)*)([^\W\d_]+)"
)
_POSSESSIVE = re.compile(r"(?<![^\W\d_])([^\W\d_]+)['’]s\b")
# ", 54," ", 54 y," ", aged 54 years," ", 54-year-old male": a person's age after their name
# (an Arabic comma too: ``محمد، 54،``)
_COMMA_AGE = re.compile(
    r"(?<![^\W\d_])([^\W\d_]+)[,،]\s*(?:aged\s+)?\d{1,3}"
    r"(?:\s*-?\s*(?:years?|yrs?|y/?o|y)(?:[\s-]*old)?)?"
    r"(?=\s*(?:[,;:)،؛]|\.(?:\s|$)|$)|\s+(?:presents|presented|male|female|man|woman|with|M|F)\b)"
)
_HOST = r"(?:[a-z0-9](?:[a-z0-9-]*[a-z0-9])?\.)+"
_TLD = (
    r"(?:com|org|net|edu|gov|mil|int|local|lan|intra|intranet|internal|corp|nhs|uk|de|fr|nl|ch|"
    r"at|be|it|es|se|no|dk|fi|au|nz|ca|us|io|jp|cn|kr|ru|in|br|ie|pl|cz|pt|gr|il|za|sg|hk|tw)"
)
_END = r"(?=[.,;:!?)\]'\"]*(?:\s|$))"  # a link ends before the punctuation closing its sentence
# links to a PACS viewer, a worklist or a mail box: their query strings hold accession numbers
# and patient IDs, their hosts name the hospital
_LINK = re.compile(
    rf"\b(?:https?|ftp|file|dicom|wado)://\S*?{_END}|\bwww\d{{0,3}}\.\S*?{_END}"
    rf"|[\w.+-]+@{_HOST}[a-z]{{2,24}}\b"
    rf"|\b{_HOST}[a-z]{{2,24}}(?::\d{{2,5}})?/\S*?{_END}"
    rf"|\b{_HOST}{_TLD}\b(?::\d{{2,5}})?"
    rf"|\b\d{{1,3}}(?:\.\d{{1,3}}){{3}}\b(?::\d{{2,5}})?(?:/\S*?{_END})?",
    re.IGNORECASE,
)


def scrub_links(text: str) -> str:
    """``text`` with every link (``http://``, ``www.``, a host with a path or a port, a host of
    a known top-level domain, an IPv4 address, a mail address) replaced by ``[removed]``: a
    reader pastes the PACS viewer's link, whose query names the accession and the patient."""
    return _LINK.sub("[removed]", text)


def _reads_as(word: str, parts: set[str], spelled: Callable[[str], bool] | None) -> bool:
    """Whether ``word`` is one of ``parts`` (lower-cased), also read from Cyrillic or Greek, or
    a spelling of one that ``spelled`` tells."""
    lower = word.lower()
    if lower in parts or (spelled is not None and spelled(word)):
        return True
    return bool(TRANSLITERATED.search(word)) and any(r in parts for r in latin_readings(word))


def scrub_named(
    text: str,
    parts: set[str],
    spelled: Callable[[str], bool] | None = None,
    titled: Callable[[str], bool] | None = None,
) -> str:
    """``text`` with each of the name ``parts`` (lower-cased), or a word ``spelled`` tells is
    another spelling of one, replaced by ``[removed]`` where the text names a person with it:
    capitalised (or in a script without case), after a title in Latin, Arabic, Hebrew or
    Cyrillic script (``Mr Smith``, ``Dr. J. Smith``, ``السيد``, ``ד"ר``, ``г-н``:
    ``name_contexts.TITLED``; a title in capitals as ``_caps_title_spans`` reads it, and there a
    part as spelled only: ``MR TRACE`` is no ``Tracy``), before a CJK title (``山田様``:
    ``honorific_spans``), before an age (``Smith, 54,``), a possessive (``Smith's``; a clinical
    word only as ``_possessive_name`` reads it), next to initials or after "patient" (``J.
    Smith``, ``Smith J``, ``patient Smith``; no clinical word: ``_beside_initials``). The name
    goes whole: its particles and hyphenated parts with it (``name_contexts.name_words``: ``Mr
    Ar-Rashid``, ``Ms Doe-Jones``), after a title the names up to the last one found (``Dr
    Peter Smith``). A word ``titled`` tells is a spelling of a part counts after a title in title
    case only (``Mrs Grey`` of ``GRAY``: alone, a report's word)."""
    if not parts and titled is None:
        return text
    spans = _caps_title_spans(text, parts) if parts else set()  # MR TRACE: exact parts only
    after_title = spelled if titled is None else titled
    for script, title in TITLED if not text.isascii() else TITLED[:1]:
        for match in title.finditer(text) if script is None or script.search(text) else ():
            names = titled_names(text, match.end())  # the words up to the last name found go
            found = [any(_names(text[b:e], parts, after_title) for b, e in w) for w in names]
            for words in names[: len(found) - found[::-1].index(True)] if any(found) else ():
                spans.update(words)
    spans.update(honorific_spans(text, parts) if not text.isascii() else ())
    patterns = [_COMMA_AGE] if "," in text or "،" in text else []
    patterns += [_POSSESSIVE] if "'" in text or "’" in text else []
    patterns += [INITIALS_BEFORE, INITIALS_AFTER, PATIENT_NAMED]
    patterns = patterns if parts else []  # where only ``titled`` is sought
    for pattern in patterns:
        strict = pattern in (INITIALS_BEFORE, INITIALS_AFTER, PATIENT_NAMED)
        for match in pattern.finditer(text):
            word = match.group(1)
            if not _names(word, parts, None if strict else spelled):
                continue
            if strict and not _beside_initials(word, match, pattern is INITIALS_AFTER):
                continue
            if pattern is not _POSSESSIVE or _possessive_name(text, match):
                spans.update(name_words_around(text, *match.span(1)))
    for begin, end in sorted(spans, reverse=True):
        text = text[:begin] + "[removed]" + text[end:]
    return text


def _names(word: str, parts: set[str], spelled: Callable[[str], bool] | None) -> bool:
    """Whether ``word`` is written as a name (not in lower case) and reads as one of ``parts``."""
    return not word[0].islower() and _reads_as(word, parts, spelled)


def _beside_initials(word: str, match: re.Match, after: bool) -> bool:
    """Whether ``word`` next to initials (``after`` it: ``match`` starts with it) or after
    "patient" reads as a name (the header's spelling only: ``type B. Trace`` is no ``Tracy``):
    no clinical word ("grade A. Wall motion": an initial's letter is also a grade, a type); in
    capitals only before one initial (``NGUYEN V.``, ``SMITH J``: "TRACE TR." is a finding,
    and the letter before a word in capitals may end a sentence)."""
    if word.lower() in CLINICAL_WORDS:
        return False
    return not word.isupper() or (after and sum(map(str.isalpha, match.group()[len(word) :])) == 1)


def _caps_title_spans(text: str, parts: set[str]) -> set[tuple[int, int]]:
    """The spans of the words of a name after a title in capitals (``MR SMITH``,
    ``MR AL-RASHID``) holding one of ``parts``: a part that is no clinical word, or one after
    initials (``DR J. WALL``). MR, MS and DR are also mitral regurgitation, mitral stenosis and
    diastolic ...: "MR SEVERE", "MILD MR. WALL MOTION NORMAL" keep their words even for a
    patient Wall; an unknown word is never taken."""
    spans = set()
    for match in _AFTER_CAPS_TITLE.finditer(text):
        words = name_words(text, match.start(2))
        for begin, end in words:
            word = text[begin:end]
            if not word[0].isupper() or not _reads_as(word, parts, None):
                continue
            if word.lower() not in CLINICAL_WORDS or match.group(1):
                spans.update(words)
    return spans


def _possessive_name(text: str, match: re.Match) -> bool:
    """Whether a possessive (``Wall's``) names a person: a word that is no clinical word, or a
    clinical one written as a name inside a sentence ("compared with Wall's prior study"): at a
    sentence's start ("Heart's size normal"), in capitals or lower case it is the word."""
    word = match.group(1)
    if word.lower() not in CLINICAL_WORDS:
        return True
    before = text[: match.start(1)].rstrip()
    inside = bool(before) and (before[-1].isalnum() or before[-1] == ",")
    return inside and word[0].isupper() and word[1:].islower()


def scrub_transliterated(text: str, parts: set[str]) -> str:
    """``text`` with each Cyrillic or Greek word that reads as one of ``parts`` (lower-cased
    Latin name parts) in a transliteration (``latin_readings``) replaced by ``[removed]``."""
    if text.isascii():
        return text

    def replace(match: re.Match) -> str:
        word = match.group()
        transliterated = TRANSLITERATED.search(word) and any(
            r in parts for r in latin_readings(word)
        )
        return "[removed]" if transliterated else word

    return WORD_RUN.sub(replace, text)


def scrub_identifiers(
    text: str, identifiers: list[str], titled: Callable[[str], bool] | None = None
) -> str:
    """``text`` with every identifier, its parts (``identifier_parts``) and its name written out
    in either order with any separators (``Jane Doe``, ``Doe, Jane``, ``王_小明``) replaced by
    ``[removed]`` word by word; never inside a longer word of a spaced script (``Mark`` keeps
    ``Markedly``) or number (``123`` keeps ``1234``), while CJK text has no spaces, so a CJK end
    may touch other characters. A part in ``CLINICAL_WORDS`` goes only where the text names a
    person with it (``scrub_named``) or with the rest of the name, capitalised; a Cyrillic or
    Greek word reading as a Latin part goes too (``scrub_transliterated``), a Latin part with
    the particles before it (``scrub_particles``: ``Al-Rashid``, ``alRashid`` of ``RASHID``); a
    part of two kana no header writes so only as a whole run of its script
    (``derived_short_kana``); a Chinese family name of one character only before its title
    (``王先生``: ``name_contexts.honorific_spans``); a word ``titled`` tells is a spelling of a
    part after a title (``scrub_named``: ``Mrs Grey`` of ``GRAY``)."""
    spellings: dict[str, int] = {}  # pattern: the length of what it spells, longest tried first
    words: set[str] = set()  # every part, lower-cased
    single: set[str] = set()  # CJK parts of one character: only with an honorific (王先生)
    kana = derived_short_kana(identifiers)
    for identifier in filter(long_enough, identifiers):
        if identifier.lower() not in CLINICAL_WORDS:
            spellings[_bounded(re.escape(identifier), identifier)] = len(identifier)
        for parts in name_representations(identifier):
            tokens = {token.lower(): token for token in identifier_parts(parts)}
            words |= tokens.keys()
            spellings |= {
                kana_word_pattern(token)
                if lower in kana
                else _bounded(re.escape(token), token): len(token)
                for lower, token in tokens.items()
                if lower not in CLINICAL_WORDS
            }
            if len(parts) > 1:
                spellings |= {
                    _written_out(order): len(" ".join(order)) for order in name_orders(parts)
                }
            single |= naming_parts(parts) - words
    latin = {w for w in words - CLINICAL_WORDS if w.isascii() and w.isalpha()}
    text = scrub_particles(text, latin)
    if spellings:
        ordered = sorted(spellings, key=lambda pattern: -spellings[pattern])
        pattern = re.compile("|".join(ordered), re.IGNORECASE)
        text = pattern.sub(lambda match: WORD_RUN.sub("[removed]", match.group()), text)
    named = scrub_named(text, words & CLINICAL_WORDS | single, titled=titled)
    return scrub_transliterated(named, words)


def _written_out(order: list[str]) -> str:
    """The pattern of a name written out in ``order`` with any separators; each part
    capitalised where every one is a clinical word ("Heart Wall", not "heart wall")."""
    if all(part.lower() in CLINICAL_WORDS for part in order):
        escaped = [f"(?-i:{re.escape(p[0].upper())}){re.escape(p[1:])}" for p in order]
    else:
        escaped = [re.escape(part) for part in order]
    return _bounded(NAME_SEPARATORS.pattern.join(escaped), "".join(order))


def _bounded(pattern: str, spelling: str) -> str:
    """``pattern`` that may not start or end inside a number where ``spelling`` starts or ends
    with a digit, nor inside a word where with a letter of a script written with spaces, or a
    mark of its script (``_block_marks``)."""
    return f"{_edge(spelling[0], '(?<!')}(?:{pattern}){_edge(spelling[-1], '(?!')}"


def _edge(char: str, look: str) -> str:
    """A lookaround (``look``: ``(?<!`` behind, ``(?!`` ahead) keeping ``char`` from touching
    a character of its kind."""
    if char.isdigit():
        return look + r"\d)"
    if (char.isalpha() or char in MARKS) and not UNSPACED.match(char):
        return look + r"[^\W\d_]" + _block_marks(char) + ")"
    return ""


@functools.lru_cache(maxsize=256)
def _block_marks(char: str) -> str:
    """``|[...]``: the marks (vowel signs, viramas; ``MARKS``) of the 128-character block of
    ``char``'s script, which a word of it carries (``रामायण`` holds ``राम``, then ``ा``); empty
    for a block without marks (ASCII)."""
    block = ord(char) & ~0x7F
    marks = "".join(chr(c) for c in range(block, block + 0x80) if chr(c) in MARKS)
    return f"|[{re.escape(marks)}\u200c\u200d]" if marks else ""
