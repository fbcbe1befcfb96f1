"""Few-shot classification of binary labels on frozen embeddings, all episodes at once.

An episode draws ``k`` positive and ``k`` negative support studies; every other labelled study is a
query, except (given the patients) the other studies of a support patient. Three probes:

- ``prototype``: cosine to the mean positive vs the mean negative support;
- ``logistic``: L2-regularised logistic regression on the unit-norm embeddings, fitted by batched
  Newton steps in the support span (the support has ``2k <= 64`` rows, so each Newton step solves
  ``[E, 2k, 2k]`` systems). As its penalty grows its weight tends to the difference of the
  class means, the prototype's direction, so it ranks at least about as well as ``prototype``;
- ``prompted`` (when the label has zero-shot prompts): the same logistic regression with the
  zero-shot logit as a fixed offset, so the penalty pulls it towards the prompts' classifier and
  the supports only correct it (a MAP fit with the zero-shot model as the prior mean).

Episodes are seeded by (seed, k, label name): the same call gives the same supports.
"""

from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pandas as pd

from model.evaluation.fewshot_intervals import PatientDraws, interval_rng, two_level_means
from model.evaluation.metrics import auc_rows, percentile_ci, threshold_metrics_rows


@dataclass(frozen=True)
class FewShotConfig:
    """Episode settings. ``probe_c`` / ``prompted_c``: inverse L2 strengths of the two logistic
    probes, chosen on the demo's internal val split (six checkpoints, bench/RESULTS.md,
    Evaluation, session 24), never on a test split."""

    shots: tuple[int, ...] = (1, 2, 4, 8, 16, 32)
    episodes: int = 100
    seed: int = 0
    probe_c: float = 10.0
    prompted_c: float = 1.0
    newton_steps: int = 25


@dataclass(frozen=True)
class Episodes:
    """Support indices into the label's studies: ``positive`` and ``negative`` are int [E, k]."""

    positive: np.ndarray
    negative: np.ndarray

    @property
    def support(self) -> np.ndarray:
        """int [E, 2k]: positives first, then negatives."""
        return np.concatenate([self.positive, self.negative], axis=1)

    def query_mask(self, n: int, groups: np.ndarray | None = None) -> np.ndarray:
        """bool [E, n]: True for studies that are not in the episode's support and, with
        ``groups`` ([n] patient keys), whose patient has no study in it: a repeat scan of a
        support patient would be found by its likeness to that patient, not to the class."""
        mask = np.ones((self.positive.shape[0], n), dtype=bool)
        np.put_along_axis(mask, self.support, False, axis=1)
        if groups is not None:
            _, codes = np.unique(np.asarray(groups), return_inverse=True)
            in_support = (codes[None, :, None] == codes[self.support][:, None, :]).any(axis=2)
            mask &= ~in_support
        return mask

    def subset(self, keep: np.ndarray) -> Episodes:
        """The episodes where ``keep`` (bool [E]) is True."""
        return Episodes(positive=self.positive[keep], negative=self.negative[keep])


def episode_rng(seed: int, k: int, label: str) -> np.random.Generator:
    """A generator fixed by (seed, k, label) so each curve point is reproducible on its own."""
    return np.random.default_rng([seed, k, zlib.crc32(label.encode("utf-8"))])


def sample_episodes(
    labels: np.ndarray, k: int, episodes: int, rng: np.random.Generator
) -> Episodes:
    """Draw ``episodes`` supports of k positives and k negatives without replacement.

    labels: {0, 1} [N]. Raises ValueError when a class has fewer than k + 1 studies (no query left).
    """
    labels = np.asarray(labels).astype(bool)
    positives, negatives = np.flatnonzero(labels), np.flatnonzero(~labels)
    if min(positives.size, negatives.size) <= k:
        raise ValueError(f"{k}-shot needs more than {k} studies of each class")

    def draw(pool: np.ndarray) -> np.ndarray:
        order = np.argsort(rng.random((episodes, pool.size)), axis=1)[:, :k]
        return pool[order]

    return Episodes(positive=draw(positives), negative=draw(negatives))


def prototype_scores(embeddings: np.ndarray, episodes: Episodes) -> np.ndarray:
    """cos(v, positive prototype) - cos(v, negative prototype): float [E, N].

    embeddings: float [N, D] unit-norm. Prototypes are the normalised mean support embeddings.
    """

    def prototype(idx: np.ndarray) -> np.ndarray:
        mean = embeddings[idx].mean(axis=1)
        return mean / np.maximum(np.linalg.norm(mean, axis=1, keepdims=True), 1e-12)

    difference = prototype(episodes.positive) - prototype(episodes.negative)
    return difference @ embeddings.T


