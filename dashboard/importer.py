"""Importing studies from the Studies page: a DICOM folder under the data root or an uploaded zip,
ingested by a background ``python -m model ingest`` job, then summarised from its ingest report.
"""

from __future__ import annotations

import logging
import re
import shutil
import zipfile
from collections.abc import Callable, Collection
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import IO, BinaryIO

import pandas as pd

from dashboard.jobs import model_command
from dashboard.settings import Settings
from dashboard.zip_import import (
    escape_problem,
    member_name,
)
from model.data.store import LOCK_FILE, ingest_lock
from model.data.views import ViewMap
from model.errors import DataError, UserError, not_found
from model.labels import (
    KEY,
    closest_name,
    did_you_mean,
    label_file,
    read_labels,
    read_labels_csv,
)
from model.relocate import is_dataset, locate
from model.schema import DIAGNOSES, FINDINGS
from model.workers import usable_cpus

logger = logging.getLogger(__name__)
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")
ZIPPED_LABELS_BYTES = 256 * 1024**2  # a labels CSV in a zip read on the page up to this size


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


def plan_import(settings: Settings, form: ImportForm, upload: BinaryIO | None = None) -> ImportPlan:
    """Check every field of the import form before anything is written, so a mistake in one of
    them leaves no unpacked upload behind (which would block sending the form again). A labels
    CSV or view map that ingest would refuse is refused here, with the same message.

    An optional file may name an entry of the uploaded zip (``reports.csv``), as an export
    copied whole into one zip holds its reports and labels beside the images; ingest reads it
    once the import job unpacked the zip, but a labels CSV or view map there is read from the
    zip now (``check_zipped_file``): its mistake was told only after a hospital's zip had been
    copied and unpacked, minutes later, on the job's log."""
    zip_names = upload_names(upload) if upload is not None else frozenset()
    out = dataset_folder(settings, form.name)
    site = check_name(form.site, "site label")
    unpacked = settings.uploads_dir / out.name
    files = [
        _optional_file(settings, text, what, unpacked, zip_names)
        for text, what in (
            (form.reports, "reports CSV"),
            (form.labels, "labels CSV"),
            (form.view_map, "view map"),
        )
    ]
    plan = ImportPlan(out, site, *files)
    check_files(plan, not_yet=unpacked)
    for path, what, read in (
        (plan.labels, "labels CSV", read_labels),
        (plan.view_map, "view map", _view_map_reader(plan.view_map)),
    ):
        if upload is not None and path is not None and unpacked in path.parents:
            check_zipped_file(upload, path.relative_to(unpacked).as_posix(), what, read)
    return plan


def check_zipped_file(
    upload: BinaryIO, entry: str, what: str, read: Callable[[IO[bytes], str], object]
) -> None:
    """Read the file ``entry`` of the uploaded zip as ingest will (``read(handle, name)``:
    ``read_labels`` for a labels CSV), DataError naming it by its path in the zip; one larger
    than ``ZIPPED_LABELS_BYTES`` (no labels file or view map is) or a zip that cannot be read is
    left to the job, which says why. ``what`` names the file in the log."""
    try:
        with zipfile.ZipFile(upload) as archive:
            found = [i for i in archive.infolist() if member_name(i) == entry]
            if found and found[0].file_size <= ZIPPED_LABELS_BYTES:
                with archive.open(found[0]) as handle:
                    read(handle, f"{entry} in the zip")
    except (zipfile.BadZipFile, OSError, NotImplementedError, RuntimeError):
        logger.info("%s %s left to the import job: the zip entry cannot be read", what, entry)
    finally:
        upload.seek(0)


def _view_map_reader(path: Path | None) -> Callable[[IO[bytes], str], object]:
    """``ViewMap.load``'s check of the view map ``path`` read from its zip entry (a CSV or YAML
    by the end of its name, as ``load`` tells them)."""
    is_csv = path is not None and path.suffix.lower() == ".csv"
    return lambda handle, name: ViewMap.parse(handle.read(), name, is_csv)


def check_files(plan: ImportPlan, not_yet: Path | None = None) -> None:
    """Read the plan's labels CSV and view map as ingest will, and check its reports CSV is a
    file (DataError naming the problem); those under ``not_yet`` (the zip's folder, before it
    is unpacked, where an earlier failed import's files may still lie) are left for later."""
    for path, read in (
        (plan.reports, _reports_file),
        (plan.labels, read_labels_csv),
        (plan.view_map, ViewMap.load),
    ):
        if path is not None and (not_yet is None or not_yet not in path.parents):
            read(path)


def _reports_file(path: Path) -> None:
    if not path.is_file():
        raise DataError(not_found("reports CSV", path))


