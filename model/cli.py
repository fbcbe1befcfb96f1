"""``python -m model COMMAND``: one argparse front end over the package's commands.

Each command lives in its own module exposing ``add_arguments(parser)`` and ``run(args) -> int``.
Modules are imported only when their command runs, so ``--help`` stays fast (no torch import).
"""

from __future__ import annotations

import argparse
import contextlib
import copy
import importlib
import logging
import os
import signal
import sys
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from tqdm.contrib.logging import logging_redirect_tqdm

from model.allocator import tune_allocator
from model.errors import UserError, storage_problem
from model.process_setup import apply_process_environment
from model.progress import configure_logging
from model.workers import sigterm_interrupts

log = logging.getLogger("model")


@dataclass(frozen=True)
class Command:
    name: str
    module: str
    help: str
    example: str = ""  # the command line(s) its --help ends with
    # train stops on SIGTERM after its step, saving last.pt; the others stop where they are
    own_stop: bool = False


_CKPT = "--checkpoint data/runs/cpu-small/best.pt --data data/ds/internal"


COMMANDS: tuple[Command, ...] = (
    Command(
        "generate",
        "sample_data.generate",
        "write synthetic CMR studies as DICOM + reports",
        "python -m model generate --out data/raw/internal --studies 1000 --seed 0",
    ),
    Command(
        "ingest",
        "model.data.ingest_cli",
        "DICOM / ACDC NIfTI folder -> preprocessed dataset",
        "python -m model ingest data/raw/internal/dicom --reports data/raw/internal/reports.csv "
        "--labels data/raw/internal/labels.csv --out data/ds/internal",
    ),
    Command(
        "train",
        "model.training.train",
        "contrastive training (--nproc or torchrun for many processes)",
        own_stop=True,
    ),
    Command(
        "sweep",
        "model.training.sweep",
        "train a grid of learning rates / seeds one run after another, and rank them",
        "python -m model sweep --data data/ds/internal --out-root data/runs --name lr "
        "--lr 1e-3,3e-4,1e-4 --epochs 10",
        own_stop=True,
    ),
    Command(
        "embed",
        "model.embed_cli",
        "study embeddings of a dataset with a checkpoint",
        f"python -m model embed {_CKPT} --out emb.npz",
    ),
    Command(
        "zeroshot",
        "model.zeroshot_cli",
        "zero-shot probabilities for a prompt set",
        f"python -m model zeroshot {_CKPT} --split test --out zs.csv",
    ),
    Command(
        "fewshot",
        "model.few_shot_cli",
        "rank every study by its likeness to a few examples",
        f"python -m model fewshot {_CKPT} --examples amyloid.json --label amyloidosis "
        "--out fewshot.csv",
    ),
    Command(
        "explain",
        "model.explain_cli",
        "which view, frame and region drive one study's finding probability (occlusion)",
        f"python -m model explain {_CKPT} --study S0001 --finding lv_dilation --out explain/S0001",
    ),
    Command(
        "evaluate",
        "model.evaluation.cli",
        "paper-style evaluation tables and plots",
        f"python -m model evaluate {_CKPT} --external data/ds/external --out data/evaluations/e1",
    ),
    Command(
        "card",
        "model.card",
        "a model card (Markdown) of a checkpoint from its run and evaluations",
        "python -m model card --checkpoint data/runs/cpu-small/best.pt --out MODEL_CARD.md",
    ),
    Command(
        "index",
        "model.index.cli_index",
        "embed and upsert studies into ChromaDB",
        f"python -m model index {_CKPT}",
    ),
    Command(
        "search",
        "model.index.cli_search",
        "text or more-like-this search of the index",
        f'python -m model search "dilated left ventricle with mid-wall LGE" {_CKPT}',
    ),
    Command(
        "map",
        "model.projection_store",
        "the Embeddings page's UMAP map, kept on disk",
        f"python -m model map {_CKPT}",
    ),
    Command(
        "storage",
        "model.storage_cli",
        "what the data root takes on disk; --clean-caches removes what is made again",
        "python -m model storage --data-root data --clean-caches",
    ),
    Command(
        "forget",
        "model.erasure_cli",
        "erase a patient's withdrawn studies everywhere (a dry run unless --apply)",
        "python -m model forget --data data/ds/internal --accession ACC0001 --apply",
    ),
    Command(
        "demo",
        "model.demo",
        "build the demo end to end: generate, ingest, train, embed, index, map",
        "python -m model demo --root data",
    ),
)


class DefaultsHelpFormatter(argparse.HelpFormatter):
    """A command's help that gives each option's default, unless its help already says it."""

    def _format_action(self, action: argparse.Action) -> str:
        if action.help is None and _has_default(action):
            action = copy.copy(action)
            action.help = "default: %(default)s"
        return super()._format_action(action)

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        """Description and epilog: each paragraph (blank-line separated) wrapped on its own;
        a paragraph whose lines are indented (a table, command lines) kept as written."""
        paragraphs = []
        for paragraph in text.split("\n\n"):
            head, _, rest = paragraph.partition("\n")
            if rest.startswith("  "):  # "examples:" then indented lines
                lines = [head, *rest.splitlines()]
                paragraphs.append("\n".join(indent + line for line in lines))
            else:
                paragraphs.append(super()._fill_text(paragraph, width, indent))
        return "\n\n".join(paragraphs)

    def _get_help_string(self, action: argparse.Action) -> str:
        text = action.help or ""
        if _has_default(action) and "default" not in text:
            text += " (default: %(default)s)"
        return text


