"""Housekeeping of a dataset's study-embedding caches, ``DATASET/embeddings/``.

``cached_study_embeddings`` (``model/embed.py``) keeps one ``<checkpoint fp>-<dataset fp>.npz``
per checkpoint it embedded the dataset with: about 100 MB at 50,000 studies of 512-d vectors.
``tidy`` keeps the folder bounded, removing

- caches of a dataset fingerprint other than the dataset's current one: they can never be read
  again. Only ingest knows the current fingerprint for sure (it holds the ingest lock, so the
  dataset cannot change under it), so ingest removes these once it has changed the dataset;
- when asked (``python -m model storage --clean-caches``), the caches of a checkpoint no longer
  under the data root (a deleted run's: no checkpoint there has its fingerprint);
- the least recently used caches beyond ``KEPT_CACHES`` (a cache is used when it is written or
  read; a read is recorded as a write to the cache's use mark, ``.<cache name>.used``, so the
  cache file's modification time, which the dashboard and the maps key on, stays unchanged);
- the temporaries of writers killed mid-write;
- the Embeddings page's maps of a removed cache (``<cache name>.map-<key>.npz``,
  ``model/projection_store.py``), its report sentences (``<cache name>.sentences.npz``,
  ``model/sentence_store.py``) and its use mark, which are never counted as caches themselves;
- the prompt vectors of a checkpoint (``<checkpoint fp>.texts.npz``, ``model/text_store.py``)
  once no cache of that checkpoint is kept: every page that reads prompts needs its study
  embeddings too. A store is never counted as a cache either.

When a cache was last used is read from modification times only, each stamped by the file
system that holds the folder (a file server's clock, on a data root several machines share), so
their order never depends on this machine's clock (``dashboard/file_clock.py`` says why). A use
mark is written, not given a time: any user who may write the folder records a use, also of a
cache or a mark another account wrote (only a file's owner may set its times). Where that is not
allowed either, the log says so once per folder.

Writers hold ``.writers.lock`` shared while they write into the folder (``writing``); ``tidy``
takes it exclusively and leaves everything as it is while a writer is busy, so it never removes
a file being written. A reader that has a cache open goes on reading it after it is removed
(POSIX); one that has not yet opened it computes it again. Other files in the folder (an
``embed --out`` a user put there) are never removed.
"""

from __future__ import annotations

import contextlib
import logging
import os
import re
from collections.abc import Collection, Iterator
from pathlib import Path
from typing import Any

from model.atomic import atomic_write_npz, is_temporary
from model.errors import UserError
from model.file_lock import FileLock

log = logging.getLogger(__name__)

KEPT_CACHES = 16  # x 100 MB at 50,000 studies; a study's tensor alone is 0.6 MB
WRITERS_LOCK = ".writers.lock"
_CACHE_NAME = re.compile(r"^([0-9a-f]+)-([0-9a-f]{16})\.npz$")
_MAP_NAME = re.compile(r"^([0-9a-f]+-[0-9a-f]{16})\.map-[0-9a-f]+\.npz$")
_USE_MARK = re.compile(r"^\.([0-9a-f]+-[0-9a-f]{16})\.npz\.used$")
_SENTENCES_NAME = re.compile(r"^([0-9a-f]+-[0-9a-f]{16})\.sentences\.npz$")
_TEXT_STORE = re.compile(r"^([0-9a-f]+)\.texts\.npz$")
_WRITER_WAIT_S = 60.0  # tidying holds the lock for as long as a few unlinks take
_UNRECORDED: set[Path] = set()  # folders whose caches' use could not be recorded (said once)


@contextlib.contextmanager
def writing(folder: Path) -> Iterator[None]:
    """Hold ``folder``'s writers lock (shared with other writers) while the block writes a file
    there; ``OSError`` when the lock cannot be taken (a folder that cannot be written)."""

    def busy(holder: str) -> str:
        return f"the embedding caches in {folder} are being tidied ({holder})"

    with FileLock(folder / WRITERS_LOCK, busy, wait_s=_WRITER_WAIT_S, shared=True):
        yield


