"""``python -m model train --nproc N``: the same run as ``torchrun --standalone --nproc_per_node N
-m model train ...``, launched through ``torch.distributed.run``'s own API from this process.

Why: a process of a torchrun run that stops (a refused argument, a lost peer) has already said why
in one line, but torchrun then raises ``ChildFailedError`` and prints its traceback and a report
box after it. Here the failure becomes one more line and the exit status of the process that
failed first; plain torchrun keeps working (multi-node runs need it).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import os
import signal
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path
from shlex import quote
from types import FrameType

from model.errors import UserError
from model.training.slurm import slurm_task

log = logging.getLogger(__name__)
LAUNCHER_ENV = "CMR_TRAIN_LAUNCHER"  # the launcher's pid, in the environment of its processes
REFUSED = 2  # the exit status of a process that refused its arguments (its line says why)


def add_launch_argument(parser: argparse.ArgumentParser) -> None:
    """``--nproc N``: start N local processes (one per GPU; gloo on the CPU)."""
    parser.add_argument(
        "--nproc",
        metavar="N",
        type=int,
        help="train in N processes on this machine (one per GPU), as torchrun --standalone "
        "--nproc_per_node N does, with a failure said in one line",
    )


def wants_launch(args: argparse.Namespace) -> bool:
    """Whether this process should start the run's processes instead of training itself."""
    if args.nproc is None:
        return False
    if "WORLD_SIZE" in os.environ:
        raise UserError("--nproc starts the processes itself: under torchrun leave it out")
    if slurm_task(os.environ) is not None:  # each of srun's tasks would start N more
        raise UserError(
            "--nproc starts the processes itself: under srun with several tasks leave it out"
        )
    if args.nproc < 1:
        raise UserError(f"--nproc must be >= 1, got {args.nproc}")
    return True


def child_argv(argv: Sequence[str]) -> list[str]:
    """``argv`` (the command line after ``python -m model``) without ``--nproc N``."""
    kept: list[str] = []
    skip = False
    for arg in argv:
        if skip:
            skip = False
        elif arg == "--nproc":
            skip = True
        elif not arg.startswith("--nproc="):
            kept.append(arg)
    return kept


def train_command(
    data: Path, out: Path, processes: int, environ: Mapping[str, str] = os.environ
) -> str:
    """The command that trains ``out`` on ``data`` again (with ``--resume`` added, continues
    it) in as many processes as before: a run's global batch is split over them. A run that
    ``srun`` started, or torchrun on several machines, is started the same way again: ``--nproc``
    would put all its processes on one machine."""
    args = f"--data {quote(str(data))} --out {quote(str(out))}"
    if processes > 1 and "SLURM_PROCID" in environ and "TORCHELASTIC_RUN_ID" not in environ:
        return f"srun python -m model train {args}"
    if processes > 1 and environ.get("LOCAL_WORLD_SIZE", str(processes)) != str(processes):
        return f"torchrun TORCHRUN_OPTIONS -m model train {args}"  # on each machine, as before
    nproc = f" --nproc {processes}" if processes > 1 else ""
    return f"python -m model train{nproc} {args}"


def launch(nproc: int, argv: Sequence[str]) -> int:
    """Run ``python -m model`` + ``argv`` (less ``--nproc``) in ``nproc`` local processes; the exit
    status of the one that failed first, 0 when all finished."""
    from torch.distributed.elastic.multiprocessing.api import SignalException
    from torch.distributed.elastic.multiprocessing.errors import ChildFailedError
    from torch.distributed.run import parse_args, run

    launcher = parse_args(
        ["--standalone", "--nproc_per_node", str(nproc), "-m", "model", *child_argv(argv)]
    )
    try:
        with _quiet_agent(), _handlers_kept(), _stop_asked_once(), _launcher_known():
            run(launcher)  # torchrun's main, less its @record report and traceback
    except ChildFailedError as err:
        return _failure_status(err, nproc)
    except SignalException as err:  # a Stop or Cancel: each process was asked to save and end
        name = signal.Signals(err.sigval).name
        log.error("stopped by %s; each process's own lines above say where it stopped", name)
        return 128 + int(err.sigval)
    return 0


def _failure_status(err: object, nproc: int) -> int:
    """Say in one line which process failed first, and return its exit status.

    A refusal is said by the process itself, but its line does not name it: one that refuses
    after joining the group (a bad --val-labels file only rank 0 reads) leaves the others
    ending with "another process ... ended", so this line says which one it was.
    """
    rank, failure = _first_own_failure(err)
    code = int(failure.exitcode)
    if code == REFUSED:
        if nproc > 1:
            log.error(
                "process %d of this %d-process run refused first (its own line above says "
                "why); the others were stopped",
                rank,
                nproc,
            )
        return REFUSED
    if code < 0:
        how = f"was killed by {signal.Signals(-code).name}"
        code = 128 - code
    else:
        how = f"ended with exit status {code}"
    log.error("process %d of this %d-process run %s; the others were stopped", rank, nproc, how)
    return code or 1