def _has_default(action: argparse.Action) -> bool:
    """An option that takes a value and has one when left out (not a flag, not ``None``)."""
    empty = action.default is None or action.default == [] or action.default is argparse.SUPPRESS
    return bool(action.option_strings) and action.nargs != 0 and not empty


def build_parser(argv: Sequence[str]) -> tuple[argparse.ArgumentParser, Command | None]:
    parser = argparse.ArgumentParser(
        prog="python -m model",
        description="CMR-CLIP: make, ingest, train on, evaluate and search cardiac MRI studies; "
        "python -m model COMMAND --help gives a command's options and their defaults.",
    )
    parser.add_argument("-v", "--verbose", action="store_true", help="debug logging")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")
    first = next((a for a in argv if not a.startswith("-")), None)
    chosen = next((c for c in COMMANDS if c.name == first), None)
    for command in COMMANDS:
        sub_parser = sub.add_parser(
            command.name,
            help=command.help,
            description=command.help,
            formatter_class=DefaultsHelpFormatter,
        )
        # also after the command; SUPPRESS: left out there, it keeps the value given before it
        sub_parser.add_argument(
            "-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help="debug logging"
        )
        if command is chosen:
            importlib.import_module(command.module).add_arguments(sub_parser)
            if command.example:
                example = f"example:\n  {command.example}"
                sub_parser.epilog = "\n\n".join(filter(None, (sub_parser.epilog, example)))
    return parser, chosen


def parsed_command(module: str, argv: Sequence[str]) -> tuple[Any, argparse.Namespace]:
    """A command's module and ``argv`` read by its own parser, for a caller that runs it in its
    own process (the demo); ``args.argv`` is the command line it stands for, as ``main`` sets
    it, so a run's config.json records ``python -m model NAME ...`` however it was started."""
    command = importlib.import_module(module)
    name = next((c.name for c in COMMANDS if c.module == module), module.rsplit(".", 1)[-1])
    parser = argparse.ArgumentParser(prog=f"python -m model {name}")
    command.add_arguments(parser)
    args = parser.parse_args(argv)
    args.argv = (name, *argv)
    return command, args


def main(argv: Sequence[str] | None = None, process_entry: bool = False) -> int:
    """Run one command (``argv``: the words after ``python -m model``); its exit status.
    ``process_entry``: this call is the process's whole life (``python -m model``), so a
    refusing process of a multi-process run may ignore its launcher's stop until it exits; a
    library call (a notebook, a test) gets its signal handlers back as they were."""
    apply_process_environment()  # this process's own, not a notebook's
    argv = list(sys.argv[1:] if argv is None else argv)
    try:
        parser, chosen = build_parser(argv)  # imports the command's module: seconds of torch
    except KeyboardInterrupt:  # Ctrl-C right after Enter: one line, not an import traceback
        configure_logging(logging.WARNING)  # not the INFO lines a half-imported torch logs at exit
        log.error("interrupted before the command started; nothing was done")
        return 130
    args = parser.parse_args(argv)
    args.argv = tuple(argv)  # as given: train --nproc starts its processes with it
    configure_logging(logging.DEBUG if args.verbose else logging.INFO)
    if chosen is None:
        parser.print_help()
        return 2
    tune_allocator()
    try:
        # on a terminal, a log line goes above the progress bars, not onto the line of one (an
        # epoch's line left a frozen copy of the training bar behind it, every epoch)
        stop = contextlib.nullcontext() if chosen.own_stop else sigterm_interrupts()
        with logging_redirect_tqdm(), stop:  # SIGTERM (a job's Cancel) ends as Ctrl-C does
            return int(importlib.import_module(chosen.module).run(args) or 0)
    except UserError as err:
        if process_entry:
            _keep_exit_status()
        log.error("%s", err)
        return err.exit_status
    except OSError as err:
        problem = storage_problem(err)
        if problem is None:
            raise  # a bug: keep the traceback
        log.debug("%s stopped", chosen.name, exc_info=True)
        log.error("%s stopped: %s", chosen.name, problem)
        return 1
    except KeyboardInterrupt as err:  # Ctrl-C, or SIGTERM: "stopped by SIGTERM"
        how = str(err) or "interrupted"
        log.error("%s; finished work is kept, rerun the same command to continue", how)
        return 130


def _keep_exit_status() -> None:
    """In one process of a multi-process run that ends with its own error: ignore the stop the
    launcher sends once a peer ends, so that the status read is this refusal's, not "killed by
    SIGTERM" (under load a process takes seconds to exit after its line, and its peer, ending
    because it has gone, can end first). The launcher kills with SIGKILL after its grace time."""
    world = os.environ.get("WORLD_SIZE", "1").strip()
    if world.isdigit() and int(world) > 1:
        ignore_stops()


def ignore_stops() -> None:
    """Ignore SIGTERM and SIGUSR1 from now on in this process (SIGKILL still ends it). Also what
    ``python -m model`` does once its command has returned: its exit status is decided, and a
    stop arriving as it exits (a repeated ``systemctl stop``, a runner passing its own on) ended
    a stopped ``train --nproc`` launcher by the signal's default action, its status read as
    "killed by SIGTERM" after it had said it stopped."""
    for stop in (signal.SIGTERM, signal.SIGUSR1):
        with contextlib.suppress(ValueError):  # not the main thread
            signal.signal(stop, signal.SIG_IGN)
