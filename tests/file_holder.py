"""A short-lived process that only holds a file open, its command line made to look like
whatever a test needs (a Chroma server's ``chroma run --path FOLDER``, a dashboard), for the
tests of ``model.index.folder_users`` and of the commands that refuse a served folder."""

from __future__ import annotations

import contextlib
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

_CODE = "import sys, time; f = open(sys.argv[1]); print('open', flush=True); time.sleep(60)"


@contextlib.contextmanager
def file_holder(held: Path, *argv: str, cwd: Path | None = None) -> Iterator[subprocess.Popen]:
    """A process holding ``held`` open whose command line ends in ``argv`` (e.g. ``"chroma",
    "run", "--path", str(folder)``); yielded once the file is open, killed on exit."""
    held.parent.mkdir(parents=True, exist_ok=True)
    held.touch()
    command = [sys.executable, "-c", _CODE, str(held), *argv]
    proc = subprocess.Popen(command, cwd=cwd, stdout=subprocess.PIPE, text=True)
    try:
        assert proc.stdout is not None and proc.stdout.readline() == "open\n"
        yield proc
    finally:
        proc.kill()
        proc.wait(timeout=20)
        if proc.stdout is not None:
            proc.stdout.close()


def server_on(folder: Path, *extra: str) -> contextlib.AbstractContextManager[subprocess.Popen]:
    """A process that looks like ``chroma run --path folder`` and holds its database open."""
    return file_holder(folder / "chroma.sqlite3", "chroma", "run", "--path", str(folder), *extra)
