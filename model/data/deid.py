"""De-identification: keyed-hash pseudonyms, age bands, sex codes, patient-grouped splits.

Each dataset folder keeps its own random salt (``salt.key``, created on first ingest). Study and
patient pseudonyms are HMAC-SHA256 of the StudyInstanceUID / PatientID under that salt, so they are
stable across re-ingests into the same dataset but cannot be linked across datasets or reversed.
Only the salt's own hash (``salt_id``) is recorded in dataset.json. The split is drawn from the
patient's own identifier instead, so two ingests of one export split alike whatever their salts.
"""

from __future__ import annotations

import hashlib
import hmac
import os
import re
import secrets
from datetime import date
from pathlib import Path

from model.atomic import atomic_write_text
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


def identifier_parts(parts: list[str]) -> set[str]:
    """The parts of an identifier worth scrubbing on their own, and the parts joined
    (``Wang^Xiaoming`` -> ``WangXiaoming``: Chinese, Japanese and Korean names are written without
    a space). A part counts from 3 characters, or 2 outside ASCII: a CJK given name is often 2."""
    kept = {part for part in parts if len(part) >= 3 or (len(part) == 2 and not part.isascii())}
    joined = "".join(parts)
    return kept | {joined} if len(parts) > 1 and len(joined) >= 2 else kept


def _identifier_tokens(identifiers: set[str]) -> set[str]:
    """Lower-cased ``identifier_parts`` of every identifier: name parts, IDs, dates."""
    return {
        token.lower()
        for identifier in identifiers
        for token in identifier_parts(_WORD.findall(identifier))
    }


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


def deidentify_report(rows: list[dict], src: Path, identifiers: set[str]) -> list[dict]:
    """Ingest-report rows with source paths made relative to ``src`` and identifiers scrubbed.

    Hospital exports often name folders after the patient (``DOE^JANE/...``), and a skipped file
    has no header to tell whose it is: paths lose the part above the source folder, and every
    letter/digit run that is part of a name, ID or birth date seen in this ingest (and a birth date
    written with separators) is replaced by ``[removed]`` in paths, series descriptions and
    reasons (a set lookup per run: fast for any number of patients). A reason quoting a file's full path (a reader's error message) keeps
    only its part below the source folder too.
    """
    tokens = _identifier_tokens(identifiers)
    root = os.path.abspath(src)
    prefixes = sorted({root + os.sep, os.path.realpath(root) + os.sep}, key=len, reverse=True)

    def scrub(text: str) -> str:
        for prefix in prefixes:
            text = text.replace(prefix, "")
        text = scrub_birth_dates(text, identifiers)
        return _WORD.sub(lambda m: "[removed]" if m.group().lower() in tokens else m.group(), text)

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
