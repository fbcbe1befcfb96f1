"""An exclusive lock on one file that only one process holds at a time.

``FileLock`` takes an ``fcntl`` lock on a small file and writes its holder (pid and start time)
into it, so a second process can be told who holds it. The kernel drops the lock when
the holder exits, even when it is killed, so a crash never leaves a stale lock behind. Used by
the index writer (one writer per embedded Chroma folder), training (one process per run folder),
ingest (one per dataset folder), the demo build (one per root) and the dashboard's job launches.
``shared=True`` takes a lock many processes hold together, which keeps an exclusive holder out
(the writers of a dataset's embedding caches against the one tidying them; an index run writing
a dataset's studies against ``forget``). Shared holders write nothing, so the file may still
name a killed exclusive holder: an exclusive request refused by shared holders is told so
(``SHARED_HOLDERS``), never that stale pid.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import os
import time
from collections.abc import Callable
from pathlib import Path
from types import TracebackType

from model.clock import local_clock
from model.errors import UserError

_POLL_S = 0.2
SHARED_HOLDERS = "held shared by other processes"


class FileLock:
    """``with FileLock(path, busy):`` -- exclusive access while the block runs.

    ``busy(holder)`` is the message of the ``UserError`` raised when another process still holds
    the lock after ``wait_s`` seconds; ``holder`` reads like ``pid 123, since 10:04:05``, or is
    ``SHARED_HOLDERS`` when only shared holders keep an exclusive request out. A shared lock
    (``shared=True``) records no holder: there may be several. ``doing`` (e.g. "forget"), when
    given, is recorded beside the holder's pid for ``holder_doing`` to read.
    """

    def __init__(
        self,
        path: str | Path,
        busy: Callable[[str], str],
        wait_s: float = 0.0,
        shared: bool = False,
        doing: str = "",
    ):
        self.path = Path(path)
        self.busy = busy
        self.wait_s = wait_s
        self.shared = shared
        self.doing = doing
        self._fd: int | None = None

    def acquire(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        try:  # 0666 less the umask, as a plain open() gives: a lab's group may lock it too
            fd = os.open(self.path, os.O_RDWR | os.O_CREAT, 0o666)
        except PermissionError:  # another user's lock file in a shared folder: locks all the same
            fd = os.open(self.path, os.O_RDONLY)
        mode = fcntl.LOCK_SH if self.shared else fcntl.LOCK_EX
        deadline = time.monotonic() + self.wait_s
        while True:
            try:
                fcntl.flock(fd, mode | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    holder = _read_holder(fd) if self.shared or _exclusive(fd) else SHARED_HOLDERS
                    os.close(fd)
                    raise UserError(self.busy(holder)) from None
                time.sleep(_POLL_S)
            except OSError:  # no lock on this file system (or read-only there): no fd left open
                os.close(fd)
                raise
        self._fd = fd
        if self.shared:
            return
        # pid and time only: a command line may name a patient's folder (ingest's source), and a
        # killed holder's lock file outlives it in the dataset folder. Only a courtesy for the
        # next comer's message: on a full disk the lock holds without it.
        holder: dict[str, object] = {"pid": os.getpid(), "since": time.time()}
        if self.doing:
            holder["doing"] = self.doing
        with contextlib.suppress(OSError):
            os.ftruncate(fd, 0)
            os.pwrite(fd, json.dumps(holder).encode("utf-8"), 0)

    def release(self) -> None:
        if self._fd is None:
            return
        if not self.shared:
            with contextlib.suppress(OSError):
                os.ftruncate(self._fd, 0)
        fcntl.flock(self._fd, fcntl.LOCK_UN)
        os.close(self._fd)
        self._fd = None

    def __enter__(self) -> FileLock:
        self.acquire()
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        self.release()


def _exclusive(fd: int) -> bool:
    """Whether a process holds the lock exclusively (a shared request is refused too), rather
    than only shared holders, which the file does not name."""
    try:
        fcntl.flock(fd, fcntl.LOCK_SH | fcntl.LOCK_NB)
    except OSError:
        return True
    fcntl.flock(fd, fcntl.LOCK_UN)
    return False


def _read_holder(fd: int) -> str:
    """A short description of the lock holder from the lock file, e.g. ``pid 123``."""
    try:
        info = json.loads(os.pread(fd, 4096, 0).decode("utf-8") or "{}")
    except (OSError, ValueError):
        return "pid unknown"
    if "pid" not in info:
        return "pid unknown"
    try:
        return f"pid {info['pid']}, since {local_clock(info.get('since'))}"
    except ValueError:
        return f"pid {info['pid']}"


def holder_doing(path: Path) -> str:
    """What the exclusive holder of the lock ``path`` said it was doing (``FileLock``'s
    ``doing``; "" when it said nothing or the file cannot be read)."""
    try:
        info = json.loads(path.read_text(encoding="utf-8") or "{}")
    except (OSError, ValueError):
        return ""
    return str(info.get("doing", "")) if isinstance(info, dict) else ""
