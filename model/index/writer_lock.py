"""One writer per embedded Chroma folder.

Chroma's embedded ``PersistentClient`` is not process-safe: two processes writing the same folder
can corrupt it. The index command therefore holds an exclusive lock (``model.file_lock``) on a
file *beside* the folder (``chroma.writer.lock`` next to ``chroma/``) for as long as it writes. A
second writer waits up to ``wait_s`` seconds and then stops with a message naming the holder; it
never touches the folder. The kernel drops the lock when the holder exits, even when it is
killed, so a crash never leaves a stale lock behind. Readers (the dashboard, ``python -m model
search``) take no lock.

A Chroma server (``chroma run``) serialises its writers itself and needs no lock.
"""

from __future__ import annotations

from pathlib import Path

from model.file_lock import FileLock


def lock_path_for(chroma_path: Path) -> Path:
    """``.../chroma`` -> ``.../chroma.writer.lock``."""
    return chroma_path.parent / f"{chroma_path.name}.writer.lock"


class WriterLock(FileLock):
    """``with WriterLock(chroma_path, wait_s=0):`` -- exclusive write access to one Chroma folder."""

    def __init__(self, chroma_path: str | Path, wait_s: float = 0.0):
        path = lock_path_for(Path(chroma_path))

        def busy(holder: str) -> str:
            return (
                f"another process ({holder}) is writing the index beside {path}; "
                "embedded Chroma allows one writer per folder: wait for it to finish, "
                "pass --wait SECONDS, or use a Chroma server (--chroma-host)"
            )

        super().__init__(path, busy, wait_s)
