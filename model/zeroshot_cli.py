"""``python -m model zeroshot``: per-study zero-shot probabilities for a prompt set.

Writes ``--out`` (CSV: study_id, site, split, one column per finding, ``dx_<class>`` per diagnosis).
With labels (``--labels``, a CSV keyed by ``accession_number`` joined through the dataset's
linkage.csv, else the dataset's own labels file, ``model.labels.label_file``; evaluation only) it
also writes ``<out stem>_metrics.csv`` beside it (per site and overall:
``model,site,Label,Accuracy,F1-score,AUC`` plus sensitivity/specificity/counts) and logs a table.
The dataset's own file is skipped when it has no finding column (an ACDC ingest's diagnoses).
``--out`` is written holding the dataset's ingest lock shared: a study a ``forget`` erased while
the scores were computed loses its row (``model.withdrawn_outputs``).
"""

from __future__ import annotations

import argparse
import functools
import logging
from pathlib import Path

import numpy as np
import pandas as pd

from model.atomic import atomic_write_with
from model.errors import DataError, UserError
from model.evaluation.held_out import warn_trained_among
from model.input_checks import check_inputs
from model.labels import did_you_mean, label_file, labels_by_study, unlabelled
from model.output_path import check_not_an_input, check_output_path
from model.prompts import DEFAULT_PROMPTS, PromptSet
from model.withdrawn_outputs import write_without_withdrawn
from model.zeroshot import finding_metrics, score_diagnoses, score_findings

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, type=Path, help="a .pt checkpoint")
    parser.add_argument("--data", required=True, type=Path, help="an ingested dataset folder")
    parser.add_argument("--prompts", type=Path, default=DEFAULT_PROMPTS, help="prompt-set YAML")
    parser.add_argument(
        "--labels",
        type=Path,
        help="labels CSV (accession_number, label columns) for metrics (default: the dataset's "
        "own: DATASET/labels.csv from ingest --labels, or the demo's raw labels)",
    )
    parser.add_argument("--split", choices=("train", "val", "test"), help="only this split")
    parser.add_argument(
        "--out",
        required=True,
        type=Path,
        help="output CSV: a row per study (study_id, site, split), a probability column per finding "
        "and dx_<class> per diagnosis; with labels, the metrics go beside it in "
        "<name>_metrics.csv",
    )
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))


def evaluate_by_site(
    probs: pd.DataFrame, labels: pd.DataFrame, sites: pd.Series, model_name: str
) -> pd.DataFrame:
    """Finding metrics per site and over all studies (rows: site x finding)."""
    tables = []
    groups = [("all", probs.index)] + [
        (site, probs.index[sites.reindex(probs.index) == site]) for site in sorted(sites.unique())
    ]
    for site, index in groups:
        table = finding_metrics(probs.loc[index], labels)
        table.insert(0, "site", site)
        tables.append(table)
    out = pd.concat(tables, ignore_index=True)
    out.insert(0, "model", model_name)
    return out


def check_finding_columns(prompt_set: PromptSet, labels: pd.DataFrame, path: Path) -> None:
    """Raise DataError when no finding of the prompt set has a column in the labels (the
    metrics are per finding: a labels file of diagnoses alone, as an ACDC ingest writes, has none).
    """
    if not any(finding in labels.columns for finding in prompt_set.findings):
        findings = ", ".join(prompt_set.findings) or "none"
        raise DataError(
            f"labels file {path} has no column for a finding of the prompt set ({findings}); "
            f"its columns: {', '.join(labels.columns)}. Leave out --labels for the "
            "probabilities alone"
        )


def warn_unlabelled_findings(prompt_set: PromptSet, labels: pd.DataFrame, path: Path) -> None:
    """Warn, naming the closest label column, for each finding of the prompt set that has no
    column in the labels: it gets probabilities but no metrics (a key typo'd in the YAML,
    ``lv_dilaton``, dropped ``lv_dilation`` from the metrics without a word)."""
    for name, close in unlabelled(prompt_set.findings, labels.columns):
        log.warning(
            "prompt-set finding '%s' has no column in %s: probabilities only, no metrics%s",
            name,
            path,
            did_you_mean(close),
        )


def labels_for_metrics(
    given: Path | None, dataset: object, prompt_set: PromptSet
) -> pd.DataFrame | None:
    """The labels the metrics use, by study: ``given``, else the dataset's own (``label_file``)
    when it is usable and has a finding of the prompt set; None for probabilities alone.
    ``dataset`` is a ``CMRDataset``."""
    if given is not None:
        labels = labels_by_study(given, dataset.linkage())
        check_finding_columns(prompt_set, labels, given)
        warn_unlabelled_findings(prompt_set, labels, given)
        return labels
    own = label_file(dataset.root)
    if own is None:
        log.info("no --labels and %s holds no labels.csv: probabilities only", dataset.root)
        return None
    try:
        labels = labels_by_study(own, dataset.linkage())
    except DataError as err:  # not asked for: the probabilities are still worth having
        log.warning("%s: probabilities only", err)
        return None
    if not any(finding in labels.columns for finding in prompt_set.findings):
        log.info("%s has no finding of the prompt set: probabilities only", own)
        return None
    log.info("labels for the metrics: %s", own)
    warn_unlabelled_findings(prompt_set, labels, own)
    return labels


