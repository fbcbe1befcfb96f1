"""Linear probes: logistic regression on frozen embeddings.

Two protocols. Patient-grouped cross-validation on the evaluated studies: every study gets an
out-of-fold prediction from a model that never saw any study of the same patient (folds dealt by
``patient_key``), and metrics are computed once over all out-of-fold predictions. And probes fitted
once on separate training studies (``fit_split_probes``: the internal train split) and applied
unchanged to every site. Binary labels use p >= 0.5; diagnoses use the arg-max class. Each fit
chooses its L2 strength by patient-grouped inner cross-validation on its own training studies
(``choose_c``) unless ``ProbeConfig.c`` fixes it: no evaluated label picks a hyper-parameter.
"""

from __future__ import annotations

import logging
import warnings
from dataclasses import dataclass
from typing import TypeVar

import numpy as np
from sklearn.exceptions import ConvergenceWarning
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler

from model.evaluation.metrics import BinaryResult, binary_metrics, multiclass_metrics

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ProbeConfig:
    """Cross-validation settings. ``c`` is scikit-learn's inverse L2 strength (on features
    standardised with the training studies' mean and SD); with ``c`` None each fit chooses it
    from ``c_grid`` by patient-grouped inner cross-validation on its own training studies
    (``choose_c``), as scikit-learn's ``LogisticRegressionCV`` would, never on evaluated labels."""

    folds: int = 5
    c: float | None = None
    c_grid: tuple[float, ...] = (0.01, 0.03, 0.1, 0.3, 1.0, 3.0, 10.0)
    seed: int = 0
    max_iter: int = 2000

    def __post_init__(self) -> None:
        if not self.c_grid or min(self.c_grid) <= 0 or (self.c is not None and self.c <= 0):
            raise ValueError("probe C values must be positive")


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


Estimator = TypeVar("Estimator", Pipeline, LogisticRegression)
FALLBACK_C = 1.0  # scikit-learn's default, when there are too few patients to choose


def _pipeline(c: float, max_iter: int) -> Pipeline:
    return make_pipeline(StandardScaler(), LogisticRegression(C=c, max_iter=max_iter))


def _fit(model: Estimator, embeddings: np.ndarray, targets: np.ndarray) -> Estimator:
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        return model.fit(embeddings, targets)


def _path_log_losses(
    embeddings: np.ndarray,
    targets: np.ndarray,
    train: np.ndarray,
    test: np.ndarray,
    config: ProbeConfig,
) -> np.ndarray:
    """Summed log-loss on ``test`` of a fit on ``train`` for each C of the grid: float [len(grid)].
    The fits go up the sorted grid, each starting from the previous solution."""
    scaler = StandardScaler().fit(embeddings[train])
    fit_x, test_x = scaler.transform(embeddings[train]), scaler.transform(embeddings[test])
    model = LogisticRegression(max_iter=config.max_iter, warm_start=True)
    n_classes = int(targets.max()) + 1
    losses = np.zeros(len(config.c_grid))
    for i in np.argsort(config.c_grid):
        _fit(model.set_params(C=config.c_grid[i]), fit_x, targets[train])
        probabilities = np.full((len(test), n_classes), 1e-12)
        probabilities[:, model.classes_] = model.predict_proba(test_x)
        chosen = probabilities[np.arange(len(test)), targets[test]]
        losses[i] = -np.log(np.maximum(chosen, 1e-12)).sum()
    return losses


def choose_c(
    embeddings: np.ndarray, targets: np.ndarray, groups: np.ndarray, config: ProbeConfig
) -> float:
    """The C of ``config.c_grid`` with the lowest mean out-of-fold log-loss in patient-grouped
    inner cross-validation (ties: the earlier in the grid); ``FALLBACK_C`` when no inner fold has
    two classes to learn from. embeddings float [N, D]; targets int [N]; groups [N]."""
    try:
        folds = grouped_folds(targets, groups, config.folds, config.seed)
    except ValueError:
        return FALLBACK_C
    folds = [(train, test) for train, test in folds if np.unique(targets[train]).size >= 2]
    if not folds:
        return FALLBACK_C
    losses = np.zeros(len(config.c_grid))
    for train, test in folds:
        losses += _path_log_losses(embeddings, targets, train, test, config)
    chosen = float(config.c_grid[int(np.argmin(losses))])
    log.debug("probe C %g chosen on %d studies (grid %s)", chosen, len(targets), config.c_grid)
    return chosen


