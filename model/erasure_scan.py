"""What else under a data root names withdrawn studies, and what ``forget`` does with it.

Outside the dataset folder and the index, a study's pseudonymous study_id (and with it its
per-study results) is written by the commands users run: an evaluation's per-study tables,
``zeroshot --out`` and ``embed --out`` files, few-shot example sets, job logs. Under GDPR a
pseudonymised per-study result is still the patient's personal data, so:

- a CSV, TSV or ``.parquet`` with a ``study_id`` column loses the withdrawn studies' rows, and a
  few-shot example set their ids (rewritten atomically); so does a table with an
  accession-number column (a copied labels, linkage or reports CSV) lose the rows of their
  accession numbers, which every file is searched for too, as whole values (``ACC0001`` is not
  ``ACC00012``; one of digits also written as a decimal, ``70000001.0``:
  ``model.erasure_numbers``; text files and their cells: ``model.erasure_text``). A parquet
  is read by its text columns (compressed: no byte search finds an id in it), and by its
  integer and float ones when an accession number is all digits (``model.erasure_files``);
  one that cannot be read is listed, as is a folder the walk cannot list. The accession
  numbers are the hospital's identifiers: what is found is said by path and count only,
  never by the number;
- an embedding file (``embed --out``'s ``.npz`` or ``.parquet``, recognised by what it holds)
  loses their rows, its provenance noting the erasure; one all of whose rows were theirs is
  removed. Any other ``.npz``/``.npy`` is read by its arrays (``model.erasure_arrays``): one
  keyed by ids or accession numbers loses their rows, others naming them are listed;
- a file named after a withdrawn study (its id or accession number a token of its name) is
  removed when it is a per-study result, else listed, as is a folder so named
  (``model.erasure_names``);
- a zip archive is read where it lies, its members' names and text (``model.erasure_zips``),
  and listed with the members naming them, never rewritten; so is a spreadsheet that is a zip
  of XML (``.xlsx``, ``.ods``), by its XML parts; an old ``.xls`` or a PDF (``NOT_READ``), or a
  spreadsheet that does not open, cannot be read here and is listed for a check by hand;
- the figures computed from them (AUCs, summaries) are not recomputed or rewritten silently:
  the evaluation folder (holding ``summary.json``) gets ``WITHDRAWN.json`` saying how many of
  its studies were withdrawn since, and when; re-running the evaluation gives figures without
  them;
- a table naming them in another column (``query_study_id``, a list of neighbours) of rows
  it keeps is listed, whatever its key rows lose; any other file naming them (a JSON, a log)
  is listed for the officer to remove or make again. A dataset's own files are not: the
  dataset erased is ``forget``'s first part (its caches tidied there), and another dataset's
  tables, caches and tensors are that dataset's (a table or file name of one naming the
  studies is listed, its caches and tensors are not scanned).
"""

from __future__ import annotations

import json
import logging
import os
from collections.abc import Iterable
from dataclasses import dataclass, field, replace
from pathlib import Path

from model import erasure_arrays, erasure_files, erasure_names, erasure_text, erasure_zips
from model.atomic import atomic_write_text
from model.erasure_files import Hits, Wanted, wanted_of
from model.erasure_zips import ZipHits
from model.example_set import ExampleSet

log = logging.getLogger(__name__)

NOTE_FILE = "WITHDRAWN.json"
_SKIPPED_FOLDERS = {"tensors", ".git", "__pycache__"}
_DATASET_FILE = "studies.parquet"  # a folder holding it is a dataset's
_ARRAYS = {".npz", ".npy"}
NOT_READ = frozenset({".xls", ".pdf"})  # listed for a check by hand


@dataclass
class Mentions:
    """Files under the root that name withdrawn studies, by what is done with them."""

    rows: dict[Path, int] = field(default_factory=dict)  # CSV/parquet -> rows of withdrawn
    example_sets: dict[Path, int] = field(default_factory=dict)  # set -> ids it names
    embeddings: dict[Path, int] = field(default_factory=dict)  # embedding file -> its rows
    emptied: list[Path] = field(default_factory=list)  # embedding files all of whose rows go
    other: list[Path] = field(default_factory=list)  # listed only
    unread: list[Path] = field(default_factory=list)  # parquet files that cannot be read
    evaluations: list[Path] = field(default_factory=list)  # folders given WITHDRAWN.json
    removed: list[Path] = field(default_factory=list)  # files removed whole (erasure_names)
    named: list[Path] = field(default_factory=list)  # files, folders named after one: listed
    pickled: list[Path] = field(default_factory=list)  # array files of object arrays: unread
    zips: dict[Path, ZipHits] = field(default_factory=dict)  # (spreadsheets too) listed only
    opaque: list[Path] = field(default_factory=list)  # spreadsheets, PDFs: not read
    whole: set[Path] = field(default_factory=set, repr=False)  # tables all of whose rows go

    def add(self, part: Mentions) -> None:
        """Add the files ``part`` sorts (found elsewhere) to these."""
        self.rows.update(part.rows)
        self.example_sets.update(part.example_sets)
        self.embeddings.update(part.embeddings)
        self.emptied += part.emptied
        self.other += part.other
        self.unread += part.unread
        self.evaluations += part.evaluations
        self.removed += part.removed
        self.named += part.named
        self.pickled += part.pickled
        self.zips.update(part.zips)
        self.opaque += part.opaque
        self.whole |= part.whole


