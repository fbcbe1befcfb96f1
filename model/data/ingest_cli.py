"""``python -m model ingest SRC --out DATASET``: the command line over ``model.data.ingest``."""

from __future__ import annotations

import argparse
import logging
from pathlib import Path
from shlex import quote

from model.data.ingest import ingest
from model.errors import DataError

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("src", type=Path, help="folder of DICOM files (any layout) or ACDC NIfTI")
    parser.add_argument(
        "--out", type=Path, required=True, help="dataset folder (created or appended)"
    )
    parser.add_argument("--reports", type=Path, help="CSV accession_number,report")
    parser.add_argument(
        "--labels",
        type=Path,
        help="CSV accession_number,<label columns> (1/0/blank), kept as DATASET/labels.csv for "
        "evaluation and the dashboard; never used in training",
    )
    parser.add_argument("--site", default="internal", help="site name stored with each study")
    parser.add_argument("--workers", type=int, default=1, help="worker processes")
    parser.add_argument("--view-map", type=Path, help="YAML/CSV: SeriesDescription pattern -> slot")
    parser.add_argument("--frames", type=int, default=16, help="frames per view (T)")
    parser.add_argument("--size", type=int, default=64, help="pixels per side (S)")
    parser.add_argument("--fov-mm", type=float, default=224.0, help="field of view in mm")


def run(args: argparse.Namespace) -> int:
    summary = ingest(
        args.src,
        args.out,
        reports=args.reports,
        site=args.site,
        workers=args.workers,
        view_map=args.view_map,
        frames=args.frames,
        size=args.size,
        fov_mm=args.fov_mm,
        labels=args.labels,
    )
    log.info("%s", summary.line())
    if args.reports is None and summary.studies_written:
        log.warning(
            "no --reports CSV given: these studies carry no report impression, and training "
            "leaves such studies out (CSV columns: accession_number,report)"
        )
    if summary.studies_written == 0:
        # not the source's path: exports are named after the patient, and this line lands in
        # the dashboard's job log
        raise DataError(
            "no usable study found in the source folder; reasons are in "
            f"{summary.dataset / 'ingest_report.csv'}"
        )
    if args.reports is not None:
        where = quote(str(summary.dataset))
        log.info("train on it: python -m model train --data %s --out RUN_FOLDER", where)
    return 0
