"""``python -m model fewshot``: rank every study of a dataset by its likeness to a few examples.

Writes ``--out`` (CSV: study_id, site, split, score, example; the highest score first; the
examples marked ``example`` / ``counter-example``). With ``--label COLUMN`` (of ``--labels``, a
CSV keyed by ``accession_number``, else the dataset's own labels file) it also writes
``<out stem>_metrics.csv`` beside it: the AUC with its patient-bootstrap 95% CI over the studies
that are neither examples nor studies of an example's patient (``model.few_shot``), and logs it.
``--method prompted`` words the class with the set's ``prompts``, or with ``--positive`` /
``--negative``, which replace the file's. ``--out`` is written holding the dataset's ingest lock
shared: a study a ``forget`` erased meanwhile loses its row (``model.withdrawn_outputs``).
"""

from __future__ import annotations

import argparse
import functools
import logging
from dataclasses import replace
from pathlib import Path

import pandas as pd

from model.atomic import atomic_write_with
from model.errors import DataError, UserError
from model.evaluation.held_out import warn_trained_among
from model.example_set import ExampleSet
from model.few_shot import (
    METHODS,
    evaluate_ranking,
    few_shot_scores,
    label_target,
    method_problem,
    prompt_logits,
    score_table,
)
from model.input_checks import check_inputs
from model.labels import label_file, labels_by_study
from model.output_path import check_not_an_input, check_output_path
from model.prompts import FindingPrompts
from model.withdrawn_outputs import write_without_withdrawn
from model.zeroshot_cli import metrics_path

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, type=Path, help="a .pt checkpoint")
    parser.add_argument("--data", required=True, type=Path, help="an ingested dataset folder")
    parser.add_argument(
        "--examples",
        required=True,
        type=Path,
        help='example-set JSON: {"name": ..., "positive": [study IDs], "negative": [study IDs], '
        'optional "prompts": {"positive": [sentences], "negative": [sentences]}} (the '
        "dashboard's Few-shot page downloads one)",
    )
    parser.add_argument(
        "--method",
        choices=METHODS,
        default="prototype",
        help="prototype (default), logistic, or prompted: a logistic regression that starts "
        "from the zero-shot classifier of the set's prompts (examples optional)",
    )
    for side, what in (("positive", "the class"), ("negative", "its absence")):
        parser.add_argument(
            f"--{side}",
            action="append",
            metavar="TEXT",
            help=f"--method prompted: a sentence wording {what} (repeat for more); with "
            "--positive and --negative the example set's own prompts are not used",
        )
    parser.add_argument(
        "--labels",
        type=Path,
        help="labels CSV (accession_number, label columns) for --label (default: the dataset's "
        "own labels file)",
    )
    parser.add_argument(
        "--label",
        help="a label column (a finding, or a diagnosis class: one against the rest) to check "
        "the ranking against: AUC with a 95%% CI, examples and their patients left out",
    )
    parser.add_argument(
        "--split",
        choices=("train", "val", "test"),
        help="rank and check only this split's studies (the examples may come from any split)",
    )
    parser.add_argument("--out", required=True, type=Path, help="output CSV of ranked scores")
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))


def label_truth(args: argparse.Namespace, dataset: object) -> pd.Series | None:
    """The ``--label`` column (1 / 0 / NaN by study) of ``--labels`` or the dataset's own file;
    None without ``--label``."""
    if args.label is None:
        if args.labels is not None:
            raise UserError("--labels needs --label COLUMN: the label column to check against")
        return None
    source = args.labels or label_file(dataset.root)
    if source is None:
        raise DataError(f"--label {args.label}: {dataset.root} has no labels file; give --labels")
    return label_target(labels_by_study(source, dataset.linkage()), args.label)


def with_prompt_flags(examples: ExampleSet, args: argparse.Namespace) -> ExampleSet:
    """``examples`` with ``--positive`` / ``--negative`` as its prompts when given (both, and
    only with ``--method prompted``: UserError otherwise)."""
    given = [f"--{side}" for side in ("positive", "negative") if getattr(args, side)]
    if not given:
        return examples
    if args.method != "prompted":
        raise UserError(f"{' and '.join(given)} word the class for --method prompted only")
    if len(given) == 1:
        other = "--negative" if given[0] == "--positive" else "--positive"
        raise UserError(f"{given[0]} needs {other} as well: word the class and its absence")
    prompts = FindingPrompts(tuple(args.positive), tuple(args.negative))
    return replace(examples, prompts=prompts)


