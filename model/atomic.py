"""Atomic file writes: write to a temporary sibling, fsync, ``os.replace``, then fsync the folder.

A reader (or a crash) never sees a half-written file; the previous version stays valid until the
new one is complete. The folder's fsync makes the new name itself survive a power cut: without
it the journal may still hold the folder's old entry, and a checkpoint or ``studies.parquet``
reported written could come back as its previous version (or, for a new file, not at all). ``atomic_create_text`` writes a file only where none exists yet (two
writers of one new name: the first wins, the second gets ``FileExistsError``). A killed writer can leave its hidden temporary behind;
``remove_stale_temps`` clears those once the caller holds the folder's writer lock.

A file gets the permissions a plain ``open()`` would give it (0666 less the process umask), so a
data root shared by a group through its umask stays shared; ``mode`` narrows one file (the
dataset's ``salt.key`` is 0600) before it becomes visible.
"""

from __future__ import annotations

import contextlib
import errno
import fnmatch
import json
import os
import shutil
import tempfile
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any, BinaryIO

_NO_HARD_LINKS = (errno.EPERM, errno.EOPNOTSUPP, errno.ENOTSUP)  # e.g. an SMB share
_TEMPORARY = ".*.tmp"  # the names _temporary_sibling gives: .<name>.<random>.tmp


def current_umask() -> int:
    """The process's file-creation mask, read without changing it where Linux allows."""
    with contextlib.suppress(OSError, ValueError):
        for line in Path("/proc/self/status").read_text().splitlines():
            if line.startswith("Umask:"):
                return int(line.split()[1], 8)
    mask = os.umask(0o022)
    os.umask(mask)
    return mask


def _temporary_sibling(path: Path, permissions: int | None) -> tuple[int, str]:
    """A new hidden temporary in ``path``'s folder, with the permissions ``path`` should get."""
    path.parent.mkdir(parents=True, exist_ok=True)
    try:
        fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    except OSError as err:
        raise _naming(err, path) from err
    os.fchmod(fd, 0o666 & ~current_umask() if permissions is None else permissions)
    return fd, tmp


def _naming(err: OSError, path: Path) -> OSError:
    """``err`` about ``path`` rather than its hidden temporary (or no file at all), so a message
    built from it ("No space left on device: ...") names the file the user asked for."""
    name = Path(err.filename).name if isinstance(err.filename, str) else ""
    temporary = name.startswith(f".{path.name}.") and name.endswith(".tmp")
    if err.errno is None or (name and not temporary):
        return err
    return OSError(err.errno, err.strerror or os.strerror(err.errno), str(path))


