"""95% two-level bootstrap intervals of the few-shot curve points.

A few-shot point is the mean AUC over episodes, each scored on the queries its support leaves.
It varies with the supports drawn and with the test patients the site happened to have, so a
resample draws both: the episodes with replacement, and the patients with replacement (a
patient's studies count as often as the patient is drawn, ``metrics.bootstrap_counts``). The
suite draws the site's patients once and every label's points use that draw on the label's known
studies (``PatientDraws.subset``), so the headline's mean over labels has an interval
(``label_means``); for a label without blanks it is the draw of its zero-shot and probe
intervals. Each drawn episode's AUC is its queries' AUC under
those counts; the resample's value is the mean over the drawn episodes, and the interval is the
percentile interval of the resamples. Scores are never recomputed: an episode's queries are
sorted once and every resample only re-weights them.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator

import numpy as np

from model.evaluation.metrics import bootstrap_counts
from model.evaluation.weighted_auc import as_counts, weighted_auc_of_items


def interval_rng(seed: int, k: int, label: str) -> np.random.Generator:
    """The generator of a point's episode draws, fixed by (seed, k, label) like its supports."""
    return np.random.default_rng([seed, k, zlib.crc32(label.encode("utf-8")), 1])


def episode_draws(episodes: int, resamples: int, rng: np.random.Generator) -> np.ndarray:
    """How often each of ``episodes`` episodes is drawn in each resample: int [R, E]."""
    draws = rng.integers(0, episodes, size=(resamples, episodes))
    flat = (draws + episodes * np.arange(resamples)[:, None]).ravel()
    return np.bincount(flat, minlength=resamples * episodes).reshape(resamples, episodes)


def episode_aucs(
    scores: np.ndarray, labels: np.ndarray, queries: np.ndarray, weights: np.ndarray
) -> np.ndarray:
    """Each episode's query AUC under each column of study weights: float [E, R].

    scores: float [E, N]; labels: {0, 1} [N]; queries: bool [E, N]; weights: [N, R]."""
    weights = as_counts(weights)
    return np.stack(
        [
            weighted_auc_of_items(row[used], labels[used], weights, np.flatnonzero(used))
            for row, used in zip(scores, queries, strict=True)
        ]
    )


KEPT_CELLS = 2**23  # study x resample weights kept for a label's points: 32 MiB as float32


class PatientDraws:
    """Patient resamples as study weights, float32 [N, R] blocks of consecutive resamples
    (``metrics.bootstrap_counts`` transposed): drawn once and kept as one block when they fit in
    ``KEPT_CELLS`` (every label, k and method of a site reuses them), drawn again per pass
    otherwise (one pass serves a few-shot point's methods, ``two_level_means``). ``rows`` (int
    [n]): only those studies' weights, [n, R] (``subset``)."""

    def __init__(
        self,
        n: int,
        resamples: int,
        seed: int,
        groups: np.ndarray | None,
        rows: np.ndarray | None = None,
    ) -> None:
        self.n, self.resamples, self.seed, self.groups = n, resamples, seed, groups
        self.rows = rows
        self._kept: list[np.ndarray] | None = None
        if resamples > 0 and n * resamples <= KEPT_CELLS:
            self._kept = [np.concatenate(list(self._draw()), axis=1)]

    def _draw(self) -> Iterator[np.ndarray]:
        for counts in bootstrap_counts(self.n, self.resamples, self.seed, self.groups):
            yield as_counts((counts if self.rows is None else counts[:, self.rows]).T)

    def blocks(self) -> Iterator[np.ndarray]:
        """The weight blocks, resamples in order."""
        return iter(self._kept) if self._kept is not None else self._draw()

    def subset(self, rows: np.ndarray) -> PatientDraws:
        """The same draws of the studies ``rows`` (int [n]) alone, e.g. a label's known studies
        under its site's draws: a patient drawn twice weighs 2 on each of its studies."""
        rows = np.asarray(rows, dtype=np.int64)
        whole = rows if self.rows is None else self.rows[rows]
        part = PatientDraws(self.n, 0, self.seed, self.groups, whole)  # built without drawing
        part.resamples = self.resamples
        if self._kept is not None:
            part._kept = [block[rows] for block in self._kept]
        return part


def two_level_means(
    scores: list[np.ndarray],
    labels: np.ndarray,
    queries: np.ndarray,
    patients: PatientDraws,
    rng: np.random.Generator,
) -> list[np.ndarray]:
    """The mean episode AUC of each resample, episodes and patients resampled: float [R] per
    method scored on the same episodes.

    scores: float [E, N] per method; labels: {0, 1} [N]; queries: bool [E, N]; patients: the
    draws of the label's N studies; episodes drawn by ``episode_draws(E, resamples, rng)``. A
    drawn episode left with no query of a class has no AUC and is left out of its resample's
    mean (NaN when none is left). Empty without resamples. The methods share one episode draw
    and one pass over the patient draws (a site too large to keep them draws them per pass): a
    method's values are those it gets alone, as each column of weights is scored on its own."""
    if patients.resamples <= 0:
        return [np.empty(0) for _ in scores]
    labels = np.asarray(labels).astype(bool)
    drawn = episode_draws(queries.shape[0], patients.resamples, rng).astype(np.float64)
    means: list[list[np.ndarray]] = [[] for _ in scores]
    start = 0
    for weights in patients.blocks():
        episodes = drawn[start : start + weights.shape[1]].T
        for method, found in zip(scores, means, strict=True):
            aucs = episode_aucs(method, labels, queries, weights)
            times = episodes * np.isfinite(aucs)
            with np.errstate(divide="ignore", invalid="ignore"):
                found.append((times * np.nan_to_num(aucs)).sum(axis=0) / times.sum(axis=0))
        start += weights.shape[1]
    return [np.concatenate(found) for found in means]