def check_inputs_kept(args: argparse.Namespace) -> None:
    """UserError when ``--out`` or the metrics file beside it would overwrite what the command
    reads: the labels file, or a file of the dataset folder."""
    labels = args.labels or (label_file(args.data) if args.label else None)
    for path, what in ((args.out, "--out"), (metrics_path(args.out), "the metrics file")):
        check_not_an_input(path, what, (labels, args.examples), args.data)


def run(args: argparse.Namespace) -> int:
    from model.data.dataset import CMRDataset
    from model.embed import cached_study_embeddings, embed_texts
    from model.training.checkpoint import load_checkpoint
    from model.training.distributed import resolve_device

    if args.out.suffix != ".csv":
        raise UserError(f"--out {args.out} must be a .csv file")
    check_output_path(args.out, "--out", folder=False)
    check_inputs_kept(args)
    check_inputs(checkpoint=args.checkpoint, datasets=[args.data], labels=[args.labels])
    examples = with_prompt_flags(ExampleSet.load(args.examples), args)
    problem = method_problem(examples, args.method)
    if problem is not None:  # before the checkpoint is loaded
        wording = args.method == "prompted" and examples.prompt_problem() is not None
        flags = args.positive is not None and wording
        if wording and examples.prompts is None:  # say how to word it here
            problem += ': give --positive TEXT --negative TEXT, or the set\'s "prompts"'
        raise UserError(f"{'--positive/--negative' if flags else args.examples}: {problem}")
    ds = CMRDataset.open(args.data)
    examples.check_known(ds.ids(), f"dataset {args.data}")
    truth = label_truth(args, ds)
    if truth is not None:
        check_output_path(metrics_path(args.out), "the metrics file", folder=False)
    device = resolve_device(args.device)
    loaded = load_checkpoint(args.checkpoint, device=device)
    embeddings = cached_study_embeddings(args.checkpoint, ds, device=device, loaded=loaded)
    prior = None
    if args.method == "prompted":
        model = loaded[0]
        encoder = functools.partial(embed_texts, model)
        scale = float(model.scale().detach())
        prior = prompt_logits(embeddings.vectors, examples.prompts, encoder, scale)
    scores = few_shot_scores(
        embeddings.vectors, embeddings.ids, examples, args.method, prior_logits=prior
    )
    studies = ds.studies.set_index("study_id")
    table = score_table(scores, studies)
    if args.split is not None:  # the examples stay listed, marked, wherever they come from
        table = table[table["split"].astype(str).eq(args.split) | table["example"].ne("")]
        if truth is not None:
            truth = truth.where(studies["split"].reindex(truth.index).astype(str).eq(args.split))
    write = functools.partial(
        atomic_write_with, args.out, functools.partial(table.to_csv, index=False)
    )
    gone = write_without_withdrawn(args.out, write, table["study_id"], [args.data], "the scores")
    log.info("wrote %s scores of %d studies to %s", args.method, len(table) - gone, args.out)
    if truth is not None:
        write_evaluation(scores, truth, studies["patient_key"], args, examples)
        where, known = f"the AUC in {metrics_path(args.out)}", list(truth.dropna().index)
        warn_trained_among(args.checkpoint, loaded[1].data_fingerprint, ds, known, where)
    elif metrics_path(args.out).is_file():  # an earlier run's, no longer beside its scores
        metrics_path(args.out).unlink()
        log.info("removed %s, written by an earlier run with --label", metrics_path(args.out))
    return 0


def write_evaluation(
    scores: pd.DataFrame,
    truth: pd.Series,
    patients: pd.Series,
    args: argparse.Namespace,
    examples: ExampleSet,
) -> None:
    """The AUC of ``scores`` against ``truth``, logged and written beside ``--out`` (for
    ``prompted``, with the wording scored: the file's or the flags')."""
    try:
        result = evaluate_ranking(scores, truth, patients, args.label)
    except DataError as err:
        metrics_path(args.out).unlink(missing_ok=True)  # not an earlier run's beside new scores
        raise DataError(f"{err} (the scores are written to {args.out})") from err
    row = {"method": args.method, "split": args.split or "all", **result.as_row()}
    if args.method == "prompted" and examples.prompts is not None:
        row["positive_prompts"] = " | ".join(examples.prompts.positive)
        row["negative_prompts"] = " | ".join(examples.prompts.negative)
    atomic_write_with(
        metrics_path(args.out), lambda tmp: pd.DataFrame([row]).to_csv(tmp, index=False)
    )
    log.info(
        "%s: AUC %.3f (95%% CI %.3f-%.3f) over %d studies, %d positive; left out: %d examples "
        "and %d other studies of their patients",
        result.label,
        result.auc,
        result.auc_lo,
        result.auc_hi,
        result.n,
        result.n_positive,
        result.examples,
        result.same_patient,
    )
    log.info("wrote %s", metrics_path(args.out))
