"""``python -m model generate``: write N synthetic CMR studies as DICOM, reports, labels, masks.

The output is built in ``DIR.partial`` and renamed to ``DIR`` only when every study and table is
written, so an interrupted run never leaves a folder that looks complete; rerunning the same
command resumes from the studies already finished. Each study has its own random stream, so the
output is byte-for-byte identical for a given seed whatever the number of workers.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import logging
import os
import shutil
import time
from collections import Counter
from collections.abc import Iterator
from concurrent.futures import as_completed
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from model.atomic import atomic_write_json, atomic_write_text, sync_folder
from model.errors import UserError, storage_problem
from model.output_path import check_output_path
from model.progress import Progress
from model.schema import DIAGNOSES, FINDINGS
from model.wording import counted
from model.workers import process_pool, sigterm_interrupts, worker_losses
from sample_data.sites import SITE_PROFILES, get_site
from sample_data.study import RECORDS_DIR, StudyRequest, load_record, make_study, record_path

log = logging.getLogger(__name__)
RUN_FILE = ".run.json"


@dataclass(frozen=True)
class GenerateSummary:
    """What a generator run produced."""

    out: Path
    studies: int
    site: str
    seed: int
    files: int
    bytes: int
    seconds: float
    diagnoses: dict[str, int]


def _prepare_partial(out: Path, run: dict) -> Path:
    """``DIR.partial`` for this run: resumed when the same run was interrupted, else fresh."""
    check_output_path(out, "output folder", folder=True)
    if out.exists() and any(out.iterdir()):
        raise UserError(f"output folder {out} already exists and is not empty; choose a new one")
    partial = out.with_name(out.name + ".partial")
    run_file = partial / RUN_FILE
    if partial.exists():
        previous = json.loads(run_file.read_text()) if run_file.exists() else None
        if previous != run:
            log.info("discarding %s from a different run", partial)
            shutil.rmtree(partial)
    partial.mkdir(parents=True, exist_ok=True)
    atomic_write_json(run_file, run)
    return partial


def _csv(frame: pd.DataFrame) -> str:
    buffer = io.StringIO()
    frame.to_csv(buffer, index=False, lineterminator="\n")
    return buffer.getvalue()


def _write_tables(partial: Path, records: list[dict], site: str) -> None:
    reports = pd.DataFrame(
        [{"accession_number": r["accession_number"], "report": r["report"]} for r in records]
    )
    labels = pd.DataFrame(
        [{"accession_number": r["accession_number"], **r["labels"]} for r in records]
    )
    truth = pd.DataFrame(
        [{"accession_number": r["accession_number"], **r["ground_truth"]} for r in records]
    )
    atomic_write_text(partial / "reports.csv", _csv(reports))
    atomic_write_text(
        partial / "labels.csv", _csv(labels[["accession_number", *FINDINGS, *DIAGNOSES]])
    )
    atomic_write_text(partial / "ground_truth.csv", _csv(truth))
    studies = {r["accession_number"]: r["phi"]["values"] for r in records}
    values = sorted({v for vals in studies.values() for v in vals})
    atomic_write_json(partial / "phi.json", {"site": site, "values": values, "studies": studies})


def generate(
    out: Path | str,
    studies: int,
    site: str,
    seed: int,
    workers: int = 1,
    missing_view_rate: float = 0.0,
) -> GenerateSummary:
    """Write ``studies`` synthetic studies of ``site`` into the new folder ``out``."""
    if studies < 1:
        raise UserError(f"--studies must be at least 1 (got {studies})")
    if workers < 1:
        raise UserError(f"--workers must be at least 1 (got {workers})")
    if not 0.0 <= missing_view_rate <= 1.0:
        raise UserError(f"--missing-view-rate must be between 0 and 1 (got {missing_view_rate})")
    get_site(site)
    out = Path(out)
    start = time.monotonic()
    run = {"studies": studies, "site": site, "seed": seed, "missing_view_rate": missing_view_rate}
    partial = _prepare_partial(out, run)
    todo = [i for i in range(studies) if not record_path(partial, i).exists()]
    requests = [StudyRequest(partial, seed, site, i, missing_view_rate) for i in todo]
    with _kept_on_failure(partial, studies):
        _make_studies(requests, studies, workers)
        records = [load_record(partial, i) for i in range(studies)]
        _write_tables(partial, records, site)
    shutil.rmtree(partial / RECORDS_DIR)
    os.unlink(partial / RUN_FILE)
    if out.exists():
        out.rmdir()
    os.replace(partial, out)
    sync_folder(out.parent)  # the set's name on disk: a power cut keeps it whole
    summary = GenerateSummary(
        out=out,
        studies=studies,
        site=site,
        seed=seed,
        files=sum(r["files"] for r in records),
        bytes=sum(r["bytes"] for r in records),
        seconds=time.monotonic() - start,
        diagnoses=dict(Counter(r["ground_truth"]["diagnosis"] for r in records)),
    )
    log.info(
        "wrote %d studies (%d DICOM files, %.1f MB) to %s in %.1f s",
        summary.studies, summary.files, summary.bytes / 1e6, out, summary.seconds,
    )  # fmt: skip
    return summary


def _make_studies(requests: list[StudyRequest], studies: int, workers: int) -> None:
    """Write the studies ``requests`` asks for (of ``studies`` in all; the others were written
    by an interrupted run of the same command), in ``workers`` processes."""
    with Progress("generate", total=studies, unit="study") as bar:
        bar.update(studies - len(requests))
        if workers == 1 or len(requests) <= 1:
            for request in requests:
                make_study(request)
                bar.update(1)
            return
        # a worker the out-of-memory killer picks fails the run in a line (multiprocessing's
        # Pool waited for its study forever); a Cancel reaches this process alone, which ends
        # the pool after the studies under way
        pool = process_pool(min(workers, len(requests)), start="spawn")
        with sigterm_interrupts(), worker_losses("generate"):
            try:
                for done in as_completed([pool.submit(make_study, r) for r in requests]):
                    done.result()
                    bar.update(1)
            finally:
                pool.shutdown(cancel_futures=True)


@contextlib.contextmanager
def _kept_on_failure(partial: Path, studies: int) -> Iterator[None]:
    """A full disk (or another storage failure) says what it leaves: the finished studies stay in
    ``partial``, from which the same command resumes once there is room."""
    try:
        yield
    except OSError as err:
        if storage_problem(err) is not None:
            done = sum(record_path(partial, i).exists() for i in range(studies))
            err.add_note(
                f"{counted(done, 'finished study', 'finished studies')} of {studies:,} "
                f"{'is' if done == 1 else 'are'} kept in {partial}: rerunning the same command "
                "resumes from them"
            )
        raise


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--out", type=Path, required=True, help="new output folder")
    parser.add_argument("--studies", type=int, default=100, help="number of studies")
    parser.add_argument("--site", choices=sorted(SITE_PROFILES), default="internal")
    parser.add_argument("--seed", type=int, default=0, help="random seed (output is reproducible)")
    parser.add_argument("--workers", type=int, default=1, help="parallel worker processes")
    parser.add_argument(
        "--missing-view-rate",
        type=float,
        default=0.0,
        help="share of studies with one view slot left out (realistic missing views)",
    )


def run(args: argparse.Namespace) -> int:
    generate(args.out, args.studies, args.site, args.seed, args.workers, args.missing_view_rate)
    return 0
