"""Linear-probe results of one model at one site, as the suite's table rows and diagnosis blocks.

Two protocols, side by side in ``probe.csv`` and ``diagnosis.csv``:

- ``linear probe``: patient-grouped cross-validation on the site's own evaluated studies;
- ``train-split probe``: probes fitted once on the internal dataset's labelled train and val
  studies (the studies the encoder was developed on) and applied unchanged to the internal test
  split and to every external site. It trains on several times more studies than a
  cross-validation fold of the test split, and at an external site it shows whether a supervised
  model built at the development site carries over.
"""

from __future__ import annotations

import logging

import numpy as np
from threadpoolctl import threadpool_limits

from model.evaluation.encoders import Encoder
from model.evaluation.headline import CV_SETTING, SPLIT_SETTING
from model.evaluation.inputs import SiteData
from model.evaluation.metrics import (
    BinaryResult,
    DiagnosisScores,
    LabelScores,
    binary_metrics,
    bootstrap_counts,
    diagnosis_scores,
    label_scores,
    multiclass_metrics,
    percentile_ci,
)
from model.evaluation.probes import (
    ProbeConfig,
    SplitProbes,
    fit_split_probes,
    one_vs_rest,
    probe_binary,
    probe_diagnosis,
)
from model.wording import counted

log = logging.getLogger(__name__)

Scores = dict[tuple[str, str], LabelScores]
Diagnoses = dict[str, DiagnosisScores]  # setting -> per-study class probabilities


def diagnosis_block(
    setting: str,
    classes: list[str],
    targets: np.ndarray,
    predicted: np.ndarray,
    groups: np.ndarray,
    resamples: int,
    seed: int,
) -> dict:
    """The summary of one diagnosis setting: accuracy and macro-F1 with their 95% CIs
    (``diagnosis_intervals``), n and confusion [C, C]. targets, predicted: int [N]; groups: [N]
    patient keys."""
    summary = multiclass_metrics(targets, predicted, len(classes))
    return {
        "setting": setting,
        "classes": classes,
        "accuracy": summary["accuracy"],
        "macro_f1": summary["macro_f1"],
        **diagnosis_intervals(targets, predicted, len(classes), groups, resamples, seed),
        "n": int(len(targets)),
        "confusion": summary["confusion"].tolist(),
    }


def diagnosis_intervals(
    targets: np.ndarray,
    predicted: np.ndarray,
    n_classes: int,
    groups: np.ndarray,
    resamples: int,
    seed: int,
) -> dict[str, float]:
    """``accuracy_lo/_hi`` and ``macro_f1_lo/_hi``: 95% percentile bootstrap intervals of the
    fixed predictions over the patients (``metrics.bootstrap_counts``), each resample's macro-F1
    over the classes it holds (as ``multiclass_metrics``); NaN without resamples."""
    if resamples <= 0 or len(targets) < 2:
        return dict.fromkeys(("accuracy_lo", "accuracy_hi", "macro_f1_lo", "macro_f1_hi"), np.nan)
    truth = np.asarray(targets)[:, None] == np.arange(n_classes)[None, :]
    guess = np.asarray(predicted)[:, None] == np.arange(n_classes)[None, :]
    accuracy, macro_f1 = [], []
    for counts in bootstrap_counts(len(targets), resamples, seed, groups):
        weights = counts.astype(np.float64)
        correct = weights @ (truth & guess)  # [R, C]: studies of a class predicted as it
        held = weights @ truth + weights @ guess  # [R, C]: studies of, or predicted as, a class
        accuracy.append(correct.sum(axis=1) / weights.sum(axis=1))
        f1 = np.where(held > 0, 2 * correct / np.maximum(held, 1e-12), np.nan)
        macro_f1.append(np.nanmean(f1, axis=1))
    (acc_lo, acc_hi), (f1_lo, f1_hi) = (
        percentile_ci(np.concatenate(values)) for values in (accuracy, macro_f1)
    )
    return {
        "accuracy_lo": acc_lo,
        "accuracy_hi": acc_hi,
        "macro_f1_lo": f1_lo,
        "macro_f1_hi": f1_hi,
    }


def _probe_targets(
    site: SiteData, problems: list[str]
) -> tuple[list[str], np.ndarray, np.ndarray] | None:
    """(classes, usable bool [N], targets int [N]) of the site's diagnoses for the
    cross-validated probe, or None when fewer than two classes are left (said in ``problems``).

    The studies of a class held by a single patient are left out (and said): the fold holding
    that patient trains without the class, so they would be misclassified by construction and
    its one-vs-rest AUC, the accuracy and the macro-F1 biased low."""
    classes = site.diagnosis_columns()
    usable, targets = site.diagnosis_targets(classes)
    groups = np.asarray(site.groups)
    for index in np.unique(targets[usable]):
        of_class = usable & (targets == index)
        if np.unique(groups[of_class]).size < 2:
            usable = usable & ~of_class
            problems.append(
                f"site {site.name}: diagnosis probe leaves out '{classes[index]}' "
                f"({counted(int(of_class.sum()), 'study')} of 1 patient): cross-validation needs "
                "at least "
                "2 patients of a class, or the fold holding its patient trains without it; "
                "the probe's accuracy and macro-F1 are over the other classes' studies"
            )
    present = np.unique(targets[usable])
    if present.size == 1:
        problems.append(
            f"site {site.name}: diagnosis probe skipped: every labelled study "
            f"({counted(int(usable.sum()), 'study')}) is '{classes[present[0]]}'"
        )
    return (classes, usable, targets) if present.size >= 2 else None