def find_mentions(
    root: Path, skip: list[Path], study_ids: list[str], accessions: Iterable[str] = ()
) -> Mentions:
    """Every file under ``root`` (but the folders in ``skip``: the dataset, the index) that
    names one of ``study_ids`` or ``accessions``, sorted into what ``forget`` does with it."""
    found = Mentions()
    wanted = wanted_of(study_ids, accessions)
    skipped = {p.resolve() for p in skip}
    for folder, dirs, files in os.walk(root, onerror=lambda err: _unreadable(found, err)):
        here = Path(folder)
        dirs[:] = [d for d in dirs if not _skipped(here, d, skipped)]
        found.named += [here / d for d in dirs if erasure_names.is_named(d, wanted)]
        for name in files:
            _look_at(found, here / name, wanted, root)
    named = [*found.rows, *found.embeddings, *found.other, *found.removed, *found.named]
    named += [p for p, z in found.zips.items() if z.members]
    found.evaluations = sorted({e for p in named if (e := _evaluation_of(p, root))})
    return found


def _unreadable(found: Mentions, err: OSError) -> None:
    """A folder the walk cannot list is listed as not read (its files may name them)."""
    found.unread.append(Path(str(err.filename)))


def file_mentions(paths: list[Path], study_ids: list[str]) -> Mentions:
    """``find_mentions`` for the files ``paths`` alone (a result a command just wrote, beside
    files of others it must not touch): sorted the same way, in no evaluation folder."""
    found = Mentions()
    wanted = wanted_of(study_ids, ())
    for path in paths:
        _look_at(found, path, wanted, path.parent)
    return found


def _skipped(here: Path, name: str, skip: set[Path]) -> bool:
    """Whether the folder ``here/name`` is not scanned: one of ``skip``, an index folder, a
    dataset's tensors, or a dataset's embedding caches (``forget`` tidies those of the dataset
    it erases; another dataset's are named after, and checked against, that dataset)."""
    folder = here / name
    if name in _SKIPPED_FOLDERS or folder.resolve() in skip:
        return True
    if name == "embeddings" and (here / _DATASET_FILE).is_file():
        return True
    return (folder / "chroma.sqlite3").exists()


def _look_at(found: Mentions, path: Path, wanted: Wanted, root: Path) -> None:
    """Sort the file ``path`` (under ``root``) into ``found`` if it names a withdrawn study: a
    ``.parquet`` by its text (and integer) columns (compressed, no byte search finds an id in
    it), an array file by its arrays, others by their bytes; and by its name."""
    suffix = path.suffix.lower()
    if suffix == ".parquet":
        hits = erasure_files.parquet_hits(path, wanted.ids, wanted.accessions)
        if hits is None:
            found.unread.append(path)
        else:
            _sort_table(found, path, hits)
    elif suffix in _ARRAYS:
        _sort_arrays(found, path, wanted)
    elif suffix == ".zip" or suffix in erasure_zips.SPREADSHEETS:
        _sort_zip(found, path, wanted)
    elif suffix in erasure_text.TEXT_SUFFIXES and erasure_text.file_names_any(path, wanted):
        _sort(found, path, wanted)
    if erasure_names.is_named(path.name, wanted):
        _sort_named(found, path, root)
    elif suffix in NOT_READ:
        found.opaque.append(path)


def _sort_zip(found: Mentions, path: Path, wanted: Wanted) -> None:
    """A zip archive or spreadsheet: listed with its members naming them, or text members it
    could not read (``erasure_zips``); as not read when it cannot be opened."""
    got = erasure_zips.zip_hits(path, wanted)
    if got is None:
        spreadsheet = path.suffix.lower() in erasure_zips.SPREADSHEETS
        (found.opaque if spreadsheet else found.unread).append(path)
    elif got.members or got.unread:
        found.zips[path] = got


def _sort_arrays(found: Mentions, path: Path, wanted: Wanted) -> None:
    """An ``.npz`` or ``.npy``: an embedding file's rows, else its arrays (``erasure_arrays``);
    one holding an object array is listed as not read (and as naming them where it does)."""
    if path.suffix.lower() == ".npz" and (hits := erasure_files.npz_hits(path, wanted.ids)):
        if hits.found:
            _sort_rows(found, path, hits)
        return
    got = erasure_arrays.array_hits(path, wanted)
    if got is None:
        found.unread.append(path)
    elif got.pickled:
        found.pickled.append(path)
        if got.hits.found or got.hits.elsewhere:
            found.other.append(path)
    else:
        _sort_table(found, path, got.hits)


