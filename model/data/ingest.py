"""``python -m model ingest SRC --out DATASET``: DICOM or ACDC NIfTI folder -> preprocessed dataset.

Two passes: headers of every file (parallel chunks), then one task per study (parallel,
``study_worker.py``): build the tensor, write ``tensors/<study_id>.npy``. The main process then
merges the de-identified rows into ``studies.parquet``, ``linkage.csv`` and ``ingest_report.csv``
atomically, under a lock.
"""

from __future__ import annotations

import logging
import time
from concurrent.futures import Executor
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from model import embedding_cache
from model.atomic import remove_stale_temps
from model.data import deid
from model.data.dicom_read import SliceHeader
from model.data.fingerprint import dataset_fingerprint
from model.data.nifti import split_acdc_files
from model.data.report_scrub import deidentify_report, other_patients_scrubber
from model.data.reports import (
    load_impressions,
    missing_impression_reason,
    scrub_text,
    shared_accession_rows,
)
from model.data.resample import GridConfig
from model.data.scan import scan_headers, walk_files, without_inputs
from model.data.store import (
    SETTINGS_FILE,
    STUDY_COLUMNS,
    check_settings,
    ingest_lock,
    merge_tables,
    report_row,
    stored_views,
)
from model.data.study import StudyTensor
from model.data.study_worker import StudyTask, process_study
from model.data.views import ViewMap
from model.data.withdrawn import without_withdrawn
from model.errors import DataError
from model.labels import KEY, label_rows, lost_zeros_hint, partly_lost_zeros
from model.output_path import check_output_path
from model.progress import Progress
from model.schema import DatasetPaths
from model.workers import process_pool, worker_losses

log = logging.getLogger(__name__)


@dataclass
class IngestSummary:
    """What one ingest did (also printed as one line at the end)."""

    dataset: Path
    studies_written: int = 0
    studies_total: int = 0
    files_seen: int = 0
    files_skipped: int = 0
    series_rejected: int = 0
    warnings: int = 0
    elapsed_s: float = 0.0
    study_ids: list[str] = field(default_factory=list)

    def line(self) -> str:
        return (
            f"ingest: {self.studies_written} studies written ({self.studies_total} in dataset), "
            f"{self.files_seen} files read, {self.files_skipped} skipped, "
            f"{self.series_rejected} series rejected, {self.warnings} warnings "
            f"in {self.elapsed_s:.1f}s; see {self.dataset / 'ingest_report.csv'}"
        )


def _dicom_row(
    headers: list[SliceHeader], salt: bytes, site: str, impressions: dict[str, str] | None
) -> dict:
    """The de-identified part of a study row (identifiers are used here and dropped)."""
    first = headers[0]
    identifiers = [first.patient_name, first.patient_id, first.birth_date, first.accession]
    identifiers += first.other_identifiers
    impression = (impressions or {}).get(first.accession, "") if first.accession else ""
    patient = first.patient_id or first.study_uid
    return {
        **deid.patient_fields(salt, patient),
        "site": site,
        "manufacturer": first.manufacturer,
        "scanner": first.scanner,
        "field_strength": float(first.field_strength),
        "age_band": deid.age_band(first.patient_age, first.birth_date, first.study_date),
        "sex": deid.sex_code(first.sex),
        "impression": scrub_text(impression, identifiers),
        "source": "dicom",
    }


def _acdc_row(salt: bytes, site: str, name: str) -> dict:
    return {
        **deid.patient_fields(salt, f"acdc:{name}"),
        "site": site,
        "manufacturer": "",
        "scanner": "",
        "field_strength": 0.0,
        "age_band": "unknown",
        "sex": "unknown",
        "impression": "",
        "source": "nifti",
    }


def _finish_row(row: dict, study_id: str, tensor: StudyTensor) -> dict:
    row = {
        **row,
        "study_id": study_id,
        "views": ",".join(tensor.views),
        "view_frames": list(tensor.view_frames),
        "cine_phases": int(tensor.cine_phases),
        "pixel_spacing_mm": float(tensor.pixel_spacing_mm),
        "matrix": tensor.matrix,
    }
    return {key: row[key] for key in STUDY_COLUMNS}


@dataclass
class _Plan:
    task: StudyTask
    row: dict
    accession: str
    report_note: str = ""  # why the study has no report impression, when a reports CSV was given


