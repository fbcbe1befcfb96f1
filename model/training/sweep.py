"""``python -m model sweep``: train a grid of runs one after another, then rank them.

``python -m model sweep --data D --out-root RUNS --name BASE --lr 1e-3,3e-4,1e-4 [--seed 0,1]
[any train option]`` trains each combination of the values given (``sweep_grid``) as a normal
run folder ``RUNS/BASE-lr1e-3-seed0``, by a child ``python -m model train`` of its own: its
status, log, checkpoints and ``--nproc`` are exactly a train run's, and a crash in one run is
that run's. One run at a time (one machine, one GPU). Train's other options are train's own
definitions, passed to every run.

Restartable: the same command again skips the runs whose status says finished (at the
``--epochs`` given or more), resumes a finished run whose ``config.json`` records fewer epochs
than ``--epochs`` to them (``train --resume --epochs N``: a sweep grows), resumes those with a
``last.pt`` (``train --resume``, with the run's own preset and optimiser: train refuses new
optimiser values for a resumed run; a run stopped by ``--max-steps`` goes on to the new one)
and starts the others. SIGTERM (the dashboard's Stop), SIGINT or SIGUSR1 stop the run in
training as train stops (after its step, ``last.pt`` saved) and no further run starts.
``RUNS/BASE.sweep.json`` records the grid and each run's outcome (``sweep_record``); the
ranking by best validation score ends the command's log.
"""

from __future__ import annotations

import argparse
import logging
import signal
import subprocess
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

from model.atomic import read_json_object
from model.file_lock import FileLock
from model.output_path import check_output_path
from model.training import train as train_cli
from model.training.stopping import stop_requests
from model.training.sweep_grid import (
    DIMENSIONS,
    SweepRun,
    check_sweep_name,
    grid_text,
    plan_grid,
)
from model.training.sweep_record import (
    SweepRecord,
    best_score,
    merged_record,
    ranking_lines,
    record_path,
    record_text,
    recorded_epochs,
    run_stage,
    write_record,
)
from model.wording import counted

log = logging.getLogger(__name__)
SWEPT = tuple(d.dest for d in DIMENSIONS)
NOT_PASSED = (*SWEPT, "out", "resume", "help")
FRESH_ONLY = ("preset", "init_from")  # a resumed run keeps its own (train refuses --init-from)
STOPPED = 130  # as a train stopped by a signal ends
ACTIONS = {"skip": "skipped", "extend": "extended", "resume": "resumed", "start": "started"}
Starter = Callable[[list[str]], subprocess.Popen]


@dataclass(frozen=True)
class SweepPlan:
    """A checked sweep: where its runs go, the runs, and the options every run is given."""

    out_root: Path
    name: str
    runs: list[SweepRun]
    passed: list[str]  # train options for every run (``--data`` among them)
    fresh: list[str]  # those only a run's first start takes (``--preset``, ``--init-from``)
    record: SweepRecord  # what ``record_path`` will hold, earlier outcomes merged in
    epochs: int | None = None  # --epochs: a run finished at fewer is resumed to them

    @property
    def record_path(self) -> Path:
        return record_path(self.out_root, self.name)


def _train_actions() -> list[argparse.Action]:
    """The train command's options, as its own parser defines them."""
    scratch = argparse.ArgumentParser(add_help=False)
    train_cli.add_arguments(scratch)
    return list(scratch._actions)  # argparse keeps them there; parents= copies them the same way


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        "each run is RUNS/NAME-<values> (e.g. RUNS/lr-lr3e-4-seed1), a normal run folder "
        "trained by its own python -m model train, one after another; RUNS/NAME.sweep.json "
        "records the grid and each run's outcome, and the log ends with the runs ranked by "
        "their best val R@1/5/10. The same command again skips finished runs (resumes them "
        "to a larger --epochs), resumes stopped ones (with their own optimiser) and starts "
        "the rest; Ctrl-C or SIGTERM stops the run in training resumably and starts no other."
    )
    parser.add_argument(
        "--out-root", required=True, type=Path, help="the folder the runs are written in"
    )
    parser.add_argument(
        "--name", required=True, help="the sweep's name: the start of its runs' folder names"
    )
    grid = parser.add_argument_group("the grid: each value, or each combination, is one run")
    for action in _train_actions():
        if action.dest in SWEPT:
            grid.add_argument(
                *action.option_strings,
                dest=action.dest,
                metavar="V[,V...]",
                help=f"{action.help}; several values, comma-separated",
            )
        elif action.dest not in NOT_PASSED:
            parser._add_action(action)  # train's own definition, passed to every run


def passed_arguments(args: argparse.Namespace, dests: Sequence[str]) -> list[str]:
    """The train options of ``args`` among ``dests`` that differ from their defaults, as the
    command line gives them (``--epochs 2``, ``--no-compile``)."""
    words: list[str] = []
    for action in _train_actions():
        value = getattr(args, action.dest, None)
        if action.dest not in dests or value is None or value == action.default:
            continue
        if isinstance(action, argparse.BooleanOptionalAction):
            words.append(action.option_strings[0 if value else 1])
        else:
            words += [action.option_strings[0], str(value)]
    return words


