"""Where a text names a person, and which words that name is, for ``impression_names.scrub_named``.

A title names the person after it: in Latin letters (``Mr Smith``, ``Dr. J. Smith``,
``Dr.Smith``), in Arabic (``السيد``, ``السيدة``, ``الدكتور``, ``د.``, ``الأستاذ``, also with the
proclitics Arabic joins to them: ``للسيد``, ``والدكتور``) or in Hebrew (``מר``, ``גב'``,
``גברת``, ``ד"ר``, ``פרופ'``; ``למר``, ``ומר``) or in Cyrillic (``г-н``, ``г-жа``, ``д-р``,
``пан``). So do initials (``J. Smith``, ``Smith J``,
``Smith, J.``). The name is more than the word next to it: its particles (``Mr Al-Rashid``,
``Dr. Ad-Din``, ``Mrs O'Brien``, ``Mr van der Berg``, ``Mr Abd al-Rahman``) and the parts a
hyphen joins (``Ms Doe-Jones``): ``name_words`` reads them all, so that a scrub finding one part
of a patient's name removes the name whole, no fragment left (``Ar-`` tells a name in ``r``).
Chinese, Japanese and Korean put the title after the name (``山田様``, ``王先生``, ``민준 씨``,
``김민준 환자``) or ``患者`` (patient) before it: ``honorific_spans``.
"""

from __future__ import annotations

import re

from model.data.deid import UNSPACED, long_enough
from model.data.name_particles import ASSIMILATED_ARTICLES, PARTICLES

# English, French, German, Spanish, Italian, Dutch, Polish (longer first: Dott.ssa, not Dott)
LATIN_TITLE = (
    r"(?:Mrs|Mr|Ms|Miss|Mx|Dr|Prof|Master|Mister|Madam|Mme|Mlle|Herr|Frau|Sra|Srta|Sr|Doña|Dña"
    r"|Don|Dott\.ssa|Dott|Sig\.ra|Sig|Dhr|Mevr|Pani|Pan)"
)
# a title in title case, a full stop or a space (``Dr.Smith``), then initials: the name starts
# there (MR, MS in capitals are mitral regurgitation and stenosis: ``impression_names``)
_LATIN_TITLED = re.compile(rf"\b{LATIN_TITLE}(?:\.[ \t]*|\s+)(?:[A-Z]\.\s*)*(?=[^\W\d_])")
# Arabic: the article (with ب or ك, or ل as لل, after و or ف) and Mr, Mrs, Dr, Professor (the
# hamza written or not), or د. (Dr) alone
_ARABIC_TITLED = re.compile(
    r"(?<![^\W\d_])(?:(?:[وف]?(?:[بك]?ال|لل))"
    r"(?:سيدة|سيد|دكتورة|دكتور|أستاذة|أستاذ|استاذة|استاذ)\s+|د\.\s*)(?=[^\W\d_])"
)
# Hebrew: Mr, Mrs (גב' with a geresh or an apostrophe, גברת), Dr (ד"ר with gershayim or a quote
# mark), Professor, after ו (and) or ל (to) as Hebrew joins them
_HEBREW_TITLED = re.compile(
    r"(?<![^\W\d_])[ול]{0,2}(?:מר|גברת|גב['׳’]|ד[\"״”]ר|ד['׳’]{2}ר|פרופ['׳’]?|פרופסור)\s+"
    r"(?=[^\W\d_])"
)
# Cyrillic: Mr, Mrs (г-н, г-жа, as Russian abbreviates them; пан, пані in Ukrainian), Dr, Prof
_CYRILLIC_TITLED = re.compile(
    r"(?<![^\W\d_])(?:[Гг]-(?:н|жа)|[Дд]-р|[Пп]роф\.|[Пп]ан(?:і|и)?|[Дд]октор)\.?\s+(?=[^\W\d_])"
)
# each with a letter of its script, which a text holds where the title may be in it (None: any)
TITLED = (
    (None, _LATIN_TITLED),
    (re.compile(r"[\u0621-\u064a]"), _ARABIC_TITLED),
    (re.compile(r"[\u05d0-\u05ea]"), _HEBREW_TITLED),
    (re.compile(r"[\u0400-\u04ff]"), _CYRILLIC_TITLED),
)
# initials before a name (``J. Smith``, ``J.A. Smith``; one without a full stop not A or I,
# which are words: ``J Smith``) or after it (``Smith J``, ``Smith, J.``, ``Smith J.A.``; two
# letters without full stops are a finding's abbreviation: "Trace MR", "Post MI")
# (each starts with its capital, the lookbehind after it, so that a search skips to capitals)
INITIALS_BEFORE = re.compile(
    r"[A-Z](?<![^\W\d_][A-Z])(?:\.[ \t]*(?:[A-Z]\.[ \t]*){0,2}|(?<=[B-HJ-Z])[ \t]+)"
    r"([A-Z][^\W\d_]+)(?![^\W\d_])"
)
INITIALS_AFTER = re.compile(
    r"([A-Z](?<![^\W\d_.][A-Z])[^\W\d_]+)(?:,[ \t]*|[ \t]+)(?:[A-Z]\.[A-Z]\.|[A-Z]\.?)"
    r"(?![^\W\d_])"
)
# "patient Smith", "Patient: Smith", "pt Smith": a name after the word (not one in capitals)
PATIENT_NAMED = re.compile(r"[Pp](?<![^\W\d_][Pp])(?:atient|t\.?)[ \t]*:?[ \t]+([A-Z][^\W\d_]+)")
_PARTICLE_WORDS = frozenset(PARTICLES) | frozenset(ASSIMILATED_ARTICLES)
_WORD = re.compile(r"[^\W\d_]+")
# what joins the words of one name: a hyphen, an apostrophe that is no possessive's, spaces
_JOIN = re.compile(r"-|['’](?![sS](?![^\W\d_]))")
_GAP = re.compile(r"[ \t]+")
_BEFORE = re.compile(r"(?<![^\W\d_])([^\W\d_]+)(-|['’]|[ \t]+)$")
_LOOK_BEHIND = 40  # characters: a particle or a hyphenated part before a name is shorter