def keep_beside(path: Path, arrays: dict[str, Any]) -> str | None:
    """Write ``arrays`` to ``path`` in a caches folder (a map, report sentences: files that only
    save time) atomically under the writers lock; None once written, else why it could not be
    (a folder shared read-only, a tidy holding the lock), for the caller's one log line. A file
    made from a cache that is gone (a ``forget`` changed the dataset and tidied the caches while
    it was made) is not written: it would keep the erased studies' ids or report sentences."""
    try:
        with writing(path.parent):
            owner = _owner(path.name)
            if owner and not (path.parent / owner).is_file():
                return f"its embedding cache {owner} was removed meanwhile"
            atomic_write_npz(path, arrays)
    except (OSError, UserError) as err:
        return str(getattr(err, "strerror", None) or err)
    return None


def record_use(path: Path) -> None:
    """Mark the cache ``path`` as just used, so ``tidy`` removes it last: a write to its use mark,
    stamped by the file system's clock. Where the folder cannot be written (a dataset shared
    read-only, another account's folder) the log says so, once per folder."""
    if not path.is_file():
        return  # tidied away since: a mark would only be removed again
    mark = _use_mark(path)
    try:
        try:
            _write_mark(mark)
        except PermissionError:  # another account's mark: replaced, as the folder allows
            mark.unlink(missing_ok=True)
            _write_mark(mark)
    except OSError as err:
        if path.parent not in _UNRECORDED:
            _UNRECORDED.add(path.parent)
            log.warning(
                "cannot record the use of the embedding caches in %s (%s); tidying by a user "
                "who can write there may remove one still in use before older ones",
                path.parent,
                err.strerror or err,
            )


def last_use(path: Path) -> float:
    """When the cache ``path`` was last written or read, on the file system's clock (0 when it
    is gone)."""
    try:
        written = path.stat().st_mtime
    except OSError:
        return 0.0
    try:
        return max(written, _use_mark(path).stat().st_mtime)
    except OSError:  # never read since it was written
        return written


def is_cache_name(name: str) -> bool:
    """Whether ``name`` is that of a cache file (``<checkpoint fp>-<dataset fp>.npz``)."""
    return _CACHE_NAME.match(name) is not None


def is_derived_name(name: str) -> bool:
    """Whether ``name`` is that of a file made from one cache (its map, report sentences or
    use mark), named after it."""
    return _owner(name) != ""


def map_file(cache: Path, key: str) -> Path:
    """Where the map keyed ``key`` (hex) of the embedding cache ``cache`` is kept: beside it,
    named after it, so ``tidy`` removes it with its cache."""
    return cache.with_name(f"{cache.stem}.map-{key}.npz")


def sentences_file(cache: Path) -> Path:
    """Where the report sentences read by the checkpoint of the embedding cache ``cache`` are
    kept (``model/sentence_store.py``): beside it, named after it, so ``tidy`` removes them
    with it."""
    return cache.with_name(f"{cache.stem}.sentences.npz")


def text_store_file(folder: Path, fingerprint: str) -> Path | None:
    """Where the prompt vectors of the checkpoint ``fingerprint`` are kept in ``folder``
    (``model/text_store.py``); None for a fingerprint that is not hex (no file is named after
    it)."""
    path = folder / f"{fingerprint}.texts.npz"
    return path if _TEXT_STORE.match(path.name) else None


def tidy(
    folder: Path, data_fingerprint: str | None = None, checkpoints: Collection[str] | None = None
) -> int:
    """Remove from ``folder`` the caches of another dataset fingerprint than ``data_fingerprint``
    (when given: only while the dataset cannot change), those of a checkpoint fingerprint not in
    ``checkpoints`` (when given: every checkpoint that may still read them), the least
    recently used beyond ``KEPT_CACHES``, the maps and use marks of the caches removed (or gone)
    and writers' temporaries; logs what it frees and returns the bytes freed. Does nothing while
    a writer is busy or when the folder cannot be written."""
    if not folder.is_dir():
        return 0
    lock = FileLock(folder / WRITERS_LOCK, lambda holder: holder)
    try:
        lock.acquire()
    except (UserError, OSError) as err:
        log.debug("embedding caches in %s left as they are: %s", folder, err)
        return 0
    try:
        removed = {
            why: [size for size in map(_remove, paths) if size is not None]
            for why, paths in _doomed(folder, data_fingerprint, checkpoints).items()
        }
    finally:
        lock.release()
    freed = sum(sum(sizes) for sizes in removed.values())
    if any(removed.values()):
        counts = ", ".join(f"{len(sizes)} {why}" for why, sizes in removed.items() if sizes)
        log.info("freed %.1f MB of embedding caches in %s: %s", freed / 1e6, folder, counts)
    return freed


