"""A memo of dataset fingerprints in the account's own cache, so the content is read once.

``model.data.fingerprint`` reads 16 KiB of every tensor (about 1.5 s at 20,000 studies), and
every process that opens the dataset asked again: the dashboard, each training run, each
evaluation. The memo keeps, per dataset folder (its absolute path) and list of studies, a
*stat signature* of every file the fingerprint reads (``studies.parquet`` and each tensor:
device, inode, size, modification and change times, in nanoseconds) with the fingerprint it
gave. When every file still stats the same, the fingerprint is the memo's; any difference
(a copy, a restore, a re-ingest, a touched file) and it is computed from the content again, so
a copy made without its times still gets the same fingerprint, as before.

What it assumes, as ``make`` and ``rsync`` do of modification times: a file whose content
changed does not stat the same. An edit that keeps the size and sets the modification time back
(``touch -d``, ``os.utime``, ``rsync`` of same-sized files) still changes the file's change
time (``ctime``), which no user can set, so it is caught. Not caught: a file system that keeps
no change time (some FUSE and SMB mounts report the modification time instead), a clock set
back to the very nanosecond, or a disk edited below the file system. A change within the clock
tick of the memo's own stat would look the same too ("racily clean", as git calls it), so a
memo is only written when every file last changed more than ``SETTLED_S`` before the
fingerprint began, and its files statted the same before and after it was read.

The memo lives under the account's cache (``model.process_setup.cache_home``: ``$CMR_CACHE_DIR``,
else ``$XDG_CACHE_HOME/cmr-clip``, else ``~/.cache/cmr-clip``), never in the dataset, which the
dashboard only reads and which may be read-only or shared, nor in a shared data root (a memo
another account could write would be a fingerprint it chose). One small JSON file per dataset,
written atomically; at most ``KEPT_MEMOS`` (the least recently used go). A cache that cannot be
written (a read-only home, none at all) only means the fingerprint is computed each time.
"""

from __future__ import annotations

import contextlib
import hashlib
import json
import logging
import os
import re
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from model.atomic import atomic_write_text, temporaries
from model.process_setup import cache_home
from model.schema import DatasetPaths

log = logging.getLogger(__name__)

SETTLED_S = 2.0  # newer changes may share a timestamp tick with the memo's stat (FAT: 2 s)
KEPT_MEMOS = 256  # one ~200-byte file per dataset folder and study list
STALE_TEMPORARY_S = 3600.0  # a killed writer's temporary, removed when the memo is tidied
_FINGERPRINT = re.compile(r"[0-9a-f]{16}")


def memo_folder() -> Path | None:
    """Where the memos are kept (None: this account has no cache folder)."""
    home = cache_home()
    return home / "fingerprints" if home is not None else None


def memoised(paths: DatasetPaths, ids: Sequence[str], compute: Callable[[], str]) -> str:
    """``compute()``, the fingerprint of the dataset at ``paths`` holding the sorted ``ids``,
    unless the memo holds it for files that all stat as they do now (see the module docstring)."""
    folder = memo_folder()
    if folder is None:
        return compute()
    files = [paths.studies, *(paths.tensor(study_id) for study_id in ids)]
    started = time.time_ns()
    before, newest = stat_signature(files)
    entry = folder / f"{_key(paths, ids)}.json"
    found = _read(entry)
    if found is not None and found.get("signature") == before:
        with contextlib.suppress(OSError):
            os.utime(entry)  # used: tidied last
        return str(found["fingerprint"])
    value = compute()
    if newest < started - int(SETTLED_S * 1e9) and stat_signature(files)[0] == before:
        _write(
            folder, entry, {"dataset": str(paths.root), "signature": before, "fingerprint": value}
        )
    return value


def stat_signature(files: Sequence[Path]) -> tuple[str, int]:
    """(a digest of every file's device, inode, size, mtime and ctime; the newest of those
    times, in ns since the epoch). A missing file counts as such, and has no time."""
    digest = hashlib.blake2b(digest_size=16)
    newest = 0
    for path in files:
        try:
            stat = os.stat(path)
        except OSError:
            digest.update(b"-;")
            continue
        mtime, ctime = stat.st_mtime_ns, stat.st_ctime_ns
        digest.update(f"{stat.st_dev}:{stat.st_ino}:{stat.st_size}:{mtime}:{ctime};".encode())
        newest = max(newest, mtime, ctime)
    return digest.hexdigest(), newest


def _key(paths: DatasetPaths, ids: Sequence[str]) -> str:
    """The memo's name: the dataset's absolute path and its studies."""
    digest = hashlib.blake2b(os.path.abspath(paths.root).encode(), digest_size=16)
    for study_id in ids:
        digest.update(f"\0{study_id}".encode())
    return digest.hexdigest()


def _read(entry: Path) -> dict | None:
    """The memo ``entry`` when it is one (None when missing, unreadable or not a memo)."""
    try:
        found = json.loads(entry.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(found, dict) or not _FINGERPRINT.fullmatch(str(found.get("fingerprint"))):
        return None
    return found


def _write(folder: Path, entry: Path, memo: dict[str, str]) -> None:
    """Write ``memo`` to ``entry`` and tidy the folder; a cache that cannot be written is said
    in the debug log only: the fingerprint is then computed each time, as without a memo."""
    try:
        folder.mkdir(parents=True, exist_ok=True, mode=0o700)
        atomic_write_text(entry, json.dumps(memo) + "\n")
    except OSError as err:
        log.debug("cannot keep the dataset fingerprint in %s: %s", folder, err)
        return
    _tidy(folder)


def _tidy(folder: Path) -> None:
    """Keep the ``KEPT_MEMOS`` most recently used memos, and no killed writer's temporary."""
    used: list[tuple[float, Path]] = []
    for path in folder.glob("*.json"):
        with contextlib.suppress(OSError):
            used.append((path.stat().st_mtime, path))
    used.sort(reverse=True)
    old = time.time() - STALE_TEMPORARY_S
    stale = [path for path in temporaries(folder) if _mtime(path) < old]
    for path in [path for _, path in used[KEPT_MEMOS:]] + stale:
        with contextlib.suppress(OSError):
            path.unlink()


def _mtime(path: Path) -> float:
    try:
        return path.stat().st_mtime
    except OSError:
        return float("inf")  # gone already: nothing to remove
