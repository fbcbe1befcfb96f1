"""Classification metrics, vectorised over rows (episodes, bootstrap resamples).

Every ``*_rows`` function maps ``[R, N]`` arrays to one value per row ``[R]``: a thousand
bootstrap resamples or a hundred few-shot episodes are one numpy call; ``valid`` masks give rows
their own subsets of the columns. No threshold is tuned here: predictions are ``p >= 0.5``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field

import numpy as np

from model.evaluation.weighted_auc import weighted_auc_columns

THRESHOLD = 0.5
RESAMPLES = 1000  # a CI's patient-bootstrap resamples: evaluate --bootstrap, fewshot --label
CALIBRATION_BINS = 10
BOOTSTRAP_CELLS = 2**21  # resample x study counts drawn at once: 16 MiB as int64


def auc_rows(scores: np.ndarray, labels: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """ROC AUC per row by the Mann-Whitney rank statistic (ties count one half).

    scores: float [R, N]; labels: {0, 1} [R, N]; valid: bool [R, N] (columns to use per row).
    Returns float [R]; NaN where a row has no positive or no negative among its valid columns.
    """
    from scipy.stats import rankdata  # a second's import the pages without an AUC skip

    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    labels = np.atleast_2d(np.asarray(labels)).astype(bool)
    valid = np.ones_like(labels) if valid is None else np.atleast_2d(valid).astype(bool)
    # Invalid entries are pushed above every valid score; ranks of valid entries are unchanged.
    ranked = rankdata(np.where(valid, scores, np.inf), axis=1)
    positive = labels & valid
    n_pos = positive.sum(axis=1)
    n_neg = (valid & ~labels).sum(axis=1)
    rank_sum = np.where(positive, ranked, 0.0).sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = (rank_sum - n_pos * (n_pos + 1) / 2.0) / (n_pos * n_neg)
    return np.where((n_pos > 0) & (n_neg > 0), auc, np.nan)


def confusion_counts_rows(
    predicted: np.ndarray, labels: np.ndarray, valid: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(tp, fp, tn, fn) per row; predicted and labels are bool [R, N]. Each is int [R]."""
    predicted = np.atleast_2d(predicted).astype(bool)
    labels = np.atleast_2d(labels).astype(bool)
    valid = np.ones_like(labels) if valid is None else np.atleast_2d(valid).astype(bool)
    tp = (predicted & labels & valid).sum(axis=1)
    fp = (predicted & ~labels & valid).sum(axis=1)
    tn = (~predicted & ~labels & valid).sum(axis=1)
    fn = (~predicted & labels & valid).sum(axis=1)
    return tp, fp, tn, fn


