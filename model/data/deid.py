"""De-identification: keyed-hash pseudonyms, age bands, sex codes, patient-grouped splits, and
the patient identifiers scrubbed from ``ingest_report.csv`` (``deidentify_report``).

Each dataset folder keeps its own random salt (``salt.key``, created on first ingest). Study and
patient pseudonyms are HMAC-SHA256 of the StudyInstanceUID / PatientID under that salt, so they are
stable across re-ingests into the same dataset but cannot be linked across datasets or reversed.
Only the salt's own hash (``salt_id``) is recorded in dataset.json. The split is drawn from the
patient's own identifier instead, so two ingests of one export split alike whatever their salts.
"""

from __future__ import annotations

import contextlib
import hashlib
import hmac
import itertools
import os
import re
import secrets
from datetime import date
from pathlib import Path

from model.atomic import atomic_write_text
from model.data.dicom_tags import TopLevel
from model.errors import DataError

SALT_FILE = "salt.key"
_SPLIT_FRACTIONS = (("train", 0.70), ("val", 0.15), ("test", 0.15))


def load_or_create_salt(dataset: Path) -> bytes:
    """The dataset's secret salt; written (owner-only permissions) when the dataset is new."""
    path = dataset / SALT_FILE
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


def patient_identifiers(top: TopLevel) -> tuple[str, ...]:
    """The identifying values of a header: PatientName, PatientID, PatientBirthDate,
    AccessionNumber, and every OtherPatientIDs and OtherPatientNames value."""
    keywords = ("PatientName", "PatientID", "PatientBirthDate", "AccessionNumber")
    values = (*(top.text(keyword) for keyword in keywords), *other_identifiers(top))
    return tuple(value for value in values if value)


