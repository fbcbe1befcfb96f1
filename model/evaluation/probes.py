"""Linear probes: logistic regression on frozen embeddings.

Two protocols. Patient-grouped cross-validation on the evaluated studies: every study gets an
out-of-fold prediction from a model that never saw any study of the same patient (folds dealt by
``patient_key``), and metrics are computed once over all out-of-fold predictions. And probes fitted
once on separate training studies (``fit_split_probes``: the internal train split) and applied
unchanged to every site. Binary labels use p >= 0.5; diagnoses use the arg-max class.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from model.evaluation.metrics import BinaryResult, binary_metrics, multiclass_metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProbeConfig:
    """Cross-validation settings; ``c`` is scikit-learn's inverse L2 strength (on features
    standardised with the training fold's mean and SD)."""

    folds: int = 5
    c: float = 1.0
    seed: int = 0
    max_iter: int = 2000


def grouped_folds(
    targets: np.ndarray, groups: np.ndarray, folds: int, seed: int
) -> list[tuple[np.ndarray, np.ndarray]]:
    """Patient-grouped, class-balanced folds: list of (train idx, test idx).

    targets: int [N] (class per study); groups: [N] patient keys. Patients are shuffled (seeded),
    ordered by their stratum (the highest class among their studies) and dealt to the folds in
    turn, so every fold gets about the same share of each class and no patient is split.
    """
    unique, group_index = np.unique(np.asarray(groups), return_inverse=True)
    n_splits = min(folds, unique.size)
    if n_splits < 2:
        raise ValueError(f"cross-validation needs at least 2 patients, got {unique.size}")
    stratum = np.full(unique.size, np.iinfo(np.int64).min)
    np.maximum.at(stratum, group_index, np.asarray(targets, dtype=np.int64))
    order = np.random.default_rng(seed).permutation(unique.size)
    order = order[np.argsort(stratum[order], kind="stable")]
    fold_of_group = np.empty(unique.size, dtype=np.int64)
    fold_of_group[order] = np.arange(unique.size) % n_splits
    fold = fold_of_group[group_index]
    return [(np.flatnonzero(fold != f), np.flatnonzero(fold == f)) for f in range(n_splits)]


def fit_probe(embeddings: np.ndarray, targets: np.ndarray, config: ProbeConfig) -> Pipeline:
    """Standardise (mean and SD of these rows) + L2 logistic regression; targets int [N] with at
    least two classes."""
    model = make_pipeline(
        StandardScaler(), LogisticRegression(C=config.c, max_iter=config.max_iter)
    )
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        model.fit(embeddings, targets)
    return model


def out_of_fold_probabilities(
    embeddings: np.ndarray,
    targets: np.ndarray,
    groups: np.ndarray,
    n_classes: int,
    config: ProbeConfig,
) -> np.ndarray:
    """Out-of-fold class probabilities float [N, n_classes] from grouped cross-validation.

    embeddings: float [N, D]; targets: int [N] in [0, n_classes). A fold whose training part
    has one class only predicts that class's training frequency.
    """
    probabilities = np.zeros((len(targets), n_classes))
    for train, test in grouped_folds(targets, groups, config.folds, config.seed):
        present = np.unique(targets[train])
        if present.size < 2:
            probabilities[np.ix_(test, present)] = 1.0
            continue
        model = fit_probe(embeddings[train], targets[train], config)
        probabilities[np.ix_(test, model.classes_)] = model.predict_proba(embeddings[test])
    return probabilities


def probe_binary(
    embeddings: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray,
    config: ProbeConfig,
    resamples: int = 1000,
) -> tuple[BinaryResult, np.ndarray]:
    """Grouped-CV logistic probe of one binary label; labels {0, 1} [N].

    Returns the metrics and the out-of-fold probabilities float [N] they were computed from.
    """
    targets = np.asarray(labels).astype(int)
    probabilities = out_of_fold_probabilities(embeddings, targets, groups, 2, config)[:, 1]
    metrics = binary_metrics(probabilities, targets, resamples=resamples, seed=config.seed)
    return metrics, probabilities


