"""De-identification: keyed-hash pseudonyms, age bands, sex codes, patient-grouped splits, and
the parts of identifiers the scrubs of report text look for (``impression_names.py`` scrubs an
impression, ``report_scrub.py`` ``ingest_report.csv``).

Each dataset folder keeps its own random salt (``salt.key``, created on first ingest). Study and
patient pseudonyms are HMAC-SHA256 of the StudyInstanceUID / PatientID under that salt, so they are
stable across re-ingests into the same dataset but cannot be linked across datasets or reversed.
Only the salt's own hash (``salt_id``) is recorded in dataset.json. The split is drawn from the
patient's own identifier instead, so two ingests of one export split alike whatever their salts.
"""

from __future__ import annotations

import hashlib
import hmac
import re
import secrets
import unicodedata
from datetime import date
from pathlib import Path
from typing import TYPE_CHECKING

from model.atomic import atomic_write_text
from model.data.name_particles import particle_joins
from model.data.text_fold import fold, kana_script, kana_spellings
from model.data.transliteration import latin_spellings
from model.errors import DataError

if TYPE_CHECKING:  # pydicom is for ingest: the dashboard reads the salt through this module
    from model.data.dicom_tags import TopLevel

SALT_FILE = "salt.key"
_SPLIT_FRACTIONS = (("train", 0.70), ("val", 0.15), ("test", 0.15))


def load_or_create_salt(dataset: Path, create: bool = True) -> bytes:
    """The dataset's secret salt; written (owner-only permissions) when missing and ``create``
    (a new dataset). DataError when missing from a dataset whose studies were pseudonymised with
    it (not ``create``): a new salt would give every study a new study_id, so re-ingested studies
    would be stored twice."""
    path = dataset / SALT_FILE
    if not path.exists() and not create:
        raise DataError(
            f"{path} is missing: the studies in {dataset} were pseudonymised with it. Restore it "
            "from a backup of the dataset folder (a copy made by another user leaves it out: it "
            "is readable by its owner only), or ingest into a new dataset folder"
        )
    if not path.exists():
        atomic_write_text(path, secrets.token_hex(32) + "\n", permissions=0o600)
    text = path.read_text(encoding="ascii").strip()
    if len(text) < 32:
        raise DataError(f"{path} is damaged; restore it or ingest into a new dataset folder")
    return text.encode("ascii")


def salt_id(salt: bytes) -> str:
    """Public identifier of a salt (for dataset.json): a hash that does not reveal it."""
    return hashlib.sha256(b"salt-id:" + salt).hexdigest()[:12]


def pseudonym(salt: bytes, kind: str, value: str, length: int = 16) -> str:
    """Stable keyed hash of ``value``: ``kind`` separates namespaces (``study`` / ``patient``)."""
    digest = hmac.new(salt, f"{kind}:{value}".encode(), hashlib.sha256).hexdigest()
    return f"{kind[0]}{digest[: length - 1]}"


def split_for(patient: str, seed: str = "split-v1") -> str:
    """train / val / test (70 / 15 / 15) from a hash of the patient's identifier (unsalted: the
    same in every dataset folder, so re-ingesting an export gives the same splits; three values
    reveal nothing of the identifier). Patient-grouped and reproducible."""
    value = int(hashlib.sha256(f"{seed}:{patient}".encode()).hexdigest()[:8], 16) / 2**32
    cumulative = 0.0
    for name, fraction in _SPLIT_FRACTIONS:
        cumulative += fraction
        if value < cumulative:
            return name
    return _SPLIT_FRACTIONS[-1][0]


def patient_fields(salt: bytes, patient: str) -> dict[str, str]:
    """A study row's ``patient_key`` (keyed by this dataset's salt) and ``split`` (from the
    patient's own identifier, so every ingest of one export splits it alike)."""
    return {"patient_key": pseudonym(salt, "patient", patient), "split": split_for(patient)}


# the people a header names besides the patient (each PN, multi-valued): a reader writes "seen
# by Dr Tanaka" or "referred by 佐藤先生", and a physician's name identifies the hospital's patient
STAFF_NAMES = (
    "ReferringPhysicianName",
    "PerformingPhysicianName",
    "NameOfPhysiciansReadingStudy",
    "PhysiciansOfRecord",
    "RequestingPhysician",
    "OperatorsName",
)


