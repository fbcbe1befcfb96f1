"""What a data root holds on disk, by kind, and removing the part of it that is made again.

A dashboard that has run for months on a lab server holds datasets, runs and evaluations
(what its users made: never removed here) beside files the product writes for itself. Most of
those are bounded where they are written: a dataset's embedding caches (``KEPT_CACHES`` most
recently used, ``model/embedding_cache.py``, with their maps, report sentences and prompt
vectors), the index's private copies (one per folder, ``model/index/private_copy.py``) and the
job records (``KEPT_JOBS`` per kind, ``model/job_records.py``). ``survey`` says what each kind
takes; ``clean_caches`` finds, and with ``apply`` removes, only what nothing reads again or what
is made again on its next use:

- embedding caches of a dataset's earlier version (another fingerprint than the dataset's now,
  e.g. caches named by the fingerprint of before 2026-12, which no ingest has tidied since),
  with everything tidying removes beside them; worked out under the dataset's ingest lock (the
  dataset cannot change meanwhile) and removed under the caches' writers lock (no cache being
  written is removed); a dataset an ingest is writing is left alone, and said so;
- temporaries of atomic writes (``.<name>.<random>.tmp``) and partial upload copies
  (``*.part``) untouched for more than a day: their writer was killed (a write takes seconds);
- embedding caches of a checkpoint no longer under the data root (a deleted run's: no checkpoint
  there has its fingerprint); a checkpoint elsewhere that still reads them embeds again. All are
  kept when one checkpoint under the root cannot be read (its fingerprint is unknown);
- the case index's collections of such checkpoints, never the active one's (``active.json``),
  a dead rebuild's leftovers and the files Chroma leaves of deleted collections, none in a
  folder a Chroma server serves (``model/storage_index.py``; a server only when asked);
- ended job records beyond the newest of their kind.

A dry run writes nothing under the root: checkpoints are read without writing their sidecars
(``checkpoint_facts(remember=False)``), an ingest's lock is tested with a shared lock (which
records no holder), and indexes are read with sqlite, read-only.

Sizes are the blocks a file takes on disk (a sparse index file counts what it uses).
"""

from __future__ import annotations

import logging
import os
import shutil
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING

from model import embedding_cache, job_records
from model.atomic import is_temporary, read_json_object
from model.errors import UserError
from model.file_lock import SHARED_HOLDERS, FileLock, holder_doing
from model.relocate import locate

if TYPE_CHECKING:
    from model.index.client import ChromaLocation

log = logging.getLogger(__name__)

KINDS = (
    "datasets",
    "embedding caches",
    "case indexes",
    "runs",
    "evaluations",
    "job records",
    "uploads",
    "demo sources",
    "saved sets",
    "other",
)
STALE_TEMPORARY_S = 24 * 3600.0
_RUN_MARKERS = frozenset({"status.json", "best.pt", "last.pt", "metrics.jsonl"})
_TOP_KINDS = {
    ("jobs",): "job records",
    ("evaluations",): "evaluations",
    ("imports", "uploads"): "uploads",
    ("demo", "raw"): "demo sources",
    ("prompts",): "saved sets",
    ("fewshot",): "saved sets",
}


@dataclass
class Usage:
    """How many files of one kind, and the bytes they take on disk."""

    files: int = 0
    bytes: int = 0


@dataclass
class Survey:
    """A data root's files by kind, its datasets, and the temporaries found in it (with when
    they were last modified) as ``survey`` saw them."""

    root: Path
    usage: dict[str, Usage] = field(default_factory=lambda: {kind: Usage() for kind in KINDS})
    datasets: list[Path] = field(default_factory=list)
    index_folders: list[Path] = field(default_factory=list)
    checkpoints: list[Path] = field(default_factory=list)
    temporaries: list[tuple[Path, float, int]] = field(default_factory=list)

    @property
    def total(self) -> Usage:
        return Usage(
            sum(u.files for u in self.usage.values()), sum(u.bytes for u in self.usage.values())
        )


@dataclass(frozen=True)
class Removal:
    """One file, folder or index collection ``clean_caches`` removes (or would), its size, why,
    and what else to say of it (an index's study count)."""

    path: Path
    bytes: int
    why: str
    detail: str = ""