def fit_probe(
    embeddings: np.ndarray, targets: np.ndarray, groups: np.ndarray, config: ProbeConfig
) -> Pipeline:
    """Standardise (mean and SD of these rows) + L2 logistic regression, with ``config.c`` or
    the C that ``choose_c`` picks on these rows; targets int [N] with at least two classes,
    groups [N] the patient of each row."""
    c = config.c if config.c is not None else choose_c(embeddings, targets, groups, config)
    return _fit(_pipeline(c, config.max_iter), embeddings, targets)


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
        model = fit_probe(embeddings[train], targets[train], groups[train], config)
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
    Raises ``ValueError`` when a class has a single patient: the fold holding that patient would
    train on the other class alone and rank its studies last, an AUC low by construction.
    """
    targets = np.asarray(labels).astype(int)
    for value, name in ((1, "positive"), (0, "negative")):
        patients = np.unique(np.asarray(groups)[targets == value]).size
        if patients < 2:
            raise ValueError(
                f"cross-validation needs at least 2 patients of each class ({patients} {name})"
            )
    probabilities = out_of_fold_probabilities(embeddings, targets, groups, 2, config)[:, 1]
    metrics = binary_metrics(
        probabilities, targets, resamples=resamples, seed=config.seed, groups=groups
    )
    return metrics, probabilities


@dataclass(frozen=True)
class DiagnosisProbeResult:
    """Multi-class probe: accuracy, macro-F1, confusion [C, C], the out-of-fold class
    probabilities float [N, C], their arg-max class per study (``predicted`` int [N]) and
    one-vs-rest rows per class."""

    accuracy: float
    macro_f1: float
    confusion: np.ndarray
    probabilities: np.ndarray
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
        probabilities=probabilities,
        predicted=predicted,
        per_class=one_vs_rest(probabilities, targets, classes, resamples, config.seed, groups),
    )


def one_vs_rest(
    probabilities: np.ndarray,
    targets: np.ndarray,
    classes: list[str],
    resamples: int,
    seed: int,
    groups: np.ndarray | None = None,
) -> dict[str, BinaryResult]:
    """Per class: AUC of p(class), accuracy/F1 of "arg-max is this class". probabilities [N, C];
    groups: [N] patient keys, the bootstrap's resampled units."""
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
            groups=groups,
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
    groups: np.ndarray,
    findings: dict[str, np.ndarray],
    diagnosis: tuple[np.ndarray, np.ndarray],
    classes: list[str],
    config: ProbeConfig,
) -> SplitProbes:
    """Fit every probe on one set of training studies.

    embeddings: float [N, D]; groups: [N] patient keys (for ``choose_c``); findings: label ->
    float [N] of 1 / 0 / NaN (unknown rows are left out; a label with one class among the known
    rows gets no probe); diagnosis: (usable bool [N], class index int [N]) as
    ``SiteData.diagnosis_targets`` returns.
    """
    probes, n_fit = {}, {}
    for name, values in findings.items():
        known = ~np.isnan(values)
        if np.unique(values[known]).size == 2:
            probes[name] = fit_probe(
                embeddings[known], values[known].astype(int), groups[known], config
            )
            n_fit[name] = int(known.sum())
    usable, targets = diagnosis
    model = None
    if np.unique(targets[usable]).size >= 2:
        model = fit_probe(embeddings[usable], targets[usable], groups[usable], config)
        n_fit["diagnosis"] = int(usable.sum())
    return SplitProbes(findings=probes, diagnosis=model, classes=classes, n_fit=n_fit)