def fit_logistic_batched(
    features: np.ndarray,
    targets: np.ndarray,
    c: float,
    steps: int,
    offset: np.ndarray | None = None,
) -> np.ndarray:
    """L2 logistic regression per batch, ``C * sum(logloss) + |w|^2 / 2`` (liblinear's objective).

    features: float [E, n, F] (append a constant column for a penalised intercept); targets:
    {0, 1} [E, n]; offset: float [E, n] added to every logit (default 0). Returns weights float
    [E, F]. Newton steps on dual coefficients a with w = X^T a: solve (C W K + I) da = -(C g + a),
    K = X X^T.
    """
    features = np.asarray(features, dtype=np.float64)
    targets = np.asarray(targets, dtype=np.float64)
    offset = np.zeros(targets.shape) if offset is None else np.asarray(offset, dtype=np.float64)
    kernel = features @ np.swapaxes(features, 1, 2)
    n = features.shape[1]
    coef = np.zeros(targets.shape)
    identity = np.eye(n)[None]
    for _ in range(steps):
        prob = _sigmoid(offset + (kernel @ coef[:, :, None])[:, :, 0])
        gradient = c * (prob - targets) + coef
        curvature = c * (prob * (1.0 - prob))[:, :, None] * kernel + identity
        coef = coef - np.linalg.solve(curvature, gradient[:, :, None])[:, :, 0]
    return (np.swapaxes(features, 1, 2) @ coef[:, :, None])[:, :, 0]


def _sigmoid(logits: np.ndarray) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-np.clip(logits, -60.0, 60.0)))


def with_intercept(embeddings: np.ndarray) -> np.ndarray:
    """float [N, D] -> [N, D + 1] with a constant 1 column (liblinear's intercept_scaling=1)."""
    return np.concatenate([embeddings, np.ones((embeddings.shape[0], 1))], axis=1)


def logistic_probabilities(
    embeddings: np.ndarray,
    episodes: Episodes,
    c: float,
    steps: int,
    prior_logits: np.ndarray | None = None,
) -> np.ndarray:
    """Logistic-probe probabilities of every study per episode: float [E, N].

    The features are the embeddings as they are (unit-norm) plus an intercept column:
    standardising each column amplified low-variance directions and put the probe below the
    prototype at every k on the demo checkpoints. ``prior_logits``
    (float [N], e.g. zero-shot logits) is a fixed offset on every logit, fitted and predicted.
    """
    augmented = with_intercept(np.asarray(embeddings, dtype=np.float64))
    prior = np.zeros(len(augmented)) if prior_logits is None else np.asarray(prior_logits, float)
    support = episodes.support
    k = episodes.positive.shape[1]
    targets = np.zeros(support.shape)
    targets[:, :k] = 1.0
    weights = fit_logistic_batched(augmented[support], targets, c, steps, offset=prior[support])
    return _sigmoid(prior[None] + weights @ augmented.T)


def _summary(values: np.ndarray) -> tuple[float, float]:
    """(mean, sd) over finite episode values."""
    finite = values[np.isfinite(values)]
    if finite.size == 0:
        return (np.nan, np.nan)
    return float(finite.mean()), float(finite.std(ddof=1)) if finite.size > 1 else 0.0


def episode_scores(
    embeddings: np.ndarray,
    episodes: Episodes,
    config: FewShotConfig,
    prior_logits: np.ndarray | None = None,
) -> dict[str, tuple[np.ndarray, np.ndarray]]:
    """Per method: (ranking scores, probabilities or 0/1 decisions at 0.5), each float [E, N].

    ``prompted`` is present only when ``prior_logits`` (zero-shot logits, float [N]) are given.
    """
    prototype = prototype_scores(embeddings, episodes)
    logistic = logistic_probabilities(embeddings, episodes, config.probe_c, config.newton_steps)
    scores = {
        "prototype": (prototype, (prototype >= 0).astype(np.float64)),
        "logistic": (logistic, logistic),
    }
    if prior_logits is not None:
        prompted = logistic_probabilities(
            embeddings, episodes, config.prompted_c, config.newton_steps, prior_logits
        )
        scores["prompted"] = (prompted, prompted)
    return scores


