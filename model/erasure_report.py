"""One erasure across the product (``python -m model forget``): the index and the data root
after the dataset, then the officer's summary and the erasure record.

The record, ``DATASET/erasures/erasure-<UTC time>.json``, says what was removed and when, what
could not be (checkpoints' weights, files it only lists) and holds no patient identifier: no
accession number (the hospital's own number for the study, which would name the patient to
anyone with the hospital's records) and no study_id (which would keep the study's pseudonym in
the data root), only counts and the salted hashes of ``withdrawn.csv``, with which an auditor
holding the dataset's salt can check that a given accession number was erased. It names the
folders searched (the data root and the ``--also`` ones) and the files changed or listed: paths
are the site's own folder and file names, not patient data, so they are recorded (an auditor
must know where the erasure looked), except a part of a path holding a withdrawn study's id or
accession number (a file a user named after the study), recorded as ``REDACTED``.
"""

from __future__ import annotations

import argparse
import json
import time
from collections.abc import Callable, Collection
from dataclasses import dataclass, field
from pathlib import Path

from model.atomic import atomic_write_text
from model.erasure import DatasetErasure, Targets
from model.erasure_index import IndexErasure, erase_from_index, served_refusal, through_servers
from model.erasure_names import redacted_path
from model.erasure_runs import TrainedRun
from model.erasure_scan import NOTE_FILE, Mentions, find_mentions, index_folders, rewrite_mentions
from model.errors import UserError
from model.index.client import ChromaLocation, default_chroma_path, resolve_location

RECORD_FORMAT = "cmr-clip-erasure"
SHOWN_NOT_READ = 20  # spreadsheets and PDFs named in the summary (the record has them all)
NOT_ERASABLE = [
    "checkpoints' weights were trained with the studies and cannot be un-trained: retrain "
    "without them where that is required (the runs are listed)",
    "raw exports (DICOM, reports CSVs) are the hospital's and are not touched: withdrawn.csv "
    "keeps any later ingest of them from adding the studies again",
    "a Chroma server's own files keep a deleted record's bytes until the server compacts "
    "them (an embedded index folder is rewritten without them)",
    "backups and copies outside the folders searched (the data root and any --also folder)",
]


@dataclass
class Erasure:
    """One ``forget`` run: what was asked and what each part found or removed."""

    dataset: Path
    root: Path
    targets: Targets
    given: int
    dataset_part: DatasetErasure = field(default_factory=DatasetErasure)
    index: list[IndexErasure] = field(default_factory=list)
    mentions: Mentions = field(default_factory=Mentions)
    runs: list[TrainedRun] = field(default_factory=list)
    erased_at: str = field(
        default_factory=lambda: time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    )
    record: Path | None = None
    also: list[Path] = field(default_factory=list)  # searched as the data root is (--also)

    @property
    def folders(self) -> list[Path]:
        """The folders searched for results: the data root, then the ``--also`` ones."""
        return [self.root, *self.also]


def erase_everywhere(erasure: Erasure, args: argparse.Namespace, apply: bool) -> None:
    """Before the dataset: the index records in every location and the per-study results
    under the data root. An embedded index folder a Chroma server serves is erased through the
    server when it is the one given, else the erasure stops (``UserError``) before anything
    changes (a dry run says so): erasing from its files would corrupt what the server serves,
    and leave the records in its memory."""
    ids = erasure.targets.study_ids
    salt_id = _salt_id(erasure.dataset)
    locations, users = through_servers(index_locations(erasure, args))
    refusals = [served_refusal(users.get(loc.path)) for loc in locations]
    if apply and any(refusals):  # before anything changes: a rerun, the server stopped, erases all
        raise UserError(next(line for line in refusals if line))
    erasure.index = [erase_from_index(loc, ids, salt_id, apply) for loc in locations]
    for index, loc, refusal in zip(erasure.index, locations, refusals, strict=True):
        found = users.get(loc.path)
        line = f"--apply stops: {refusal}" if refusal else found.note() if found else None
        if line:
            index.note = f"{index.note}; {line}" if index.note else line
    skip = [erasure.dataset, *(loc.path for loc in locations if loc.path)]
    for folder in erasure.folders:  # one holding the data root leaves it to its own search
        others = [f for f in erasure.folders if f != folder]
        found = find_mentions(folder, [*skip, *others], ids, erasure.targets.accessions)
        erasure.mentions.add(found)
    if apply:
        stamp, accessions = erasure.erased_at, erasure.targets.accessions
        rewrite_mentions(erasure.mentions, set(ids), stamp, len(ids), accessions)


def index_locations(erasure: Erasure, args: argparse.Namespace) -> list[ChromaLocation]:
    """The index named by the options (default ``DATASET/../chroma``) and every embedded index
    folder under the data root and the ``--also`` folders: a study may have been indexed into
    any of them."""
    given = resolve_location(
        args.chroma_path, args.chroma_host, args.chroma_port, default_chroma_path(erasure.dataset)
    )
    folders = dict.fromkeys(found for f in erasure.folders for found in index_folders(f))
    found = [ChromaLocation(path=folder) for folder in folders]
    return [given, *(loc for loc in found if loc.path != given.path)]