@dataclass
class Cleaning:
    """What ``clean_caches`` found (``removals``), left and why (``skipped``), could not check
    (``notes``), compacts of the index databases (``databases``), and whether it removed them
    (``applied``; ``freed``: the bytes it did free)."""

    removals: list[Removal] = field(default_factory=list)
    skipped: list[str] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)
    databases: list[str] = field(default_factory=list)
    applied: bool = False
    freed: int = 0


def survey(root: Path) -> Survey:
    """Walk ``root`` once (links not followed) and sort every file into one of ``KINDS``."""
    found = Survey(Path(root))
    stack: list[tuple[Path, str | None]] = [(found.root, None)]
    while stack:
        folder, kind = stack.pop()
        try:
            entries = list(os.scandir(folder))
        except OSError:
            continue
        here = kind or _kind_of(folder, found.root, {entry.name for entry in entries})
        if here == "datasets" and kind is None:
            found.datasets.append(folder)
        if folder.name == "chroma" and any(e.name == "chroma.sqlite3" for e in entries):
            found.index_folders.append(folder)  # an embedded index (a dataset's own too)
        for entry in entries:
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append((Path(entry.path), _inner_kind(here, entry.name)))
                    continue
                stat = entry.stat(follow_symlinks=False)
            except OSError:
                continue
            usage = found.usage[here or "other"]
            usage.files += 1
            usage.bytes += stat.st_blocks * 512
            if entry.name.endswith(".pt"):
                found.checkpoints.append(Path(entry.path))
            if _is_leftover_name(entry.name, folder) and here != "case indexes":
                found.temporaries.append((Path(entry.path), stat.st_mtime, stat.st_blocks * 512))
    found.datasets.sort()
    found.index_folders.sort()
    return found


def _kind_of(folder: Path, root: Path, names: set[str]) -> str | None:
    """The kind of a folder no folder above it decided: by its marker files, or its place under
    the root; None leaves its files to ``other`` and its subfolders to decide their own."""
    if "studies.parquet" in names:
        return "datasets"
    if names & _RUN_MARKERS:
        return "runs"
    if folder.name == "chroma":
        return "case indexes"
    try:
        place = folder.relative_to(root).parts
    except ValueError:
        return None
    return _TOP_KINDS.get(place)


def _inner_kind(kind: str | None, name: str) -> str | None:
    if kind == "datasets" and name == "embeddings":
        return "embedding caches"
    if kind == "datasets" and name == "chroma":
        return "case indexes"
    return kind


def _is_leftover_name(name: str, folder: Path) -> bool:
    """An atomic write's temporary, or (in an uploads folder) a page's partial upload copy."""
    return is_temporary(name) or (folder.name == "uploads" and name.endswith(".part"))


def clean_caches(
    root: Path,
    apply: bool = False,
    now: float | None = None,
    server: ChromaLocation | None = None,
) -> Cleaning:
    """What of ``root`` (and of the Chroma ``server``'s index, when given) can go (see the
    module's docstring); removed only when ``apply``."""
    from model.storage_index import clean_indexes

    found = survey(root)
    cleaning = Cleaning(applied=apply)
    owners = checkpoint_fingerprints(found.checkpoints, cleaning.skipped)
    for dataset in found.datasets:
        _embedding_caches(dataset, owners, apply, cleaning)
    indexed = with_active(found.root, owners, cleaning.skipped)
    clean_indexes(found.index_folders, indexed, apply, cleaning, server)
    cutoff = (time.time() if now is None else now) - STALE_TEMPORARY_S
    old = [(path, size) for path, mtime, size in found.temporaries if mtime < cutoff]
    caches = {dataset / "embeddings" for dataset in found.datasets}
    for path, size in old:
        if path.parent in caches:
            continue  # tidying there removes them, under the writers lock
        cleaning.removals.append(Removal(path, size, "left by a write interrupted over a day ago"))
        if apply:
            cleaning.freed += _unlink(path, size)
    why = f"ended job records beyond the {job_records.KEPT_JOBS} newest of each kind"
    for folder in job_records.surplus_jobs(found.root / "jobs"):
        size = job_records.folder_bytes(folder)
        cleaning.removals.append(Removal(folder, size, why))
        if apply:
            cleaning.freed += _rmtree(folder, size)
    return cleaning


