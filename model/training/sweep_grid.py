"""A sweep's grid: the values of each swept option, read from comma-separated lists, and the
runs they make, each named from the sweep's name and its values (``base-lr3e-4-seed1``).

One reading for the command line (``python -m model sweep``) and the Train page's sweep
fields: ``parse_values`` and ``plan_grid`` say what is wrong with an input in one line, before
anything starts. A value's text in a run name is canonical (``3e-4`` and ``0.0003`` name the
same run), so the names are stable from one invocation to the next and safe as folder names.
"""

from __future__ import annotations

import argparse
import itertools
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass

from model.errors import UserError
from model.training.run_preset import check_optimiser_arguments

MAX_RUNS = 24
_NAME = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.-]{0,63}$")


@dataclass(frozen=True)
class Dimension:
    """One option a sweep may vary: its ``train`` destination, flag, name key and type."""

    dest: str
    key: str  # what a run name writes before the value: lr3e-4
    kind: type

    @property
    def flag(self) -> str:
        return "--" + self.dest.replace("_", "-")


DIMENSIONS: tuple[Dimension, ...] = (
    Dimension("lr", "lr", float),
    Dimension("text_lr", "textlr", float),
    Dimension("weight_decay", "wd", float),
    Dimension("warmup_steps", "warmup", int),
    Dimension("seed", "seed", int),
)
Value = int | float


@dataclass(frozen=True)
class SweepRun:
    """One run of a sweep: its folder name and the value of each swept option (by dest)."""

    name: str
    values: dict[str, Value]


def value_text(value: Value) -> str:
    """``value`` as a run name writes it: ``3e-4``, ``0.01``, ``1``, ``2.5e-5``, ``100``."""
    if isinstance(value, int) or value == 0:
        return str(int(value))
    exponent = math.floor(math.log10(abs(value)))
    if -2 <= exponent < 4:
        return f"{value:.6g}"
    mantissa, power = f"{value:.6e}".split("e")
    return f"{mantissa.rstrip('0').rstrip('.')}e{int(power)}"


def parse_values(text: str, dimension: Dimension) -> tuple[Value, ...]:
    """The comma-separated values of ``text`` for ``dimension``; UserError in one line naming
    the option and the value at fault (not a number, out of range, given twice, missing)."""
    flag = dimension.flag
    items = [item.strip() for item in str(text).split(",")]
    if not any(items):
        raise UserError(f"{flag}: no value given (e.g. {flag} {_example(dimension)})")
    values: list[Value] = []
    for item in items:
        if not item:
            raise UserError(f"{flag} {text!r}: an empty value (a comma too many?)")
        value = _number(item, dimension)
        _check_range(value, dimension)
        if value in values:
            raise UserError(f"{flag} {text!r}: {item} is given twice")
        values.append(value)
    return tuple(values)


def _example(dimension: Dimension) -> str:
    return "1e-3,3e-4,1e-4" if dimension.kind is float else "0,1,2"


def _number(item: str, dimension: Dimension) -> Value:
    try:
        value = dimension.kind(item)
    except ValueError:
        what = "a whole number" if dimension.kind is int else "a number"
        raise UserError(f"{dimension.flag}: {item!r} is not {what}") from None
    if not math.isfinite(value):
        raise UserError(f"{dimension.flag}: {item!r} is not a finite number")
    return value


def _check_range(value: Value, dimension: Dimension) -> None:
    """train's own check of the option (``check_optimiser_arguments``); a seed is >= 0."""
    if dimension.dest == "seed":
        if value < 0:
            raise UserError(f"--seed must be >= 0, got {value}")
        return
    given = {d.dest: None for d in DIMENSIONS} | {dimension.dest: value}
    check_optimiser_arguments(argparse.Namespace(**given))


def check_sweep_name(name: str) -> str:
    """``name`` stripped, when usable as the start of the runs' folder names."""
    name = str(name).strip()
    if not _NAME.match(name):
        raise UserError(
            f"sweep name {name!r}: use letters, digits, - _ . only (up to 64 characters)"
        )
    return name


def plan_grid(base: str, given: Mapping[str, str | None]) -> list[SweepRun]:
    """The runs of the grid ``given`` (dest -> comma-separated text; None or absent: not swept),
    one per combination, in the order of the lists; UserError for an empty grid or one over
    ``MAX_RUNS`` runs. Every option given is in each name, one value or several: a grid
    extended later keeps the names of the runs it had."""
    base = check_sweep_name(base)
    swept = [(d, parse_values(given[d.dest], d)) for d in DIMENSIONS if given.get(d.dest)]
    if not swept:
        flags = ", ".join(d.flag for d in DIMENSIONS)
        raise UserError(f"nothing to sweep: give one value or several to {flags}")
    size = math.prod(len(values) for _, values in swept)
    if size > MAX_RUNS:
        counts = " x ".join(f"{len(values)} {d.flag}" for d, values in swept)
        raise UserError(
            f"the grid has {size} runs ({counts}); a sweep trains at most {MAX_RUNS}, one after "
            "another: give fewer values"
        )
    runs = []
    for combination in itertools.product(*(values for _, values in swept)):
        values = {d.dest: v for (d, _), v in zip(swept, combination, strict=True)}
        words = [f"{d.key}{value_text(v)}" for (d, _), v in zip(swept, combination, strict=True)]
        runs.append(SweepRun("-".join([base, *words]), values))
    return runs


def grid_text(runs: list[SweepRun]) -> dict[str, list[Value]]:
    """The grid as ``sweep.json`` records it: each swept option's values, in order."""
    grid: dict[str, list[Value]] = {}
    for run in runs:
        for dest, value in run.values.items():
            if value not in grid.setdefault(dest, []):
                grid[dest].append(value)
    return grid
