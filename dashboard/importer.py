"""Importing studies from the Studies page: a DICOM folder under the data root or an uploaded zip,
ingested by a background ``python -m model ingest`` job, then summarised from its ingest report.
"""

from __future__ import annotations

import logging
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import pandas as pd

from dashboard.jobs import model_command
from dashboard.settings import Settings
from dashboard.zip_import import ZipImportResult, extract_zip
from model.data.views import ViewMap
from model.errors import DataError, UserError
from model.labels import read_labels_csv
from model.workers import usable_cpus

logger = logging.getLogger(__name__)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class ImportForm:
    """The Import form's fields as typed; the optional files are paths under the data root."""

    name: str
    site: str
    reports: str = ""
    labels: str = ""
    view_map: str = ""


@dataclass(frozen=True)
class ImportPlan:
    """The checked import form: the dataset folder to write, the site label and the optional
    reports CSV, labels CSV (evaluation only) and view map."""

    out: Path
    site: str
    reports: Path | None = None
    labels: Path | None = None
    view_map: Path | None = None


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


def plan_import(settings: Settings, form: ImportForm) -> ImportPlan:
    """Check every field of the import form before anything is written, so a mistake in one of
    them leaves no unpacked upload behind (which would block sending the form again). A labels
    CSV or view map that ingest would refuse is refused here, with the same message."""
    out = dataset_folder(settings, form.name)
    site = check_name(form.site, "site label")
    reports = _optional_file(settings, form.reports, "reports CSV")
    labels = _optional_file(settings, form.labels, "labels CSV")
    view_map = _optional_file(settings, form.view_map, "view map")
    if labels is not None:
        read_labels_csv(labels)
    if view_map is not None:
        ViewMap.load(view_map)
    return ImportPlan(out, site, reports, labels, view_map)


def _optional_file(settings: Settings, text: str, what: str) -> Path | None:
    """The file a form field names under the data root; None when the field is blank."""
    if not text.strip():
        return None
    path = settings.inside_root(text)
    if not path.is_file():
        raise UserError(f"the {what} {text.strip()} does not exist")
    return path


def unpack_upload(settings: Settings, upload: BinaryIO, name: str) -> ZipImportResult:
    """Safely extract an uploaded zip to ``DATA_ROOT/imports/uploads/<name>``.

    Called once the form is checked (no finished dataset of this name, no ingest running), so
    a folder already there is what an import of the same name left when its ingest failed or
    never started (a page closed mid-upload). It is replaced: kept, it refused every retry
    under that name ("already exists") and held a stale copy of the studies."""
    target = settings.uploads_dir / check_name(name, "dataset name")
    if target.is_dir() and not target.is_symlink():
        if (settings.imports_dir / "datasets" / target.name / "studies.parquet").exists():
            raise UserError(f"a dataset called {name!r} already exists; choose another name")
        logger.info("replacing %s, left by an earlier import that did not finish", target)
        shutil.rmtree(target)
    return extract_zip(upload, target)


def source_folder(settings: Settings, text: str) -> Path:
    """A DICOM/NIfTI folder path typed by the user; must exist and lie under the data root."""
    folder = settings.inside_root(text)
    if not folder.is_dir():
        raise UserError(f"{text} is not a folder")
    if not any(folder.iterdir()):
        raise UserError(f"{text} is empty")
    return folder


def ingest_command(source: Path, plan: ImportPlan) -> list[str]:
    """``python -m model ingest SRC --out DATASET --site SITE --workers N`` with the plan's
    optional files, and one worker per CPU this process may use (an import is the only job the
    user waits on)."""
    args = ["ingest", str(source), "--out", str(plan.out), "--site", plan.site]
    args += ["--workers", str(usable_cpus())]
    for flag, path in (
        ("--reports", plan.reports),
        ("--labels", plan.labels),
        ("--view-map", plan.view_map),
    ):
        if path is not None:
            args += [flag, str(path)]
    return model_command(*args)


def read_ingest_report(dataset: Path, since: float = 0.0) -> pd.DataFrame:
    """``ingest_report.csv`` (path, study_id, series, level, reason); empty if nothing was skipped,
    or when the file was written before ``since`` (an earlier ingest's, not the job's)."""
    path = dataset / "ingest_report.csv"
    if not path.is_file() or path.stat().st_mtime < since:
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
