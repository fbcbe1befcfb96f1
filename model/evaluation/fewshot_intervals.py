"""95% two-level bootstrap intervals of the few-shot curve points.

A few-shot point is the mean AUC over episodes, each scored on the queries its support leaves.
It varies with the supports drawn and with the test patients the site happened to have, so a
resample draws both: the episodes with replacement, and the patients with replacement (a
patient's studies count as often as the patient is drawn, ``metrics.bootstrap_counts``, the
draws of the zero-shot and probe intervals). Each drawn episode's AUC is its queries' AUC under
those counts; the resample's value is the mean over the drawn episodes, and the interval is the
percentile interval of the resamples. Scores are never recomputed: an episode's queries are
sorted once and every resample only re-weights them.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import numpy as np
from scipy import sparse

from model.evaluation.metrics import bootstrap_counts, percentile_ci


def interval_rng(seed: int, k: int, label: str) -> np.random.Generator:
    """The generator of a point's episode draws, fixed by (seed, k, label) like its supports."""
    return np.random.default_rng([seed, k, zlib.crc32(label.encode("utf-8")), 1])


def episode_draws(episodes: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """How often each of ``episodes`` episodes is drawn in each resample: int [R, E]."""
    draws = rng.integers(0, episodes, size=(resamples, episodes))
    flat = (draws + episodes * np.arange(resamples)[:, None]).ravel()
    return np.bincount(flat, minlength=resamples * episodes).reshape(resamples, episodes)


def weighted_auc_columns(scores: np.ndarray, labels: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """AUC of fixed scores [N] and labels {0, 1} [N] under each column of whole-count item
    weights [N, R] (e.g. bootstrap counts): the weighted Mann-Whitney statistic, ties between
    classes counting one half. float [R]; NaN where a column weighs no positive or no negative.
    """
    return _weighted_auc(scores, labels, _as_counts(weights), np.arange(len(scores)))


def _as_counts(weights: np.ndarray) -> np.ndarray:
    """Whole-count weights as C-ordered float32: exact below 2**24 (a site's total weight is its
    study count), and half the bytes to read per episode of float64."""
    return np.ascontiguousarray(weights, dtype=np.float32)


def _weighted_auc(
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


def episode_aucs(
    scores: np.ndarray, labels: np.ndarray, queries: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Each episode's query AUC under each column of study weights: float [E, R].

    scores: float [E, N]; labels: {0, 1} [N]; queries: bool [E, N]; weights: [N, R]."""
    weights = _as_counts(weights)
    return np.stack(
        [
            _weighted_auc(row[used], labels[used], weights, np.flatnonzero(used))
            for row, used in zip(scores, queries, strict=True)
        ]
    )


KEPT_CELLS = 2**23  # study x resample weights kept for a label's points: 32 MiB as float32


class PatientDraws:
    """A label's patient resamples as study weights, float32 [N, R] blocks of consecutive
    resamples (``metrics.bootstrap_counts`` transposed): drawn once and kept as one block when
    they fit in ``KEPT_CELLS`` (every k and method of the label reuses them), drawn again per
    use otherwise."""

    def __init__(self, n: int, resamples: int, seed: int, groups: np.ndarray | None) -> None:
        self.n, self.resamples, self.seed, self.groups = n, resamples, seed, groups
        self._kept: list[np.ndarray] | None = None
        if resamples > 0 and n * resamples <= KEPT_CELLS:
            self._kept = [np.concatenate(list(self._draw()), axis=1)]

    def _draw(self) -> Iterator[np.ndarray]:
        for counts in bootstrap_counts(self.n, self.resamples, self.seed, self.groups):
            yield _as_counts(counts.T)

    def blocks(self) -> Iterator[np.ndarray]:
        """The weight blocks, resamples in order."""
        return iter(self._kept) if self._kept is not None else self._draw()


def two_level_interval(
    scores: np.ndarray,
    labels: np.ndarray,
    queries: np.ndarray,
    patients: PatientDraws,
    rng: np.random.Generator,
) -> tuple[float, float]:
    """95% percentile interval of the mean episode AUC, episodes and patients resampled.

    scores: float [E, N] per episode; labels: {0, 1} [N]; queries: bool [E, N]; patients: the
    label's patient draws; episodes drawn by ``episode_draws(E, resamples, rng)``. A drawn
    episode left with no query of a class has no AUC and is left out of its resample's mean.
    (nan, nan) without resamples."""
    if patients.resamples <= 0:
        return (float("nan"), float("nan"))
    labels = np.asarray(labels).astype(bool)
    drawn = episode_draws(scores.shape[0], patients.resamples, rng).astype(np.float64)
    means = []
    start = 0
    for weights in patients.blocks():
        aucs = episode_aucs(scores, labels, queries, weights)
        times = drawn[start : start + weights.shape[1]].T * np.isfinite(aucs)
        with np.errstate(divide="ignore", invalid="ignore"):
            means.append((times * np.nan_to_num(aucs)).sum(axis=0) / times.sum(axis=0))
        start += weights.shape[1]
    return percentile_ci(np.concatenate(means))
