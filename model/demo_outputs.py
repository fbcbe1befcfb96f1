"""What a finished demo stage left on disk, recorded so that a later build reuses only intact
output.

The demo build resumes per site and reuses what an earlier build produced. A folder that merely
exists is not proof: a killed copy or a half-deleted folder would be ingested or trained on, and
fail later with a confusing error or quietly train on part of the data. When a site's generate or
ingest command finishes, the number and total size of the files in its output folder are recorded
(``demo/records/<stage>-<site>.json``); a later build reuses the folder only while both still match
(one ``stat`` per file) and otherwise clears it and runs the command again, saying why.
"""

from __future__ import annotations

import json
import logging
import os
import shutil
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from model.atomic import atomic_write_json

log = logging.getLogger(__name__)


def fingerprint(folder: Path, ignore: frozenset[str] = frozenset()) -> dict[str, int]:
    """``{"files": N, "bytes": B}`` of ``folder``, less top-level entries named in ``ignore``.

    Temporary files of an atomic write in progress (``.NAME.*.tmp``) are not counted.
    """
    files = size = 0
    for top, folders, names in os.walk(folder):
        if Path(top) == folder:
            folders[:] = [name for name in folders if name not in ignore]
            names = [name for name in names if name not in ignore]
        for name in names:
            if name.startswith(".") and name.endswith(".tmp"):
                continue
            files += 1
            size += os.stat(os.path.join(top, name), follow_symlinks=False).st_size
    return {"files": files, "bytes": size}


def _describe(counts: dict[str, int]) -> str:
    return f"{counts.get('files', 0)} files of {counts.get('bytes', 0):,} bytes"


@dataclass(frozen=True)
class StageOutput:
    """One site's output folder of a resumable demo stage, and the record of its completion.

    ``ignore``: top-level names that later steps add or change (a dataset's embedding cache).
    ``keep``: says which top-level entries survive when a damaged output is cleared.
    """

    folder: Path
    record: Path
    ignore: frozenset[str] = frozenset()
    keep: Callable[[Path], bool] = lambda path: False

    def damage(self) -> str | None:
        """None when the recorded output is intact; else why it cannot be reused ("" if absent)."""
        if not self.record.is_file():
            if self.folder.is_dir() and any(self.folder.iterdir()):
                return "it has no record of having finished (an interrupted or older build)"
            return ""
        try:
            recorded = json.loads(self.record.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            return "its completion record is unreadable"
        if not self.folder.is_dir():
            return "the folder is missing"
        found = fingerprint(self.folder, self.ignore)
        if found != recorded:
            return (
                f"it holds {_describe(found)} where the finished stage left {_describe(recorded)}"
            )
        return None

    def clear(self) -> None:
        """Remove the record, then the folder's content (less what ``keep`` keeps)."""
        self.record.unlink(missing_ok=True)
        if not self.folder.is_dir():
            return
        for child in self.folder.iterdir():
            if self.keep(child):
                continue
            if child.is_dir() and not child.is_symlink():
                shutil.rmtree(child)
            else:
                child.unlink()

    def finish(self) -> None:
        """Record the folder as the stage left it."""
        atomic_write_json(self.record, fingerprint(self.folder, self.ignore))


def reusable(output: StageOutput, stage: str) -> bool:
    """True when ``output`` is intact; otherwise clears it (saying why) so the stage can redo it."""
    why = output.damage()
    if why is None:
        return True
    if why:
        log.warning("demo %s: %s cannot be reused: %s; redoing it", stage, output.folder, why)
        output.clear()
    return False
