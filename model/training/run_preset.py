"""The preset a training run trains with, and the command line's overrides of its train section.

The base is ``--preset`` (a name or a JSON file), or without one: the run's own preset when it
resumes (its ``config.json``, overrides included), the checkpoint's own with ``--init-from``,
else ``DEFAULT_PRESET``. The options a user sets on the command line then replace the base's
train fields (``TrainOptions``: ``None`` keeps the preset's).

The optimiser's settings (``--lr``, ``--text-lr``, ``--weight-decay``, ``--warmup-steps``) shape
a run from its first step, and a resumed run restores its optimiser and schedule from
``last.pt``: an override there would be recorded in ``config.json`` and never used. They are
refused beside ``--resume``; a run that should go on with other ones starts a new run from the
checkpoint (``--init-from``).
"""

from __future__ import annotations

import argparse
import json
import logging
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING

from model.errors import UserError
from model.training.init_from import BOTH, source_preset

if TYPE_CHECKING:
    from model.nn.config import Preset
    from model.training.train import TrainOptions

log = logging.getLogger(__name__)
DEFAULT_PRESET = "cpu-small"
OPTIMISER_FIELDS = ("lr", "text_lr", "weight_decay", "warmup_steps")


def add_optimiser_arguments(parser: argparse.ArgumentParser) -> None:
    """``--lr``, ``--text-lr``, ``--weight-decay``, ``--warmup-steps`` and ``--precision``."""
    group = parser.add_argument_group("a new run's optimiser (default: the preset's train section)")
    group.add_argument("--lr", type=float, help="peak learning rate of the video tower and heads")
    group.add_argument(
        "--text-lr", type=float, help="peak learning rate of the unlocked MiniLM layers"
    )
    group.add_argument("--weight-decay", type=float, help="AdamW's decoupled weight decay")
    group.add_argument(
        "--warmup-steps", type=int, help="linear warm-up steps (0: the preset's warmup_fraction)"
    )
    parser.add_argument(
        "--precision",
        choices=("fp32", "bf16", "fp16"),
        help="autocast on a GPU (a CPU trains in fp32); default: the preset's train.precision",
    )


def check_optimiser_arguments(args: argparse.Namespace) -> None:
    """UserError naming the first optimiser option out of range (before any work)."""
    if args.lr is not None and not args.lr > 0:
        raise UserError(f"--lr must be > 0, got {args.lr}")
    for name in ("text_lr", "weight_decay", "warmup_steps"):
        value = getattr(args, name)
        if value is not None and not value >= 0:
            raise UserError(f"--{name.replace('_', '-')} must be >= 0, got {value}")


def resolve_preset(options: TrainOptions) -> Preset:
    """The preset with the command line's overrides applied (and validated)."""
    preset = _base_preset(options)
    budget = options.time_budget_s
    if budget is None and options.epochs is not None:
        budget = 0.0  # an explicit epoch count is exact
    optimiser = {name: getattr(options, name) for name in OPTIMISER_FIELDS}
    given = [name for name, value in optimiser.items() if value is not None]
    if given and options.resume:
        flags = ", ".join(f"--{name.replace('_', '-')}" for name in given)
        raise UserError(
            f"{flags} set a new run's optimiser: a resumed run keeps the one saved in last.pt. "
            "Leave them out, or start a new run from its checkpoint with --init-from"
        )
    overrides = {
        key: value
        for key, value in (
            ("epochs", options.epochs),
            ("seed", options.seed),
            ("batch_size", options.batch_size),
            ("num_workers", options.num_workers),
            ("grad_checkpointing", options.grad_checkpointing),
            ("accum_freq", options.accum_freq),
            ("compile", options.compile),
            ("precision", options.precision),
            ("time_budget_s", budget),
            *optimiser.items(),
        )
        if value is not None
    }
    preset = replace(preset, train=replace(preset.train, **overrides))
    preset.validate()
    return preset


def _base_preset(options: TrainOptions) -> Preset:
    """``--preset``, or without one the preset the run was trained with when resuming, the
    checkpoint's own with ``--init-from``."""
    from model.nn.presets import load_preset, preset_from_dict

    if options.init_from is not None and options.resume:
        raise UserError(BOTH)
    if options.init_from is not None and options.preset is None:
        return source_preset(options.init_from, DEFAULT_PRESET)
    if options.preset is not None or not options.resume:
        return load_preset(options.preset or DEFAULT_PRESET)
    config = Path(options.out) / "config.json"
    try:
        saved = json.loads(config.read_text(encoding="utf-8"))["preset"]
    except FileNotFoundError:
        last = config.with_name("last.pt")
        missing = last if not last.exists() else config
        raise UserError(f"cannot resume: {missing} does not exist") from None
    except (OSError, ValueError, KeyError, TypeError) as err:
        raise UserError(f"cannot resume: {config} is unreadable ({err}); give --preset") from None
    preset = preset_from_dict(saved)
    log.info("resuming with the run's own preset %r (%s)", preset.name, config)
    return preset