def plan_sweep(args: argparse.Namespace) -> SweepPlan:
    """The sweep ``args`` ask for, every input checked before anything is written: the grid,
    the folder, the dataset, each run's train options (train's own checks), the names."""
    from model.data.dataset import check_dataset_folder
    from model.training.launch import wants_launch
    from model.training.run_preset import resolve_preset

    name = check_sweep_name(args.name)
    runs = plan_grid(name, {dest: getattr(args, dest) for dest in SWEPT})
    check_output_path(args.out_root, "--out-root", folder=True)
    check_dataset_folder(Path(args.data))
    for run in runs:
        given = vars(args) | run.values | {"out": args.out_root / run.name, "resume": None}
        resolve_preset(train_cli.options_from_args(argparse.Namespace(**given)))
    wants_launch(args)  # --nproc's own checks
    dests = [a.dest for a in _train_actions() if a.dest not in (*NOT_PASSED, *FRESH_ONLY)]
    command = list(getattr(args, "argv", ("sweep",)))  # as given, for the record
    record = merged_record(args.out_root, name, args.data, command, runs, grid_text(runs))
    return SweepPlan(
        out_root=args.out_root,
        name=name,
        runs=runs,
        passed=passed_arguments(args, dests),
        fresh=passed_arguments(args, FRESH_ONLY),
        record=record,
        epochs=args.epochs,
    )


def child_command(plan: SweepPlan, run: SweepRun, stage: str) -> list[str]:
    """The train command of ``run``: a first start with its values (and ``--preset``,
    ``--init-from``), or ``--resume`` with the run's own preset and optimiser (``extend``: a
    finished run, to the ``--epochs`` every run is given)."""
    words = ["train", "--out", str(plan.out_root / run.name), *plan.passed]
    if stage in ("resume", "extend"):
        words.append("--resume")
    else:
        words += plan.fresh
        for dimension in DIMENSIONS:
            if dimension.dest in run.values:
                words += [dimension.flag, str(run.values[dimension.dest])]
    return [sys.executable, "-m", "model", *words]


def run_sweep(plan: SweepPlan, start: Starter = subprocess.Popen) -> tuple[SweepRecord, bool]:
    """Train the plan's runs in turn (``start`` starts a command); the record, and whether a
    stop signal ended the sweep (the run then in training stops as train stops; none follows).
    A second sweep of the same name and folder is refused while this one runs."""
    record = plan.record
    busy = f"sweep {plan.name} is already running (%s); stop it or wait for it to end"
    lock = FileLock(plan.out_root / f".{plan.name}.sweep.lock", lambda holder: busy % holder)
    with lock, stop_requests() as stop:
        write_record(plan.record_path, record)
        for place, run in enumerate(plan.runs, start=1):
            if stop[0]:
                break
            folder = plan.out_root / run.name
            stage = run_stage(folder, plan.epochs)
            outcome = record.outcome(run.name)
            _announce(f"run {place} of {len(plan.runs)}, {run.name}", stage, folder, plan.epochs)
            outcome.action = ACTIONS[stage]
            if stage == "skip":
                outcome.state = "finished"
            else:
                outcome.state = "running"
                write_record(plan.record_path, record)
                began = time.monotonic()
                outcome.exit_code = _wait(start(child_command(plan, run, stage)), stop)
                outcome.seconds += time.monotonic() - began
                outcome.state = ended_state(folder, outcome.exit_code)
            outcome.epochs = recorded_epochs(folder)
            outcome.best, outcome.best_epoch = best_score(folder)
            write_record(plan.record_path, record)
    return record, stop[0]


def _announce(which: str, stage: str, folder: Path, epochs: int | None) -> None:
    """Log what the sweep does with a run, and for a finished one why (its epochs)."""
    done = recorded_epochs(folder)
    if stage == "extend":
        log.info("%s: finished at %s, resuming it to %s", which, counted(done, "epoch"), epochs)
    elif stage == "skip" and epochs is None:
        log.info("%s: finished already, skipped", which)
    elif stage == "skip":
        trained = "its epochs unrecorded" if done is None else counted(done, "epoch")
        log.info("%s: finished already (%s, --epochs %s), skipped", which, trained, epochs)
    else:
        log.info("%s: %s", which, "resuming" if stage == "resume" else "starting")


def _wait(process: subprocess.Popen, stop: list[bool]) -> int:
    """``process``'s exit status; a stop asked of the sweep is passed on to it once (a stop
    sent to the whole process group reaches it too: train takes a repeat as one)."""
    passed_on = False
    while True:
        try:
            return process.wait(timeout=0.5)
        except subprocess.TimeoutExpired:
            if stop[0] and not passed_on:
                process.send_signal(signal.SIGTERM)
                passed_on = True


def ended_state(folder: Path, code: int) -> str:
    """How a run's train command ended: ``finished`` or ``stopped`` as its status says (a
    stop signal, ``--max-steps``), ``failed`` for any other end (a refusal, a crash)."""
    said = read_json_object(folder / "status.json").get("state")
    if code == 0 and said in ("finished", "stopped"):
        return said
    return "stopped" if code == STOPPED else "failed"


def run(args: argparse.Namespace) -> int:
    plan = plan_sweep(args)
    log.info(
        "sweep %s: %d runs one after another, in %s (record: %s)",
        plan.name,
        len(plan.runs),
        plan.out_root,
        plan.record_path,
    )
    record, stopped = run_sweep(plan)
    log.info(
        "sweep %s, %s; ranked by best val R@1/5/10 (what chose each best.pt):",
        plan.name,
        record_text(record),
    )
    for line in ranking_lines(record):
        log.info("%s", line)
    if stopped:
        log.error(
            "sweep stopped; rerun the same command to continue (finished runs are skipped, "
            "the stopped one resumes)"
        )
        return STOPPED
    failed = [r.name for r in record.runs if r.state == "failed"]
    if failed:
        log.error(
            "%d run(s) failed: %s (each one's train.log says why)", len(failed), ", ".join(failed)
        )
        return 1
    return 0
