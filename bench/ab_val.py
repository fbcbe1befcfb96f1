"""Score training runs on the internal val split, the split A/B decisions are taken on.

    python -m bench.ab_val --root data/demo RUN [RUN ...] [--episodes 200]

Per run (its ``best.pt``, else ``last.pt``), one line of four figures:

- ``ZD`` / ``ZP``: mean finding AUC of the default / paraphrase prompt sets (``bench/quality.py``'s
  scoring, on the val studies);
- ``K1``: the 1-shot prototype mean AUC over the findings, episodes seeded and queries chosen as
  the evaluation's (``model.evaluation.fewshot``: no query from a support study's patient);
- ``P``: the diagnosis probe fitted on the train split (L2 strength chosen by patient-grouped inner
  cross-validation there), its accuracy on the val studies.

The test split and the external site are never read, so a rule decided on these figures leaves the
test figures unseen until it is settled. A diagnostic for choosing changes, never part of training
or of the product; the figures are printed, not asserted.
"""

from __future__ import annotations

import argparse
import logging
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from bench.quality import evaluate
from model.data.dataset import CMRDataset
from model.embed import cached_study_embeddings
from model.evaluation.fewshot import FewShotConfig, evaluate_label
from model.evaluation.probes import ProbeConfig, fit_split_probes
from model.labels import diagnosis_targets, labels_by_study
from model.schema import DIAGNOSES, FINDINGS
from model.training.run_folder import RunFolder


@dataclass(frozen=True)
class ValScores:
    """One run's val figures (NaN where the split leaves a figure undefined)."""

    zero_shot_default: float
    zero_shot_paraphrase: float
    one_shot_prototype: float
    probe_accuracy: float

    def line(self, name: str) -> str:
        return (
            f"{name}: ZD {self.zero_shot_default:.3f}  ZP {self.zero_shot_paraphrase:.3f}  "
            f"K1 {self.one_shot_prototype:.3f}  P {self.probe_accuracy:.3f}"
        )


def one_shot_prototype(
    vectors: np.ndarray, labels: pd.DataFrame, episodes: int, groups: np.ndarray
) -> float:
    """Mean over the findings of the 1-shot prototype AUC; vectors float [N, D] unit-norm,
    labels aligned to them (1 / 0 / NaN), groups [N] their patient keys: as in the evaluation,
    a study of a support patient is no query (a repeat scan would be found by its likeness)."""
    config = FewShotConfig(shots=(1,), episodes=episodes)
    aucs = []
    for finding in FINDINGS:
        if finding not in labels.columns:
            continue
        values = labels[finding].to_numpy(dtype=float)
        known = ~np.isnan(values)
        rows = evaluate_label(  # the point only: no interval
            vectors[known],
            values[known].astype(int),
            finding,
            config,
            groups=groups[known],
            resamples=0,
        )
        if not rows.empty:  # empty when a class has too few studies for a query
            aucs.extend(rows.loc[rows["method"] == "prototype", "auc"].tolist())
    return float(np.nanmean(aucs)) if aucs else float("nan")


def probe_accuracy(
    train: np.ndarray, train_labels: pd.DataFrame, groups: np.ndarray,
    val: np.ndarray, val_labels: pd.DataFrame,
) -> float:  # fmt: skip
    """Accuracy on val of the diagnosis probe fitted on the train rows, as the evaluation fits
    its train-split probe (``fit_split_probes``); NaN without two classes or a val diagnosis."""
    classes = list(DIAGNOSES)
    target = diagnosis_targets(train_labels, classes)
    probes = fit_split_probes(train, groups, {}, target, classes, ProbeConfig())
    usable, truth = diagnosis_targets(val_labels, classes)
    if not usable.any():
        return float("nan")
    probabilities = probes.diagnosis_probabilities(val[usable])
    if probabilities is None:
        return float("nan")
    return float((probabilities.argmax(axis=1) == truth[usable]).mean())


def val_scores(checkpoint: Path, root: Path, episodes: int) -> ValScores:
    """Every figure of one checkpoint on ``root/internal``'s val split."""
    dataset = CMRDataset.open(root / "internal")
    labels = labels_by_study(root / "raw" / "internal" / "labels.csv", dataset.linkage())
    embeddings = cached_study_embeddings(checkpoint, dataset)
    studies = dataset.studies.set_index("study_id").loc[embeddings.ids]

    def split_rows(split: str) -> tuple[np.ndarray, pd.DataFrame, pd.DataFrame]:
        keep = (studies["split"] == split).to_numpy()
        return embeddings.vectors[keep], labels.reindex(studies.index[keep]), studies[keep]

    val, val_labels, val_studies = split_rows("val")
    train, train_labels, train_studies = split_rows("train")
    tables = evaluate(checkpoint, root, "internal", "val")
    val_groups = val_studies["patient_key"].astype(str).to_numpy()
    train_groups = train_studies["patient_key"].astype(str).to_numpy()
    return ValScores(
        zero_shot_default=float(tables["default"]["AUC"].mean()),
        zero_shot_paraphrase=float(tables["paraphrase"]["AUC"].mean()),
        one_shot_prototype=one_shot_prototype(val, val_labels, episodes, val_groups),
        probe_accuracy=probe_accuracy(train, train_labels, train_groups, val, val_labels),
    )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("runs", type=Path, nargs="+", help="run folders (best.pt or last.pt)")
    parser.add_argument("--root", type=Path, default=Path("data/demo"))
    parser.add_argument("--episodes", type=int, default=200)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for run in args.runs:
        scores = val_scores(RunFolder(run).final_checkpoint, args.root, args.episodes)
        print(scores.line(str(run)), flush=True)


if __name__ == "__main__":
    main()
