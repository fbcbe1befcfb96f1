"""A sweep launched from the Train page: the grid its fields give, read and checked by
``model sweep``'s own code (``sweep_grid``), its run count before launch, and the command that
extends a sweep's finished runs to more epochs (``model sweep`` again, ``--epochs N``).

The fields are keyed by ``train``'s option destinations (``lr``, ``text_lr``, ``weight_decay``,
``warmup_steps``, ``seed``): the sweep's ``DIMENSIONS``. A bad value is one line naming the
field and the value; a grid over ``MAX_RUNS`` is refused before anything is written.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

from dashboard.jobs import model_command
from model.errors import UserError
from model.training.sweep_grid import DIMENSIONS, MAX_RUNS, SweepRun, parse_values, plan_grid
from model.training.sweep_record import (
    SweepRecord,
    merged_record,
    read_record,
    record_path,
    recorded_epochs,
)
from model.wording import counted

FIELDS = {  # the page's label of each swept option, by its train destination
    "lr": "Learning rates",
    "text_lr": "Text learning rates",
    "weight_decay": "Weight decays",
    "warmup_steps": "Warmup steps",
    "seed": "Seeds",
}
EPOCHS_FLAG = "--epochs"


@dataclass(frozen=True)
class SweepLaunch:
    """A sweep the form asks for (several values of an option): its runs, its record."""

    out_root: Path
    name: str
    dataset: Path
    runs: list[SweepRun]

    @property
    def record(self) -> Path:
        return record_path(self.out_root, self.name)

    @property
    def preset_file(self) -> Path:
        """The preset each new run of the sweep starts from, beside the sweep's record."""
        return self.out_root / f"{self.name}.sweep-preset.json"

    def check(self) -> None:
        """``model sweep``'s own refusals: a run folder of its names that is not the sweep's,
        a run of its names recorded with other values."""
        merged_record(self.out_root, self.name, self.dataset, [], self.runs, {})

    def arguments(self) -> list[str]:
        """The grid as ``model sweep`` takes it: ``--lr 0.001,0.0003`` (canonical values)."""
        words = []
        for dimension in DIMENSIONS:
            values = [
                run.values[dimension.dest] for run in self.runs if dimension.dest in run.values
            ]
            if values:
                words += [dimension.flag, ",".join(str(v) for v in dict.fromkeys(values))]
        return words


def swept(fields: Mapping[str, str]) -> dict[str, str]:
    """The fields given a value (dest -> their text, stripped); none: one run, no sweep."""
    return {dest: text.strip() for dest, text in fields.items() if text.strip()}


def grid_count(fields: Mapping[str, str]) -> str:
    """How many runs the fields ask for, before launch: ``3 × 2 = 6 runs, at most 24``
    ("" when none is given); UserError in one line naming the field and the value at fault,
    or the grid over the limit (``plan_grid``'s own refusal)."""
    given = swept(fields)
    counts = []
    for dimension in DIMENSIONS:
        if dimension.dest not in given:
            continue
        try:
            counts.append(len(parse_values(given[dimension.dest], dimension)))
        except UserError as err:
            raise UserError(f"{FIELDS[dimension.dest]}: {err}") from None
    if not counts:
        return ""
    plan_grid("sweep", given)  # more than MAX_RUNS: refused as the command refuses it
    total = counted(math.prod(counts), "run")
    product = " × ".join(str(n) for n in counts) + " = " if len(counts) > 1 else ""
    return f"{product}{total}, at most {MAX_RUNS}"


def sweep_runs(name: str, fields: Mapping[str, str]) -> list[SweepRun]:
    """The runs of the sweep ``name`` the fields ask for (``grid_count``'s checks first)."""
    grid_count(fields)
    return plan_grid(name, swept(fields))


def sweep_epochs(runs_dir: Path, found: SweepRecord) -> int | None:
    """The most epochs a run of the sweep ``found`` (its record, read from ``runs_dir``)
    trains, as its config.json says; None when no run records any (none has started)."""
    epochs = [recorded_epochs(runs_dir / run.name) for run in found.runs]
    return max((e for e in epochs if e is not None), default=None)


@dataclass(frozen=True)
class ExtendJob:
    """The job that extends a sweep: its command, its title, its outputs (its record: the
    run it trains shows its Stop, ``job_for_run``)."""

    command: list[str]
    title: str
    outputs: dict[str, str]


def extend_job(record: Path, epochs: int) -> ExtendJob:
    """The sweep's own command (as its record keeps it) with ``--epochs epochs``: its runs
    finished at fewer epochs resume to them, the others are skipped, unstarted ones start.
    UserError when the record is unreadable or keeps no sweep command."""
    found = read_record(record)
    words = [] if found is None else list(found.command)
    if found is None or words[:1] != ["sweep"]:
        raise UserError(
            f"{record.name} keeps no sweep command to run again; run the sweep's command "
            f"from a terminal with {EPOCHS_FLAG} {epochs}"
        )
    kept = [word for word in words if not word.startswith(f"{EPOCHS_FLAG}=")]
    if EPOCHS_FLAG in kept:
        at = kept.index(EPOCHS_FLAG)
        kept = kept[:at] + kept[at + 2 :]
    command = model_command(*kept, EPOCHS_FLAG, str(int(epochs)))
    title = f"Extend sweep {found.name} to {int(epochs)} epochs"
    return ExtendJob(command, title, {"sweep": str(record), "dataset": found.data})