def _plan(
    src: Path,
    salt: bytes,
    site: str,
    impressions: dict[str, str] | None,
    base: StudyTask,
    executor: Executor | None,
    reports: list[dict],
    identifiers: set[str],
    given: tuple[str | Path | None, ...] = (),
) -> tuple[list[_Plan], int]:
    """One plan per study found under ``src`` and the number of files looked at.

    ``impressions`` is None when no reports CSV was given. The patient identifiers of files
    skipped after their header was read are added to ``identifiers``; studies withdrawn from the
    dataset (``model.data.withdrawn``) are left out. ``given`` (the reports
    CSV, labels CSV and view map) are not looked at as images when they lie under ``src``.
    """

    def task(study_id: str, **kwargs) -> StudyTask:
        return StudyTask(study_id, base.dataset, base.grid, base.view_map, **kwargs)

    problems: list = []
    cases, files = split_acdc_files(without_inputs(walk_files(src, problems), given))
    plans = [
        _Plan(
            task(deid.pseudonym(salt, "study", f"acdc:{c.name}"), acdc_folder=str(c)),
            _acdc_row(salt, site, c.name),
            c.name,
        )
        for c in cases
    ]
    by_study = scan_headers(files, executor, problems, identifiers) if files else {}
    reports.extend(
        report_row(p, level, reason, "", series) for p, series, level, reason in problems
    )
    plans += [
        _Plan(
            task(deid.pseudonym(salt, "study", uid), headers=headers),
            _dicom_row(headers, salt, site, impressions),
            headers[0].accession,
            missing_impression_reason(headers[0].accession, impressions),
        )
        for uid, headers in sorted(by_study.items())
    ]
    return without_withdrawn(plans, Path(base.dataset), salt), len(cases) + len(files)


def _run_studies(
    plans: list[_Plan], executor: Executor | None, reports: list[dict]
) -> tuple[list[dict], list[dict], list[dict]]:
    """Pass 2 over studies; returns (study rows, linkage rows, ACDC label rows)."""
    rows, links, labels, unreported, written = [], [], [], [], []
    tasks = [plan.task for plan in plans]
    results = executor.map(process_study, tasks) if executor else map(process_study, tasks)
    with Progress("ingest: build studies", total=len(tasks), unit="study") as bar:
        for plan, (tensor, study_reports, study_labels) in zip(plans, results, strict=True):
            reports.extend(study_reports)
            if tensor is not None:
                if plan.report_note:
                    unreported.append(_no_report_row(plan))
                rows.append(_finish_row(plan.row, plan.task.study_id, tensor))
                written.append(plan)
                links.append({"study_id": plan.task.study_id, "accession_number": plan.accession})
                if study_labels:
                    labels.append({"accession_number": plan.accession, **study_labels})
            bar.update(1)
    if unreported:
        reports.extend(unreported)
        log.warning(
            "%d of %d studies written have no report impression (ingest_report.csv warnings say "
            "why); training leaves them out",
            len(unreported),
            len(rows),
        )
    reports.extend(
        shared_accession_rows([(p.task.study_id, p.accession, _path(p)) for p in written])
    )
    return rows, links, labels


def _no_report_row(plan: _Plan) -> dict:
    reason = f"{plan.report_note}; training leaves studies without a report impression out"
    return report_row(_path(plan), "warning", reason, plan.task.study_id)


def _path(plan: _Plan) -> str:
    """The file (DICOM) or case folder (ACDC) an ingest_report.csv line about a study names."""
    return plan.task.headers[0].path if plan.task.headers else plan.task.acdc_folder or ""