def cross_validated_probes(
    vectors: np.ndarray,
    site: SiteData,
    findings: dict[str, np.ndarray],
    config: ProbeConfig,
    bootstrap: int,
    problems: list[str],
    scores: Scores,
    diagnoses: Diagnoses,
) -> tuple[dict, list[dict]]:
    """Patient-grouped CV logistic probes: per finding (out-of-fold probabilities added to
    ``scores``), and multi-class over diagnoses (probabilities added to ``diagnoses``).
    vectors: float [N, D] of ``site.ids``."""
    rows = []
    groups = site.groups
    for name, known in findings.items():
        y = site.labels[name].to_numpy()[known]
        try:
            result, p = probe_binary(vectors[known], y, groups[known], config, bootstrap)
        except ValueError as err:
            problems.append(f"site {site.name}: linear probe of '{name}' skipped: {err}")
            continue
        rows.append(binary_row(name, CV_SETTING, result, "finding"))
        scores[CV_SETTING, name] = label_scores(
            site.ids, known, p, y, (result.resampled_auc, config.seed)
        )
    diagnosis = _probe_targets(site, problems)
    if diagnosis is None:
        return {}, rows
    classes, usable, targets = diagnosis
    try:
        result = probe_diagnosis(
            vectors[usable], targets[usable], groups[usable], classes, config, bootstrap
        )
    except ValueError as err:
        problems.append(f"site {site.name}: diagnosis probe skipped: {err}")
        return {}, rows
    rows += [binary_row(name, CV_SETTING, r, "diagnosis") for name, r in result.per_class.items()]
    diagnoses[CV_SETTING] = diagnosis_scores(
        site.ids, usable, classes, result.probabilities, targets[usable]
    )
    block = diagnosis_block(
        CV_SETTING,
        classes,
        targets[usable],
        result.predicted,
        groups[usable],
        bootstrap,
        config.seed,
    )
    return block, rows


def fit_train_split(
    encoder: Encoder, development: SiteData, config: ProbeConfig, blas_threads: int
) -> SplitProbes:
    """Embed the development studies (``inputs.load_development``) and fit every probe on them."""
    vectors = np.asarray(encoder.studies(development.dataset, development.ids), dtype=np.float64)
    labels = development.labels
    findings = {name: labels[name].to_numpy() for name in development.finding_columns()}
    classes = development.diagnosis_columns()
    with threadpool_limits(limits=blas_threads):
        probes = fit_split_probes(
            vectors,
            development.groups,
            findings,
            development.diagnosis_targets(classes),
            classes,
            config,
        )
    log.info("%s: train-split probes fitted on %s studies", encoder.name, probes.n_fit)
    return probes


def train_split_results(
    vectors: np.ndarray,
    site: SiteData,
    findings: dict[str, np.ndarray],
    probes: SplitProbes,
    config: ProbeConfig,
    bootstrap: int,
    scores: Scores,
    diagnoses: Diagnoses,
) -> tuple[dict, list[dict]]:
    """The train-split probes scored on the site: rows per finding (probabilities added to
    ``scores``) and per diagnosis class, and the diagnosis block (probabilities added to
    ``diagnoses``). vectors: float [N, D]."""
    rows = []
    for name, known in findings.items():
        p = probes.finding_probabilities(name, vectors[known])
        if p is None:
            continue
        y = site.labels[name].to_numpy()[known]
        result = binary_metrics(p, y, bootstrap, config.seed, groups=site.groups[known])
        row = binary_row(name, SPLIT_SETTING, result, "finding")
        rows.append({**row, "n_fit": probes.n_fit[name]})
        scores[SPLIT_SETTING, name] = label_scores(site.ids, known, p, y)
    usable, targets = site.diagnosis_targets(probes.classes)
    probabilities = probes.diagnosis_probabilities(vectors[usable])
    if probabilities is None or not usable.any():
        return {}, rows
    per_class = one_vs_rest(
        probabilities, targets[usable], probes.classes, bootstrap, config.seed, site.groups[usable]
    )
    n_fit = probes.n_fit["diagnosis"]
    rows += [
        {**binary_row(k, SPLIT_SETTING, r, "diagnosis"), "n_fit": n_fit}
        for k, r in per_class.items()
    ]
    block = diagnosis_block(
        SPLIT_SETTING,
        probes.classes,
        targets[usable],
        probabilities.argmax(axis=1),
        site.groups[usable],
        bootstrap,
        config.seed,
    )
    diagnoses[SPLIT_SETTING] = diagnosis_scores(
        site.ids, usable, probes.classes, probabilities, targets[usable]
    )
    return {**block, "n_fit": n_fit}, rows


def binary_row(name: str, setting: str, result: BinaryResult, task: str) -> dict:
    """One table row: the label key, the setting (``zero-shot``, ``linear probe``, ...), the task
    (``finding``, or ``diagnosis`` for a diagnosis class one-vs-rest) and the metrics."""
    return {"label_key": name, "setting": setting, "task": task, **result.as_row()}
