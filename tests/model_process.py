"""``python -m model ...`` as a separate process for the tests that stop or kill one midway."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from model.progress import PROGRESS_ENV

ROOT = Path(__file__).resolve().parent.parent


def spawn_model(
    args: list[str], log: Path, progress: Path | None = None, own_session: bool = False
) -> subprocess.Popen:
    """Start ``python -m model ARGS`` from the repository root, its output in ``log`` and its
    progress in ``progress`` when given. ``own_session``: a process group of its own, which a
    test signals whole (``os.killpg``) as the dashboard's Stop and Cancel do, workers included."""
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    if progress is not None:
        env[PROGRESS_ENV] = str(progress)
    with open(log, "wb") as handle:
        return subprocess.Popen(
            [sys.executable, "-m", "model", *args],
            cwd=ROOT,
            env=env,
            stdout=handle,
            stderr=handle,
            start_new_session=own_session,
        )