def _first_own_failure(err: object) -> tuple[int, object]:
    """(rank, ProcessFailure) of the first process that failed of itself: under load a process
    that stopped because another had gone (``PeerLost``) could end first and was named."""
    from model.training.distributed import PeerLost

    failures = err.failures.items()  # type: ignore[attr-defined]
    own = [(rank, f) for rank, f in failures if int(f.exitcode) != PeerLost.exit_status]
    if not own:
        return err.get_first_failure()  # type: ignore[attr-defined]
    return min(own, key=lambda item: item[1].timestamp)


def stop_with_launcher() -> None:
    """In a training process ``--nproc`` started: SIGTERM when the launcher dies, as a Stop asks
    (save after the step, then end). torchrun starts each process in a session of its own, so
    a ``kill -9`` of the launcher's process group (the out-of-memory killer, a group kill)
    missed them: they trained on unwatched, their run reading "running" with its job ended."""
    from model.workers import signal_when_parent_dies

    launcher = os.environ.get(LAUNCHER_ENV, "")
    if launcher.isdigit():
        signal_when_parent_dies(int(launcher), signal.SIGTERM)


@contextlib.contextmanager
def _launcher_known() -> Iterator[None]:
    """``LAUNCHER_ENV`` set to this process for the processes started in the block."""
    previous = os.environ.get(LAUNCHER_ENV)
    os.environ[LAUNCHER_ENV] = str(os.getpid())
    try:
        yield
    finally:
        if previous is None:
            os.environ.pop(LAUNCHER_ENV, None)
        else:
            os.environ[LAUNCHER_ENV] = previous


# The signals torch's elastic agent takes over when it starts its processes (its default
# TORCHELASTIC_SIGNALS_TO_HANDLE), and Slurm's warning, which ``_stop_asked_once`` takes.
_AGENT_SIGNALS = ("SIGTERM", "SIGINT", "SIGHUP", "SIGQUIT", "SIGUSR1")


@contextlib.contextmanager
def _handlers_kept() -> Iterator[None]:
    """The process's signal handlers back as they were once the launch returns. The agent
    installs its own and never puts them back: a notebook (or pytest) that ran ``train --nproc``
    in its own process then raised the agent's SignalException on a later SIGTERM or Ctrl-C,
    far from any launch, and a CI timeout's SIGTERM no longer stopped the suite."""
    stops = [getattr(signal, name) for name in _AGENT_SIGNALS if hasattr(signal, name)]
    previous = {stop: signal.getsignal(stop) for stop in stops}
    try:
        yield
    finally:
        for stop, handler in previous.items():
            if handler is not None:  # None: set outside Python, cannot be put back
                with contextlib.suppress(ValueError):  # not the main thread: nothing was set
                    signal.signal(stop, handler)


@contextlib.contextmanager
def _stop_asked_once() -> Iterator[None]:
    """The elastic agent's stop handler, made to ignore every SIGTERM after its first stop.

    The agent turns SIGTERM into an exception and then waits for its processes to finish their
    step and save; another SIGTERM while it waits raised again and, the second time, ended the
    wait: the launcher returned while its processes still ran and wrote the run folder. A
    ``systemctl stop`` sends the launcher two at once (from systemd, and from the job's runner
    passing its own on), and a repeated stop or ``kill`` more. Force stop and systemd's timeout
    use SIGKILL, so ignoring SIGTERM from then on leaves nothing unstoppable. SIGUSR1 (Slurm's
    ``--signal`` before a time limit; by default it killed the launcher and left its processes
    running on) stops the run the same way: the agent passes it on to each process.
    """
    from torch.distributed.elastic.multiprocessing import api

    agent_handler = getattr(api, "_terminate_process_handler", None)  # installed at its start
    if agent_handler is None:  # a torch without it (private): the agent's own stop, unchanged
        yield
        return

    def once(signum: int, frame: FrameType | None) -> None:
        for stop in (signal.SIGTERM, signal.SIGUSR1):
            signal.signal(stop, signal.SIG_IGN)
        agent_handler(signum, frame)  # raises the agent's SignalException

    api._terminate_process_handler = once
    previous = signal.signal(signal.SIGUSR1, once)
    try:
        yield
    finally:
        api._terminate_process_handler = agent_handler
        signal.signal(signal.SIGUSR1, previous)


@contextlib.contextmanager
def _quiet_agent() -> Iterator[None]:
    """The elastic agent's own warnings (the rendezvous, "Sending process closing signal",
    "failed (exitcode: …)") kept off the terminal: a failure is said by :func:`launch`."""
    names = [n for n in logging.root.manager.loggerDict if n.startswith("torch.distributed")]
    loggers = [logging.getLogger(name) for name in names]  # each has its own level set
    previous = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.CRITICAL)
    try:
        yield
    finally:
        for logger, level in zip(loggers, previous, strict=True):
            logger.setLevel(level)