@dataclass(frozen=True)
class _CurvePoint:
    """One k of a label's curve: its kept episodes' queries (bool [E, N]) and the draws of the
    interval, shared by the methods."""

    label: str
    k: int
    truth_row: np.ndarray
    queries: np.ndarray
    patients: PatientDraws
    bootstrap_seed: int

    def rows(
        self, methods: dict[str, tuple[np.ndarray, np.ndarray]]
    ) -> dict[str, tuple[dict[str, float | int], np.ndarray]]:
        """Each method's point: its scores and decisions float [E, N] -> (mean AUC, SD, CI,
        accuracy, F1; the mean episode AUC of each bootstrap resample, float [R]). The methods
        share the interval's episode and patient draws (one pass, ``two_level_means``)."""
        rng = interval_rng(self.bootstrap_seed, self.k, self.label)
        scores = [pair[0] for pair in methods.values()]
        resampled = two_level_means(scores, self.truth_row, self.queries, self.patients, rng)
        return {
            method: (self._row(*pair, means), means)
            for (method, pair), means in zip(methods.items(), resampled, strict=True)
        }

    def _row(
        self, scores: np.ndarray, decisions: np.ndarray, resampled: np.ndarray
    ) -> dict[str, float | int]:
        truth = np.broadcast_to(self.truth_row, self.queries.shape)
        auc = auc_rows(scores, truth, self.queries)
        thresholded = threshold_metrics_rows(decisions, truth, self.queries)
        mean, sd = _summary(auc)
        low, high = percentile_ci(resampled)
        return {
            "k": self.k,
            "episodes": int(self.queries.shape[0]),
            "auc": mean,
            "auc_sd": sd,
            "auc_lo": low,
            "auc_hi": high,
            "accuracy": _summary(thresholded["accuracy"])[0],
            "f1": _summary(thresholded["f1"])[0],
        }


def evaluate_label(
    embeddings: np.ndarray,
    labels: np.ndarray,
    label: str,
    config: FewShotConfig,
    prior_logits: np.ndarray | None = None,
    groups: np.ndarray | None = None,
    resamples: int = 1000,
    bootstrap_seed: int = 0,
    patients: PatientDraws | None = None,
    resampled: dict[tuple[str, int], np.ndarray] | None = None,
) -> pd.DataFrame:
    """Few-shot curve of one binary label: one row per (method, k) with the mean AUC over
    episodes, its SD over episodes (``auc_sd``) and its 95% two-level bootstrap interval
    (``auc_lo``/``auc_hi``: episodes and patients resampled, ``fewshot_intervals``; NaN with
    ``resamples`` 0), and the mean accuracy and F1.

    embeddings: float [N, D] unit-norm (labelled studies only); labels: {0, 1} [N];
    prior_logits: the label's zero-shot logits float [N], which add the ``prompted`` probe;
    groups: [N] patient keys, when given a study of a support patient is no query and the
    interval resamples patients (studies without). ``patients``: the draws of these N studies
    to use (the site's draws, ``PatientDraws.subset``, which the suite shares between labels);
    without, ``resamples`` draws of ``groups`` seeded by ``bootstrap_seed``, which seeds the
    interval's episode draws either way. ``resampled``, when given, receives each point's mean
    episode AUC per resample, float [R] per (method, k).
    Values of k that leave no query of a class are skipped; an episode that does (its support
    took every patient of a class) is left out, and ``episodes`` counts those kept.
    """
    rows = []
    truth_row = np.asarray(labels).astype(bool)
    if patients is None:
        patients = PatientDraws(len(truth_row), resamples, bootstrap_seed, groups)
    for k in config.shots:
        try:
            episodes = sample_episodes(
                labels, k, config.episodes, episode_rng(config.seed, k, label)
            )
        except ValueError:
            continue
        queries = episodes.query_mask(len(labels), groups)
        both = (queries & truth_row).any(axis=1) & (queries & ~truth_row).any(axis=1)
        if not both.any():
            continue
        episodes, queries = episodes.subset(both), queries[both]
        curve = _CurvePoint(label, k, truth_row, queries, patients, bootstrap_seed)
        methods = episode_scores(embeddings, episodes, config, prior_logits)
        for method, (row, means) in curve.rows(methods).items():
            rows.append({"label": label, "method": method, **row})
            if resampled is not None:
                resampled[method, k] = means
    return pd.DataFrame(rows)