def patient_identifiers(top: TopLevel) -> tuple[str, ...]:
    """The identifying values of a header: PatientName, PatientID, PatientBirthDate,
    AccessionNumber, and every OtherPatientIDs, OtherPatientNames and staff name
    (``STAFF_NAMES``) value."""
    keywords = ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber")
    values = (*(top.text(keyword) for keyword in keywords), *other_identifiers(top))
    return tuple(value for value in values if value)


def other_identifiers(top: TopLevel) -> tuple[str, ...]:
    """Every OtherPatientIDs, OtherPatientNames and staff name (``STAFF_NAMES``: referring,
    performing and reading physicians, operators) value of a header (multi-valued, ``\\``)."""
    return tuple(
        value.strip()
        for keyword in ("OtherPatientIDs", "OtherPatientNames", *STAFF_NAMES)
        for value in top.text(keyword).split("\\")
        if value.strip()
    )


def _years_from_age(text: str) -> float | None:
    match = re.fullmatch(r"(\d{1,3})\s*([DWMY]?)", text.strip().upper())
    if not match:
        return None
    number, unit = int(match.group(1)), match.group(2) or "Y"
    return number / {"D": 365.25, "W": 52.18, "M": 12.0, "Y": 1.0}[unit]


def _parse_date(text: str) -> date | None:
    digits = re.sub(r"\D", "", text)
    if len(digits) != 8:
        return None
    try:
        return date(int(digits[:4]), int(digits[4:6]), int(digits[6:]))
    except ValueError:
        return None


def age_band(patient_age: str, birth_date: str = "", study_date: str = "") -> str:
    """Ten-year band (``40-49``; ``90+``; ``unknown``) from PatientAge or birth and study dates."""
    years = _years_from_age(patient_age) if patient_age else None
    if years is None:
        born, seen = _parse_date(birth_date), _parse_date(study_date)
        if born and seen and seen >= born:
            years = (seen - born).days / 365.25
    if years is None or years < 0 or years > 130:
        return "unknown"
    if years >= 90:
        return "90+"
    low = int(years // 10) * 10
    return f"{low}-{low + 9}"


def sex_code(value: str) -> str:
    """M / F / O, anything else ``unknown``."""
    code = value.strip().upper()[:1]
    return code if code in ("M", "F", "O") else "unknown"


# the marks a letter carries (accents, vowel signs and viramas of Indic scripts, Thai vowels and
# tone marks: categories Mn, Mc, Me), and the zero-width joiners inside an Indic word
MARKS = frozenset(
    {chr(code) for code in range(0x300, 0x10000) if unicodedata.category(chr(code))[0] == "M"}
) | {"\u200c", "\u200d"}  # fmt: skip
_MARK_CLASS = f"[{re.escape(''.join(sorted(MARKS)))}]"
# runs of letters and digits with their marks: the tokens paths are made of (``शर्मा`` is one,
# though its vowel signs and virama are no letters)
WORD_RUN = re.compile(rf"[^\W_]+(?:{_MARK_CLASS}+[^\W_]*)*")  # letters first: as fast as before
# a date written with separators: 1985-03-08, 08/03/1985, 3.8.1985, 1985_03_08 ...
_SPELLED_DATE = re.compile(r"(?<!\d)(\d{1,4})([-./_ ])(\d{1,2})\2(\d{1,4})(?!\d)")
# a date with its month in English words or abbreviated: 18-Sep-1985, 18SEP1985, Sep 18, 1985
_MONTHS = ("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec")
_MONTH = r"([a-z]{3})[a-z]*\.?"
_WORDED_DATES = (
    re.compile(rf"(?<!\d)(\d{{1,2}})[-./_ ]?{_MONTH}[-./_ ]?(\d{{4}})(?!\d)", re.IGNORECASE),
    re.compile(
        rf"(?<![^\W\d_]){_MONTH}[-./_ ]?(\d{{1,2}}),?[-./_ ]?(\d{{4}})(?!\d)", re.IGNORECASE
    ),
)
# what lies between the parts of a name written out: Doe Jane, Doe, Jane, Doe^Jane, 王_小明, O'Brien
NAME_SEPARATORS = re.compile(r"[\s_.,^'’-]+")
# scripts written without spaces between words: kana, CJK ideographs, hangul, half-width kana
UNSPACED = re.compile(
    r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff\uff66-\uff9f]"
)


