"""Case search over cached study embeddings: natural-language queries and more-like-this.

Exact cosine ranking (one matrix-vector product over unit-norm vectors) restricted to the
studies that pass the metadata filters, so results always respect the filters and the order is
exact at any size the dashboard holds in memory.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import pandas as pd

from model.errors import UserError


def rank(
    query: np.ndarray,
    ids: Sequence[str],
    vectors: np.ndarray,
    allowed: set[str] | None = None,
    exclude: Sequence[str] = (),
    k: int = 200,
) -> pd.DataFrame:
    """Top ``k`` studies by cosine similarity to ``query`` [D] among ``vectors`` [N, D].

    Returns columns study_id, similarity (descending), rank (1-based).
    """
    query = np.asarray(query, dtype=np.float32).ravel()
    if vectors.ndim != 2 or query.shape[0] != vectors.shape[1]:
        raise UserError("the query and the study embeddings come from different models")
    similarity = vectors @ query
    keep = np.ones(len(ids), dtype=bool)
    if allowed is not None:
        keep &= np.fromiter((i in allowed for i in ids), dtype=bool, count=len(ids))
    if exclude:
        excluded = set(exclude)
        keep &= np.fromiter((i not in excluded for i in ids), dtype=bool, count=len(ids))
    candidates = np.flatnonzero(keep)
    if candidates.size == 0:
        return pd.DataFrame({"study_id": [], "similarity": [], "rank": []})
    top = candidates[np.argsort(-similarity[candidates], kind="stable")[:k]]
    return pd.DataFrame(
        {
            "study_id": [ids[i] for i in top],
            "similarity": similarity[top].astype(float),
            "rank": np.arange(1, top.size + 1),
        }
    )


def vector_of(study_id: str, ids: Sequence[str], vectors: np.ndarray) -> np.ndarray:
    """The embedding [D] of one study; UserError if it has none."""
    try:
        return vectors[list(ids).index(study_id)]
    except ValueError as err:
        raise UserError(f"study {study_id} has no embedding with the active checkpoint") from err


def page_of(table: pd.DataFrame, page: int, per_page: int) -> pd.DataFrame:
    """Rows of one 1-based page (an out-of-range page gives the last one)."""
    pages = max(1, -(-len(table) // per_page))
    page = min(max(page, 1), pages)
    return table.iloc[(page - 1) * per_page : page * per_page]


EXAMPLE_CHARS = 240  # the example's impression, cut: a line under the picker, not a report


def example_line(studies: pd.DataFrame, study_id: str) -> str:
    """What a more-like-this search's example study is, in one line: its site, age band, sex
    and report impression (cut to ``EXAMPLE_CHARS``), so the ranked cards can be read against
    it; "" when ``study_id`` is not one of ``studies``."""
    rows = studies[studies["study_id"].astype(str) == study_id]
    if rows.empty:
        return ""
    row = rows.iloc[0]
    facts = " ".join(
        str(row[c]) for c in ("site", "age_band", "sex") if c in row and pd.notna(row[c])
    )
    text = row.get("impression")
    impression = (str(text).strip() if pd.notna(text) else "") or "(no report impression)"
    if len(impression) > EXAMPLE_CHARS:
        impression = impression[: EXAMPLE_CHARS - 1].rstrip() + "…"
    return f"{facts} · {impression}" if facts else impression