def log_undefined_aucs(metrics: pd.DataFrame) -> None:
    """Say why a finding's AUC over every site is blank (NaN): its known labels are of one
    class (a hospital's column of all 0), or it has none."""
    for row in metrics[(metrics["site"] == "all") & metrics["AUC"].isna()].itertuples():
        if row.n == 0:
            log.warning("%s: no AUC: no study scored has a known label", row.Label)
        else:
            value = 1 if row.n_positive else 0
            log.warning(
                "%s: no AUC: every one of its %d studies with a known label is %d",
                row.Label,
                row.n,
                value,
            )


def shown_metrics(metrics: pd.DataFrame) -> pd.DataFrame:
    """The table the command logs: per site and over all studies, or the rows of the one site
    alone when there is one (its "all" rows would repeat them, doubling the table)."""
    if metrics["site"].nunique() == 2:  # "all" and one site
        metrics = metrics[metrics["site"] != "all"]
    return metrics[["site", "Label", "AUC", "Accuracy", "F1-score", "n"]]


def metrics_path(out: Path) -> Path:
    """``<out stem>_metrics.csv`` beside the probabilities CSV ``out``."""
    return out.with_name(f"{out.stem}_metrics.csv")


def run(args: argparse.Namespace) -> int:
    from model.data.dataset import CMRDataset
    from model.embed import cached_study_embeddings, embed_texts
    from model.evaluation.encoders import checkpoint_name
    from model.training.checkpoint import load_checkpoint
    from model.training.distributed import resolve_device

    if args.out.suffix != ".csv":
        raise UserError(f"--out {args.out} must be a .csv file")
    check_output_path(args.out, "--out", folder=False)
    for path, what in ((args.out, "--out"), (metrics_path(args.out), "the metrics file")):
        check_not_an_input(path, what, (args.labels, label_file(args.data)), args.data)
    check_inputs(
        checkpoint=args.checkpoint, datasets=[args.data], prompts=args.prompts, labels=[args.labels]
    )
    prompt_set = PromptSet.load(args.prompts)
    ds = CMRDataset.open(args.data)
    if not ds.ids(args.split):
        where = f" in the {args.split} split" if args.split else ""
        raise DataError(f"dataset {args.data} holds no studies{where} to score")
    labels = labels_for_metrics(args.labels, ds, prompt_set)
    if labels is not None:
        check_output_path(metrics_path(args.out), "the metrics file", folder=False)
    device = resolve_device(args.device)
    model, meta = load_checkpoint(args.checkpoint, device=device)
    embeddings = cached_study_embeddings(args.checkpoint, ds, device=device, loaded=(model, meta))
    studies = ds.studies.set_index("study_id").reindex(embeddings.ids)
    keep = np.ones(len(embeddings.ids), dtype=bool)
    if args.split:
        keep = (studies["split"] == args.split).to_numpy()
    ids = [i for i, k in zip(embeddings.ids, keep, strict=True) if k]
    vectors = embeddings.vectors[keep]
    encoder = functools.partial(embed_texts, model)
    scale = float(model.logit_scale.exp().item())
    findings = score_findings(vectors, prompt_set, encoder, scale, ids=ids)
    diagnoses = score_diagnoses(vectors, prompt_set, encoder, scale, ids=ids).add_prefix("dx_")
    table = pd.concat([studies.loc[ids, ["site", "split"]], findings, diagnoses], axis=1)
    _remove_earlier_metrics(metrics_path(args.out), labels is None)
    to_csv = functools.partial(table.reset_index().to_csv, index=False)
    scores = functools.partial(atomic_write_with, args.out, to_csv)
    gone = write_without_withdrawn(args.out, scores, ids, [args.data], "the zero-shot scores")
    log.info("wrote zero-shot probabilities of %d studies to %s", len(ids) - gone, args.out)
    if labels is not None:
        metrics = evaluate_by_site(
            findings, labels, studies["site"], checkpoint_name(args.checkpoint)
        )
        atomic_write_with(metrics_path(args.out), lambda tmp: metrics.to_csv(tmp, index=False))
        shown = shown_metrics(metrics)
        log.info(
            "zero-shot finding metrics:\n%s", shown.to_string(index=False, float_format="%.3f")
        )
        log_undefined_aucs(metrics)
        log.info("wrote %s", metrics_path(args.out))
        where = f"the metrics in {metrics_path(args.out)}"
        warn_trained_among(args.checkpoint, meta.data_fingerprint, ds, ids, where)
    return 0


def _remove_earlier_metrics(path: Path, said: bool) -> None:
    """Remove an earlier run's metrics file before this run's scores replace its own: a run
    killed while computing its metrics (bootstrap intervals take seconds) left them beside
    scores of other prompts or another checkpoint. ``said``: log it (no metrics come now)."""
    if path.is_file():
        path.unlink()
        if said:
            log.info("removed %s, written by an earlier run with labels", path)
