"""``python -m model evaluate``: paper-style evaluation of a checkpoint, per site.

    python -m model evaluate --checkpoint RUN/best.pt --data DATASET --external DATASET2 \\
        [--labels labels.csv [labels2.csv]] --prompts prompts.yaml --out EVAL \\
        [--compare RUN_FLAT/best.pt RUN_STATIC/best.pt] [--general-clip ViT-B-32:weights.pt] \\
        [--no-train-split-probes]

Without ``--labels`` each dataset is evaluated with its own labels file (``DATASET/labels.csv``,
which ``ingest --labels`` keeps; see ``model.labels.label_file``).

The work happens in ``model.evaluation.runner.evaluate`` (also the dashboard's entry point).
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import replace
from pathlib import Path

from model.errors import DataError, UserError, not_found
from model.evaluation.baselines import parse_general_clip
from model.evaluation.fewshot import FewShotConfig
from model.evaluation.metrics import RESAMPLES
from model.evaluation.probes import ProbeConfig
from model.evaluation.runner import EvaluationRequest, evaluate
from model.evaluation.suite import SuiteConfig
from model.input_checks import check_inputs
from model.prompts import DEFAULT_PROMPTS
from model.training.distributed import resolve_device

log = logging.getLogger(__name__)


_OUT_HELP = (
    "output folder: report.html (open it first), report.md, summary.json, run.json (when it "
    "ran), and a folder per site of CSV tables (zeroshot, probe, fewshot, diagnosis, retrieval, subgroups, prompts, "
    "counts, study_scores, confusion_*; comparison with --compare or --general-clip) and plots "
    "(PNG, each with an SVG)"
)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, type=Path, help="CMR-CLIP checkpoint (.pt)")
    parser.add_argument("--data", required=True, type=Path, help="internal dataset (test split)")
    parser.add_argument(
        "--external",
        nargs="+",
        action="extend",
        type=Path,
        default=[],
        help="external datasets (all studies)",
    )
    parser.add_argument(
        "--labels",
        nargs="+",
        action="extend",
        type=Path,
        default=[],
        help="labels CSV(s) keyed by accession_number, for every dataset (default: each "
        "dataset's own: DATASET/labels.csv from ingest --labels, acdc_labels.csv, or the "
        "demo's raw labels)",
    )
    parser.add_argument("--prompts", type=Path, default=DEFAULT_PROMPTS, help="prompt set YAML")
    parser.add_argument("--out", required=True, type=Path, help=_OUT_HELP)
    parser.add_argument(
        "--compare", nargs="+", action="extend", type=Path, default=[], help="baseline checkpoints"
    )
    parser.add_argument(
        "--general-clip",
        metavar="MODEL[:WEIGHTS_FILE]",
        help="open_clip image CLIP baseline (random weights without a file: exercises the path)",
    )
    parser.add_argument("--general-clip-frames", type=int, default=4, help="frames per view")
    parser.add_argument(
        "--general-clip-size", type=int, help="input size override (default: the model's own)"
    )
    parser.add_argument(
        "--shots", default="1,2,4,8,16,32", help="few-shot k values, comma-separated"
    )
    parser.add_argument("--episodes", type=int, default=100, help="few-shot episodes per k")
    parser.add_argument(
        "--bootstrap", type=int, default=RESAMPLES, help="bootstrap resamples for CIs"
    )
    parser.add_argument("--folds", type=int, default=5, help="linear-probe CV folds")
    parser.add_argument(
        "--probe-c",
        type=float,
        help="fixed inverse L2 strength of the linear probes (default: chosen for each fit by "
        "patient-grouped inner CV on its own training studies, from 0.01 to 10)",
    )
    parser.add_argument(
        "--no-train-split-probes",
        dest="train_split_probes",
        action="store_false",
        help="skip the probes fitted on the internal train/val studies (they embed those too)",
    )
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))


def _shots(text: str) -> tuple[int, ...]:
    try:
        shots = tuple(sorted({int(part) for part in text.split(",") if part.strip()}))
    except ValueError as err:
        raise UserError(f"--shots {text!r}: expected comma-separated integers") from err
    if not shots or min(shots) < 1:
        raise UserError(f"--shots {text!r}: every k must be >= 1")
    return shots


def check_paths_exist(external: list[Path], compare: list[Path]) -> None:
    """Stop before any work when an ``--external`` dataset or a ``--compare`` checkpoint is not
    there (a typo, or a run folder for its .pt): the runner keeps going without such an input
    and names it only at the end, after the rest of the evaluation (minutes to hours)."""
    for path in external:
        if not path.is_dir():
            raise DataError(not_found("--external dataset folder", path, folder=True))
    for path in compare:
        if path.is_dir():
            raise UserError(
                f"--compare {path} is a folder; give its .pt file (a run's best.pt or last.pt)"
            )
        if not path.exists():
            raise UserError(f"--compare checkpoint {path} does not exist")


def request_from_args(args: argparse.Namespace) -> EvaluationRequest:
    """Validate the command line into an ``EvaluationRequest``."""
    check_paths_exist(list(args.external), list(args.compare))
    for name in ("episodes", "folds", "general_clip_frames"):
        if getattr(args, name) < 1:
            raise UserError(f"--{name.replace('_', '-')} must be >= 1")
    if args.folds < 2:
        raise UserError("--folds must be >= 2")
    if args.general_clip_size is not None and args.general_clip_size < 16:
        raise UserError("--general-clip-size must be >= 16 pixels")
    if args.bootstrap < 0:
        raise UserError("--bootstrap must be >= 0")
    if args.probe_c is not None and not args.probe_c > 0:
        raise UserError(f"--probe-c must be > 0, got {args.probe_c}")
    general_clip = None
    if args.general_clip:
        general_clip = parse_general_clip(args.general_clip)
        general_clip = replace(
            general_clip,
            frames_per_view=args.general_clip_frames,
            image_size=args.general_clip_size,
        )
    suite = SuiteConfig(
        bootstrap=args.bootstrap,
        seed=args.seed,
        fewshot=FewShotConfig(shots=_shots(args.shots), episodes=args.episodes, seed=args.seed),
        probe=ProbeConfig(folds=args.folds, c=args.probe_c, seed=args.seed),
        train_split_probes=args.train_split_probes,
    )
    return EvaluationRequest(
        checkpoint=args.checkpoint,
        data=args.data,
        labels=list(args.labels),
        prompts=args.prompts,
        out=args.out,
        external=list(args.external),
        compare=list(args.compare),
        general_clip=general_clip,
        suite=suite,
        device=str(resolve_device(args.device)),
        command=getattr(args, "argv", None),  # set by model.cli.main
    )


def run(args: argparse.Namespace) -> int:
    request = request_from_args(args)
    check_inputs(  # before the labels files are read and the datasets opened
        checkpoint=request.checkpoint,
        datasets=[request.data, *request.external],
        prompts=request.prompts,
        labels=request.labels,
    )
    summary = evaluate(request)
    for result in summary["results"]:
        for block in result["diagnosis"].values():
            log.info(
                "%s @ %s: %s diagnosis accuracy %.3f",
                result["model"],
                result["site"],
                block["setting"],
                float("nan") if block["accuracy"] is None else block["accuracy"],
            )
    log.info("report: %s", args.out / "report.html")
    return 0
