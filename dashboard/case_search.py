"""The Case browser's search: the checkpoint's ChromaDB case index when it exists, else the exact
in-memory ranking over the cached study embeddings.

With an index, a text query is ``EmbeddingIndex.search_text`` and more-like-this is
``EmbeddingIndex.search_like``; the page's metadata filters become a Chroma ``where`` (restricted
to the active dataset, since one index folder may hold several sibling datasets). Without one, the
results come from ``dashboard.search.rank`` and the caller gets the offer to build the index as a
background job, as it does when the checkpoint's index holds none of the studies the filters
allow (an index built for a sibling dataset that shares its Chroma folder, or for the studies
this dataset held before it was ingested again). An index that cannot
answer (a study missing from a stale index, an unreachable server) falls back to the in-memory
ranking with a notice saying why; one that lacks some of the studies (ingested after it was
built) answers with the others and the offer to rebuild it, as does one whose label values are
not the dataset's labels file's (another version of it, or another file), except that label
filters are then answered in memory (``dashboard.label_filters``); a damaged one (stored
vectors that read back wrong) is not searched, and the offer rebuilds it afresh. Either way
the results are re-checked against the filtered study table, so every card shown passes the
filters.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import pandas as pd

from dashboard.context import EmptyState, Studio
from dashboard.label_filters import LabelledStudies, chosen_labels
from dashboard.scoring import clean_query
from dashboard.search import rank, vector_of
from dashboard.studies import UNKNOWN, UNKNOWN_FIELD_STRENGTH, StudyFilter, apply_filter
from model.errors import DamagedIndex, UserError
from model.index.filters import Where, field_types, normalize_where
from model.index.held_datasets import labels_state

if TYPE_CHECKING:
    from model.index.embedding_index import EmbeddingIndex, SearchHit

log = logging.getLogger(__name__)
MEMORY_BACKEND = "exact in-memory ranking"


@dataclass(frozen=True)
class CaseQuery:
    """A text description (``text``) or an example study (``like``), plus metadata filters."""

    text: str = ""
    like: str | None = None
    filters: StudyFilter = field(default_factory=StudyFilter)
    k: int = 200


@dataclass(frozen=True)
class CaseResults:
    """Ranked cases and which backend answered.

    ``table``: study_id, similarity, rank and the study's columns, best first. ``notice``: why
    the index could not answer (the ranking fell back to memory). ``missing``: no index for the
    active checkpoint, or one that lacks some of the studies, with the job offer that builds it.
    """

    table: pd.DataFrame
    backend: str
    notice: str | None = None
    missing: EmptyState | None = None


def index_where(
    filters: StudyFilter,
    dataset_name: str,
    dataset_id: str = "",
    label_fields: frozenset[str] = frozenset(),
) -> Where:
    """The page's filters as a canonical Chroma ``where``, limited to one dataset's studies: by
    its name and, when known, its id (a same-named dataset on a shared server would otherwise
    take places among the best hits, which the page then drops, so fewer results show).
    ``label_fields``: the index's own label fields (``EmbeddingIndex.label_fields``)."""
    types = field_types(label_fields)
    clauses: list[dict[str, Any]] = [{"dataset": dataset_name}]
    if dataset_id:
        clauses.append({"dataset_id": dataset_id})
    for name, chosen in filters.values.items():
        if not chosen:
            continue
        if name not in types:
            raise UserError(f"the case index cannot filter on {name!r}")
        clauses.append({name: {"$in": [_typed(name, types[name], value) for value in chosen]}})
    where = normalize_where({"$and": clauses} if len(clauses) > 1 else clauses[0], label_fields)
    assert where is not None
    return where


def _typed(name: str, kind: type, value: str) -> Any:
    """A filter value from the page (text) as the index stores it (text, int or float)."""
    if kind is str:
        return value
    if name == "field_strength" and value == UNKNOWN:
        return UNKNOWN_FIELD_STRENGTH
    try:
        number = float(value)
    except ValueError:
        raise UserError(f"filter {name} = {value!r} is not a number") from None
    return int(number) if kind is int and number.is_integer() else number


def check_ready(studio: Studio) -> None:
    """Raise the page's empty state or checkpoint error before anything is typed: no usable
    checkpoint, or neither a case index nor study embeddings to search."""
    studio.checkpoint_summary()
    try:
        if studio.index() is not None:
            return
    except UserError:  # an unreachable server: search_cases falls back and says why
        pass
    studio.embeddings()


