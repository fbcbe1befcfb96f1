"""Reusable PHI scanner: the identifying values a synthetic hospital planted, searched in bytes.

``planted_phi(raw)`` reads what ``python -m model generate`` wrote into ``raw`` (``phi.json``: names
in DICOM and report spelling, MRNs, birth dates as YYYYMMDD / DD/MM/YYYY / ISO, addresses,
referring physicians; the site's institution; the header lines of every report) and returns them
as ``{value: kind}``. ``scan_tree(root, phi)`` searches every byte of every file under ``root``
(binary included, case-insensitively, UTF-8) and returns ``(file, value)`` hits;
``scan_bytes`` does the same for one blob (rendered dashboard protos, captured logs), and
``captured_logs()`` collects every log message (all levels, all loggers) while it is open.
"""

from __future__ import annotations

import contextlib
import json
import logging
from collections.abc import Iterable, Iterator, Mapping
from pathlib import Path

import pandas as pd

from sample_data.sites import get_site

MIN_LENGTH = 4  # shorter strings would match by chance in binary files


def _report_header_lines(report: str) -> list[str]:
    """The lines above FINDINGS (institution, name, MRN, birth date, referrer, indication)."""
    head = report.split("FINDINGS:", 1)[0]
    return [line.strip() for line in head.splitlines() if line.strip()]


def planted_phi(raw: Path) -> dict[str, str]:
    """``{value: kind}`` of every PHI string planted in the generated hospital under ``raw``."""
    phi = json.loads((raw / "phi.json").read_text(encoding="utf-8"))
    values: dict[str, str] = {v: "patient or referrer" for v in phi["values"]}
    for value in phi["values"]:  # DICOM names FAMILY^GIVEN: each part on its own as well
        values.update({part: "name part" for part in value.split("^") if "^" in value})
    institution = get_site(phi["site"]).institution
    values[institution] = "institution"
    values[institution.upper()] = "institution"
    reports = pd.read_csv(raw / "reports.csv", dtype=str, keep_default_na=False)
    for report in reports["report"]:
        for line in _report_header_lines(report):
            values.setdefault(line, "report header line")
    return {v: kind for v, kind in values.items() if len(v) >= MIN_LENGTH}


def scan_bytes(data: bytes, phi: Iterable[str]) -> list[str]:
    """Every value of ``phi`` whose UTF-8 encoding occurs in ``data`` (case-insensitive)."""
    folded = data.lower()
    return [value for value in phi if value.lower().encode("utf-8") in folded]


def scan_tree(
    root: Path, phi: Mapping[str, str] | Iterable[str], skip: Iterable[str] = ()
) -> list[tuple[str, str]]:
    """``(relative file, value)`` for every PHI value found in any file under ``root``.

    ``skip`` names files (by name) that are allowed to hold the values, e.g. ``linkage.csv`` for
    accession numbers.
    """
    skipped = set(skip)
    hits: list[tuple[str, str]] = []
    values = list(phi)
    for path in sorted(root.rglob("*")):
        if not path.is_file() or path.name in skipped:
            continue
        hits.extend((str(path.relative_to(root)), v) for v in scan_bytes(path.read_bytes(), values))
    return hits


def files_under(root: Path) -> list[str]:
    """Relative paths of every file under ``root`` (to show what a scan covered)."""
    return sorted(str(p.relative_to(root)) for p in root.rglob("*") if p.is_file())


@contextlib.contextmanager
def captured_logs() -> Iterator[list[str]]:
    """Every log message of every logger and level emitted inside the block (for scanning)."""
    messages: list[str] = []

    class Collect(logging.Handler):
        def emit(self, record: logging.LogRecord) -> None:
            messages.append(record.getMessage())

    root, handler = logging.getLogger(), Collect(logging.DEBUG)
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.DEBUG)
    try:
        yield messages
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


def rendered_page(node: object) -> bytes:
    """Every proto under an AppTest node, serialised (text, tables, chart specs, widgets)."""
    proto = getattr(node, "proto", None)
    blob = proto.SerializeToString() if proto is not None else b""
    for child in getattr(node, "children", {}).values():
        blob += rendered_page(child)
    return blob