def _salt_id(dataset: Path) -> str:
    settings = json.loads((dataset / "dataset.json").read_text(encoding="utf-8"))
    return str(settings.get("salt_id", ""))


def write_record(erasure: Erasure) -> Path:
    """Write the erasure record (see the module docstring); returns its path."""
    part, found = erasure.dataset_part, erasure.mentions
    stamp = erasure.erased_at.replace(":", "").replace("-", "")
    path = erasure.dataset / "erasures" / f"erasure-{stamp}.json"
    targets = erasure.targets
    named = _named(targets)

    def rel(p: Path | str) -> str:
        return redacted_path(_rel(p, erasure.root) if isinstance(p, Path) else p, named)

    record = {
        "format": RECORD_FORMAT,
        "version": 1,
        "erased_at": erasure.erased_at,
        "dataset": rel(erasure.dataset.name),
        "folders_searched": [rel(str(f.resolve())) for f in erasure.folders],
        "studies_erased": part.studies,
        "study_hashes": part.hashes,
        "accession_numbers_given": erasure.given,
        "accession_numbers_not_in_dataset": len(targets.unknown),
        "tensors_removed": part.tensors,
        "table_rows_removed": part.table_rows,
        "embedding_cache_files_removed": len(part.caches) - len(part.caches_left),
        "embedding_cache_files_left": [p.name for p in part.caches_left],
        "index_records_removed": {rel(i.where): i.found for i in erasure.index if i.found},
        "result_rows_removed": {rel(p): n for p, n in found.rows.items()},
        "example_sets_changed": [rel(p) for p in found.example_sets],
        "embedding_rows_removed": {rel(p): n for p, n in found.embeddings.items()},
        "embedding_files_removed": [rel(p) for p in found.emptied],
        "evaluations_marked": [rel(p) for p in found.evaluations],
        "files_still_naming_them": [rel(p) for p in found.other],
        "files_not_read": [rel(p) for p in found.unread],
        "files_removed": [rel(p) for p in found.removed],
        "files_named_after_them": [rel(p) for p in found.named],
        "files_with_object_arrays_not_read": [rel(p) for p in found.pickled],
        "zip_archives_naming_them": {
            rel(p): {"members": [rel(m) for m in z.members], "text_members_not_read": z.unread}
            for p, z in found.zips.items()
            if not z.spreadsheet
        },
        "spreadsheets_naming_them": {
            rel(p): {"parts": [rel(m) for m in z.members], "parts_not_read": z.unread}
            for p, z in found.zips.items()
            if z.spreadsheet
        },
        "spreadsheets_and_pdfs_not_read": [rel(p) for p in found.opaque],
        "runs_trained_with_them": [_run_record(r, rel) for r in erasure.runs],
        "dataset_fingerprints_before": sorted(part.fingerprints),
        "not_erased": NOT_ERASABLE,
    }
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write_text(path, json.dumps(record, indent=2) + "\n")
    return path


def _run_record(run: TrainedRun, rel: Callable[[Path | str], str]) -> dict:
    return {
        "run": rel(run.folder),
        "data_fingerprint": run.data_fingerprint,
        "checkpoints": [rel(p.name) for p in run.checkpoints],
    }


def _rel(path: Path, root: Path) -> str:
    try:
        return str(path.resolve().relative_to(root.resolve()))
    except ValueError:
        return str(path)


def _named(targets: Targets) -> set[str]:
    """What no path in the record may show: the studies' ids and accession numbers, those the
    dataset does not hold too."""
    return {n for n in [*targets.study_ids, *targets.accessions, *targets.unknown_values] if n}


