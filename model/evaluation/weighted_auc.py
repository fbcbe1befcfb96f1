"""Weighted ROC AUC of fixed scores under many columns of whole-count item weights at once.

The bootstrap intervals re-weight fixed per-study scores by how often each study's patient is
drawn: zero-shot and probe AUCs (``metrics.weighted_auc_rows``) and every few-shot episode
(``fewshot_intervals``). The scores are sorted once; the sorted items fall into runs of one
class, one sparse product sums each run's weights for every column, and each positive run pairs
with the negative weight below it (the weighted Mann-Whitney statistic, ties between classes
counting one half). Whole counts are exact in float32 below 2**24.
"""

from __future__ import annotations

import numpy as np
from scipy import sparse


def weighted_auc_columns(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUC of fixed scores [N] and labels {0, 1} [N] under each column of whole-count item
    weights [N, R] (e.g. bootstrap counts): the weighted Mann-Whitney statistic, ties between
    classes counting one half. float [R]; NaN where a column weighs no positive or no negative.
    """
    return weighted_auc_of_items(scores, labels, as_counts(weights), np.arange(len(scores)))


def as_counts(weights: np.ndarray) -> np.ndarray:
    """Whole-count weights as C-ordered float32: exact below 2**24 (a site's total weight is its
    study count), and half the bytes to read per episode of float64."""
    return np.ascontiguousarray(weights, dtype=np.float32)


def weighted_auc_of_items(
    scores: np.ndarray, labels: np.ndarray, weights: np.ndarray, items: np.ndarray
) -> np.ndarray:
    """``weighted_auc_columns`` of ``scores`` and ``labels`` [n] under the rows ``items`` (int
    [n]) of ``weights`` float32 [N, R]. One sort; the sorted items fall into runs of one class,
    whose weights one sparse product sums, and each positive run pairs with the negative weight
    below it."""
    positive = np.asarray(labels).astype(bool)
    order = np.lexsort((~positive, scores))  # in a tie, positives first: strictly-below counts
    is_positive = positive[order]
    boundaries = np.flatnonzero(is_positive[1:] != is_positive[:-1]) + 1
    members = sparse.csr_matrix(
        (
            np.ones(len(order), dtype=np.float32),
            items[order],
            np.concatenate([[0], boundaries, [len(order)]]),
        ),
        shape=(len(boundaries) + 1, weights.shape[0]),
    )
    sums = members @ weights  # float32 [runs, R], alternating classes: whole counts, exact
    first = 1 if len(order) and is_positive[0] else 0  # index of the first negative run
    negative_runs, positive_runs = sums[first::2], sums[1 - first :: 2]
    below = np.empty((len(negative_runs) + 1, weights.shape[1]), dtype=np.float32)
    below[0] = 0.0
    for run, row in enumerate(negative_runs):  # numpy's cumsum down axis 0 took far longer
        np.add(below[run], row, out=below[run + 1])
    # the negative weight below each positive run: the runs before it
    below_positive = below[1 - first : 1 - first + len(positive_runs)]
    n_positive = positive_runs.sum(axis=0, dtype=np.float64)
    n_negative = below[-1].astype(np.float64)
    # whole-count pairs, at most n_positive * n_negative: float32 sums them exactly below 2**24
    exact = len(order) == 0 or (n_positive * n_negative).max() < 2**24
    pairs = np.einsum(
        "ar,ar->r", positive_runs, below_positive, dtype=np.float32 if exact else np.float64
    ).astype(np.float64)
    pairs += 0.5 * _tied_pairs(np.asarray(scores)[order], is_positive, weights, items[order])
    with np.errstate(divide="ignore", invalid="ignore"):
        auc = pairs / (n_positive * n_negative)
    return np.where((n_positive > 0) & (n_negative > 0), auc, np.nan)


def _tied_pairs(
    scores: np.ndarray, positive: np.ndarray, weights: np.ndarray, items: np.ndarray
) -> np.ndarray:
    """Weighted positive-negative pairs with equal scores, float [R]; ``scores``, ``positive``
    and ``items`` (rows of ``weights``) in score order."""
    tied = np.zeros(weights.shape[1])
    same = scores[1:] == scores[:-1]
    if not same.any():
        return tied
    starts = np.concatenate([[0], np.flatnonzero(~same) + 1])
    size = np.diff(np.append(starts, len(scores)))
    held = np.add.reduceat(positive.astype(np.int64), starts)
    mixed = (held > 0) & (held < size)  # a tie group holding both classes
    for start, end in zip(starts[mixed].tolist(), (starts + size)[mixed].tolist(), strict=True):
        rows, group = weights[items[start:end]], positive[start:end]
        tied += rows[group].sum(axis=0, dtype=np.float64) * rows[~group].sum(axis=0)
    return tied
