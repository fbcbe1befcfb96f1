"""Per-study results written racing ``python -m model forget``: none names an erased study.

``evaluate``, ``zeroshot --out``, ``embed --out`` and the few-shot example sets the dashboard
saves read a dataset, work (minutes to hours) and then write per-study results: study ids, their
rows of scores, their vectors. A ``forget --apply`` meanwhile scans the data root (and the
``--also`` folders) for results naming the withdrawn studies (``model.erasure_scan``) before
these exist: written after it, they would name the erased studies while the erasure record says
they are gone.

So each writer commits its result (the final write or move) under ``committing``: every dataset
it read has its ingest lock held shared (``model.index.withdrawn_guard.during_write``, as an
``index`` run's write does): a ``forget`` cannot start meanwhile (it is refused, told what holds
the dataset), and one that runs is waited for (a forget takes seconds). Under it,
``withdrawn_since`` names the result's studies their dataset no longer holds (gone from
``studies.parquet`` or named in ``withdrawn.csv``: ``withdrawn_guard.still_held``), and
``erase_from`` applies to the result just what ``forget`` would have applied had it existed:
a CSV with a ``study_id`` column loses their rows, an example set their ids, an evaluation
folder gets ``WITHDRAWN.json`` (``erasure_scan.rewrite_mentions``). Either the result is
committed before the erasure, whose scan then finds it, or after it, without the studies. One
log line says how many studies, never which (a path naming one is redacted).
"""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path

import numpy as np

from model.erasure_names import redacted_path
from model.erasure_scan import Mentions, file_mentions, find_mentions, rewrite_mentions
from model.errors import DataError
from model.index.withdrawn_guard import WRITE_WAIT_S, during_write, still_held

log = logging.getLogger(__name__)


@contextlib.contextmanager
def committing(datasets: Iterable[Path], what: str, wait_s: float = WRITE_WAIT_S) -> Iterator[None]:
    """Hold the ingest lock of every dataset in ``datasets`` shared while the result ``what``
    (e.g. "this evaluation") is written: a forget running is waited for, up to ``wait_s``
    seconds; ``UserError`` saying ``what`` was not written when it still runs then."""
    unwritten = f"{what} was not written: try again when it has finished"
    with during_write([Path(p) for p in datasets], wait_s, unwritten):
        yield


def withdrawn_since(ids: Iterable[str], datasets: Iterable[Path]) -> set[str]:
    """The ``ids`` no dataset of ``datasets`` holds any longer (erased since they were read);
    call it under ``committing``. A dataset whose studies cannot be read is named in a warning
    and the ids are written unchecked (its folder moved or removed: nothing says they went)."""
    wanted = list(dict.fromkeys(str(i) for i in ids))
    held = np.zeros(len(wanted), dtype=bool)
    if not wanted:
        return set()
    for path in datasets:
        try:
            held |= still_held(Path(path), wanted)
        except (OSError, ValueError) as err:
            log.warning("%s: its studies cannot be read (%s); results written unchecked", path, err)
            return set()
    return {sid for sid, kept in zip(wanted, held, strict=True) if not kept}


def erase_from(outputs: list[Path], gone: set[str], what: str) -> None:
    """Apply to ``outputs`` (files, or an evaluation folder, just written) what ``forget``
    applies to results naming the studies ``gone``; ``what`` names the result in the log line.
    A file it may not rewrite (not a table with a ``study_id`` column, nor an example set) is
    named in a warning, for the user to remove or make again, as forget's report lists it
    (an embedding file, ``embed --out``'s format, loses their rows: ``model.erasure_files``)."""
    if not gone:
        return
    ids = sorted(gone)
    found = Mentions()
    for output in outputs:
        part = find_mentions(output, [], ids) if output.is_dir() else file_mentions([output], ids)
        found.add(part)
    stamp = time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime())
    rewrite_mentions(found, gone, stamp, len(gone))
    log.info(
        "%d studies of %s were withdrawn (erased by forget) while it was made: left out of it%s",
        len(gone),
        what,
        " (WITHDRAWN.json says so)" if found.evaluations else "",
    )
    for path in [*found.other, *found.named]:
        shown = redacted_path(str(path), ids)  # a name may hold a study's id
        log.warning("%s names studies withdrawn meanwhile: remove it or make it again", shown)
    for path in [*found.unread, *found.pickled]:
        shown = redacted_path(str(path), ids)
        log.warning("%s cannot be read: check it names no study withdrawn meanwhile", shown)


def write_without_withdrawn(
    output: Path,
    write: Callable[[], object],
    ids: Iterable[str],
    datasets: list[Path],
    what: str,
    wait_s: float = WRITE_WAIT_S,
) -> int:
    """``write()`` the file ``output`` naming the studies ``ids`` of ``datasets`` under
    ``committing``, then ``erase_from`` it those withdrawn since they were read; returns how
    many they were."""
    with committing(datasets, what, wait_s):
        write()
        gone = withdrawn_since(ids, datasets)
        erase_from([output], gone, what)
    return len(gone)


def keep_held(ids: list[str], datasets: Iterable[Path], what: str) -> np.ndarray:
    """Per id of ``ids`` (a result about to be written whole, e.g. a vectors file): whether it
    is still held; call it under ``committing``. Logs the count withdrawn, never the ids;
    ``DataError`` when every one of them was (nothing would be left to write)."""
    gone = withdrawn_since(ids, datasets)
    keep = np.array([sid not in gone for sid in ids], dtype=bool)
    if gone:
        log.info(
            "%d studies of %s were withdrawn (erased by forget) while it was made: left out",
            len(gone),
            what,
        )
    if ids and not keep.any():
        raise DataError(f"every study of {what} was withdrawn while it was made: nothing written")
    return keep
