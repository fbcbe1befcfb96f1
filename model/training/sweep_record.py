"""A sweep's record, ``RUNS/NAME.sweep.json`` beside its runs, and its ranking.

The record holds the grid, the command, and one entry per run (its name, its values, its
outcome: ``pending``, ``running``, ``finished``, ``stopped`` or ``failed``, its exit status,
its seconds of training over every invocation, its best validation score, the epochs its
``config.json`` says it trains, and what the last invocation did with it: ``started``,
``resumed``, ``extended`` (a finished run resumed to a larger ``--epochs``) or ``skipped``).
It is replaced atomically after each change, so a reader (the Train page, a second terminal)
never sees half. A run's best score is what its run page calls "Best" and what chose its
``best.pt``: the highest val ``selection_score`` (mean study-report R@1/5/10, label-free) of
its ``metrics.jsonl``.
"""

from __future__ import annotations

import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

from model.atomic import atomic_write_json, read_json_object
from model.errors import UserError
from model.training.run_folder import RunFolder
from model.training.sweep_grid import DIMENSIONS, SweepRun, Value, value_text

RECORD_SUFFIX = ".sweep.json"
RUN_RECORDS = ("status.json", "last.pt", "config.json")  # a folder holding any is a run


@dataclass
class RunOutcome:
    """One run's entry in the record."""

    name: str
    values: dict[str, Value]
    state: str = "pending"
    exit_code: int | None = None
    seconds: float = 0.0  # wall seconds of its training commands, every invocation summed
    best: float | None = None
    best_epoch: int | None = None  # counted from 1, as the run pages count
    epochs: int | None = None  # the run's epochs, as its config.json records them
    action: str = ""  # the last invocation's: started, resumed, extended or skipped


@dataclass
class SweepRecord:
    """What ``NAME.sweep.json`` holds."""

    name: str
    data: str
    command: list[str]
    grid: dict[str, list[Value]]
    runs: list[RunOutcome] = field(default_factory=list)

    def outcome(self, name: str) -> RunOutcome:
        return next(run for run in self.runs if run.name == name)


def record_path(out_root: Path, name: str) -> Path:
    return Path(out_root) / f"{name}{RECORD_SUFFIX}"


def read_record(path: Path) -> SweepRecord | None:
    """The record at ``path``; None when there is none (or it is not a sweep's record)."""
    raw = read_json_object(path)
    try:
        runs = [RunOutcome(**run) for run in raw["runs"]]
        return SweepRecord(raw["name"], raw["data"], list(raw["command"]), raw["grid"], runs)
    except (KeyError, TypeError):
        return None


def write_record(path: Path, record: SweepRecord) -> None:
    atomic_write_json(path, asdict(record) | {"updated": time.time()})


def holds_run(folder: Path) -> bool:
    return any((folder / name).exists() for name in RUN_RECORDS)


def merged_record(
    out_root: Path, name: str, data: Path, command: list[str], runs: list[SweepRun], grid: dict
) -> SweepRecord:
    """The record this invocation starts from: the grid ``runs``, each with the outcome an
    earlier invocation recorded (UserError when it recorded other values for a run's name);
    runs an earlier grid had and this one does not stay listed (still the sweep's, still
    ranked). UserError when a run folder of the grid already holds a run that is not the
    sweep's (no earlier record lists it): nothing is written then."""
    earlier = read_record(record_path(out_root, name))
    known = {run.name: run for run in earlier.runs} if earlier else {}
    for run in runs:
        folder = Path(out_root) / run.name
        if holds_run(folder) and run.name not in known:
            raise UserError(
                f"{folder} already holds a run that is not part of sweep {name!r} "
                f"({record_path(out_root, name).name} does not list it): give another --name"
            )
    for run in runs:
        _check_same_values(known.get(run.name), run)
    outcomes = [known.get(run.name) or RunOutcome(run.name, run.values) for run in runs]
    kept = [run for run in known.values() if run.name not in {r.name for r in runs}]
    return SweepRecord(name, str(data), command, grid, outcomes + kept)


def _check_same_values(earlier: RunOutcome | None, run: SweepRun) -> None:
    """UserError when the run of that name was recorded with other values (two values whose
    names are one, ``1e-3`` and ``0.0010000001``): resumed, it keeps its own optimiser."""
    if earlier is None:
        return
    for dimension in DIMENSIONS:
        was, now = earlier.values.get(dimension.dest), run.values.get(dimension.dest)
        if was != now:
            raise UserError(
                f"{run.name} was trained with {dimension.flag} {was}, not {now}: a resumed run "
                "keeps its own optimiser; give the new value another --name"
            )