def planned(
    folder: Path, data_fingerprint: str | None = None, checkpoints: Collection[str] | None = None
) -> list[tuple[Path, str]]:
    """What ``tidy(folder, data_fingerprint, checkpoints)`` would remove now, each file with the
    reason, and remove nothing: the dry run of ``python -m model storage --clean-caches``."""
    if not folder.is_dir():
        return []
    doomed = _doomed(folder, data_fingerprint, checkpoints)
    return [(path, why) for why, paths in doomed.items() for path in paths]


def _doomed(
    folder: Path, data_fingerprint: str | None, checkpoints: Collection[str] | None = None
) -> dict[str, list[Path]]:
    """The files ``tidy`` removes from ``folder``, by the reason it removes them; the folder is
    listed once (a shared data root's file server answers each listing over the network)."""
    listed = sorted(folder.iterdir())
    caches = [p for p in listed if _CACHE_NAME.match(p.name)]
    stale = [p for p in caches if data_fingerprint and _data_fingerprint(p) != data_fingerprint]
    owners = None if checkpoints is None else set(checkpoints)
    unowned = [p for p in caches if owners is not None and _checkpoint_of(p) not in owners]
    gone = set(stale) | set(unowned)
    current = sorted((p for p in caches if p not in gone), key=last_use, reverse=True)
    kept = {p.name for p in current[:KEPT_CACHES]}
    orphans = [p for p in listed if _owner(p.name) not in ("", *kept)]
    return {
        "of an earlier version of the dataset": stale,
        "of a checkpoint no longer under the data root": [p for p in unowned if p not in stale],
        f"least recently used beyond {KEPT_CACHES}": current[KEPT_CACHES:],
        "maps of removed caches": [p for p in orphans if _MAP_NAME.match(p.name)],
        "report sentences of removed caches": [p for p in orphans if _SENTENCES_NAME.match(p.name)],
        "use marks of removed caches": [p for p in orphans if _USE_MARK.match(p.name)],
        "prompt vectors of checkpoints without a kept cache": _orphan_stores(listed, kept),
        "left by an interrupted write": [p for p in listed if is_temporary(p.name)],
    }


def _orphan_stores(listed: list[Path], kept: set[str]) -> list[Path]:
    """The prompt-vector stores in ``listed`` of a checkpoint none of the ``kept`` caches is of."""
    checkpoints = {match.group(1) for match in map(_CACHE_NAME.match, kept) if match}
    stores = ((p, _TEXT_STORE.match(p.name)) for p in listed)
    return [p for p, match in stores if match and match.group(1) not in checkpoints]


def _owner(name: str) -> str:
    """The name of the cache a map (fitted from it), its report sentences or a use mark
    (recording its reads) is named after; "" for any other file."""
    match = _MAP_NAME.match(name) or _USE_MARK.match(name) or _SENTENCES_NAME.match(name)
    return f"{match.group(1)}.npz" if match else ""


def _checkpoint_of(path: Path) -> str:
    match = _CACHE_NAME.match(path.name)
    return match.group(1) if match else ""


def _data_fingerprint(path: Path) -> str:
    match = _CACHE_NAME.match(path.name)
    return match.group(2) if match else ""


def _use_mark(cache: Path) -> Path:
    """The file whose modification time records the last read of ``cache``."""
    return cache.with_name(f".{cache.name}.used")


def _write_mark(mark: Path) -> None:
    """Write ``mark`` (created or emptied, then one byte): a write, which a file server stamps
    with its own clock (setting a time would stamp this machine's)."""
    handle = os.open(mark, os.O_WRONLY | os.O_CREAT | os.O_TRUNC, 0o666)  # less the umask
    try:
        os.write(handle, b"\n")
    finally:
        os.close(handle)


def _remove(path: Path) -> int | None:
    """Unlink ``path``; the bytes it freed, or None when it was gone already or cannot be
    removed (a dataset shared read-only)."""
    try:
        size = path.stat().st_size
        path.unlink()
    except OSError:
        return None
    return size