def search_cases(studio: Studio, query: CaseQuery, studies: LabelledStudies) -> CaseResults:
    """Rank the active dataset's studies for ``query`` (see the module docstring); ``studies``:
    them joined to their labels (``dashboard.label_filters.case_studies``), as the page's
    filters were offered from."""
    text = clean_query(query.text) if query.like is None else ""
    allowed = apply_filter(studies.table, query.filters)
    labels = chosen_labels(query.filters, studies.columns)
    try:
        index = studio.index()
    except DamagedIndex as err:  # reading it would crash the dashboard: not opened here
        return _in_memory(studio, allowed, query, text, missing=studio.damaged_index(err))
    except UserError as err:  # e.g. the configured Chroma server does not answer
        return _in_memory(
            studio, allowed, query, text, notice=f"The case index is unavailable: {err}"
        )
    if index is None:
        return _in_memory(studio, allowed, query, text, missing=studio.missing_index())
    try:
        metadata = index.collection().metadata
        stale = labels_state(metadata, studio.dataset_path(), studio.labels_prints(), labels)
        if not stale.current and labels:  # not the file's values: the filters would be wrong
            return _in_memory(studio, allowed, query, text, missing=studio.outdated_index(stale))
        dataset = (studio.dataset_path().name, str(studio.dataset().settings.get("salt_id", "")))
        hits = _index_hits(index, query, text, dataset, _candidates(allowed, query))
        indexed = set(index.snapshot().ids.tolist())
        unindexed = _unindexed(indexed, allowed)
        own = len(studies.table) - _unindexed(indexed, studies.table)
        backend = _index_backend(index, len(allowed) - unindexed, own, dataset[0])
    except DamagedIndex as err:
        return _in_memory(studio, allowed, query, text, missing=studio.damaged_index(err))
    except UserError as err:
        notice = f"The ChromaDB index could not answer ({err}); rebuild it to search it again."
        return _in_memory(studio, allowed, query, text, notice=notice)
    except Exception as err:  # a Chroma server that went away since it answered, a damaged folder
        notice = _failure_notice(studio, err)
        return _in_memory(studio, allowed, query, text, notice=notice)
    table = hits_table(hits).merge(allowed, on="study_id", how="inner")
    if table.empty and _candidates(allowed, query):  # built for a sibling, or before a re-ingest
        return _in_memory(studio, allowed, query, text, missing=studio.missing_index())
    missing = studio.partial_index(unindexed, len(allowed)) if unindexed else None
    if missing is None and not stale.current:
        missing = studio.outdated_index(stale)
    return CaseResults(table, backend, missing=missing)


def _failure_notice(studio: Studio, err: Exception) -> str:
    """Why the index that answered a moment ago failed, as an index that does not answer at all
    is said (naming the server and what to do); an error of ours goes to the log in full."""
    from model.index.client import index_failure

    said = index_failure(studio.index_location(), err)
    if said is not None:
        return f"The case index is unavailable: {said}"
    log.exception("index search failed")
    return f"The ChromaDB index failed ({type(err).__name__}: {err}); ranking in memory."


def _index_backend(index: EmbeddingIndex, searched: int, own: int, dataset: str) -> str:
    """What answered: the case index, the studies of ``dataset`` searched in it (those the
    filters allow) and, when it holds more than its ``own`` indexed studies (another dataset's,
    another site's), how many it holds in all. Not the index's collection name: a checkpoint
    hash that tells a reader nothing."""
    held = index.count()
    others = f" ({held:,} indexed in all, other datasets' included)" if held > own else ""
    return f"case index: {searched:,} studies of {dataset}{others}"


def _unindexed(indexed: set[str], allowed: pd.DataFrame) -> int:
    """How many of the allowed studies are not among the index's ``indexed`` IDs (ingested
    after it was built)."""
    return int((~allowed["study_id"].astype(str).isin(indexed)).sum())


def _candidates(allowed: pd.DataFrame, query: CaseQuery) -> int:
    """How many studies the filters allow as matches (the example itself never is one)."""
    return int((allowed["study_id"].astype(str) != query.like).sum())


def _index_hits(
    index: EmbeddingIndex, query: CaseQuery, text: str, dataset: tuple[str, str], n_allowed: int
) -> list[SearchHit]:
    """The index's best ``query.k`` hits among ``dataset``'s (name, id) studies."""
    from model.index.filters import MAX_K

    if n_allowed == 0:  # nothing to ask for (e.g. the filters allow the example alone)
        return []
    where = index_where(query.filters, *dataset, index.label_fields())
    k = max(1, min(query.k, MAX_K))
    if query.like is not None:
        return index.search_like(query.like, k=k, where=where)
    return index.search_text(text, k=k, where=where)


def hits_table(hits: list[SearchHit]) -> pd.DataFrame:
    """Index hits as the ranking table: study_id, similarity, rank."""
    return pd.DataFrame(
        {
            "study_id": pd.Series([hit.study_id for hit in hits], dtype=object),
            "similarity": pd.Series([hit.similarity for hit in hits], dtype=float),
            "rank": pd.Series([hit.rank for hit in hits], dtype=int),
        }
    )


def _in_memory(
    studio: Studio,
    allowed: pd.DataFrame,
    query: CaseQuery,
    text: str,
    notice: str | None = None,
    missing: EmptyState | None = None,
) -> CaseResults:
    """Exact cosine ranking over the cached study embeddings of the allowed studies."""
    emb = studio.embeddings()
    if query.like is None:
        vector = studio.text_encoder()([text], keep=False)[0]  # a typed query: not on disk
        exclude: list[str] = []
    else:
        vector = vector_of(query.like, emb.ids, emb.vectors)
        exclude = [query.like]
    ids = set(allowed["study_id"].astype(str))
    ranked = rank(vector, emb.ids, emb.vectors, ids, exclude, k=query.k)
    table = ranked.merge(allowed, on="study_id", how="inner")
    backend = f"{MEMORY_BACKEND} over {len(emb.ids):,} studies"
    return CaseResults(table, backend, notice=notice, missing=missing)
