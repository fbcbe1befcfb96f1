"""One writer per embedded Chroma folder.

Chroma's embedded ``PersistentClient`` is not process-safe: two processes writing the same folder
can corrupt it. The index command therefore holds an exclusive ``fcntl`` lock on a file *beside*
the folder (``chroma.writer.lock`` next to ``chroma/``) for as long as it writes. A second writer
waits up to ``wait_s`` seconds and then stops with a message naming the holder; it never touches
the folder. The kernel drops the lock when the holder exits, even when it is killed, so a crash
never leaves a stale lock behind. Readers (the dashboard, ``python -m model search``) take no lock.

A Chroma server (``chroma run``) serialises its writers itself and needs no lock.
"""

from __future__ import annotations

import fcntl
import json
import os
import sys
import time
from pathlib import Path
from types import TracebackType

from model.errors import UserError

_POLL_S = 0.2


def lock_path_for(chroma_path: Path) -> Path:
    """``.../chroma`` -> ``.../chroma.writer.lock``."""
    return chroma_path.parent / f"{chroma_path.name}.writer.lock"


class WriterLock:
    """``with WriterLock(chroma_path, wait_s=0):`` -- exclusive write access to one Chroma folder."""

    def __init__(self, chroma_path: str | Path, wait_s: float = 0.0):
        self.path = lock_path_for(Path(chroma_path))
        self.wait_s = wait_s
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o644)
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_holder(fd)
                    os.close(fd)
                    raise UserError(
                        f"another process ({holder}) is writing the index beside {self.path}; "
                        "embedded Chroma allows one writer per folder: wait for it to finish, "
                        "pass --wait SECONDS, or use a Chroma server (--chroma-host)"
                    ) from None
                time.sleep(_POLL_S)
        holder = {"pid": os.getpid(), "since": time.time(), "argv": sys.argv[:6]}
        os.ftruncate(fd, 0)
        os.pwrite(fd, json.dumps(holder).encode("utf-8"), 0)
        self._fd = fd

    def release(self) -> None:
        if self._fd is None:
            return
        os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> WriterLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _read_holder(fd: int) -> str:
    """A short description of the lock holder from the lock file, e.g. ``pid 123``."""
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode("utf-8") or "{}")
    except (OSError, ValueError):
        return "pid unknown"
    if "pid" not in info:
        return "pid unknown"
    started = time.strftime("%H:%M:%S", time.localtime(info.get("since", 0)))
    return f"pid {info['pid']}, since {started}"