def identifier_parts(parts: list[str]) -> set[str]:
    """The parts of an identifier worth scrubbing on their own, and the parts joined in either
    order (``Wang^Xiaoming`` -> ``WangXiaoming``, ``XiaomingWang``: Chinese, Japanese and Korean
    names are written without a space). A part counts from 3 characters, or 2 outside ASCII: a
    CJK given name is often 2. A numeric part with leading zeros also counts without some or
    all of them (``unpadded_spellings``); a surname with its particles joined to it (``AL``,
    ``RASHID`` as ``ALRASHID``) and a name after a particle joined to it (``McDonald``:
    ``Donald``) too (``particle_joins``)."""
    kept = {part for part in parts if long_enough(part)}
    kept |= particle_joins(parts)
    kept |= {spelling for part in parts for spelling in unpadded_spellings(part)}
    if len(parts) > 1:
        kept |= {"".join(order) for order in name_orders(parts)}
    return kept


# A numeric ID written with fewer of its leading zeros (000123456 as 123456: a spreadsheet or a
# folder-naming script read it as a number) is scrubbed in that spelling from this many digits:
# an impression's own numbers (55 %, 120 ms, 1.5 T, 180 ml, 2024) have at most 4 or 5, and a
# 6-digit spelling matches a given other number one time in a million; shorter ones (000000042
# as 42) would take ordinary measurements out of every impression, so they stay.
MIN_UNPADDED_DIGITS = 6


def unpadded_spellings(part: str) -> set[str]:
    """A numeric identifier ``part`` with leading zeros written with fewer or none of them
    (``000123456``: ``00123456``, ``0123456``, ``123456``), each of at least
    ``MIN_UNPADDED_DIGITS`` digits without its zeros; none for other parts."""
    digits = part.lstrip("0")
    if not (part.isascii() and part.isdigit()) or len(digits) < MIN_UNPADDED_DIGITS:
        return set()
    return {"0" * zeros + digits for zeros in range(len(part) - len(digits))}


def long_enough(part: str) -> bool:
    """Whether a part identifies: 3 characters, or 2 outside ASCII (shorter ones are ordinary
    words and numbers: a PatientID ``1`` must not take every 1 out of ``LVEF 41%``)."""
    return len(part) >= 3 or (len(part) == 2 and not part.isascii())


def family_and_given(identifier: str, components: int = 2) -> str:
    """A DICOM name with each group cut to its first ``components``: family and given names
    (``DOE^JANE^MARIE`` and ``WATSON^JOHN^^DR`` as ``DOE^JANE``, ``WATSON^JOHN``: how a report
    writes a name out), or with the middle name, without a prefix or suffix (3)."""
    if identifier.count("^") < components:
        return identifier  # an ID, a date, a name of no more components
    return "=".join("^".join(group.split("^")[:components]) for group in identifier.split("="))


def written_forms(identifier: str) -> tuple[str, ...]:
    """An identifier as a text writes it out: a DICOM name without a prefix or suffix, with and
    without its middle name (``family_and_given``); anything else as it is."""
    if "^" not in identifier:
        return (identifier,)
    return tuple(dict.fromkeys((family_and_given(identifier, 3), family_and_given(identifier))))


def name_orders(parts: list[str]) -> list[list[str]]:
    """A name's parts family name first, as DICOM stores them, and given name(s) first."""
    return [parts, parts[1:] + parts[:1]] if len(parts) > 1 else [parts]


def name_representations(identifier: str) -> list[list[str]]:
    """The letter/digit runs of each representation of an identifier: a DICOM name holds up to
    three, ``=``-separated (alphabetic, ideographic, phonetic: ``Yamada^Taro=山田^太郎``); a
    Latin name with diacritics also as exports write it in ASCII (``Dvořák`` as ``Dvorak``,
    ``Müller`` as ``Muller`` and ``Mueller``), as folder names often are; a Cyrillic name also
    in each Latin transliteration (``Иванов`` as ``Ivanov``, ``Iwanow``: ``latin_spellings``); a
    phonetic name in each way kana are typed (``ﾔﾏﾀﾞ`` as ``ヤマダ``, ``やまだ``: ``kana_spellings``)
    and a name with vowel points or direction marks without them (``fold``). A name is read
    composed (NFC: a Tamil ``ொ`` as one character, as reports type it)."""
    if identifier.isascii():
        groups = identifier.split("=")
    else:
        groups = unicodedata.normalize("NFC", identifier).split("=")
        groups += [fold(group) for group in groups if fold(group) != group]
        groups += [spelling for group in groups for spelling in kana_spellings(group)]
        groups = list(dict.fromkeys(groups))
    groups += [
        spelling
        for group in groups
        for spelling in (*ascii_spellings(group), *latin_spellings(group))
    ]
    return [parts for group in groups if (parts := WORD_RUN.findall(group))]


