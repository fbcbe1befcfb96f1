"""How a training run is asked to stop: the signals it takes as "finish this step, save, end".

SIGTERM (the dashboard's Stop, ``systemctl stop``, ``scancel``, a Slurm preemption), SIGINT
(Ctrl-C) and SIGUSR1 (Slurm's ``--signal=USR1@SECONDS`` warning before a job's time limit, which
would otherwise kill the process by its default action) each stop the run after its current step
with ``last.pt`` saved, so that ``--resume`` (``--resume auto`` in a requeued job) continues it.
"""

from __future__ import annotations

import argparse
import logging
import signal
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

log = logging.getLogger(__name__)
STOP_SIGNALS: tuple[signal.Signals, ...] = (signal.SIGTERM, signal.SIGINT, signal.SIGUSR1)
RESUME_AUTO = "auto"


@contextmanager
def stop_requests() -> Iterator[list[bool]]:
    """``STOP_SIGNALS`` stop the run after its step, saving last.pt; a repeat is not logged."""
    flag = [False]

    def handler(signum: int, frame: object) -> None:
        if not flag[0]:  # marked first: a repeat arriving while the line is written re-enters
            flag[0] = True
            name = signal.Signals(signum).name
            log.warning("stop requested (%s); finishing the current step", name)

    previous = {}
    try:
        for sig in STOP_SIGNALS:
            previous[sig] = signal.signal(sig, handler)
    except ValueError:  # not the main thread: no signal handling
        pass
    try:
        yield flag
    finally:
        for sig, old in previous.items():
            signal.signal(sig, old)


def add_resume_argument(parser: argparse.ArgumentParser) -> None:
    """``--resume`` (continue the run in --out) and ``--resume auto`` (continue it if any)."""
    parser.add_argument(
        "--resume",
        nargs="?",
        const=True,
        choices=(RESUME_AUTO,),
        metavar=RESUME_AUTO,
        help="continue the run in --out; --resume auto continues it when it has a last.pt and "
        "starts it otherwise (one command for a Slurm job's first start and its requeues)",
    )


def resolve_resume(resume: bool | str | None, out: Path) -> bool:
    """``--resume auto``: continue the run in ``out`` when it has a ``last.pt``, else start it,
    so that one command line serves the first start and every requeue of a Slurm job. Every
    process of a run reads the same answer: none writes ``last.pt`` before all have joined."""
    if resume != RESUME_AUTO:
        return bool(resume)
    return (Path(out) / "last.pt").exists()