def is_particle(word: str) -> bool:
    """Whether ``word`` is a name's particle (``Al``, ``ar``, ``van``, ``O``, ``Abu``)."""
    return word.lower() in _PARTICLE_WORDS


def _separator(text: str, end: int) -> re.Match | None:
    """The join or gap after a word ending at ``end``, where a word follows it."""
    found = _JOIN.match(text, end) or _GAP.match(text, end)
    return found if found and _WORD.match(text, found.end()) else None


def name_words(text: str, start: int) -> list[tuple[int, int]]:
    """The spans of the words of the name starting at ``start``: particles before a word not in
    lower case (``Al-Rashid``, ``van der Berg``) and the words a hyphen or an apostrophe joins
    to it (``Doe-Jones``, ``O'Brien``), then more particles and such words (``Abd al-Rahman``);
    a particle before a word in lower case names no one but itself (``Mr Ben seen``: ``Ben``).
    Empty where no word starts there."""
    spans: list[tuple[int, int]] = []
    pending: list[tuple[int, int]] = []  # particles waiting for the word they stand before
    position = start
    while word := _WORD.match(text, position):
        gap = _separator(text, word.end())
        waits = is_particle(word.group()) and gap is not None
        if waits:
            pending.append(word.span())
        elif word.group()[0].islower() and (spans or pending):
            break
        else:
            spans += [*pending, word.span()]
            pending = []
        if gap is None:
            break
        apart = _GAP.fullmatch(gap.group()) is not None  # after a name's word, only a particle
        if apart and not waits and not is_particle(_WORD.match(text, gap.end()).group()):
            break
        position = gap.end()
    if not spans and pending:
        return pending[:1]
    return spans


def name_words_around(text: str, begin: int, end: int) -> list[tuple[int, int]]:
    """The spans of the words of the name holding the word at ``begin``-``end``: from the
    particles or hyphenated parts before it (``Ar-Rashid, 54,``; ``Doe-Jones's``), as
    ``name_words`` reads on from there."""
    while found := _BEFORE.search(text, max(0, begin - _LOOK_BEHIND), begin):
        word, joined = found.group(1), found.group(2)
        particle = is_particle(word)
        if not (particle or (joined == "-" and not word[0].islower())):
            break
        if joined[0] in " \t" and not particle:
            break
        begin = found.start(1)
    spans = name_words(text, begin)
    return spans if any(span[1] >= end for span in spans) else [(begin, end)]