def _optional_file(
    settings: Settings, text: str, what: str, unpacked: Path, zip_names: Collection[str]
) -> Path | None:
    """The file a form field names, in the uploaded zip or under the data root (in that
    order); None when the field is blank."""
    if not text.strip():
        return None
    entry = text.strip().replace("\\", "/").removeprefix("./")
    if entry in zip_names and not escape_problem(entry):  # never a path outside the folder
        return unpacked.joinpath(*PurePosixPath(entry).parts)
    path = settings.inside_root(text)
    if not path.is_file():
        where = " under the data root or in the zip" if zip_names else ""
        raise UserError(f"the {what} {text.strip()} does not exist{where}")
    return path


def upload_names(upload: BinaryIO) -> frozenset[str]:
    """The file entries of an uploaded zip, as ``extract_zip`` will name them; empty when it is
    not a readable zip (unpacking then says so)."""
    try:
        with zipfile.ZipFile(upload) as archive:
            return frozenset(member_name(info) for info in archive.infolist() if not info.is_dir())
    except (zipfile.BadZipFile, OSError):
        return frozenset()
    finally:
        upload.seek(0)


def discard_unfinished(plan: ImportPlan) -> None:
    """Remove what an earlier, failed ingest into the plan's dataset folder left there (its
    salt, an ingest report, tensors of studies never listed). With no ``studies.parquet`` it
    holds no study; kept, the retry's ingest appended to it, so its ingest report listed files
    of the failed attempt that this import never held. Call once no ingest job runs."""
    if not plan.out.is_dir() or (plan.out / "studies.parquet").exists():
        return
    with ingest_lock(plan.out):  # refused, naming it, while an ingest (a terminal's) writes it
        logger.info("clearing %s, left by an ingest that did not finish", plan.out)
        for entry in plan.out.iterdir():
            if entry.name == LOCK_FILE:
                continue
            if entry.is_dir() and not entry.is_symlink():
                shutil.rmtree(entry)
            else:
                entry.unlink()


def keep_active_dataset(settings: Settings) -> str | None:
    """Record the dataset the pages show now as the active one, when none is recorded, before an
    import writes a new dataset. Why: with no choice recorded, a new session (a reload, another
    user) takes the root's own datasets before the demo's, so a finished import silently moved
    every page reloaded off the demo, while Studies still offered 'Use ... as the active
    dataset'. The import becomes active by that button only. Returns ``write_active``'s note
    (a root this account cannot write), else None."""
    if locate(settings.read_active().get("dataset"), settings.data_root, is_dataset):
        return None
    current = settings.active_dataset()
    return None if current is None else settings.write_active(dataset=current)


def check_one_source(folder_text: str, uploaded: bool) -> None:
    """Refuse a form naming both a folder and a zip (the zip was imported and the folder
    silently ignored) or neither (the message spoke of the folder only)."""
    if uploaded and folder_text.strip():
        raise UserError(
            "give a DICOM folder or a zip, not both: clear the folder field to import the zip, "
            "or remove the zip (its ✕) to import the folder"
        )
    if not uploaded and not folder_text.strip():
        raise UserError("enter a DICOM folder under the data root, or upload a zip of DICOM files")


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


def next_steps(dataset: Path) -> str:
    """What a user does with an imported dataset once it is active: where its studies show
    and what the pages compute for it first (the Studies page said nothing after the switch,
    and kept offering it)."""
    text = (
        f"{dataset.name} is the active dataset: every page now shows its studies. Embeddings, "
        "Zero-shot and Case browser each offer to compute its study embeddings with the "
        "active checkpoint first (once, in the background)"
    )
    if label_file(dataset) is not None:
        text += "; Zero-shot and Evaluate then score them against its labels"
    return text + "."


def retry_note(state: str, dataset: Path) -> str | None:
    """What to do after an import ended without a dataset (failed, cancelled, stopped or lost):
    the panel said only how it ended. None when ``dataset`` holds studies after all."""
    if state not in ("failed", "cancelled", "stopped", "lost"):
        return None
    if (dataset / "studies.parquet").exists():
        return None
    if state in ("cancelled", "stopped"):
        what = f"was {state}: no dataset was written. Send the form again to start over"
    else:
        what = (
            "ended early: no dataset was written. Correct what the log and the ingest report "
            "name, then send the form again"
        )
    return f"The import {what}; the same dataset name can be used."


def misspelt_label_columns(dataset: Path) -> list[str]:
    """The dataset's labels columns that look like a misspelt finding or diagnosis, each with
    the name meant (``lv_dysfuntion`` -> ``lv_dysfunction``). Ingest keeps any column (one of
    the user's own), so a typo was imported without a word and its finding went unscored."""
    path = label_file(dataset)
    if path is None:
        return []
    try:
        columns = [str(c) for c in pd.read_csv(path, nrows=0).columns if c != KEY]
    except (OSError, ValueError):
        return []  # the pages that read the labels say what is wrong with them
    known = [name for name in (*FINDINGS, *DIAGNOSES) if name not in columns]
    notes = []
    for column in columns:
        if column in FINDINGS or column in DIAGNOSES:
            continue
        close = closest_name(column, known, cutoff=0.8)
        if close:
            notes.append(f"`{column}`" + did_you_mean(close, "`"))
    return notes


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
