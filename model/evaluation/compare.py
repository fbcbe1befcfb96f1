"""Paired model comparison: DeLong's test for two correlated ROC AUCs, Holm's adjustment.

Two models scored on the same studies give correlated AUCs, so their difference needs a paired
test. DeLong, DeLong & Clarke-Pearson (1988) estimate the covariance of the two AUCs from each
study's structural components; Sun & Xu (2014) compute those from midranks in O(N log N):

    V10[i] = (rank of positive i among all - rank among positives) / n_negative
    V01[j] = 1 - (rank of negative j among all - rank among negatives) / n_positive
    var(AUC_a - AUC_b) = (S10 / m + S01 / n) contracted with (1, -1)

with S10, S01 the 2 x 2 sample covariances of the components over positives and negatives.
Ties count one half, as in ``metrics.auc_rows``. Where a patient has several studies their
components are not independent, and the covariance sums them per patient first (Obuchowski 1997,
``clustered_covariance``). Nothing here is fitted: the test uses the scores and labels as they are.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd
from scipy.special import ndtr
from scipy.stats import rankdata

from model.evaluation.suite import SiteResult
from model.evaluation.tables import display_name

Z_95 = 1.959963984540054


@dataclass(frozen=True)
class PairedAUC:
    """AUC of model a and model b on the same studies, their difference a - b, its 95% CI and
    two-sided p-value under DeLong's test."""

    n: int
    n_positive: int
    auc_a: float
    auc_b: float
    difference: float
    difference_lo: float
    difference_hi: float
    z: float
    p_value: float

    def as_row(self) -> dict[str, float | int]:
        return asdict(self)


