"""95% patient-bootstrap intervals of the retrieval figures, from the per-query results.

Each query's rank of its own study or report (its chance of rank <= k with ties in random order,
and its expected rank) and its label-consistent precision@10 are fixed;
a resample only re-weights the queries by how often their patient is drawn
(``metrics.bootstrap_counts``), so nothing is ranked again. R@k and precision are weighted
means; the median rank is the median of the queries repeated as often as they are drawn.
"""

from __future__ import annotations

import numpy as np

from model.evaluation.metrics import bootstrap_counts, percentile_ci
from model.evaluation.retrieval import TOP_K, QueryRanks, as_query_ranks


def weighted_medians(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Median of ``values`` [N] repeated ``weights`` [R, N] (whole counts) times, per row: the
    mean of the two middle values when a row's total is even, as ``np.median``. float [R]."""
    order = np.argsort(values, kind="mergesort")
    ordered = np.asarray(values, dtype=np.float64)[order]
    cumulative = np.cumsum(np.asarray(weights)[:, order], axis=1)
    total = cumulative[:, -1]
    lower = (cumulative <= ((total - 1) // 2)[:, None]).sum(axis=1)
    upper = (cumulative <= (total // 2)[:, None]).sum(axis=1)
    last = len(ordered) - 1
    medians = (ordered[np.minimum(lower, last)] + ordered[np.minimum(upper, last)]) / 2.0
    return np.where(total > 0, medians, np.nan)


def _weighted_means(values: np.ndarray, weights: np.ndarray) -> np.ndarray:
    """Weighted mean of ``values`` [N] per row of ``weights`` [R, N]; NaN for a zero row."""
    total = weights.sum(axis=1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(total > 0, (weights @ values) / total, np.nan)


def _resampled(
    figures: dict[str, tuple[np.ndarray, np.ndarray]], groups: np.ndarray, resamples: int, seed: int
) -> dict[str, np.ndarray]:
    """Each figure of every resample, float [R] each. ``figures``: name -> (per-query values
    [N], queries it averages bool [N]); ``R@k`` and ``median_rank`` names read ranks."""
    drawn: dict[str, list[np.ndarray]] = {name: [] for name in figures}
    for counts in bootstrap_counts(len(groups), resamples, seed, groups):
        weights = counts.astype(np.float64)
        for name, (values, used) in figures.items():
            w = weights * used[None, :]
            if name == "median_rank":
                drawn[name].append(weighted_medians(values, w))
            else:
                drawn[name].append(_weighted_means(np.where(used, values, 0.0), w))
    return {name: np.concatenate(blocks) for name, blocks in drawn.items()}


def rank_intervals(
    ranks: QueryRanks | np.ndarray,
    groups: np.ndarray,
    resamples: int,
    seed: int,
    top_k: tuple[int, ...] = TOP_K,
) -> dict[str, float]:
    """``R@k_lo/_hi`` and ``median_rank_lo/_hi`` of one direction's query ranks (``QueryRanks``,
    or whole ranks int [N]), the queries resampled by patient (``groups`` [N]): R@k averages each
    query's chance of rank <= k, the median is that of the expected ranks. NaN without resamples
    or with one query."""
    ranks = as_query_ranks(ranks)
    everyone = np.ones(len(ranks.above), dtype=bool)
    figures = {f"R@{k}": (ranks.within(k), everyone) for k in top_k}
    figures["median_rank"] = (ranks.expected(), everyone)
    return _intervals(figures, groups, resamples, seed)


def precision_intervals(
    per_query: dict[str, np.ndarray],
    used: np.ndarray,
    groups: np.ndarray,
    resamples: int,
    seed: int,
) -> dict[str, float]:
    """``NAME_lo/_hi`` of each mean over the ``used`` queries (bool [N]) of ``per_query``
    (name -> float [N], NaN where a query has none), resampled by patient as ``rank_intervals``."""
    figures = {
        name: (np.nan_to_num(values), used & np.isfinite(values))
        for name, values in per_query.items()
    }
    return _intervals(figures, groups, resamples, seed)


def _intervals(
    figures: dict[str, tuple[np.ndarray, np.ndarray]], groups: np.ndarray, resamples: int, seed: int
) -> dict[str, float]:
    row: dict[str, float] = {}
    resampled = (
        _resampled(figures, np.asarray(groups), resamples, seed)
        if resamples > 0 and len(groups) > 1
        else {}
    )
    for name in figures:
        low, high = percentile_ci(resampled[name]) if name in resampled else (np.nan, np.nan)
        row[f"{name}_lo"], row[f"{name}_hi"] = low, high
    return row