def summary_text(erasure: Erasure, apply: bool) -> str:
    """The officer's summary: what was (or would be) removed, marked, listed and left."""
    part, found, n = erasure.dataset_part, erasure.mentions, len(erasure.targets.study_ids)
    verb = "removed" if apply else "would remove"
    head = "forget: erased" if apply else "forget: DRY RUN, nothing changed (--apply to erase)"
    lines = [f"{head}: {n} {'study' if n == 1 else 'studies'} of {erasure.dataset}"]
    if erasure.targets.unknown:
        places = ", ".join(_ordinal(i) for i in erasure.targets.unknown)
        many = len(erasure.targets.unknown) > 1
        lines.append(
            f"  the {places} of the {erasure.given} accession numbers given "
            + ("are" if many else "is")
            + " not in this dataset (linkage.csv): nothing to erase for "
            + ("them" if many else "it")
            + ("; recorded" if apply else "; --apply records " + ("them" if many else "it"))
            + " as withdrawn, so no later ingest adds "
            + ("them" if many else "it")
        )
    if not n:
        return "\n".join(lines) + "\n"
    rows = ", ".join(f"{name} {count}" for name, count in part.table_rows.items() if count)
    lines.append(
        f"  dataset: {verb} {part.studies} rows of studies.parquet, {part.tensors} "
        f"tensors; rows of {rows or 'no other table'}"
    )
    lines.append(
        f"  embedding caches: {verb} {len(part.caches)} files (every cache, map and "
        "report-sentence store of the dataset; made again on next use)"
    )
    for left in part.caches_left:
        lines.append(f"    NOT removed (a writer was busy; run forget again): {left.name}")
    for index in erasure.index:
        held = ", ".join(f"{name} {count}" for name, count in index.found.items())
        lines.append(
            f"  index {index.where}: {verb} "
            + (held or "none held")
            + (f" ({index.note})" if index.note else "")
        )
    # an accession number names the patient to anyone with the hospital's records, a study id
    # the study: a path part holding one is not printed (the officer finds it by the one given)
    named = _named(erasure.targets)
    lines += _mention_lines(found, erasure.root, verb, apply, named)
    lines += _run_lines(erasure.runs, erasure.root, named)
    lines.append(
        "  withdrawn.csv: "
        + ("records" if apply else "would record")
        + " their salted hashes; an ingest of the same export skips them"
    )
    lines.append(
        "  not erased here: checkpoints' weights, raw exports (the hospital's), a Chroma "
        "server's own files, backups (the record says why)"
    )
    if erasure.record:
        lines.append(f"  erasure record: {erasure.record} (no patient identifier in it)")
    return "\n".join(lines) + "\n"


def _mention_lines(
    found: Mentions, root: Path, verb: str, apply: bool, named: Collection[str] = ()
) -> list[str]:
    def rel(path: Path) -> str:
        return redacted_path(_rel(path, root), named)

    lines = [f"  per-study results: {verb} {n} rows of {rel(p)}" for p, n in found.rows.items()]
    lines += [f"  example set {rel(p)}: {verb} {n} ids" for p, n in found.example_sets.items()]
    lines += [
        f"  embedding file {rel(p)}: "
        + (
            f"every row is theirs: {'removed' if apply else 'would remove'} the file"
            if p in found.emptied
            else f"{verb} {n} rows (its provenance notes the erasure)"
        )
        for p, n in found.embeddings.items()
    ]
    lines += [
        f"  evaluation {rel(p)}: figures kept as published, "
        + ("marked in" if apply else "to be marked in")
        + f" {NOTE_FILE} (run it again for "
        "figures without them)"
        for p in found.evaluations
    ]
    lines += [
        f"  still names them (remove or make again yourself): {rel(p)}"
        + (" (in other columns than study_id)" if p in found.rows else "")
        for p in found.other
    ]
    lines += [
        f"  cannot be read (check it names none of them yourself): {rel(p)}" for p in found.unread
    ]
    return lines + _name_lines(found, rel, apply, lambda member: redacted_path(member, named))


def _name_lines(
    found: Mentions, rel: Callable[[Path], str], apply: bool, redact: Callable[[str], str]
) -> list[str]:
    """The files removed whole, those named after a withdrawn study and listed, the array
    files not read, the zip archives and spreadsheets naming them (``redact``: a member's name
    as printed) and the spreadsheets and PDFs not read."""
    lines = [
        f"  {'removed' if apply else 'would remove'} the file {rel(p)} ("
        + ("every row is theirs" if p in found.whole else "a per-study result named after one")
        + ")"
        for p in found.removed
    ]
    lines += [
        f"  named after one of them (rename or remove it yourself): {rel(p)}"
        + (" (a folder)" if p.is_dir() else "")
        for p in found.named
    ]
    lines += [
        f"  holds object arrays, not read (loading them would run code it carries; check it "
        f"yourself): {rel(p)}"
        for p in found.pickled
    ]
    lines += [z.line(rel(p), redact) for p, z in found.zips.items()]
    lines += [
        f"  not read (a spreadsheet or PDF: check by hand that it names none of them): {rel(p)}"
        for p in found.opaque[:SHOWN_NOT_READ]
    ]
    more = len(found.opaque) - SHOWN_NOT_READ  # a folder of reports may hold thousands
    return lines + (
        [f"  and {more} more spreadsheets and PDFs not read (the erasure record lists them all)"]
        if more > 0
        else []
    )


def _run_lines(runs: list[TrainedRun], root: Path, named: Collection[str]) -> list[str]:
    def rel(path: Path) -> str:
        return redacted_path(_rel(path, root), named)

    if not runs:
        return ["  checkpoints trained with them: none found in the folders searched"]
    lines = [
        "  checkpoints trained with them (weights cannot be un-trained; retrain without "
        "them if required):"
    ]
    lines += [
        f"    {rel(r.folder)} (data {r.data_fingerprint or '?'}): "
        + (", ".join(redacted_path(p.name, named) for p in r.checkpoints) or "no checkpoint")
        for r in runs
    ]
    return lines


def _ordinal(i: int) -> str:
    suffix = "th" if 10 <= i % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(i % 10, "th")
    return f"{i}{suffix}"
