"""Importing studies from the Studies page: a DICOM folder under the data root or an uploaded zip,
ingested by a background ``python -m model ingest`` job, then summarised from its ingest report.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from dashboard.jobs import model_command
from dashboard.settings import Settings
from dashboard.zip_import import ZipImportResult, extract_zip
from model.errors import DataError, UserError
from model.workers import usable_cpus

_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class ImportPlan:
    """The checked import form: the dataset folder to write, the site label, the reports CSV."""

    out: Path
    site: str
    reports: Path | None


def check_name(name: str, what: str = "name") -> str:
    """``name`` stripped, when usable as a folder or file name; a UserError naming ``what``
    (the form field) otherwise."""
    name = name.strip()
    if not _NAME.match(name):
        raise UserError(f"{what} {name!r}: use letters, digits, - _ . only (up to 64 characters)")
    return name


def dataset_folder(settings: Settings, name: str) -> Path:
    """Where an imported dataset is written; refuses to overwrite an existing one."""
    out = settings.imports_dir / "datasets" / check_name(name, "dataset name")
    if (out / "studies.parquet").exists():
        raise UserError(f"a dataset called {name!r} already exists; choose another name")
    return out


def plan_import(settings: Settings, name: str, site: str, reports_text: str) -> ImportPlan:
    """Check every field of the import form before anything is written, so a mistake in one of
    them leaves no unpacked upload behind (which would block sending the form again)."""
    out = dataset_folder(settings, name)
    checked_site = check_name(site, "site label")
    reports = settings.inside_root(reports_text) if reports_text.strip() else None
    if reports is not None and not reports.is_file():
        raise UserError(f"the reports CSV {reports_text.strip()} does not exist")
    return ImportPlan(out, checked_site, reports)


def unpack_upload(settings: Settings, upload: BinaryIO, name: str) -> ZipImportResult:
    """Safely extract an uploaded zip to ``DATA_ROOT/imports/uploads/<name>``."""
    return extract_zip(upload, settings.imports_dir / "uploads" / check_name(name, "dataset name"))


def source_folder(settings: Settings, text: str) -> Path:
    """A DICOM/NIfTI folder path typed by the user; must exist and lie under the data root."""
    folder = settings.inside_root(text)
    if not folder.is_dir():
        raise UserError(f"{text} is not a folder")
    if not any(folder.iterdir()):
        raise UserError(f"{text} is empty")
    return folder


def ingest_command(source: Path, out: Path, site: str, reports: Path | None) -> list[str]:
    """``python -m model ingest SRC --out DATASET --site SITE --workers N [--reports CSV]``, with
    one worker per CPU this process may use (an import is the only job the user waits on)."""
    args = ["ingest", str(source), "--out", str(out), "--site", check_name(site, "site label")]
    args += ["--workers", str(usable_cpus())]
    if reports is not None:
        args += ["--reports", str(reports)]
    return model_command(*args)


def read_ingest_report(dataset: Path) -> pd.DataFrame:
    """``ingest_report.csv`` (path, study_id, series, level, reason); empty if nothing was skipped."""
    path = dataset / "ingest_report.csv"
    if not path.is_file():
        return pd.DataFrame(columns=["path", "study_id", "series", "level", "reason"])
    try:
        return pd.read_csv(path, dtype=str).fillna("")
    except (OSError, pd.errors.ParserError, pd.errors.EmptyDataError) as err:
        if isinstance(err, pd.errors.EmptyDataError):
            return pd.DataFrame(columns=["path", "study_id", "series", "level", "reason"])
        raise DataError(f"ingest report {path} is unreadable: {err}") from err


def report_summary(report: pd.DataFrame) -> pd.DataFrame:
    """Counts per level and reason, most frequent first."""
    if report.empty:
        return pd.DataFrame(columns=["level", "reason", "count"])
    counts = report.groupby(["level", "reason"]).size().rename("count").reset_index()
    return counts.sort_values("count", ascending=False)