def sync_folder(folder: str | Path) -> None:
    """fsync ``folder`` so the names last moved or linked into it are on disk. Skipped where a
    folder cannot be opened or synced (some network shares refuse it): the file's own fsync is
    still done there, and no write fails for it."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        with contextlib.suppress(OSError):
            os.fsync(fd)
    finally:
        os.close(fd)


@contextlib.contextmanager
def _replacing(tmp: str, path: Path) -> Iterator[None]:
    """Move the temporary ``tmp`` onto ``path`` once the block has filled it; on any failure
    remove it instead, and name ``path`` (not the temporary) in an ``OSError``."""
    try:
        yield
        os.replace(tmp, path)
    except BaseException as err:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)
        if isinstance(err, OSError):
            raise _naming(err, path) from err
        raise
    sync_folder(path.parent)


@contextlib.contextmanager
def atomic_open(
    path: str | Path, mode: str = "wb", permissions: int | None = None
) -> Iterator[BinaryIO]:
    """Open a temporary file next to ``path``; on success it replaces ``path`` atomically."""
    path = Path(path)
    fd, tmp = _temporary_sibling(path, permissions)
    with _replacing(tmp, path), os.fdopen(fd, mode) as handle:
        yield handle
        handle.flush()
        os.fsync(handle.fileno())


def atomic_write_bytes(
    path: str | Path, data: bytes | memoryview, permissions: int | None = None
) -> None:
    with atomic_open(path, "wb", permissions) as handle:
        handle.write(data)


def atomic_write_text(path: str | Path, text: str, permissions: int | None = None) -> None:
    atomic_write_bytes(path, text.encode("utf-8"), permissions)


def atomic_create_text(path: str | Path, text: str) -> None:
    """Write ``path`` complete, only if no file of that name exists: ``FileExistsError`` when one
    does, or when another writer creates it first (a hard link fails on an existing name)."""
    path, data = Path(path), text.encode("utf-8")
    fd, tmp = _temporary_sibling(path, None)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        try:
            os.link(tmp, path)
        except OSError as err:
            if err.errno not in _NO_HARD_LINKS:
                raise
            with open(path, "xb") as handle:  # still exclusive, though seen while written
                handle.write(data)
                handle.flush()
                os.fsync(handle.fileno())
        sync_folder(path.parent)
    finally:
        with contextlib.suppress(FileNotFoundError):
            os.unlink(tmp)


def atomic_write_json(path: str | Path, obj: Any) -> None:
    atomic_write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=str) + "\n")


def read_json_object(path: str | Path) -> dict[str, Any]:
    """The JSON object a record file holds, or ``{}`` when it is missing, unreadable or holds
    something else (a record not yet written, or another program's file)."""
    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def atomic_write_with(path: str | Path, writer: Callable[[Path], None]) -> None:
    """Let ``writer`` fill a temporary path (e.g. ``df.to_parquet``), then move it into place."""
    path = Path(path)
    fd, tmp = _temporary_sibling(path, None)
    os.close(fd)
    with _replacing(tmp, path):
        writer(Path(tmp))
        with open(tmp, "rb") as handle:
            os.fsync(handle.fileno())


def atomic_link_or_copy(source: str | Path, target: str | Path) -> None:
    """Make ``target`` a copy of ``source`` atomically: a hard link where the file system has
    them (a later atomic replace of ``source`` makes a new file, so the link keeps the old
    content), else a copy written as every atomic file is; durable either way."""
    target = Path(target)
    fd, tmp = _temporary_sibling(target, None)
    os.close(fd)
    os.unlink(tmp)  # the name only: a link cannot be made over a file
    try:
        os.link(source, tmp)
    except OSError:
        atomic_write_with(target, lambda copy: shutil.copyfile(source, copy))
        return
    with _replacing(tmp, target):
        pass


def atomic_write_npz(path: str | Path, arrays: dict[str, Any], compressed: bool = False) -> None:
    """``numpy.savez`` (``savez_compressed`` if ``compressed``) of ``arrays`` (name -> array)
    to ``path``, whole or not at all."""
    import numpy as np  # here: the launcher's imports of this module stay light

    save = np.savez_compressed if compressed else np.savez

    def write(tmp: Path) -> None:
        with open(tmp, "wb") as handle:
            save(handle, **arrays)

    atomic_write_with(path, write)


def temporaries(folder: str | Path) -> list[Path]:
    """The hidden temporaries (``.<name>.*.tmp``) of the atomic writes in ``folder``: a writer's
    file in progress, or one a killed writer left behind."""
    return sorted(Path(folder).glob(_TEMPORARY))


def is_temporary(name: str) -> bool:
    """Whether the file name ``name`` is that of a temporary ``temporaries`` finds, for a caller
    that has listed the folder already."""
    return fnmatch.fnmatchcase(name, _TEMPORARY)


def remove_stale_temps(folder: str | Path) -> int:
    """Delete temporaries (``.<name>.*.tmp``) killed writers left in ``folder``; returns how many.

    Only call it while holding the lock that keeps other writers out of ``folder``.
    """
    removed = 0
    for tmp in temporaries(folder):
        with contextlib.suppress(FileNotFoundError):
            tmp.unlink()
            removed += 1
    return removed
