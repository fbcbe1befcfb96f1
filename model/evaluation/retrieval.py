"""Cross-modal retrieval between studies and their report impressions.

Query i's correct answers are every candidate whose impression text is identical to its own
(synthetic and real reports repeat "Normal study." and the like; those are not errors). The rank
of a query is 1 + the number of wrong candidates scoring strictly above its best correct one.

Label-consistent precision@10 (report -> study): among the 10 studies ranked highest for a report,
leaving out the report's own study, the fraction whose known finding labels all equal the query
study's (labels unknown on either side are not compared). It is reported beside its two bounds on
the same studies: the ceiling (what a perfect ranking reaches: a query whose finding combination
has fewer than 10 other studies cannot fill its top 10) and chance (a random ranking).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

TOP_K: tuple[int, ...] = (1, 5, 10)
PRECISION_AT = 10


@dataclass(frozen=True)
class RetrievalResult:
    """Recall@k (``recall[k]``), median rank and the number of queries, for one direction."""

    recall: dict[int, float]
    median_rank: float
    n: int

    def as_row(self) -> dict[str, float | int]:
        row: dict[str, float | int] = {f"R@{k}": v for k, v in self.recall.items()}
        row["median_rank"] = self.median_rank
        row["n"] = self.n
        return row


def same_text_matrix(texts: list[str]) -> np.ndarray:
    """bool [N, N]: True where two impressions are the same text (after strip and lower-case)."""
    _, codes = np.unique([t.strip().lower() for t in texts], return_inverse=True)
    return codes[:, None] == codes[None, :]


def retrieval_ranks(similarity: np.ndarray, correct: np.ndarray) -> np.ndarray:
    """Rank (1 = best) of each query's best correct candidate.

    similarity: float [Q, C] (query x candidate); correct: bool [Q, C], one True at least per row.
    Returns int [Q].
    """
    best_correct = np.where(correct, similarity, -np.inf).max(axis=1, keepdims=True)
    return 1 + ((similarity > best_correct) & ~correct).sum(axis=1)


def summarise_ranks(ranks: np.ndarray, top_k: tuple[int, ...] = TOP_K) -> RetrievalResult:
    """Recall@k and median rank from ranks int [Q]."""
    if ranks.size == 0:
        return RetrievalResult({k: float("nan") for k in top_k}, float("nan"), 0)
    recall = {k: float((ranks <= k).mean()) for k in top_k}
    return RetrievalResult(recall, float(np.median(ranks)), int(ranks.size))


def bidirectional_retrieval(
    study_vecs: np.ndarray, text_vecs: np.ndarray, texts: list[str]
) -> dict[str, RetrievalResult]:
    """Report -> study and study -> report retrieval over paired rows.

    study_vecs, text_vecs: float [N, D] unit-norm, row i of each from the same study; texts [N].
    """
    similarity = text_vecs @ study_vecs.T
    correct = same_text_matrix(texts)
    return {
        "report_to_study": summarise_ranks(retrieval_ranks(similarity, correct)),
        "study_to_report": summarise_ranks(retrieval_ranks(similarity.T, correct.T)),
    }


def consistent_matrix(findings: np.ndarray) -> np.ndarray:
    """bool [N, N]: studies i and j agree on every finding known for both.

    findings: float [N, F] with 1/0 and NaN for unknown.
    """
    known = ~np.isnan(findings)
    values = np.nan_to_num(findings, nan=0.0).astype(bool)
    disagree = np.zeros((len(findings), len(findings)), dtype=bool)
    for column in range(findings.shape[1]):
        both = known[:, column, None] & known[None, :, column]
        differ = values[:, column, None] != values[None, :, column]
        disagree |= both & differ
    return ~disagree


def label_consistent_precision(
    similarity: np.ndarray, consistent: np.ndarray, at: int = PRECISION_AT
) -> np.ndarray:
    """Per query, the consistent fraction of its top ``at`` candidates other than itself.

    similarity: float [N, N] (query i and candidate i are the same study); consistent: bool [N, N].
    Returns float [N] (NaN when there are no other candidates).
    """
    n = similarity.shape[0]
    if n < 2:
        return np.full(n, np.nan)
    masked = similarity.astype(np.float64, copy=True)
    np.fill_diagonal(masked, -np.inf)
    top = min(at, n - 1)
    best = np.argpartition(-masked, top - 1, axis=1)[:, :top]
    return np.take_along_axis(consistent, best, axis=1).mean(axis=1)


def label_precision_bounds(
    consistent: np.ndarray, at: int = PRECISION_AT
) -> tuple[np.ndarray, np.ndarray]:
    """Per query, the (ceiling, chance) of ``label_consistent_precision``, float [N] each.

    The ceiling is min(consistent others, top) / top with top = min(at, N - 1): a perfect
    ranking puts every consistent study first. Chance is the consistent share of the other
    studies: the expected precision of a random ranking. NaN when there are no other candidates.
    """
    n = consistent.shape[0]
    if n < 2:
        return np.full(n, np.nan), np.full(n, np.nan)
    others = consistent.sum(axis=1) - np.diagonal(consistent)
    top = min(at, n - 1)
    return np.minimum(others, top) / top, others / (n - 1)


def recalls_fixed_by(n: int, top_k: tuple[int, ...] = TOP_K) -> list[int]:
    """The k of ``top_k`` whose R@k is 1 whatever the model when ``n`` paired studies are
    ranked: no rank exceeds n."""
    return [k for k in top_k if n <= k]


def blank_by_construction(row: dict[str, float | int], n: int) -> list[str]:
    """Blank (NaN) the figures of a retrieval ``row`` that ``n`` paired studies fix whatever the
    model, and return their names: R@k when n <= k (no rank exceeds n, so it is 1), and label
    precision@10 with its bounds when n - 1 <= ``PRECISION_AT`` (the top 10 then holds every
    other study, so precision equals its chance level and its ceiling)."""
    blanked = [f"R@{k}" for k in recalls_fixed_by(n) if f"R@{k}" in row]
    if n - 1 <= PRECISION_AT:
        blanked += [c for c in row if str(c).startswith(f"label_precision@{PRECISION_AT}")]
    for column in blanked:
        row[column] = float("nan")
    return blanked
