"""``python -m model forget --data DATASET --accession ACC [ACC ...] [--apply]``: erase the
studies of a patient who withdrew consent from everything the product keeps.

Also ``--study-id SID ...`` and ``--from-file CSV`` (accession numbers, one a row, or a column
named ``accession_number``). A dry run by default: it says what would go; ``--apply`` removes it
and writes an erasure record, ``DATASET/erasures/erasure-<time>.json``. Where a study lives and
what is done there, in this order (the dataset last: until it is changed, a failed run, e.g. an
index busy or served by a Chroma server, is run again as it was given): ``model.erasure`` (the
dataset, its caches, ``withdrawn.csv`` so an ingest never adds it again),
``model.erasure_index`` (the case index), ``model.erasure_scan`` (per-study
results under the data root, evaluations marked, checkpoints trained with them).
``--also DIR [DIR ...]`` (repeatable) names more folders searched exactly as the data root is,
for results kept elsewhere (a shared drive, an export folder): their tables, embedding files,
example sets and evaluations, the index folders, runs and other datasets' folders in them. One
that is not a folder this process can list stops the run before anything changes. The record
holds no patient identifier: no accession number (the hospital's own number for the patient's
study) and no study_id, only counts and the salted hashes ``withdrawn.csv`` holds.
The dataset's ingest lock is held throughout: no ingest runs meanwhile, and an index run writes
its records either before (they are erased) or after, leaving the erased studies out (it holds
the lock shared while it writes, ``model.index.withdrawn_guard``).
"""

from __future__ import annotations

import argparse
import csv
import os
import sys
from pathlib import Path

from model.data.store import ingest_lock
from model.erasure import check_dataset, erase_from_dataset, find_targets
from model.erasure_report import Erasure, erase_everywhere, summary_text, write_record
from model.erasure_runs import trained_runs
from model.errors import UserError, not_found
from model.index.cli_index import add_chroma_arguments
from model.schema import default_data_root

_ACCESSION_HEADERS = {"accession_number", "accessionnumber", "accession"}


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.description = (
        "Erase withdrawn studies (a patient's consent withdrawn) from a dataset and everything "
        "made from it: rows, tensors, labels, embedding caches, index records, per-study "
        "result rows under the data root and the --also folders. Lists the checkpoints trained "
        "with them (weights "
        "cannot be un-trained). A dry run unless --apply."
    )
    parser.add_argument("--data", type=Path, required=True, help="the dataset folder")
    parser.add_argument("--accession", nargs="+", default=[], help="accession numbers")
    parser.add_argument("--study-id", nargs="+", default=[], help="study ids (s + 15 hex)")
    parser.add_argument(
        "--from-file", type=Path, default=None, help="CSV of accession numbers, one a row"
    )
    parser.add_argument(
        "--data-root",
        type=Path,
        default=None,
        help="searched for results naming the studies (default: the data root holding DATASET)",
    )
    parser.add_argument(
        "--also",
        type=Path,
        nargs="+",
        action="extend",
        default=[],
        metavar="DIR",
        help="more folders searched as the data root is (results kept elsewhere); repeatable",
    )
    add_chroma_arguments(parser)
    parser.add_argument("--apply", action="store_true", help="remove (default: a dry run)")


def run(args: argparse.Namespace) -> int:
    dataset = args.data.expanduser()
    paths = check_dataset(dataset)
    accessions = list(args.accession) + (read_accessions(args.from_file) if args.from_file else [])
    if not accessions and not args.study_id:
        raise UserError("name the studies: --accession, --study-id or --from-file")
    root = (args.data_root or data_root_of(dataset)).expanduser()
    also = also_folders(root, args.also)
    with ingest_lock(dataset, doing="forget"):
        targets = find_targets(paths, accessions, list(args.study_id))
        erasure = Erasure(dataset, root, targets, len(accessions), also=also)
        if targets.study_ids:  # first: the dataset, last, is what names the studies to rerun
            erase_everywhere(erasure, args, args.apply)
        erasure.dataset_part = erase_from_dataset(paths, targets, args.apply)
        fingerprints = erasure.dataset_part.fingerprints
        erasure.runs = trained_runs(erasure.folders, dataset, fingerprints)
        if args.apply:
            erasure.record = write_record(erasure)
    sys.stdout.write(summary_text(erasure, args.apply))
    return 0


def data_root_of(dataset: Path) -> Path:
    """The data root (``CMR_DATA_ROOT``, else ``data/``) when it holds ``dataset``, else the
    dataset's parent folder."""
    root = default_data_root().resolve()
    return root if dataset.resolve().is_relative_to(root) else dataset.resolve().parent


def also_folders(root: Path, given: list[Path]) -> list[Path]:
    """The ``--also`` folders to search besides ``root``: each must be a folder this process
    can list (UserError naming it, before anything changes); one inside the data root or
    another one given is searched already and left out."""
    folders: list[Path] = []
    for folder in (p.expanduser() for p in given):
        if not folder.is_dir():
            raise UserError(not_found("--also folder", folder, folder=True))
        try:
            with os.scandir(folder) as entries:
                next(entries, None)
        except OSError as err:
            raise UserError(f"--also folder {folder} cannot be read: {err.strerror}") from err
        if not any(folder.resolve().is_relative_to(p.resolve()) for p in [root, *folders]):
            folders = [p for p in folders if not p.resolve().is_relative_to(folder.resolve())]
            folders.append(folder)
    return folders


def read_accessions(path: Path) -> list[str]:
    """Accession numbers from ``path``: the column named accession_number (or AccessionNumber,
    accession), else every row of a one-column file."""
    try:
        with path.open(newline="", encoding="utf-8-sig") as handle:
            rows = [row for row in csv.reader(handle) if any(cell.strip() for cell in row)]
    except (OSError, UnicodeDecodeError, csv.Error) as err:
        raise UserError(f"cannot read --from-file {path}: {err}") from err
    if not rows:
        raise UserError(f"--from-file {path} holds no accession number")
    header = [cell.strip().lower() for cell in rows[0]]
    named = [i for i, cell in enumerate(header) if cell in _ACCESSION_HEADERS]
    if named:
        return [row[named[0]].strip() for row in rows[1:] if len(row) > named[0]]
    if all(len(row) == 1 for row in rows):
        return [row[0].strip() for row in rows]
    raise UserError(
        f"--from-file {path} has several columns and none is named accession_number: "
        "give a column of that name, or one accession number a row"
    )
