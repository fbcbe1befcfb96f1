"""The cache keys of the dashboard's files: what changes when a file's content does.

Each cached resource (``dashboard/cache.py``) is keyed by file paths plus one of these, so a
retrained checkpoint or a re-ingested dataset is picked up without restarting the dashboard.
"""

from __future__ import annotations

import os
from pathlib import Path


def version_of(*paths: str | Path) -> tuple[float, ...]:
    """Modification times of ``paths`` (0.0 for a missing file): the cache key of their content."""
    out = []
    for path in paths:
        try:
            out.append(os.stat(path).st_mtime)
        except OSError:
            out.append(0.0)
    return tuple(out)


def append_version(path: str | Path) -> tuple[int, ...]:
    """(inode, size, mtime ns) of ``path``, () when it is missing: the cache key of a file that
    is appended to (a new line need not move a coarse mtime) or replaced whole."""
    try:
        stat = os.stat(path)
    except OSError:
        return ()
    return stat.st_ino, stat.st_size, stat.st_mtime_ns


def file_identity(path: str | Path) -> tuple[int, int]:
    """(device, inode) of ``path``: unchanged by writes, new when the file is replaced."""
    stat = os.stat(path)
    return stat.st_dev, stat.st_ino