def derived_short_kana(identifiers: list[str] | set[str]) -> set[str]:
    """The name parts of two kana that no header writes so, only ``name_representations``
    (``ﾊﾅ`` or ``ハナ`` as ``はな``): CJK text has no word boundaries and two kana are a part of
    many words (``はなはだしい``), so these count only as a whole run of their script
    (``text_fold.inside_kana_word``); a part as the header writes it counts anywhere."""
    identifiers = [identifier for identifier in identifiers if not identifier.isascii()]
    given = {
        part.lower()
        for identifier in identifiers
        for part in WORD_RUN.findall(unicodedata.normalize("NFC", identifier))
    }
    return {
        part.lower()
        for identifier in identifiers
        for parts in name_representations(identifier)
        for part in parts
        if len(part) == 2 and all(kana_script(c) for c in part) and part.lower() not in given
    }


# Latin letters NFKD does not take apart, and the German transliteration of umlauts
_UNDECOMPOSED = str.maketrans(
    {"ø": "o", "Ø": "O", "æ": "ae", "Æ": "AE", "œ": "oe", "Œ": "OE", "ß": "ss", "ł": "l",
     "Ł": "L", "đ": "d", "Đ": "D", "þ": "th", "Þ": "TH", "ı": "i"}
)  # fmt: skip
_GERMAN = str.maketrans({"ä": "ae", "ö": "oe", "ü": "ue", "Ä": "AE", "Ö": "OE", "Ü": "UE"})


def ascii_spellings(text: str) -> list[str]:
    """``text`` written in ASCII as exports write names with diacritics (marks dropped, and
    German umlauts as ``ae``/``oe``/``ue``); none where it is ASCII already or not Latin."""
    if text.isascii():
        return []
    spellings = []
    for source in (text, text.translate(_GERMAN)):
        decomposed = unicodedata.normalize("NFKD", source.translate(_UNDECOMPOSED))
        folded = "".join(char for char in decomposed if not unicodedata.combining(char))
        if folded.isascii() and folded not in spellings:
            spellings.append(folded)
    return spellings


def _readings(day_month_year: tuple[str, str, str]) -> set[str]:
    """The YYYYMMDD dates a date written with separators can mean (year first or last; day or
    month first when the year is last)."""
    first, middle, last = day_month_year
    if len(first) == 4:
        orders = [(first, middle, last)]
    elif len(last) == 4:
        orders = [(last, middle, first), (last, first, middle)]
    else:
        return set()
    return {f"{y}{m.zfill(2)}{d.zfill(2)}" for y, m, d in orders}


def scrub_birth_dates(text: str, identifiers: set[str]) -> str:
    """``text`` with every date written with separators that spells one of ``identifiers``
    (DICOM dates, ``YYYYMMDD``) replaced by ``[removed]``: exports name folders and files with
    birth dates as ``1985-03-08`` or ``08.03.1985`` as often as ``19850308``, and some with the
    month in words (``08-Mar-1985``, ``08MAR1985``, ``March 8, 1985``)."""

    def replace(match: re.Match) -> str:
        date = (match.group(1), match.group(3), match.group(4))
        return "[removed]" if _readings(date) & identifiers else match.group()

    text = _SPELLED_DATE.sub(replace, text)
    for order, pattern in enumerate(_WORDED_DATES):

        def worded(match: re.Match, order: int = order) -> str:
            day, month = (match.group(1), match.group(2)) if order == 0 else match.group(2, 1)
            if month.lower() not in _MONTHS:
                return match.group()
            date = f"{match.group(3)}{_MONTHS.index(month.lower()) + 1:02d}{day.zfill(2)}"
            return "[removed]" if date in identifiers else match.group()

        text = pattern.sub(worded, text)
    return text