def other_identifiers(top: TopLevel) -> tuple[str, ...]:
    """Every OtherPatientIDs and OtherPatientNames value of a header (multi-valued, ``\\``)."""
    return tuple(
        value.strip()
        for keyword in ("OtherPatientIDs", "OtherPatientNames")
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


_WORD = re.compile(r"[^\W_]+")  # runs of letters and digits: the tokens paths are made of
# a date written with separators: 1985-03-08, 08/03/1985, 3.8.1985, 1985_03_08 ...
_SPELLED_DATE = re.compile(r"(?<!\d)(\d{1,4})([-./_ ])(\d{1,2})\2(\d{1,4})(?!\d)")
# what lies between the parts of a name written out: Doe Jane, Doe, Jane, Doe^Jane, 王_小明, O'Brien
_NAME_SEPARATORS = re.compile(r"[\s_.,^'’-]+")
# the code pages Windows zip tools write names in, in Chinese, Japanese, Korean and Taiwanese locales
_CJK_CODE_PAGES = ("gbk", "cp932", "cp949", "big5")
# scripts written without spaces between words: kana, CJK ideographs, hangul
_UNSPACED = re.compile(r"[\u3040-\u30ff\u3400-\u4dbf\u4e00-\u9fff\uac00-\ud7af\uf900-\ufaff]")


def identifier_parts(parts: list[str]) -> set[str]:
    """The parts of an identifier worth scrubbing on their own, and the parts joined in either
    order (``Wang^Xiaoming`` -> ``WangXiaoming``, ``XiaomingWang``: Chinese, Japanese and Korean
    names are written without a space). A part counts from 3 characters, or 2 outside ASCII: a
    CJK given name is often 2."""
    kept = {part for part in parts if _long_enough(part)}
    if len(parts) > 1:
        kept |= {"".join(order) for order in name_orders(parts)}
    return kept


def _long_enough(part: str) -> bool:
    """Whether a part identifies: 3 characters, or 2 outside ASCII (shorter ones are ordinary
    words and numbers: a PatientID ``1`` must not take every 1 out of ``LVEF 41%``)."""
    return len(part) >= 3 or (len(part) == 2 and not part.isascii())


def name_orders(parts: list[str]) -> list[list[str]]:
    """A name's parts family name first, as DICOM stores them, and given name(s) first."""
    return [parts, parts[1:] + parts[:1]] if len(parts) > 1 else [parts]


def name_representations(identifier: str) -> list[list[str]]:
    """The letter/digit runs of each representation of an identifier: a DICOM name holds up to
    three, ``=``-separated (alphabetic, ideographic, phonetic: ``Yamada^Taro=山田^太郎``)."""
    return [parts for group in identifier.split("=") if (parts := _WORD.findall(group))]


def _identifier_tokens(identifiers: set[str]) -> set[str]:
    """Lower-cased ``identifier_parts`` of every identifier: name parts, IDs, dates."""
    return {
        token.lower()
        for identifier in identifiers
        for parts in name_representations(identifier)
        for token in identifier_parts(parts)
    }


def _name_sequences(identifiers: set[str]) -> set[tuple[str, ...]]:
    """Every name of several parts as lower-cased parts in either order: ``王 小明`` or
    ``小明_王`` goes whole, where a lone one-character family name is an ordinary word."""
    return {
        tuple(part.lower() for part in order)
        for identifier in identifiers
        for parts in name_representations(identifier)
        if len(parts) > 1
        for order in name_orders(parts)
    }


def _identifier_words(text: str, tokens: set[str], sequences: set[tuple[str, ...]]) -> str:
    """``text`` with every letter/digit run in ``tokens``, and every run of words spelling one
    of ``sequences`` (parts apart by name separators), replaced by ``[removed]`` word by word."""
    words = list(_WORD.finditer(text))
    lengths = sorted({len(sequence) for sequence in sequences}, reverse=True)
    removed: set[int] = set()
    for start in range(len(words)):
        for length in lengths:
            window = words[start : start + length]
            if len(window) == length and _spelled(text, window) in sequences:
                removed.update(range(start, start + length))
                break
        if words[start].group().lower() in tokens:
            removed.add(start)
    for index in sorted(removed, reverse=True):
        begin, end = words[index].span()
        text = text[:begin] + "[removed]" + text[end:]
    return text


def _spelled(text: str, window: list[re.Match]) -> tuple[str, ...] | None:
    """The lower-cased words of ``window`` when only name separators lie between them."""
    for before, after in zip(window, window[1:], strict=False):
        if not _NAME_SEPARATORS.fullmatch(text[before.end() : after.start()]):
            return None
    return tuple(match.group().lower() for match in window)


def scrub_identifiers(text: str, identifiers: list[str]) -> str:
    """``text`` with every identifier, its parts (``identifier_parts``) and its name written out
    in either order with any separators (``Jane Doe``, ``Doe, Jane``, ``王_小明``) replaced by
    ``[removed]`` word by word; never inside a longer word of a spaced script (``Mark`` keeps
    ``Markedly``) or number (``123`` keeps ``1234``), while CJK text has no spaces, so a CJK end
    may touch other characters."""
    spellings: set[str] = set()
    for identifier in filter(_long_enough, identifiers):
        spellings.add(_bounded(re.escape(identifier), identifier))
        for parts in name_representations(identifier):
            spellings |= {_bounded(re.escape(token), token) for token in identifier_parts(parts)}
            if len(parts) > 1:
                spellings |= {
                    _bounded(_NAME_SEPARATORS.pattern.join(map(re.escape, order)), "".join(order))
                    for order in name_orders(parts)
                }
    if not spellings:
        return text
    pattern = re.compile("|".join(sorted(spellings, key=len, reverse=True)), re.IGNORECASE)
    return pattern.sub(lambda match: _WORD.sub("[removed]", match.group()), text)


def _bounded(pattern: str, spelling: str) -> str:
    """``pattern`` that may not start or end inside a number where ``spelling`` starts or ends
    with a digit, nor inside a word where with a letter of a script written with spaces."""
    return f"{_edge(spelling[0], '(?<!')}(?:{pattern}){_edge(spelling[-1], '(?!')}"


def _edge(char: str, look: str) -> str:
    """A lookaround (``look``: ``(?<!`` behind, ``(?!`` ahead) keeping ``char`` from touching
    a character of its kind."""
    if char.isdigit():
        return look + r"\d)"
    if char.isalpha() and not _UNSPACED.match(char):
        return look + r"[^\W\d_])"
    return ""


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
    birth dates as ``1985-03-08`` or ``08.03.1985`` as often as ``19850308``."""

    def replace(match: re.Match) -> str:
        date = (match.group(1), match.group(3), match.group(4))
        return "[removed]" if _readings(date) & identifiers else match.group()

    return _SPELLED_DATE.sub(replace, text)


def misread_names(identifiers: set[str]) -> set[str]:
    """The name parts of ``identifiers`` outside ASCII as a zip shows them whose Windows
    archiver wrote them in a Chinese, Japanese or Korean code page without the zip's UTF-8 flag:
    those bytes read as cp437, as Python's zipfile reads them (``王`` in GBK reads ``═⌡``). Mostly
    symbols, not letters, so no word-by-word scrub finds them; a part of one character counts,
    as no ordinary word is written this way."""
    misread = set()
    for identifier in identifiers:
        parts = {part for group in name_representations(identifier) for part in group}
        for part, code_page in itertools.product(parts, _CJK_CODE_PAGES):
            if part.isascii():
                continue
            with contextlib.suppress(UnicodeEncodeError):
                misread.add(part.encode(code_page).decode("cp437"))
    return misread


def deidentify_report(rows: list[dict], src: Path, identifiers: set[str]) -> list[dict]:
    """Ingest-report rows with source paths made relative to ``src`` and identifiers scrubbed.

    Hospital exports often name folders after the patient (``DOE^JANE/...``), and a skipped file
    has no header to tell whose it is: paths lose the part above the source folder, and every
    letter/digit run that is part of a name, ID or birth date seen in this ingest (and a birth date
    written with separators) is replaced by ``[removed]`` in paths, series descriptions and
    reasons (a set lookup per run: fast for any number of patients). A reason quoting a file's full path (a reader's error message) keeps
    only its part below the source folder too.
    """
    tokens, sequences = _identifier_tokens(identifiers), _name_sequences(identifiers)
    misread = sorted(misread_names(identifiers), key=len, reverse=True)
    root = os.path.abspath(src)
    prefixes = sorted({root + os.sep, os.path.realpath(root) + os.sep}, key=len, reverse=True)

    def scrub(text: str) -> str:
        for prefix in prefixes:
            text = text.replace(prefix, "")
        for spelling in misread:
            text = text.replace(spelling, "[removed]")
        text = scrub_birth_dates(text, identifiers)
        return _identifier_words(text, tokens, sequences)

    out = []
    for row in rows:
        path = os.path.abspath(str(row["path"])) if row.get("path") else ""
        if path == root or path.startswith(root + os.sep):
            path = os.path.relpath(path, root)
        elif path:
            path = os.path.basename(path)
        scrubbed = {key: scrub(str(row.get(key, ""))) for key in ("series", "reason")}
        out.append({**row, **scrubbed, "path": scrub(path)})
    return out