def ingest(
    src: str | Path,
    out: str | Path,
    reports: str | Path | None = None,
    site: str = "internal",
    workers: int = 1,
    view_map: str | Path | None = None,
    frames: int = 16,
    size: int = 64,
    fov_mm: float = 224.0,
    labels: str | Path | None = None,
) -> IngestSummary:
    """Ingest every study under ``src`` into the dataset folder ``out`` (created or appended).

    ``labels``: a labels CSV (evaluation only) stored as ``DATASET/labels.csv``, merged by
    accession number with one an earlier ingest stored; checked before anything is written."""
    started = time.monotonic()
    src, out = Path(src), Path(out)
    if not src.is_dir():
        raise DataError(f"source folder {src} does not exist or is not a folder")
    if frames < 1 or size < 8 or fov_mm <= 0:
        raise DataError("--frames must be >= 1, --size >= 8 and --fov-mm > 0")
    check_output_path(out, "dataset folder", folder=True)
    grid = GridConfig(frames=frames, size=size, fov_mm=fov_mm)
    base = StudyTask("", str(out), grid, ViewMap.load(view_map))
    impressions = load_impressions(reports) if reports else None
    given_labels = label_rows(labels) if labels else []
    summary = IngestSummary(dataset=out)
    report: list[dict] = []
    with ingest_lock(out), worker_losses("ingest"):
        stale = sum(remove_stale_temps(folder) for folder in (out, DatasetPaths(out).tensors))
        if stale:
            log.info("removed %d partial files an interrupted ingest left in %s", stale, out)
        salt = deid.load_or_create_salt(out, create=not (out / SETTINGS_FILE).exists())
        check_settings(out, grid, deid.salt_id(salt))
        executor = process_pool(workers)
        skipped: set[str] = set()  # identifiers of skipped files that had a readable header
        try:
            given = (reports, labels, view_map)
            plans, summary.files_seen = _plan(
                src, salt, site, impressions, base, executor, report, skipped, given
            )
            earlier = stored_views(DatasetPaths(out))
            for plan in plans:
                plan.task.earlier_views = earlier.get(plan.task.study_id, ())
            rows, links, acdc_labels = _run_studies(plans, executor, report)
        finally:
            if executor is not None:
                executor.shutdown(cancel_futures=True)
        extra = {DatasetPaths(out).acdc_labels.name: (acdc_labels, KEY)} if acdc_labels else {}
        if labels:
            extra[DatasetPaths(out).labels.name] = (given_labels, KEY)
            _log_labelled(links, given_labels, Path(labels))
        found = _identifiers(plans, impressions, given_labels) | skipped
        report = _deidentified(report, rows, src, found)
        studies = merge_tables(DatasetPaths(out), rows, links, report, extra)
        _tidy_embedding_caches(DatasetPaths(out), studies)
    _count(summary, rows, len(studies), report)
    summary.elapsed_s = time.monotonic() - started
    return summary


def _deidentified(report: list[dict], rows: list[dict], src: Path, found: set[str]) -> list[dict]:
    """The ingest report de-identified (``deidentify_report``), and every patient's identifiers
    of this ingest removed from each study row's impression in place (a study's own were removed
    as its row was made, but a reader may name another patient)."""
    scrub = other_patients_scrubber(found)
    for row in rows:
        row["impression"] = scrub(row["impression"])
    return deidentify_report(report, src, found)


def _tidy_embedding_caches(paths: DatasetPaths, studies: pd.DataFrame) -> None:
    """Remove the embedding caches of the dataset before this ingest changed it (they can never
    be read again), while the ingest lock keeps its fingerprint the current one."""
    if paths.embeddings.is_dir() and len(studies):
        embedding_cache.tidy(paths.embeddings, dataset_fingerprint(paths, studies["study_id"]))


def _count(summary: IngestSummary, rows: list[dict], total: int, report: list[dict]) -> None:
    """Fill ``summary``'s counts: studies written of ``total`` and the report's lines by level."""
    levels = [r["level"] for r in report]
    summary.studies_written, summary.studies_total = len(rows), total
    summary.study_ids = [row["study_id"] for row in rows]
    summary.files_skipped = levels.count("skipped")
    summary.series_rejected = levels.count("rejected")
    summary.warnings = levels.count("warning")


def _log_labelled(links: list[dict], rows: list[dict], path: Path) -> None:
    """How many of the studies written have a row in the labels file given to ingest (named by
    its file name: an export's own labels file sits in a folder named after the patient)."""
    accessions = {row[KEY] for row in rows}
    labelled = sum(1 for link in links if link[KEY] in accessions)
    if links and not labelled:
        zeros = lost_zeros_hint(accessions, [str(link[KEY]) for link in links])
        log.warning("no study written has a row in %s (by AccessionNumber)%s", path.name, zeros)
        return
    log.info("labels: %d of %d studies written have a row in %s", labelled, len(links), path.name)
    if lost := partly_lost_zeros(accessions, [str(link[KEY]) for link in links]):
        log.warning("labels file %s: %s", path.name, lost)


def _identifiers(
    plans: list[_Plan], impressions: dict[str, str] | None, labels: list[dict]
) -> set[str]:
    """Every patient name, ID (other IDs and names too), birth date and accession number read in
    this ingest (to scrub from the report: exports name folders after any of them), the accession
    numbers keying the reports and labels given among them: an anonymising export may blank a
    header's AccessionNumber yet name the study's folder after it."""
    found = {*(impressions or {}), *(row[KEY] for row in labels)}
    for plan in plans:
        for header in plan.task.headers or []:
            found.update((header.patient_name, header.patient_id, header.birth_date))
            found.update((header.accession, *header.other_identifiers))
    found.discard("")
    return found