MORE_NAMES = 2  # words after a title's first name that may go on the name (Dr John Henry Watson)


def titled_names(text: str, start: int) -> list[list[tuple[int, int]]]:
    """The names (``name_words``) from ``start`` on, the first and up to ``MORE_NAMES`` more
    apart from it by spaces, each capitalised (not in capitals: "Mr Smith LV") or in a script
    without case: after a title, ``Dr John Watson`` names one person."""
    names = [name_words(text, start)]
    while names[-1] and len(names) <= MORE_NAMES:
        gap = _GAP.match(text, names[-1][-1][1])
        word = _WORD.match(text, gap.end()) if gap else None
        if (
            word is None
            or word.group()[0].islower()
            or word.group().isupper()
            and len(word.group()) > 1
        ):
            break
        names.append(name_words(text, word.start()))
    return names


# titles after a CJK name (Japanese, Chinese, Korean: Mr/Ms, doctor, professor, patient) and
# 患者 (patient) before one
_HONORIFIC = re.compile(
    r"[ ]?(?:様|さま|さん|先生|氏|殿|くん|ちゃん|君|女士|小姐|医生|医师|醫師|医師|大夫|教授|老师|主任"
    r"|선생님|교수님|원장님|님|씨|환자)"
)
_PATIENT_BEFORE = re.compile(r"患者[ ]?")
# a name of one character (a Chinese family name: 王, 林) counts only joined to a title that
# follows no word (先生, さん: "值班医生" is the doctor on duty, 班 a name too); not Korean (손님,
# "guest", holds the name 손), nor after 患者 ("患者高血压": patient, hypertension)
ONE_CHARACTER_NAME = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff]")
_AFTER_ONE_CHARACTER = frozenset(("先生", "女士", "小姐", "様", "さん", "氏"))
_LONGEST_CJK_NAME = 4  # characters


def honorific_spans(text: str, parts: set[str]) -> list[tuple[int, int]]:
    """The spans of CJK name ``parts`` right before an honorific (``山田様``, ``王先生``,
    ``김민준 님``) or after ``患者``, the longest that ends (starts) there; a part of one
    character (``ONE_CHARACTER_NAME``) only joined to a title of ``_AFTER_ONE_CHARACTER``."""
    spans: list[tuple[int, int]] = []
    if not UNSPACED.search(text):
        return spans
    for match in _HONORIFIC.finditer(text):
        lengths = range(min(_LONGEST_CJK_NAME, match.start()), 0, -1)
        one = match.group() in _AFTER_ONE_CHARACTER  # joined to it, no space
        for begin in (match.start() - length for length in lengths):
            if _cjk_name(text[begin : match.start()], parts, one):
                spans.append((begin, match.start()))
                break
    for match in _PATIENT_BEFORE.finditer(text):
        for end in range(min(len(text), match.end() + _LONGEST_CJK_NAME), match.end(), -1):
            if _cjk_name(text[match.end() : end], parts, one=False):
                spans.append((match.end(), end))
                break
    return spans


def _cjk_name(word: str, parts: set[str], one: bool) -> bool:
    """Whether ``word`` (all CJK) is one of ``parts``; of one character only where ``one``."""
    if not all(UNSPACED.match(char) for char in word) or word not in parts:
        return False
    return len(word) > 1 or (one and ONE_CHARACTER_NAME.match(word) is not None)


def naming_parts(parts: list[str]) -> set[str]:
    """The lower-cased ``parts`` of a name a naming context seeks alone: letters, 3 characters
    or more (2 outside ASCII: ``long_enough``), or a CJK family name of one (``王先生``)."""
    return {
        part.lower()
        for part in parts
        if part.isalpha() and (long_enough(part) or ONE_CHARACTER_NAME.fullmatch(part))
    }