@dataclass(frozen=True)
class DiagnosisProbeResult:
    """Multi-class probe: accuracy, macro-F1, confusion [C, C], the arg-max class per study
    (``predicted`` int [N]) and one-vs-rest rows per class."""

    accuracy: float
    macro_f1: float
    confusion: np.ndarray
    predicted: np.ndarray
    per_class: dict[str, BinaryResult]


def probe_diagnosis(
    embeddings: np.ndarray,
    targets: np.ndarray,
    groups: np.ndarray,
    classes: list[str],
    config: ProbeConfig,
    resamples: int = 1000,
) -> DiagnosisProbeResult:
    """Grouped-CV multinomial logistic probe; targets int [N] index into ``classes``."""
    probabilities = out_of_fold_probabilities(embeddings, targets, groups, len(classes), config)
    predicted = probabilities.argmax(axis=1)
    summary = multiclass_metrics(targets, predicted, len(classes))
    return DiagnosisProbeResult(
        accuracy=summary["accuracy"],
        macro_f1=summary["macro_f1"],
        confusion=summary["confusion"],
        predicted=predicted,
        per_class=one_vs_rest(probabilities, targets, classes, resamples, config.seed),
    )


def one_vs_rest(
    probabilities: np.ndarray, targets: np.ndarray, classes: list[str], resamples: int, seed: int
) -> dict[str, BinaryResult]:
    """Per class: AUC of p(class), accuracy/F1 of "arg-max is this class". probabilities [N, C]."""
    predicted = probabilities.argmax(axis=1)
    results = {}
    for index, name in enumerate(classes):
        is_class = targets == index
        if not is_class.any():
            continue
        results[name] = binary_metrics(
            probabilities[:, index],
            is_class,
            resamples=resamples,
            seed=seed,
            decisions=predicted == index,
        )
    return results


@dataclass(frozen=True)
class SplitProbes:
    """Probes fitted once on training studies: one per binary label (``findings``), and one
    multinomial over ``classes`` (``diagnosis``, None without two classes); ``n_fit`` counts the
    training studies of each (``"diagnosis"`` included)."""

    findings: dict[str, Pipeline]
    diagnosis: Pipeline | None
    classes: list[str]
    n_fit: dict[str, int]

    def finding_probabilities(self, name: str, embeddings: np.ndarray) -> np.ndarray | None:
        """p(label = 1) float [N], or None when the label has no probe."""
        model = self.findings.get(name)
        return None if model is None else model.predict_proba(embeddings)[:, 1]

    def diagnosis_probabilities(self, embeddings: np.ndarray) -> np.ndarray | None:
        """Class probabilities float [N, len(classes)] (0 for classes absent in training)."""
        if self.diagnosis is None:
            return None
        probabilities = np.zeros((len(embeddings), len(self.classes)))
        probabilities[:, self.diagnosis.classes_] = self.diagnosis.predict_proba(embeddings)
        return probabilities


def fit_split_probes(
    embeddings: np.ndarray,
    findings: dict[str, np.ndarray],
    diagnosis: tuple[np.ndarray, np.ndarray],
    classes: list[str],
    config: ProbeConfig,
) -> SplitProbes:
    """Fit every probe on one set of training studies.

    embeddings: float [N, D]; findings: label -> float [N] of 1 / 0 / NaN (unknown rows are left
    out; a label with one class among the known rows gets no probe); diagnosis: (usable bool [N],
    class index int [N]) as ``SiteData.diagnosis_targets`` returns.
    """
    probes, n_fit = {}, {}
    for name, values in findings.items():
        known = ~np.isnan(values)
        if np.unique(values[known]).size == 2:
            probes[name] = fit_probe(embeddings[known], values[known].astype(int), config)
            n_fit[name] = int(known.sum())
    usable, targets = diagnosis
    model = None
    if np.unique(targets[usable]).size >= 2:
        model = fit_probe(embeddings[usable], targets[usable], config)
        n_fit["diagnosis"] = int(usable.sum())
    return SplitProbes(findings=probes, diagnosis=model, classes=classes, n_fit=n_fit)