def _sort_named(found: Mentions, path: Path, root: Path) -> None:
    """The file ``path`` is named after a withdrawn study: removed with ``--apply`` when it is
    a per-study result (``erasure_names.removable``), else listed."""
    if path in found.removed or path in found.emptied:
        return  # removed already for what it holds
    kept = path in found.example_sets or path in found.embeddings or path in found.pickled
    kept = kept or (path.suffix.lower() == ".json" and _example_set(path) is not None)
    if not kept and erasure_names.removable(path, root, path in found.whole):
        found.removed.append(path)
        found.other = [p for p in found.other if p != path]
    else:
        found.named.append(path)


def _sort_table(found: Mentions, path: Path, hits: Hits) -> None:
    """A table (parquet or CSV) naming withdrawn studies: its ``study_id`` rows go, and it is
    listed when it names them elsewhere too (another column of rows kept: ``Hits.elsewhere``)
    or is another dataset's own table (its ingest's to change)."""
    if hits.found and not (path.parent / "dataset.json").is_file():
        _sort_rows(found, path, hits)
        if hits.elsewhere:
            found.other.append(path)
    elif hits.found or hits.elsewhere:
        found.other.append(path)


def _sort_rows(found: Mentions, path: Path, hits: Hits) -> None:
    """File ``path`` whose rows name withdrawn studies: an embedding file or a table."""
    if not hits.embeddings:
        found.rows[path] = hits.found
        if hits.every_row:
            found.whole.add(path)
            if path.suffix.lower() == ".npz":  # removed as an emptied embedding file is
                found.removed.append(path)
        return
    found.embeddings[path] = hits.found
    if hits.every_row:
        found.emptied.append(path)


def _sort(found: Mentions, path: Path, wanted: Wanted) -> None:
    """File ``path`` (it names a withdrawn study) under what is done with it."""
    ids = wanted.ids
    if path.suffix.lower() in erasure_text.SEPARATORS and (
        hits := erasure_text.table_hits(path, wanted)
    ):
        _sort_table(found, path, hits)
        return
    if path.suffix.lower() == ".json" and (example_set := _example_set(path)) is not None:
        named = set(example_set.positive) | set(example_set.negative)
        if hits := len(named & ids):
            found.example_sets[path] = hits
            return
    found.other.append(path)


def _example_set(path: Path) -> ExampleSet | None:
    """The few-shot example set ``path`` holds; None when it is not one (it is listed)."""
    try:
        return ExampleSet.load(path)
    except Exception:  # noqa: BLE001 - any file that is not an example set
        return None


def _evaluation_of(path: Path, root: Path) -> Path | None:
    """The evaluation folder (holding summary.json) ``path`` lies in, if any."""
    for folder in path.parents:
        if (folder / "summary.json").is_file():
            return folder
        if folder == root:
            return None
    return None


def rewrite_mentions(
    found: Mentions,
    ids: set[str],
    erased_at: str,
    studies: int,
    accessions: Iterable[str] = (),
) -> None:
    """Drop the withdrawn studies' rows (by ``study_id``, or by an accession-number column one
    of ``accessions``) and ids from the files ``found`` sorts so, and record the erasure in
    ``WITHDRAWN.json`` of each evaluation folder that named them."""
    held = frozenset(a.strip() for a in accessions if a.strip())
    for path in found.rows:
        if path.suffix.lower() == ".parquet":
            erasure_files.drop_parquet_rows(path, ids, held)
            continue
        if path.suffix.lower() == ".npz":
            erasure_arrays.drop_npz_rows(path, wanted_of(sorted(ids), held))
            continue
        erasure_text.drop_rows(path, ids, held)
    for path in found.embeddings:
        erasure_files.drop_embedding_rows(path, ids, erased_at)
    for path in found.example_sets:
        example_set = ExampleSet.load(path)
        example_set = replace(
            example_set,
            positive=tuple(s for s in example_set.positive if s not in ids),
            negative=tuple(s for s in example_set.negative if s not in ids),
        )
        example_set.save(path)
    for path in found.removed:
        path.unlink(missing_ok=True)
    for folder in found.evaluations:
        rows = sum(n for path, n in found.rows.items() if folder in path.parents)
        _note_evaluation(folder, {"erased_at": erased_at, "studies": studies, "rows": rows})


def _note_evaluation(folder: Path, erasure: dict) -> None:
    """Add ``erasure`` to the folder's WITHDRAWN.json (made when absent, kept when damaged:
    a new one is never written over a record it cannot read)."""
    path = folder / NOTE_FILE
    record: dict = {"note": EVALUATION_NOTE, "erasures": []}
    if path.is_file():
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError) as err:
            log.warning("%s cannot be read (%s); erasure not added to it", path, err)
            return
    record.setdefault("erasures", []).append(erasure)
    atomic_write_text(path, json.dumps(record, indent=2) + "\n")


EVALUATION_NOTE = (
    "Studies this evaluation was computed from have since been withdrawn (consent withdrawn) "
    "and erased: their per-study rows were removed from its tables; its figures (AUCs, "
    "summaries, report) are as computed then, with them. Run the evaluation again for figures "
    "without them."
)


def index_folders(root: Path) -> list[Path]:
    """Every embedded index folder (holding ``chroma.sqlite3``) under ``root``."""
    return sorted(db.parent.resolve() for db in root.rglob("chroma.sqlite3"))
