"""``python -m model train``: contrastive training of CMR-CLIP on an ingested dataset.

``python -m model train --data DATASET --preset cpu-small --out RUNS/NAME [--epochs E]
[--time-budget SECONDS] [--resume] [--seed S] [--device auto|cpu|cuda] [--max-steps N]
[--val-labels CSV] [--init-from CKPT]``; the same command runs under ``torchrun
--nproc_per_node N`` (gloo on CPU, NCCL on GPU). ``train.batch_size`` is the global batch, split
evenly across processes. The run folder is described in ``run_folder.py``. ``--resume``
without ``--preset`` continues with the preset the run was trained with (its ``config.json``);
``--init-from`` starts a new run from another run's checkpoint (``init_from.py``).

Model selection is label-free: ``best.pt`` is the epoch with the highest mean val R@1/5/10 of
study <-> report retrieval. ``--val-labels`` adds a logged val zero-shot AUC and is never used to
choose anything (nor are labels ever used for training).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
from dataclasses import dataclass, replace
from pathlib import Path
from shlex import quote

from model.errors import UserError
from model.relocate import locate_near
from model.training.init_from import add_init_argument, init_from_arg
from model.training.launch import add_launch_argument, launch, train_command, wants_launch
from model.training.run_preset import (
    DEFAULT_PRESET,
    add_optimiser_arguments,
    check_optimiser_arguments,
    resolve_preset,
)
from model.training.stopping import add_resume_argument, resolve_resume, stop_requests

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainOptions:
    """Everything the train command takes (``None`` = keep the preset's value)."""

    data: Path
    out: Path
    preset: str | None = None  # None: the run's own when resuming, else DEFAULT_PRESET
    epochs: int | None = None
    time_budget_s: float | None = None
    resume: bool = False
    seed: int | None = None
    device: str = "auto"
    batch_size: int | None = None
    max_steps: int | None = None
    val_labels: Path | None = None
    num_workers: int | None = None
    grad_checkpointing: bool | None = None
    accum_freq: int | None = None
    compile: bool | None = None
    init_from: Path | None = None  # a new run starts from this checkpoint's weights
    lr: float | None = None
    text_lr: float | None = None
    weight_decay: float | None = None
    warmup_steps: int | None = None
    precision: str | None = None
    command: tuple[str, ...] | None = None  # the command line after python -m model (config.json)


@dataclass(frozen=True)
class TrainResult:
    """How a run ended: state (finished / stopped), last step, and its checkpoints."""

    state: str
    epoch: int
    step: int
    last_checkpoint: Path
    best_checkpoint: Path | None
    losses: list[float]
    is_main: bool = True  # rank 0, or the only process: the one that reports the run's end
    processes: int = 1  # how many processes trained it (torchrun or --nproc)


def _epilog() -> str:
    """train --help's end: which preset for which machine, what the run folder holds, examples."""
    from model.nn.presets import preset_guide

    return (
        f"which preset:\n{preset_guide()}\n\n"
        "--preset FILE.json takes your own; the options above override any preset's.\n\n"
        "the run folder (--out): best.pt (the epoch with the best val study-report retrieval: "
        "the checkpoint to use), last.pt (the latest step: --resume), config.json (the preset "
        "and options), status.json (state, step, ETA), metrics.jsonl (loss and val metrics), "
        "train.log (the log lines).\n\n"
        "examples:\n"
        "  python -m model train --data data/ds/internal --preset cpu-small --out data/runs/cpu\n"
        "  python -m model train --data data/ds/internal --out data/runs/cpu --resume --epochs 100\n"
        "  python -m model train --data data/ds/site-b --init-from data/runs/cpu/best.pt "
        "--out data/runs/site-b --epochs 5\n"
        "  python -m model train --nproc 4 --data DS --preset paper --out RUNS/paper"
    )


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = _epilog()
    parser.add_argument("--data", required=True, type=Path, help="an ingested dataset folder")
    parser.add_argument("--out", required=True, type=Path, help="run folder to create or resume")
    parser.add_argument(
        "--preset",
        help=f"cpu-small, gpu-base, paper or a preset JSON file (fields it leaves out take the "
        f"code's defaults); default: {DEFAULT_PRESET}, or with --resume the run's own "
        "(config.json); the options below override its train section",
    )
    parser.add_argument(
        "--epochs",
        type=int,
        help="train exactly E epochs (the preset's time budget, if any, is dropped)",
    )
    parser.add_argument(
        "--time-budget",
        dest="time_budget_s",
        metavar="SECONDS",
        type=float,
        help="seconds: train as many epochs as fit, at most --epochs or the preset's; 0 = off",
    )
    add_resume_argument(parser)
    parser.add_argument("--seed", type=int, help="override the preset's seed")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument("--batch-size", type=int, help="override the global batch size")
    parser.add_argument("--max-steps", type=int, help="stop (resumably) after this many steps")
    parser.add_argument(
        "--val-labels",
        type=Path,
        help="labels CSV for a logged val zero-shot AUC (never used for training or selection)",
    )
    parser.add_argument(
        "--workers", dest="num_workers", metavar="N", type=int, help="override the loader workers"
    )
    parser.add_argument(
        "--grad-checkpointing",
        action=argparse.BooleanOptionalAction,
        help="recompute the video tower's blocks in backward: less GPU memory, more compute "
        "(default: the preset's train.grad_checkpointing)",
    )
    parser.add_argument(
        "--accum-freq",
        metavar="K",
        type=int,
        help="compute each step's gradients in K micro-batches per process: the same "
        "gradients as one pass (the contrastive loss still sees the whole batch), 1/K of the "
        "activation memory, one more forward per step (default: the preset's train.accum_freq)",
    )
    parser.add_argument(
        "--compile",
        action=argparse.BooleanOptionalAction,
        help="run the video tower through torch.compile: slow first steps, then faster on a GPU "
        "(default: the preset's train.compile, on in paper)",
    )
    add_init_argument(parser)
    add_optimiser_arguments(parser)
    add_launch_argument(parser)


def options_from_args(args: argparse.Namespace) -> TrainOptions:
    for name in ("epochs", "batch_size", "max_steps", "accum_freq"):
        value = getattr(args, name)
        if value is not None and value <= 0:
            raise UserError(f"--{name.replace('_', '-')} must be > 0, got {value}")
    if args.num_workers is not None and args.num_workers < 0:
        raise UserError("--workers must be >= 0")
    if args.time_budget_s is not None and not args.time_budget_s >= 0:
        raise UserError(f"--time-budget must be >= 0 seconds, got {args.time_budget_s}")
    check_optimiser_arguments(args)
    return TrainOptions(
        data=args.data,
        out=args.out,
        preset=args.preset,
        epochs=args.epochs,
        time_budget_s=args.time_budget_s,
        resume=resolve_resume(args.resume, args.out),
        seed=args.seed,
        device=args.device,
        batch_size=args.batch_size,
        max_steps=args.max_steps,
        val_labels=args.val_labels,
        num_workers=args.num_workers,
        grad_checkpointing=args.grad_checkpointing,
        accum_freq=args.accum_freq,
        compile=args.compile,
        init_from=init_from_arg(args),
        lr=args.lr,
        text_lr=args.text_lr,
        weight_decay=args.weight_decay,
        warmup_steps=args.warmup_steps,
        precision=args.precision,
        command=getattr(args, "argv", None),  # set by model.cli.main
    )


def with_run_val_labels(options: TrainOptions) -> TrainOptions:
    """A resume without ``--val-labels`` keeps logging the run's val zero-shot AUC from the labels
    file it was started with (``config.json``), when that file is still there."""
    if not options.resume or options.val_labels is not None:
        return options
    try:
        config = json.loads((Path(options.out) / "config.json").read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return options
    given = config.get("val_labels") if isinstance(config, dict) else None
    if not isinstance(given, str) or not given:
        return options
    found = locate_near(given, Path(options.out).resolve(), Path.is_file)
    if found is None:
        log.warning("the run's --val-labels %s is gone: its val AUC is no longer logged", given)
        return options
    where = f" (recorded as {given}: the folders were copied or moved)" if found.moved else ""
    log.info("resuming with the run's --val-labels %s%s", found.path, where)
    return replace(options, val_labels=found.path)


def train(options: TrainOptions) -> TrainResult:
    """Run (or resume) a training run; the Python API behind ``python -m model train``."""
    from model.data.dataset import check_dataset_folder
    from model.training.checkpoint import recover_last_checkpoint
    from model.training.distributed import (
        barrier,
        init_distributed,
        peer_loss_as_user_error,
        shutdown,
    )
    from model.training.run_folder import RunFolder
    from model.training.trainer import Trainer

    preset = resolve_preset(options)
    options = with_run_val_labels(options)
    if options.val_labels is not None and not options.val_labels.is_file():
        raise UserError(f"--val-labels {options.val_labels} does not exist")
    check_dataset_folder(Path(options.data))  # before joining: a peer gone mid-join is a traceback
    ctx = init_distributed(options.device)
    folder = RunFolder(Path(options.out))
    try:
        with peer_loss_as_user_error(ctx), stop_requests() as flag:
            trainer = Trainer(options, preset, ctx, stop_flag=flag)
            lock = folder.writer_lock(options.resume) if ctx.is_main else contextlib.nullcontext()
            with lock:  # rank 0 writes the run folder, alone
                if options.resume and ctx.is_main:
                    recover_last_checkpoint(folder.last_checkpoint, folder.best_checkpoint)
                barrier(ctx)
                return trainer.run()
    finally:
        shutdown(ctx)


def log_run_start(config: dict, step: int, out: Path) -> None:
    """Say, before the first step, what the run trains and where it writes: off a terminal (a
    batch job's log) there is no progress bar, and the first other line comes at the end of
    the first epoch, minutes later. ``config`` is the run's ``config.json``."""
    budget = config["preset"]["train"]["time_budget_s"]
    epochs = f"{config['epochs']} epochs"
    if budget > 0 and not config["epochs_chosen_by_time_budget"]:
        epochs = f"at most {epochs} in a {budget:g} s time budget"
    start = f", from step {step}" if step else ""
    log.info(
        "training preset %r on %s: %d train / %d val studies, batch %d, %d steps per epoch, "
        "%s%s; run folder %s (best.pt: the best val epoch, last.pt: to resume, train.log, "
        "metrics.jsonl)",
        config["preset"]["name"],
        config["device"],
        config["n_train"],
        config["n_val"],
        config["global_batch"],
        config["steps_per_epoch"],
        epochs,
        start,
        out,
    )


def next_steps(options: TrainOptions, result: TrainResult) -> list[str]:
    """The lines that end the command: how to continue a stopped run, or where a finished
    run's checkpoint is and the command that evaluates it."""
    again = train_command(options.data, options.out, result.processes)
    if result.state != "finished":
        steps = " (and a larger --max-steps, or none)" if options.max_steps else ""
        lines = [f"to continue it: {again} --resume{steps}"]
        if result.best_checkpoint is not None:
            lines.append(f"its best checkpoint so far: {quote(str(result.best_checkpoint))}")
        return lines
    lines = []
    if options.resume and options.epochs is None:
        lines.append(
            f"to train it further, resume with more epochs: --resume --epochs {result.epoch + 1} "
            "(or more)"
        )
    if result.best_checkpoint is not None:
        best = quote(str(result.best_checkpoint))
        lines.append(
            f"checkpoint to use: {best}; evaluate it with: python -m model evaluate "
            f"--checkpoint {best} --data {quote(str(options.data))} --out EVAL_FOLDER"
        )
    return lines


def run(args: argparse.Namespace) -> int:
    options = options_from_args(args)
    if wants_launch(args):
        return launch(args.nproc, args.argv)
    result = train(options)
    if not result.is_main:  # each torchrun rank would print the same lines again
        return 0
    log.info("run %s at epoch %d, step %d: %s", result.state, result.epoch, result.step, args.out)
    for line in next_steps(options, result):
        log.info("%s", line)
    return 0
