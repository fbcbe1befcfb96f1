"""Home's one line on what the data root takes on disk (``model.storage.survey``), for the admin
of a dashboard that has run for months.

Counting walks every file of the root: 1.6 s for a demo root's 137,000 files (most of them its
generated DICOM) on a shared 2-core machine (bench/RESULTS.md), too slow for every Home visit. So
the count runs in a background thread at most once per ``REFRESH_S`` per root, and the page
shows the last one finished (nothing until the first has). One figure per root is kept: the
server's memory does not grow with visits.
"""

from __future__ import annotations

import threading
import time
from pathlib import Path

from model.storage import KINDS, Usage, human_size, survey

REFRESH_S = 600.0
SHOWN_KINDS = 4  # the largest kinds named; the rest are in the total
_LOCK = threading.Lock()
# root -> (when its last count started, the last count finished: usage by kind, or None)
_COUNTS: dict[Path, tuple[float, dict[str, Usage] | None]] = {}


def storage_line(root: Path, now: float | None = None, wait: bool = False) -> str:
    """``On disk: 1.9 GB (demo sources 1.1 GB, datasets 772.3 MB, ...)`` as last counted; ""
    before the first count has finished (or for an empty root). A count older than
    ``REFRESH_S`` starts a new one in the background (``wait``: and waits for it)."""
    now = time.monotonic() if now is None else now
    with _LOCK:
        started, usage = _COUNTS.get(root, (None, None))
        counter = None
        if started is None or now - started > REFRESH_S:
            _COUNTS[root] = (now, usage)
            counter = threading.Thread(
                target=_count, args=(root, now), name="storage-count", daemon=True
            )
            counter.start()
    if counter is not None and wait:
        counter.join()
        usage = _COUNTS[root][1]
    return "" if usage is None else usage_line(usage)


def usage_line(usage: dict[str, Usage]) -> str:
    """The total and the ``SHOWN_KINDS`` largest kinds, with where to see and clean the rest."""
    total = sum(u.bytes for u in usage.values())
    if not total:
        return ""
    largest = sorted((k for k in KINDS if usage[k].bytes), key=lambda k: -usage[k].bytes)
    kinds = ", ".join(f"{kind} {human_size(usage[kind].bytes)}" for kind in largest[:SHOWN_KINDS])
    return (
        f"On disk: {human_size(total)} ({kinds}). "
        "`python -m model storage --clean-caches` lists it all and the caches that can go."
    )


def _count(root: Path, started: float) -> None:
    usage = survey(root).usage
    with _LOCK:
        if _COUNTS.get(root, (None,))[0] == started:  # no later count has started since
            _COUNTS[root] = (started, usage)
