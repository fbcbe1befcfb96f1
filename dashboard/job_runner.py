"""The runner every background job's command runs under (``dashboard/jobs.py`` starts it).

``python -m dashboard.job_runner JOBDIR -- CMD...`` leads the job's process group, waits for the
command and writes ``JOBDIR/result.json`` with its exit code, so the job's state is known from
disk alone.
"""

from __future__ import annotations

import contextlib
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

from dashboard.job import COMMAND_FILE
from model.atomic import atomic_write_json, read_json_object
from model.process_start import proc_start


def run(folder: Path, command: list[str]) -> int:
    """Runner body: run ``command`` in this process group, then write result.json. The stop
    signals are taken before the command starts: a service stop the moment after (the command
    already up, this runner not yet listening) killed the runner, and the job read "lost"."""
    started: list[subprocess.Popen] = []
    asked: list[int] = []  # stops that came before the command was there to be told

    def _forward(signum: int, _frame: Any) -> None:
        # A cancel signals the whole group, the command included: a second SIGTERM would cut
        # short what the first asked for (torchrun gives up waiting for its ranks to save).
        if read_json_object(folder / "job.json").get("cancel_requested"):
            return
        if not started:
            asked.append(signum)
            return
        with contextlib.suppress(ProcessLookupError):
            started[0].send_signal(signum)

    signal.signal(signal.SIGTERM, _forward)
    signal.signal(signal.SIGINT, _forward)
    started.append(subprocess.Popen(command))
    for signum in asked[:1]:  # the group's signal missed the command, not yet started
        _forward(signum, None)
    # the job reads running while this command runs, even if this runner is killed on its own;
    # without the record (a full disk) it reads as it did before there was one
    with contextlib.suppress(OSError):
        record = {"pid": started[0].pid, "proc_start": proc_start(started[0].pid)}
        atomic_write_json(folder / COMMAND_FILE, record)
    code = started[0].wait()
    atomic_write_json(folder / "result.json", {"returncode": code, "finished": time.time()})
    return 0


if __name__ == "__main__":
    if len(sys.argv) < 4 or sys.argv[2] != "--":
        sys.exit("usage: python -m dashboard.job_runner JOBDIR -- COMMAND...")
    sys.exit(run(Path(sys.argv[1]), sys.argv[3:]))
