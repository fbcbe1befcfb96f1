"""Keep freed tensor memory in the process instead of handing it back to the kernel (glibc).

A CPU training step allocates and frees tens of large tensors: a cpu-small batch's 2,304 frames
of 64 x 64 float32 are 37 MB, and every intermediate of that size is another one. glibc serves
each of them with a fresh ``mmap`` (above its mmap threshold) and returns it on free, so the next
step touches every page again: about 85,000 minor page faults per cpu-small step, a quarter to a
third of its time on a 2-core machine (bench/RESULTS.md, session 21). Raising the mmap and trim
thresholds lets the heap keep those pages and reuse them.

``tune_allocator()`` does that with ``mallopt`` when the process runs on glibc, and does nothing
elsewhere (macOS, musl) or when the environment already sets the thresholds (``MALLOC_*_``,
which glibc reads at start-up). The cost is memory: a process keeps up to its peak of freed
heap instead of returning it, which the package's commands (one job each, then exit) can afford;
the dashboard's long-lived server process does not call it.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import logging
import os
import sys
from collections.abc import Callable

log = logging.getLogger(__name__)

# mallopt parameters (malloc.h) and the values used: the largest a C int holds (2 GiB - 1).
M_TRIM_THRESHOLD = -1
M_MMAP_THRESHOLD = -3
KEEP_BYTES = 2**31 - 1
ENVIRONMENT_KEYS = ("MALLOC_MMAP_THRESHOLD_", "MALLOC_TRIM_THRESHOLD_")


def tune_allocator() -> bool:
    """Raise glibc's mmap and trim thresholds for this process; True when they were set.

    Safe to call more than once and on any platform: without glibc, or when the environment
    already chose the thresholds, it leaves the allocator alone and returns False.
    """
    if not sys.platform.startswith("linux"):
        return False
    if any(key in os.environ for key in ENVIRONMENT_KEYS):
        log.debug("allocator thresholds set by the environment; left as they are")
        return False
    mallopt = _glibc_mallopt()
    if mallopt is None:
        return False
    applied = (
        mallopt(M_MMAP_THRESHOLD, KEEP_BYTES) == 1 and mallopt(M_TRIM_THRESHOLD, KEEP_BYTES) == 1
    )
    log.debug("glibc mmap/trim thresholds raised to %d bytes: %s", KEEP_BYTES, applied)
    return applied


def _glibc_mallopt() -> Callable[[int, int], int] | None:
    """glibc's ``mallopt`` with its C signature, or None where the C library is not glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
    except OSError:
        return None
    if not hasattr(libc, "gnu_get_libc_version") or not hasattr(libc, "mallopt"):
        return None
    mallopt = libc.mallopt
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    mallopt.restype = ctypes.c_int
    return mallopt