def _ratio(num: np.ndarray, den: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(den > 0, num / np.where(den > 0, den, 1), np.nan)


def threshold_metrics_rows(
    probabilities: np.ndarray, labels: np.ndarray, valid: np.ndarray | None = None
) -> dict[str, np.ndarray]:
    """Accuracy, F1, sensitivity, specificity at p >= 0.5 per row; each float [R]."""
    tp, fp, tn, fn = confusion_counts_rows(np.atleast_2d(probabilities) >= THRESHOLD, labels, valid)
    return {
        "accuracy": _ratio(tp + tn, tp + fp + tn + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "sensitivity": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
    }


def brier_score(probabilities: np.ndarray, labels: np.ndarray) -> float:
    """Mean squared error of probabilities [N] against labels {0, 1} [N] (0 is perfect)."""
    p = np.asarray(probabilities, dtype=np.float64).ravel()
    return float(np.mean((p - np.asarray(labels, dtype=np.float64).ravel()) ** 2))


def expected_calibration_error(
    probabilities: np.ndarray, labels: np.ndarray, bins: int = CALIBRATION_BINS
) -> float:
    """ECE: over ``bins`` equal-width probability bins, the share of studies in each bin times
    |positive rate - mean probability| in it, summed. probabilities [N], labels {0, 1} [N]."""
    p = np.clip(np.asarray(probabilities, dtype=np.float64).ravel(), 0.0, 1.0)
    y = np.asarray(labels, dtype=np.float64).ravel()
    if p.size == 0:
        return float("nan")
    which = np.minimum((p * bins).astype(int), bins - 1)
    positives = np.bincount(which, weights=y, minlength=bins)
    expected = np.bincount(which, weights=p, minlength=bins)
    return float(np.abs(positives - expected).sum() / p.size)


@dataclass(frozen=True)
class BinaryResult:
    """One binary label's metrics with bootstrap 95% CIs (``ci[name] = (low, high)``); ``brier``
    and ``ece`` say how well the probabilities are calibrated (point values). ``resampled_auc``:
    each resample's AUC, float [R]; ``auc_resamples``: those that drew both classes (the CI's)."""

    n: int
    n_positive: int
    auc: float
    accuracy: float
    f1: float
    sensitivity: float
    specificity: float
    ci: dict[str, tuple[float, float]]
    brier: float
    ece: float
    auc_resamples: int = 0
    resampled_auc: np.ndarray = field(default_factory=lambda: np.empty(0), compare=False)

    def as_row(self) -> dict[str, float | int]:
        """Flat dict: metric values plus ``<metric>_lo`` / ``<metric>_hi`` columns."""
        row: dict[str, float | int] = {"n": self.n, "n_positive": self.n_positive}
        for name in ("auc", "accuracy", "f1", "sensitivity", "specificity"):
            row[name] = getattr(self, name)
            low, high = self.ci.get(name, (np.nan, np.nan))
            row[f"{name}_lo"], row[f"{name}_hi"] = low, high
        row["brier"], row["ece"] = self.brier, self.ece
        row["auc_resamples"] = self.auc_resamples
        return row


def resampling_units(n: int, groups: np.ndarray | None = None) -> np.ndarray:
    """int [n]: the bootstrap unit of each of n studies, numbered in order of first appearance:
    its patient (``groups`` [n], e.g. ``patient_key``), or the study itself without groups."""
    if groups is None:
        return np.arange(n)
    _, first, inverse = np.unique(np.asarray(groups), return_index=True, return_inverse=True)
    return np.argsort(np.argsort(first))[inverse.ravel()]


def bootstrap_counts(
    n: int, resamples: int, seed: int, groups: np.ndarray | None = None
) -> Iterator[np.ndarray]:
    """How often each of n studies is drawn in each resample: int [R, n] blocks of consecutive
    resamples, ``BOOTSTRAP_CELLS`` counts at a time (the same draws as all ``resamples`` at once:
    one generator, read in order; a thousand resamples of 50,000 studies at once held 2.4 GB).

    With ``groups`` ([n] patient keys) the patients are drawn with replacement, as many as there
    are, and a study counts as often as its patient is drawn: the studies of one patient are not
    independent, and resampling them one by one narrows the intervals. Without groups, or with
    one study per patient, each study is its own unit (the same draws either way)."""
    units = resampling_units(n, groups)
    n_units = int(units.max()) + 1 if n else 0
    rng = np.random.default_rng(seed)
    rows = max(1, BOOTSTRAP_CELLS // max(n, 1))
    for start in range(0, resamples, rows):
        block = min(rows, resamples - start)
        draws = rng.integers(0, n_units, size=(block, n_units))
        flat = (draws + n_units * np.arange(block)[:, None]).ravel()
        counts = np.bincount(flat, minlength=block * n_units).reshape(block, n_units)
        yield counts[:, units]


def bootstrap_rows(
    probabilities: np.ndarray,
    labels: np.ndarray,
    decisions: np.ndarray,
    resamples: int,
    seed: int,
    groups: np.ndarray | None = None,
) -> dict[str, np.ndarray]:
    """AUC, accuracy, F1, sensitivity and specificity of each bootstrap resample, float [R] each
    (decisions: bool [N], the fixed predictions the threshold metrics count; groups: [N] patient
    keys, the resampled units, as ``bootstrap_counts``)."""
    blocks = [
        {
            "auc": weighted_auc_rows(probabilities, labels, counts),
            **weighted_threshold_metrics_rows(decisions, labels, counts),
        }
        for counts in bootstrap_counts(labels.size, resamples, seed, groups)
    ]
    return {name: np.concatenate([block[name] for block in blocks]) for name in blocks[0]}


def weighted_auc_rows(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUC of fixed scores [N] and labels [N] under per-row whole-count item weights [R, N]
    (e.g. bootstrap counts): ``weighted_auc.weighted_auc_columns``, one sort of the scores, no
    per-row ranking. Ties count one half. Returns float [R]."""
    return weighted_auc_columns(scores, labels, np.asarray(weights).T)


def weighted_threshold_metrics_rows(
    decisions: np.ndarray, labels: np.ndarray, weights: np.ndarray
) -> dict[str, np.ndarray]:
    """Accuracy, F1, sensitivity, specificity of fixed decisions [N] under weights [R, N]."""
    predicted = np.asarray(decisions).astype(bool)
    truth = np.asarray(labels).astype(bool)
    w = np.asarray(weights, dtype=np.float64)
    tp, fp = w @ (predicted & truth), w @ (predicted & ~truth)
    tn, fn = w @ (~predicted & ~truth), w @ (~predicted & truth)
    return {
        "accuracy": _ratio(tp + tn, tp + fp + tn + fn),
        "f1": _ratio(2 * tp, 2 * tp + fp + fn),
        "sensitivity": _ratio(tp, tp + fn),
        "specificity": _ratio(tn, tn + fp),
    }


def percentile_ci(values: np.ndarray, level: float = 0.95) -> tuple[float, float]:
    """Percentile interval of finite values [R]; (nan, nan) when none are finite."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return (float("nan"), float("nan"))
    tail = (1.0 - level) / 2.0 * 100.0
    low, high = np.percentile(finite, [tail, 100.0 - tail])
    return (float(low), float(high))


def binary_metrics(
    probabilities: np.ndarray,
    labels: np.ndarray,
    resamples: int = RESAMPLES,
    seed: int = 0,
    decisions: np.ndarray | None = None,
    groups: np.ndarray | None = None,
) -> BinaryResult:
    """AUC, accuracy, F1, sensitivity, specificity (p >= 0.5) with bootstrap 95% CIs, and the
    Brier score and ECE of the probabilities.

    probabilities: float [N] in [0, 1] (any monotone score works for AUC); labels: {0, 1} [N];
    decisions: optional bool [N] used instead of p >= 0.5 (e.g. "argmax is this class");
    groups: optional [N] patient keys: the bootstrap then resamples patients, not studies.
    """
    probabilities = np.asarray(probabilities, dtype=np.float64).ravel()
    labels = np.asarray(labels).astype(bool).ravel()
    decided = probabilities if decisions is None else np.asarray(decisions, dtype=np.float64)
    point = threshold_metrics_rows(decided[None], labels[None])
    auc = float(auc_rows(probabilities[None], labels[None])[0])
    ci: dict[str, tuple[float, float]] = {}
    resampled_auc = np.empty(0)
    if resamples > 0 and labels.size > 1:
        resampled = bootstrap_rows(
            probabilities, labels, decided >= THRESHOLD, resamples, seed, groups
        )
        resampled_auc = resampled["auc"]
        ci = {name: percentile_ci(values) for name, values in resampled.items()}
    return BinaryResult(
        n=int(labels.size),
        n_positive=int(labels.sum()),
        auc=auc,
        accuracy=float(point["accuracy"][0]),
        f1=float(point["f1"][0]),
        sensitivity=float(point["sensitivity"][0]),
        specificity=float(point["specificity"][0]),
        ci=ci,
        brier=brier_score(probabilities, labels),
        ece=expected_calibration_error(probabilities, labels),
        auc_resamples=int(np.isfinite(resampled_auc).sum()),
        resampled_auc=resampled_auc,
    )


def roc_curve_points(scores: np.ndarray, labels: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(false positive rate, true positive rate), each float [K], from (0, 0) to (1, 1)."""
    scores = np.asarray(scores, dtype=np.float64).ravel()
    labels = np.asarray(labels).astype(bool).ravel()
    order = np.argsort(-scores, kind="mergesort")
    sorted_scores, sorted_labels = scores[order], labels[order]
    # One point per distinct threshold: the last index of each run of equal scores.
    last = np.r_[np.flatnonzero(np.diff(sorted_scores)), sorted_scores.size - 1]
    tps = np.cumsum(sorted_labels)[last]
    fps = (last + 1) - tps
    n_pos, n_neg = max(int(labels.sum()), 1), max(int((~labels).sum()), 1)
    return np.r_[0.0, fps / n_neg], np.r_[0.0, tps / n_pos]


def confusion_matrix(true: np.ndarray, predicted: np.ndarray, n_classes: int) -> np.ndarray:
    """int [n_classes (true), n_classes (predicted)] from class indices [N]."""
    matrix = np.zeros((n_classes, n_classes), dtype=np.int64)
    np.add.at(matrix, (np.asarray(true), np.asarray(predicted)), 1)
    return matrix


def multiclass_metrics(true: np.ndarray, predicted: np.ndarray, n_classes: int) -> dict:
    """Accuracy, macro-F1 (over classes present in ``true`` or ``predicted``) and the confusion matrix."""
    matrix = confusion_matrix(true, predicted, n_classes)
    tp = np.diag(matrix).astype(np.float64)
    support = matrix.sum(axis=1)
    predicted_count = matrix.sum(axis=0)
    present = (support + predicted_count) > 0
    f1 = _ratio(2 * tp, support + predicted_count)
    total = matrix.sum()
    return {
        "accuracy": float(tp.sum() / total) if total else float("nan"),
        "macro_f1": float(np.nanmean(f1[present])) if present.any() else float("nan"),
        "per_class_f1": f1,
        "confusion": matrix,
    }


@dataclass(frozen=True)
class LabelScores:
    """One label's per-study scores, kept so that models can be compared on the same studies:
    study ids [N], scores float [N] (higher = more likely positive) and labels {0, 1} [N];
    ``resampled_auc``: its AUC per resample of its own interval seeded by ``seed``, float [R],
    reused by the headline means' intervals where they draw the same patients (``label_means``)."""

    ids: list[str]
    scores: np.ndarray
    labels: np.ndarray
    resampled_auc: np.ndarray | None = field(default=None, compare=False)
    seed: int | None = None


def label_scores(
    ids: list[str],
    known: np.ndarray,
    scores: np.ndarray,
    labels: np.ndarray,
    interval: tuple[np.ndarray, int] | None = None,
) -> LabelScores:
    """``LabelScores`` of the studies ``ids`` where ``known`` (bool [N]) is True; ``scores`` and
    ``labels`` are already restricted to them; ``interval``: (``resampled_auc``, ``seed``)."""
    kept = [study for study, keep in zip(ids, known, strict=True) if keep]
    scores, labels = np.asarray(scores, dtype=np.float64), np.asarray(labels).astype(int)
    return LabelScores(kept, scores, labels, *(interval or (None, None)))


@dataclass(frozen=True)
class DiagnosisScores:
    """One diagnosis setting's per-study class probabilities, kept so that a reader can
    recompute its accuracy and confusion: study ids [N], ``classes`` [C], probabilities float
    [N, C] (the prediction is the arg-max, ties to the first class) and targets int [N]."""

    ids: list[str]
    classes: list[str]
    probabilities: np.ndarray
    targets: np.ndarray


def diagnosis_scores(
    ids: list[str],
    usable: np.ndarray,
    classes: list[str],
    probabilities: np.ndarray,
    targets: np.ndarray,
) -> DiagnosisScores:
    """``DiagnosisScores`` of the studies ``ids`` where ``usable`` (bool [N]) is True;
    ``probabilities`` and ``targets`` are already restricted to them."""
    kept = [study for study, keep in zip(ids, usable, strict=True) if keep]
    return DiagnosisScores(
        kept, list(classes), np.asarray(probabilities, dtype=np.float64), np.asarray(targets)
    )