def structural_components(
    scores: np.ndarray, labels: np.ndarray
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Midrank DeLong components of K score rows on one labelling.

    scores: float [K, N]; labels: {0, 1} [N] with both classes present.
    Returns (auc [K], v10 [K, m] over positives, v01 [K, n] over negatives).
    """
    scores = np.atleast_2d(np.asarray(scores, dtype=np.float64))
    positive = np.asarray(labels).astype(bool)
    m, n = int(positive.sum()), int((~positive).sum())
    if m == 0 or n == 0:
        raise ValueError("DeLong's test needs positive and negative studies")
    ranks_all = rankdata(scores, axis=1)
    ranks_pos = rankdata(scores[:, positive], axis=1)
    ranks_neg = rankdata(scores[:, ~positive], axis=1)
    v10 = (ranks_all[:, positive] - ranks_pos) / n
    v01 = 1.0 - (ranks_all[:, ~positive] - ranks_neg) / m
    auc = v10.mean(axis=1)
    return auc, v10, v01


def delong_test(
    scores_a: np.ndarray,
    scores_b: np.ndarray,
    labels: np.ndarray,
    groups: np.ndarray | None = None,
) -> PairedAUC:
    """Paired DeLong test of AUC(a) - AUC(b); scores_a, scores_b float [N], labels {0, 1} [N].

    groups: [N] patient keys; when a patient has several studies, the variance is Obuchowski's
    clustered one (``clustered_covariance``): DeLong's treats every study as independent and
    understates it. A zero variance (e.g. identically ranked scores) gives p = 1 when the AUCs
    agree.
    """
    labels = np.asarray(labels).astype(bool).ravel()
    stacked = np.vstack([np.ravel(scores_a), np.ravel(scores_b)])
    if stacked.shape[1] != labels.size:
        raise ValueError("scores and labels differ in length")
    auc, v10, v01 = structural_components(stacked, labels)
    m, n = v10.shape[1], v01.shape[1]
    clusters = None if groups is None else np.unique(np.asarray(groups), return_inverse=True)[1]
    if clusters is not None and np.bincount(clusters.ravel()).max() > 1:
        covariance = clustered_covariance(auc, v10, v01, labels, clusters.ravel())
    else:
        covariance = _covariance(v10) / m + _covariance(v01) / n
    contrast = np.array([1.0, -1.0])
    variance = max(float(contrast @ covariance @ contrast), 0.0)
    difference = float(auc[0] - auc[1])
    sd = math.sqrt(variance)
    if sd > 0:
        z = difference / sd
        p_value = float(2.0 * ndtr(-abs(z)))
    else:
        z = 0.0 if difference == 0 else math.copysign(math.inf, difference)
        p_value = 1.0 if difference == 0 else 0.0
    return PairedAUC(
        n=int(labels.size),
        n_positive=m,
        auc_a=float(auc[0]),
        auc_b=float(auc[1]),
        difference=difference,
        difference_lo=difference - Z_95 * sd,
        difference_hi=difference + Z_95 * sd,
        z=float(z),
        p_value=p_value,
    )


def _covariance(components: np.ndarray) -> np.ndarray:
    """Sample covariance [K, K] of components [K, M] over M items (zeros when M < 2)."""
    if components.shape[1] < 2:
        return np.zeros((components.shape[0], components.shape[0]))
    return np.atleast_2d(np.cov(components))


def clustered_covariance(
    auc: np.ndarray, v10: np.ndarray, v01: np.ndarray, labels: np.ndarray, clusters: np.ndarray
) -> np.ndarray:
    """Covariance [K, K] of K AUCs when studies come in clusters (a patient's studies), by
    Obuchowski (1997, Biometrics 53:567): with X_i, Y_i the sums of a cluster's components over
    its m_i positive and n_i negative studies, M and N the totals and I clusters,

        S10 = I / ((I - 1) M) sum (X_i - m_i AUC)(X_i - m_i AUC)^T, S01 likewise over Y_i,
        S11 = I / (I - 1) sum (X_i - m_i AUC)(Y_i - n_i AUC)^T,
        cov = S10 / M + S01 / N + (S11 + S11^T) / (M N).

    auc [K], v10 [K, M], v01 [K, N] (``structural_components``); labels bool [N + M];
    clusters int [N + M] in [0, I)."""
    n_clusters = int(clusters.max()) + 1
    if n_clusters < 2:
        return np.zeros((auc.size, auc.size))

    def centred(components: np.ndarray, members: np.ndarray) -> np.ndarray:
        sums = np.zeros((auc.size, n_clusters))
        np.add.at(sums.T, members, components.T)
        return sums - auc[:, None] * np.bincount(members, minlength=n_clusters)[None, :]

    dx, dy = centred(v10, clusters[labels]), centred(v01, clusters[~labels])
    m, n = v10.shape[1], v01.shape[1]
    factor = n_clusters / (n_clusters - 1)
    s10, s01, s11 = factor * dx @ dx.T / m, factor * dy @ dy.T / n, factor * dx @ dy.T
    return s10 / m + s01 / n + (s11 + s11.T) / (m * n)


def holm_adjust(p_values: np.ndarray) -> np.ndarray:
    """Holm-Bonferroni step-down adjusted p-values [M], in the input order (NaN stays NaN)."""
    p = np.asarray(p_values, dtype=np.float64)
    adjusted = np.full(p.shape, np.nan)
    finite = np.flatnonzero(np.isfinite(p))
    if finite.size == 0:
        return adjusted
    order = finite[np.argsort(p[finite], kind="stable")]
    factors = finite.size - np.arange(finite.size)
    adjusted[order] = np.minimum(np.maximum.accumulate(p[order] * factors), 1.0)
    return adjusted


def comparison_tables(
    results: list[SiteResult], main: str, patients: dict[str, dict[str, str]] | None = None
) -> dict[str, pd.DataFrame]:
    """site -> the ``main`` model against every other model on each label both scored.

    One row per (baseline, setting, label): both AUCs on the studies both models scored, the
    difference main - baseline with its DeLong 95% CI and p-value, and the p-value Holm-adjusted
    over the labels of that baseline and setting. Sites without a second model are left out.
    ``patients``: site -> study id -> patient key; a site where a patient has several studies
    gets the clustered variance (``delong_test``).
    """
    tables = {}
    for site in dict.fromkeys(r.site for r in results):
        at_site = [r for r in results if r.site == site]
        reference = next((r for r in at_site if r.model == main), None)
        if reference is None:
            continue
        of_site = (patients or {}).get(site)
        rows = [
            row
            for other in at_site
            if other.model != main
            for row in _pair_rows(reference, other, of_site)
        ]
        if rows:
            tables[site] = _with_holm(pd.DataFrame(rows))
    return tables


def _pair_rows(
    reference: SiteResult, other: SiteResult, patients: dict[str, str] | None
) -> list[dict]:
    rows = []
    for key, mine in reference.scores.items():
        theirs = other.scores.get(key)
        if theirs is None:
            continue
        position = {study: i for i, study in enumerate(theirs.ids)}
        shared = [i for i, study in enumerate(mine.ids) if study in position]
        labels = mine.labels[shared]
        if labels.all() or not labels.any():
            continue
        groups = None if patients is None else np.array([patients[mine.ids[i]] for i in shared])
        paired = delong_test(
            mine.scores[shared],
            theirs.scores[[position[mine.ids[i]] for i in shared]],
            labels,
            groups,
        )
        setting, label = key
        rows.append(
            {
                "model": reference.model,
                "baseline": other.model,
                "Label": display_name(label),
                "setting": setting,
                **paired.as_row(),
                "label_key": label,
                "site": reference.site,
            }
        )
    return rows


def _with_holm(table: pd.DataFrame) -> pd.DataFrame:
    table["p_holm"] = np.nan
    for _, family in table.groupby(["baseline", "setting"], sort=False):
        table.loc[family.index, "p_holm"] = holm_adjust(family["p_value"].to_numpy())
    return table