def run_stage(folder: Path, epochs: int | None = None) -> str:
    """What the sweep does with a run folder: ``skip`` (its status says finished, at
    ``epochs`` or more when given), ``extend`` (finished at fewer than ``epochs``: resumed to
    them, as ``train --resume --epochs`` extends a run), ``resume`` (it has a last.pt) or
    ``start`` (no checkpoint yet: a new run, or one stopped before its first checkpoint,
    which ``train`` starts afresh)."""
    if read_json_object(folder / "status.json").get("state") == "finished":
        done = recorded_epochs(folder)
        more = epochs is not None and done is not None and done < epochs
        return "extend" if more and (folder / "last.pt").exists() else "skip"
    return "resume" if (folder / "last.pt").exists() else "start"


def recorded_epochs(folder: Path) -> int | None:
    """The epochs the run in ``folder`` trains, as its ``config.json`` says; None unrecorded."""
    epochs = read_json_object(folder / "config.json").get("epochs")
    return epochs if isinstance(epochs, int) and not isinstance(epochs, bool) else None


def best_score(folder: Path) -> tuple[float | None, int | None]:
    """The run's highest val ``selection_score`` and its epoch (from 1); (None, None) when it
    logged none. Lines that do not parse (one being written) are passed over."""
    best: tuple[float | None, int | None] = (None, None)
    try:
        rows = RunFolder(folder).read_metrics()
    except (OSError, UnicodeDecodeError):
        return best
    for row in rows:
        score = row.get("selection_score")
        if row.get("kind") != "val" or not isinstance(score, int | float):
            continue
        if best[0] is None or score > best[0]:
            epoch = row.get("epoch")
            best = (float(score), int(epoch) + 1 if isinstance(epoch, int) else None)
    return best


def ranked(record: SweepRecord) -> list[RunOutcome]:
    """The record's runs, the best validation score first; runs without one last, in order."""
    scored = [run for run in record.runs if run.best is not None]
    rest = [run for run in record.runs if run.best is None]
    return sorted(scored, key=lambda run: -float(run.best or 0.0)) + rest


def ranking_lines(record: SweepRecord) -> list[str]:
    """The ranking as an aligned text table, a header line first."""
    dests = [d.dest for d in DIMENSIONS if d.dest in record.grid]
    flags = [d.flag.lstrip("-") for d in DIMENSIONS if d.dest in record.grid]
    header = ["#", "run", *flags, "state", "best val R@1/5/10", "time"]
    rows = [header]
    for place, run in enumerate(ranked(record), start=1):
        best = "" if run.best is None else f"{run.best:.3f} (epoch {run.best_epoch})"
        values = [value_text(run.values[d]) if d in run.values else "" for d in dests]
        rows.append([str(place), run.name, *values, run.state, best, f"{run.seconds:.0f} s"])
    widths = [max(len(row[i]) for row in rows) for i in range(len(header))]
    return [
        "  ".join(cell.ljust(w) for cell, w in zip(row, widths, strict=True)).rstrip()
        for row in rows
    ]


def read_sweep_of(run: Path) -> str:
    """The name of the sweep whose record beside ``run`` lists it; "" when none does."""
    for path in sorted(run.parent.glob(f"*{RECORD_SUFFIX}")):
        record = read_record(path)
        if record is not None and any(entry.name == run.name for entry in record.runs):
            return record.name
    return ""


def training_now(path: Path, name: str) -> bool:
    """Whether the sweep record at ``path`` says its run ``name`` is in training."""
    record = read_record(path)
    return record is not None and any(
        run.name == name and run.state == "running" for run in record.runs
    )


def record_text(record: SweepRecord) -> str:
    """A one-line summary for a log: ``3 runs: 2 finished, 1 stopped``."""
    counts: dict[str, int] = {}
    for run in record.runs:
        counts[run.state] = counts.get(run.state, 0) + 1
    parts = ", ".join(f"{n} {state}" for state, n in counts.items())
    return f"{len(record.runs)} run{'s' if len(record.runs) != 1 else ''}: {parts}"
