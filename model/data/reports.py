"""Reports CSV (``accession_number,report``) -> the IMPRESSION section of each report.

Only the impression is kept: the header (names, dates, referrer) and the FINDINGS body never reach
the dataset. The impression runs from an ``IMPRESSION`` / ``CONCLUSION`` heading to the next
heading (a short upper-case line ending in ``:`` or a known section name), a line starting with an
identifying field (``Patient:``, ``MRN:``, ``DOB:``, ...: a demographic footer) or the end. Known
identifiers of the study's patient (name parts, ID, birth date, accession) are then replaced by
``[removed]`` in case a reader typed them into the impression.
"""

from __future__ import annotations

import csv
import functools
import logging
import re
from pathlib import Path

from model.data.deid import scrub_birth_dates
from model.data.impression_names import scrub_identifiers, scrub_links
from model.data.joined_prefixes import JoinedNames
from model.data.latin_variants import name_keys, part_keys, scrub_variants, variant_key
from model.data.name_encodings import scrub_unaccented
from model.data.name_particles import scrub_orphaned_particles
from model.data.report_scrub import identifier_tokens
from model.data.store import report_row
from model.data.text_fold import scrub_folded
from model.errors import DataError, header_names, not_found

log = logging.getLogger(__name__)

_START = re.compile(
    r"^\s*(IMPRESSIONS?|CONCLUSIONS?|SUMMARY)\s*[:\-]?\s*", re.IGNORECASE | re.MULTILINE
)
_SECTION = re.compile(
    r"(?:^|(?<=\s))(?i:FINDINGS|TECHNIQUE|HISTORY|INDICATIONS?|CLINICAL HISTORY|COMPARISON|"
    r"RECOMMENDATIONS?|ADDENDUM|COMMENTS?|SIGNED|ELECTRONICALLY SIGNED|REPORTED BY|DICTATED BY|"
    r"REPORTING|READ BY)\b[^\n:.]{0,30}:"
    r"|^\s*[A-Z][A-Z /&]{2,40}:\s*$"
    # a line that starts with an identifying field: the demographic footer printed reports carry
    r"|^\s*(?i:PATIENT(?: NAME)?|NAME|MRN|DOB|DATE OF BIRTH|(?:MEDICAL RECORD|HOSPITAL|NHS) "
    r"(?:NUMBER|NO\.?)|ACCESSION(?: NUMBER)?|REFERR(?:ER|ING PHYSICIAN)|ADDRESS)\s*:",
    re.MULTILINE,
)
_BULLET = re.compile(r"^\s*(?:\d+[.)]|[-*\u2022])\s*")


def extract_impression(report: str) -> str:
    """The impression section as one line of sentences; ``""`` when the report has none."""
    match = _START.search(report)
    if match is None:
        return ""
    body = report[match.end() :]
    end = _SECTION.search(body)
    if end is not None:
        body = body[: end.start()]
    lines = [_BULLET.sub("", line).strip() for line in body.splitlines()]
    sentences = []
    for line in filter(None, lines):
        sentences.append(line if line[-1] in ".!?" else f"{line}.")
    return re.sub(r"\s+", " ", " ".join(sentences)).strip()


def load_impressions(path: str | Path) -> dict[str, str]:
    """accession_number -> impression for every row of the reports CSV; DataError on bad files.

    An accession number on several rows (a report and its addendum) keeps the last row that has
    an impression, with a warning.
    """
    path = Path(path)
    if not path.is_file():
        raise DataError(not_found("reports file", path))
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            reader = csv.DictReader(handle)
            columns = set(reader.fieldnames or [])
            if not {"accession_number", "report"} <= columns:
                raise DataError(
                    f"reports file {path} needs columns accession_number,report (found "
                    f"{header_names(reader.fieldnames or [])})"
                )
            rows = [
                (row["accession_number"].strip(), extract_impression(row["report"] or ""))
                for row in reader
                if row.get("accession_number")
            ]
    except UnicodeDecodeError as err:
        raise DataError(
            f"reports file {path} is not UTF-8 text ({err.reason} at byte {err.start}); "
            "save it as UTF-8 CSV and ingest again"
        ) from err
    except csv.Error as err:
        raise DataError(f"reports file {path} cannot be read: {err}") from err
    return _one_impression_each(rows)