def checkpoint_fingerprints(checkpoints: list[Path], skipped: list[str]) -> set[str] | None:
    """The fingerprints of ``checkpoints`` (from their sidecars, else read with torch, no
    sidecar written); None, with a line in ``skipped``, when one cannot be read: its caches
    cannot be told apart, so none is removed for its checkpoint being gone."""
    from model.checkpoint_meta import checkpoint_facts, read_sidecar

    found = set()
    for checkpoint in checkpoints:
        try:
            facts = read_sidecar(checkpoint) or checkpoint_facts(checkpoint, remember=False)
        except (UserError, OSError, ValueError) as err:
            skipped.append(
                "caches and case indexes of checkpoints no longer under the data root: kept, "
                f"as {checkpoint} cannot be read ({_reason(err)})"
            )
            return None
        found.add(facts.meta.fingerprint)
    return found


def with_active(root: Path, owners: set[str] | None, skipped: list[str]) -> set[str] | None:
    """``owners`` and the fingerprint of the active checkpoint (``active.json``'s, which may lie
    outside the root); None, with a line in ``skipped``, when that one cannot be read."""
    from model.checkpoint_meta import checkpoint_facts

    active = locate(read_json_object(root / "active.json").get("checkpoint"), root, Path.is_file)
    if owners is None or active is None:
        return owners
    try:
        return owners | {checkpoint_facts(active.path, remember=False).meta.fingerprint}
    except (UserError, OSError, ValueError) as err:
        skipped.append(
            "case indexes of checkpoints no longer under the data root: kept, as the active "
            f"checkpoint {active.path} cannot be read ({_reason(err)})"
        )
        return None


def _embedding_caches(
    dataset: Path, owners: set[str] | None, apply: bool, cleaning: Cleaning
) -> None:
    """Add to ``cleaning`` what tidying ``dataset``'s caches with its present fingerprint and
    the checkpoints' (``owners``) removes, and remove it when ``apply``, under its ingest lock."""
    from model.data.store import LOCK_FILE

    caches = dataset / "embeddings"
    if not caches.is_dir():
        return

    def busy(holder: str) -> str:  # shared holders: index runs, result writers (named by none)
        doing = "" if holder == SHARED_HOLDERS else holder_doing(dataset / LOCK_FILE)
        return f"in use by {doing or 'an ingest, forget, index run or result writer'} ({holder})"

    # a dry run creates no lock file, and writes no holder into one: a shared lock
    lock = FileLock(dataset / LOCK_FILE, busy, shared=not apply, doing="storage clean-up")
    locking = apply or lock.path.exists()
    try:
        if locking:
            lock.acquire()
    except (UserError, OSError) as err:
        cleaning.skipped.append(f"{caches}: left as it is ({_reason(err)})")
        return
    try:
        fingerprint = _fingerprint(dataset)
        planned = embedding_cache.planned(caches, fingerprint, owners)
        cleaning.removals.extend(
            Removal(path, _blocks(path), f"embedding caches: {why}") for path, why in planned
        )
        if apply and planned:
            cleaning.freed += embedding_cache.tidy(caches, fingerprint, owners)
    except (UserError, OSError) as err:  # DataError too
        cleaning.skipped.append(f"{caches}: left as it is ({_reason(err)})")
    finally:
        if locking:
            lock.release()


def _fingerprint(dataset: Path) -> str:
    from model.data.dataset import CMRDataset

    return CMRDataset.open(dataset).fingerprint()


def _blocks(path: Path) -> int:
    try:
        return path.lstat().st_blocks * 512
    except OSError:
        return 0


def _unlink(path: Path, size: int) -> int:
    try:
        path.unlink()
    except OSError as err:
        log.warning("cannot remove %s: %s", path, err.strerror or err)
        return 0
    return size


def _rmtree(folder: Path, size: int) -> int:
    try:
        shutil.rmtree(folder)
    except OSError as err:
        log.warning("cannot remove %s: %s", folder, err.strerror or err)
        return 0
    return size


def _reason(err: Exception) -> str:
    return (err.strerror if isinstance(err, OSError) else None) or str(err)


def human_size(size: float) -> str:
    """``1.2 GB``-style size (decimal units, as ``df -H`` gives)."""
    if abs(size) < 1000:
        return f"{size:.0f} B"
    for unit in ("kB", "MB", "GB"):
        size /= 1000
        if abs(size) < 1000:
            return f"{size:.1f} {unit}"
    return f"{size / 1000:.1f} TB"
