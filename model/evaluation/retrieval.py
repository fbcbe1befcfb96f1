"""Cross-modal retrieval between studies and their report impressions.

Query i's correct answers are every candidate whose impression text is identical to its own
(synthetic and real reports repeat "Normal study." and the like; those are not errors), after
stripping surrounding spaces and ignoring case. The rank of a query is the position of its first
correct candidate with the candidates tied in similarity in random order, in expectation
(``QueryRanks``): counting every tie in the query's favour gave a collapsed model, all of whose
embeddings are alike, R@1 = 1.

Label-consistent precision@10 (report -> study): among the 10 studies ranked highest for a report,
leaving out the studies of the report's patient (its own and any repeat scan), the fraction whose
known finding labels all equal the query study's (labels unknown on either side are not compared;
studies tied at the edge of the top 10 taken in random order, in expectation). It is reported beside its two bounds on
the same studies: the ceiling (what a perfect ranking reaches: a query whose finding combination
has fewer than 10 other studies cannot fill its top 10) and chance (a random ranking).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, fields

import numpy as np

TOP_K: tuple[int, ...] = (1, 5, 10)
PRECISION_AT = 10
BLOCK_CELLS = 2**21  # similarities ranked at once: 16 MiB as float64


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


def text_codes(texts: list[str]) -> np.ndarray:
    """int [N]: one code per impression text (after strip and lower-case); equal texts, equal codes."""
    _, codes = np.unique([t.strip().lower() for t in texts], return_inverse=True)
    return codes.reshape(-1)


def query_blocks(n_queries: int, n_candidates: int) -> Iterator[slice]:
    """Consecutive query rows ranked together: ``BLOCK_CELLS`` similarities at a time, never the
    whole [N, N] matrix (at 20,000 studies that, its float64 copy and its sort indices took
    over 10 GB)."""
    rows = max(1, BLOCK_CELLS // max(n_candidates, 1))
    for start in range(0, n_queries, rows):
        yield slice(start, min(start + rows, n_queries))


@dataclass(frozen=True, eq=False)  # arrays: compare expected() or within(k)
class QueryRanks:
    """Each query's rank with its ties, int [Q] each: ``above``, the wrong candidates scoring
    strictly above its best correct one; ``tied_wrong``, those scoring the same; ``tied_correct``,
    the correct ones at that score (at least 1). With the tied candidates in random order, the
    rank is 1 + above + the wrong ones drawn before the first correct one."""

    above: np.ndarray
    tied_wrong: np.ndarray
    tied_correct: np.ndarray

    @classmethod
    def untied(cls, ranks: np.ndarray) -> QueryRanks:
        """Whole ranks int [Q] without ties."""
        ranks = np.asarray(ranks, dtype=np.int64)
        return cls(ranks - 1, np.zeros_like(ranks), np.ones_like(ranks))

    def expected(self) -> np.ndarray:
        """Expected rank, float [Q]: the wrong tied candidates before the first of c correct ones
        number w / (c + 1) on average."""
        return 1.0 + self.above + self.tied_wrong / (self.tied_correct + 1.0)

    def within(self, k: int) -> np.ndarray:
        """P(rank <= k), float [Q]: 1 - P(the first k - above tied candidates are all wrong),
        0 when ``above`` >= k."""
        room = k - self.above  # tied candidates that may come before the first correct one
        all_wrong = np.ones(len(room))
        for i in range(k):
            wrong = self.tied_wrong - i
            step = np.where(wrong > 0, wrong / np.maximum(wrong + self.tied_correct, 1), 0.0)
            all_wrong = np.where(i < room, all_wrong * step, all_wrong)
        return np.where(room > 0, 1.0 - all_wrong, 0.0)


def as_query_ranks(ranks: QueryRanks | np.ndarray) -> QueryRanks:
    """``QueryRanks`` as they are; whole ranks int [Q] as untied ones."""
    return ranks if isinstance(ranks, QueryRanks) else QueryRanks.untied(ranks)


def retrieval_ranks(similarity: np.ndarray, correct: np.ndarray) -> QueryRanks:
    """Each query's rank with its ties (``QueryRanks``).

    similarity: float [Q, C] (query x candidate); correct: bool [Q, C], one True at least per row.
    """
    best_correct = np.where(correct, similarity, -np.inf).max(axis=1, keepdims=True)
    tied = similarity == best_correct
    return QueryRanks(
        above=((similarity > best_correct) & ~correct).sum(axis=1),
        tied_wrong=(tied & ~correct).sum(axis=1),
        tied_correct=(tied & correct).sum(axis=1),
    )


def summarise_ranks(
    ranks: QueryRanks | np.ndarray, top_k: tuple[int, ...] = TOP_K
) -> RetrievalResult:
    """Recall@k (the mean chance of rank <= k) and median expected rank, from ``QueryRanks`` or
    whole ranks int [Q]."""
    ranks = as_query_ranks(ranks)
    if ranks.above.size == 0:
        return RetrievalResult({k: float("nan") for k in top_k}, float("nan"), 0)
    recall = {k: float(ranks.within(k).mean()) for k in top_k}
    return RetrievalResult(recall, float(np.median(ranks.expected())), int(ranks.above.size))


def bidirectional_retrieval(
    study_vecs: np.ndarray, text_vecs: np.ndarray, texts: list[str]
) -> dict[str, RetrievalResult]:
    """Report -> study and study -> report retrieval over paired rows, ranked block by block.

    study_vecs, text_vecs: float [N, D] unit-norm, row i of each from the same study; texts [N].
    """
    ranks = bidirectional_ranks(study_vecs, text_vecs, texts)
    return {direction: summarise_ranks(r) for direction, r in ranks.items()}


def bidirectional_ranks(
    study_vecs: np.ndarray, text_vecs: np.ndarray, texts: list[str]
) -> dict[str, QueryRanks]:
    """Each query's rank, report -> study and study -> report (as ``bidirectional_retrieval``),
    ranked block by block."""
    codes = text_codes(texts)
    parts: dict[str, list[QueryRanks]] = {"report_to_study": [], "study_to_report": []}
    for rows in query_blocks(len(codes), len(codes)):
        correct = codes[rows, None] == codes[None, :]  # same text is symmetric
        parts["report_to_study"].append(retrieval_ranks(text_vecs[rows] @ study_vecs.T, correct))
        parts["study_to_report"].append(retrieval_ranks(study_vecs[rows] @ text_vecs.T, correct))
    return {direction: _joined(blocks) for direction, blocks in parts.items()}


def _joined(blocks: list[QueryRanks]) -> QueryRanks:
    """The ranks of consecutive query blocks as one ``QueryRanks`` (empty without blocks)."""
    if not blocks:
        return QueryRanks.untied(np.zeros(0, dtype=np.int64) + 1)
    return QueryRanks(
        *(np.concatenate([getattr(b, f.name) for b in blocks]) for f in fields(QueryRanks))
    )


def consistent_matrix(findings: np.ndarray, candidates: np.ndarray | None = None) -> np.ndarray:
    """bool [Q, C]: query study i and candidate j agree on every finding known for both.

    findings: float [Q, F] with 1/0 and NaN for unknown; candidates: float [C, F] (default the
    queries themselves).
    """
    candidates = findings if candidates is None else candidates
    known, known_c = ~np.isnan(findings), ~np.isnan(candidates)
    values = np.nan_to_num(findings, nan=0.0).astype(bool)
    values_c = np.nan_to_num(candidates, nan=0.0).astype(bool)
    disagree = np.zeros((len(findings), len(candidates)), dtype=bool)
    for column in range(findings.shape[1]):
        both = known[:, column, None] & known_c[None, :, column]
        differ = values[:, column, None] != values_c[None, :, column]
        disagree |= both & differ
    return ~disagree


def _excluded(queries: int, n: int, excluded: np.ndarray | None) -> np.ndarray:
    """bool [Q, C]: the candidates each query leaves out (default: query i's own study, i)."""
    if excluded is not None:
        return np.asarray(excluded, dtype=bool)
    mask = np.zeros((queries, n), dtype=bool)
    mask[np.arange(queries), np.arange(queries)] = True
    return mask


def label_consistent_precision(
    similarity: np.ndarray,
    consistent: np.ndarray,
    at: int = PRECISION_AT,
    excluded: np.ndarray | None = None,
) -> np.ndarray:
    """Per query, the consistent fraction of its top ``at`` candidates other than those it
    leaves out (its own study, and its patient's other studies when the caller says so), the
    candidates tied at the edge of the top in random order, in expectation (picked by position
    in the dataset, a collapsed model's top 10 was the site's first 10 studies).

    similarity: float [Q, C]; consistent: bool [Q, C]; excluded: bool [Q, C] (default query i
    leaves out candidate i: they are the same study).
    Returns float [Q] (NaN when there are no other candidates).
    """
    queries, n = similarity.shape
    excluded = _excluded(queries, n, excluded)
    if n < 2:
        return np.full(queries, np.nan)
    masked = np.where(excluded, -np.inf, similarity.astype(np.float64))
    top = min(at, n - 1)
    # the top-th highest score; the candidates tied at it fill the top in random order
    edge = -np.partition(-masked, top - 1, axis=1)[:, top - 1, None]
    above = masked > edge
    tied = (masked == edge) & np.isfinite(masked)  # none when fewer others than top
    n_above, n_tied = above.sum(axis=1), tied.sum(axis=1)
    taken = np.minimum(top, n_above + n_tied) - n_above  # tied candidates in the top
    tied_share = (consistent & tied).sum(axis=1) / np.maximum(n_tied, 1)
    hits = (consistent & above).sum(axis=1) + taken * tied_share
    counted = n_above + taken
    with np.errstate(divide="ignore", invalid="ignore"):
        return np.where(counted > 0, hits / counted, np.nan)


def label_precision_bounds(
    consistent: np.ndarray, at: int = PRECISION_AT, excluded: np.ndarray | None = None
) -> tuple[np.ndarray, np.ndarray]:
    """Per query, the (ceiling, chance) of ``label_consistent_precision``, float [Q] each.

    The ceiling is min(consistent others, top) / top with top = min(at, other candidates): a
    perfect ranking puts every consistent study first. Chance is the consistent share of the
    other candidates: the expected precision of a random ranking. NaN without other candidates.
    """
    queries, n = consistent.shape
    excluded = _excluded(queries, n, excluded)
    candidates = (~excluded).sum(axis=1)
    others = (consistent & ~excluded).sum(axis=1)
    top = np.minimum(at, candidates)
    with np.errstate(divide="ignore", invalid="ignore"):
        ceiling = np.where(candidates > 0, np.minimum(others, top) / top, np.nan)
        chance = np.where(candidates > 0, others / candidates, np.nan)
    return ceiling, chance


def label_precision(
    text_vecs: np.ndarray,
    study_vecs: np.ndarray,
    findings: np.ndarray,
    at: int = PRECISION_AT,
    groups: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Report -> study label-consistent precision@``at`` with its ceiling and chance, float [N]
    each, ranked block by block (``query_blocks``).

    text_vecs, study_vecs: float [N, D], row i of each from the same study; findings: float
    [N, F] (1/0, NaN unknown); groups: [N] patient keys: a report leaves out every study of its
    patient, not just its own (a repeat scan of the same heart, labelled alike, is found by its
    likeness to that patient, as in the few-shot queries).
    """
    n = len(findings)
    patients = np.arange(n) if groups is None else np.unique(groups, return_inverse=True)[1]
    patients = patients.reshape(-1)
    precision, ceiling, chance = (np.full(n, np.nan) for _ in range(3))
    for rows in query_blocks(n, n):
        consistent = consistent_matrix(findings[rows], findings)
        excluded = patients[rows, None] == patients[None, :]
        similarity = text_vecs[rows] @ study_vecs.T
        precision[rows] = label_consistent_precision(similarity, consistent, at, excluded)
        ceiling[rows], chance[rows] = label_precision_bounds(consistent, at, excluded)
    return precision, ceiling, chance


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
        blanked += [
            c
            for c in row
            if str(c).startswith(f"label_precision@{PRECISION_AT}")
            and not str(c).endswith(("_lo", "_hi"))
        ]
    for column in blanked:
        for name in (column, f"{column}_lo", f"{column}_hi"):
            if name in row:
                row[name] = float("nan")
    return blanked