def _one_impression_each(rows: list[tuple[str, str]]) -> dict[str, str]:
    """accession -> impression from (accession, impression) rows, the last non-empty one winning."""
    impressions: dict[str, str] = {}
    repeated: set[str] = set()
    for accession, impression in rows:
        if accession in impressions:
            repeated.add(accession)
        if impression or not impressions.get(accession):
            impressions[accession] = impression
    if repeated:
        log.warning(
            "%d accession numbers have more than one row in the reports CSV; the last row with "
            "an IMPRESSION section is used for each",
            len(repeated),
        )
    missing = sum(1 for text in impressions.values() if not text)
    if missing:
        log.warning(
            "%d of %d reports have no IMPRESSION section: ingest keeps the text after an "
            "IMPRESSION:, CONCLUSION: or SUMMARY: heading, and a report without one is not "
            "trained on",
            missing,
            len(impressions),
        )
    return impressions


def missing_impression_reason(accession: str, impressions: dict[str, str] | None) -> str:
    """Why a study gets no impression from the reports CSV; ``""`` when it gets one or when no
    CSV was given (``impressions`` None)."""
    if impressions is None:
        return ""
    if not accession:
        return "no AccessionNumber in the DICOM headers: no report can be matched"
    if accession not in impressions:
        return "the reports CSV has no report for its AccessionNumber"
    if not impressions[accession]:
        return "its report has no IMPRESSION section (no IMPRESSION, CONCLUSION or SUMMARY heading)"
    return ""


def shared_accession_rows(studies: list[tuple[str, str, str]]) -> list[dict]:
    """ingest_report.csv warnings for the studies (study_id, accession, path) whose
    AccessionNumber another of them carries too: they get the same report and labels, right for
    one exam split in two, wrong for a registration error. A row names the other study, never
    the accession number."""
    by_accession: dict[str, list[tuple[str, str]]] = {}
    for study_id, accession, path in studies:
        if accession:
            by_accession.setdefault(accession, []).append((study_id, path))
    shared = [group for group in by_accession.values() if len(group) > 1]
    if shared:
        log.warning(
            "%d AccessionNumber%s on more than one study: each such study gets that accession's "
            "report and labels (ingest_report.csv names the studies)",
            len(shared),
            " is" if len(shared) == 1 else "s are",
        )
    rows = []
    for group in shared:
        for study_id, path in group:
            others = ", ".join(other for other, _ in group if other != study_id)
            reason = (
                f"its AccessionNumber is also on study {others}: they share its report and "
                "labels (one exam split in two, or a registration error to correct)"
            )
            rows.append(report_row(path, "warning", reason, study_id))
    return rows


def scrub_text(text: str, identifiers: list[str]) -> str:
    """Replace every occurrence of a known identifier (name parts, the name written out in either
    order, IDs, dates, a date also when written with separators; a name part that is a clinical
    word only where the text names a person: ``impression_names``) and every link (a PACS
    viewer's, its query naming the accession) with ``[removed]``; a name under vowel points,
    direction marks or in compatibility forms too (``scrub_folded``), and an Arabic or Hebrew
    name in another Latin spelling (``scrub_variants``: ``Muhammad`` of ``MOHAMMED``; the whole
    name in two words or more, ``Grade`` is no ``DOE^GRAY``; after a title a part of under 3
    consonants or a report word too: ``Mrs Grey`` of ``GRAY``), and a
    Thai, Arabic or Hebrew name with a title or prefixes joined to it (``JoinedNames``), a name
    with diacritics the header writes without (``scrub_unaccented``: ``Müller`` of ``MUELLER``);
    the particles of a name removed go with it (``scrub_orphaned_particles``: ``Ar-Rashid``)."""
    keys, parts = name_keys(identifiers), part_keys(identifiers)
    text = scrub_variants(scrub_links(text), keys, parts)  # first: whole names
    dates, joined = set(identifiers), JoinedNames.of(identifiers)

    def titled(word: str) -> bool:  # a part's other spelling after a title: Mrs Grey of GRAY
        return word.isascii() and variant_key(word) in parts

    def scrub(text: str) -> str:
        return scrub_identifiers(scrub_birth_dates(text, dates), identifiers, titled)

    tokens = functools.cache(lambda: identifier_tokens(identifiers))  # for a text with diacritics

    def sought(word: str) -> bool:  # a word read without its diacritics: Müller as muller
        return word in tokens() or variant_key(word) in parts

    folded = scrub_unaccented(
        text, lambda text: scrub_folded(text, lambda t: joined.scrub(t, scrub)), sought
    )
    return scrub_orphaned_particles(folded)
