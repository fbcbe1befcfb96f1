"""A folder tree this process cannot write, as a colleague's data root or a read-only mount is.

Without root, ``chmod -R a-w`` does it. Root ignores permission bits, so there the tree is made
immutable with ``chattr +i`` (which refuses writes to root too); where that is not allowed the
test is skipped. Either way the tree is writable again when the context ends.
"""

from __future__ import annotations

import contextlib
import os
import stat
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest


def _tree(root: Path) -> list[Path]:
    return [root, *sorted(root.rglob("*"))]


@contextlib.contextmanager
def read_only_tree(root: Path) -> Iterator[Path]:
    """``root`` and everything under it unwritable by this process while the context lasts."""
    if os.geteuid() != 0:
        modes = {path: stat.S_IMODE(path.lstat().st_mode) for path in _tree(root)}
        for path, mode in modes.items():
            path.chmod(mode & ~0o222)
        try:
            yield root
        finally:
            for path, mode in modes.items():
                path.chmod(mode)
        return
    chattr = ["chattr", "-R", "-f"]
    try:
        made = subprocess.run([*chattr, "+i", str(root)], capture_output=True, timeout=60)
    except OSError:
        made = None
    if made is None or made.returncode != 0 or os.access(root, os.W_OK):
        subprocess.run([*chattr, "-i", str(root)], capture_output=True, timeout=60)
        pytest.skip("running as root without chattr +i: cannot make a folder read-only")
    try:
        yield root
    finally:
        subprocess.run([*chattr, "-i", str(root)], capture_output=True, timeout=60, check=True)
