"""An index run racing ``python -m model forget``: no erased study is written back.

``index`` reads a dataset, embeds it (up to an hour) and then writes its records. A ``forget
--apply`` of one of its studies meanwhile erases the index first and the dataset last, all under
the dataset's ingest lock (``model.data.store.ingest_lock``): an index run that wrote the records
it read before would put the erased study (its id, impression and vector) back into the index,
while the erasure record says it is gone. Into an embedded folder the index's writer lock keeps
``forget`` out for the whole run; into a Chroma server, or a folder ``forget`` does not look at,
nothing did.

So the write phase (after the embedding, around the upsert or rebuild) holds each given
dataset's ingest lock shared (``during_write``): a ``forget`` cannot start meanwhile (it is
refused, told that an index run holds the dataset, ``model.file_lock.SHARED_HOLDERS``), and
one that runs is waited for. Under it ``without_withdrawn`` drops from the records every study
erased since they were read: those no longer in ``studies.parquet`` and those ``withdrawn.csv``
names (an erasure stopped before it changed the dataset). Either the write precedes the erasure,
which then removes it, or it follows the erasure and leaves the studies out. Several index runs
hold the lock together; the embedding itself holds nothing, so it blocks nobody. The commands
writing per-study results commit them the same way (``model.withdrawn_outputs``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from model.data.deid import load_or_create_salt
from model.data.store import LOCK_FILE
from model.data.withdrawn import read_withdrawn, study_hash
from model.errors import DataError, UserError
from model.file_lock import FileLock, holder_doing
from model.index.records import IndexRecords, dataset_identity
from model.schema import DatasetPaths

log = logging.getLogger(__name__)

# An ingest or forget changing a dataset is waited for at least this long after the embedding:
# a forget takes seconds to minutes, and giving up would waste the hour the embedding took.
WRITE_WAIT_S = 600.0


INDEX_UNWRITTEN = (
    "its studies were embedded but not written to the index: run the index command again when "
    "it has finished (a larger --wait waits longer)"
)


@contextlib.contextmanager
def during_write(
    datasets: list[Path], wait_s: float, unwritten: str = INDEX_UNWRITTEN
) -> Iterator[None]:
    """Hold every dataset's ingest lock shared (waiting up to ``wait_s`` seconds for each); a
    ``UserError`` naming the process changing it, then saying ``unwritten`` (what was not
    written and what to do), when it is still held then. A dataset whose
    lock file cannot be opened or locked (this user cannot create it in a folder of another
    account's; a file system without locks) is written unguarded, with a warning: the filter
    of ``without_withdrawn`` still leaves out what was erased before the write began."""
    with contextlib.ExitStack() as stack:
        for path in sorted({Path(p).resolve() for p in datasets}):
            busy = _busy(path, unwritten)
            lock = FileLock(path / LOCK_FILE, busy, wait_s=wait_s, shared=True)
            try:
                stack.enter_context(lock)
            except OSError as err:
                log.warning("%s: cannot lock it (%s); writing its studies unguarded", path, err)
        yield


def _busy(dataset: Path, unwritten: str) -> Callable[[str], str]:
    def busy(holder: str) -> str:
        doing = holder_doing(dataset / LOCK_FILE) or "ingest, forget or storage clean-up"
        return f"{dataset} is being changed by another command ({doing}: {holder}); {unwritten}"

    return busy


def without_withdrawn(records: IndexRecords, datasets: list[Path]) -> IndexRecords:
    """``records`` less the studies erased from their dataset since they were read (see the
    module docstring); call it under ``during_write``. Logs how many, never which."""
    keep = np.ones(len(records), dtype=bool)
    folders = np.array([str(m.get("dataset_folder", "")) for m in records.metadatas])
    for path in datasets:
        mine = folders == dataset_identity("", Path(path))["dataset_folder"]
        if mine.any():
            keep[mine] &= still_held(Path(path), [records.ids[i] for i in np.flatnonzero(mine)])
    dropped = int((~keep).sum())
    if not dropped:
        return records
    log.info("left out %d studies withdrawn (erased by forget) while this run embedded", dropped)
    if not keep.any():
        raise DataError("every study given was withdrawn while this run embedded: nothing to index")
    rows = np.flatnonzero(keep)
    return IndexRecords(
        ids=[records.ids[i] for i in rows],
        vectors=records.vectors[rows],
        metadatas=[records.metadatas[i] for i in rows],
        documents=[records.documents[i] for i in rows],
        labels=records.labels,
    )


def still_held(dataset: Path, ids: list[str]) -> np.ndarray:
    """Per id: whether ``dataset`` still holds it and ``withdrawn.csv`` does not name it."""
    studies = DatasetPaths(dataset).studies
    held = set(pd.read_parquet(studies, columns=["study_id"])["study_id"])
    kept = np.array([sid in held for sid in ids], dtype=bool)
    withdrawn = read_withdrawn(dataset)
    if not withdrawn:
        return kept
    try:
        salt = load_or_create_salt(dataset, create=False)
    except (OSError, UserError) as err:  # another user's salt.key: studies.parquet says enough
        log.debug("%s: withdrawn.csv not read (%s)", dataset, err)
        return kept
    return kept & np.array([study_hash(salt, sid) not in withdrawn for sid in ids], dtype=bool)
