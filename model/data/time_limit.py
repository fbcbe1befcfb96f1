"""A wall-time limit for reading one DICOM file or building one study during ingest.

A hostile or broken file can make a decoder spin; ``time_limit`` turns that into a skipped file
or study with a reason in the ingest report instead of an ingest that never ends.
"""

from __future__ import annotations

import contextlib
import signal
import threading
from collections.abc import Iterator

from model.errors import DataError

FILE_SECONDS = 20.0  # reading one file's header (ingest's first pass)
STUDY_SECONDS = 600.0  # building one study (ingest's second pass)


class TimeLimitExceeded(DataError):
    """A file or study took longer than its time limit (not swallowed by per-view handling)."""


@contextlib.contextmanager
def time_limit(seconds: float, what: str) -> Iterator[None]:
    """Raise ``TimeLimitExceeded`` if the block runs longer than ``seconds`` of wall time.

    Uses ``SIGALRM``, so it acts only in the main thread of a process on POSIX: ingest runs there
    (inline or in worker processes); anywhere else it does nothing.
    """
    if seconds <= 0 or not hasattr(signal, "setitimer"):
        yield
        return
    if threading.current_thread() is not threading.main_thread():
        yield
        return

    def expire(signum: int, frame: object) -> None:
        raise TimeLimitExceeded(f"{what} took longer than {seconds:g} s; skipped")

    previous = signal.signal(signal.SIGALRM, expire)
    signal.setitimer(signal.ITIMER_REAL, seconds)
    try:
        yield
    finally:
        signal.setitimer(signal.ITIMER_REAL, 0)
        signal.signal(signal.SIGALRM, previous)
