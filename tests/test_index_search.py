"""EmbeddingIndex on an embedded Chroma folder with synthetic vectors: search and edge cases."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest
from index_fakes import CHECKPOINT, embedded_index, exact_top_k, make_records

from model.errors import CheckpointError, UserError
from model.index.collection_spec import collection_name
from model.index.embedding_index import EmbeddingIndex
from model.index.filters import MAX_K, MAX_QUERY_CHARS, evaluate_where, normalize_where
from model.index.writer import upsert_records
from model.schema import FINDINGS

N = 300


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    path = tmp_path_factory.mktemp("index") / "chroma"
    records = make_records(N)
    index = embedded_index(path, exact_filters=False)
    report = upsert_records(index, records, batch_size=64)
    assert report.written == N and report.total == N
    return index, records, path


def test_own_embedding_returns_that_study_first(built):
    index, records, _ = built
    for row in (0, 17, 123, N - 1):
        hits = index.search_vector(records.vectors[row], k=5)
        assert hits[0].study_id == records.ids[row]
        assert hits[0].similarity == pytest.approx(1.0, abs=1e-4)
        assert [h.rank for h in hits] == [1, 2, 3, 4, 5]


def test_unfiltered_search_matches_exact_top10(built):
    index, records, _ = built
    rng = np.random.default_rng(5)
    for _ in range(5):
        query = records.vectors[rng.integers(N)] + 0.3 * rng.normal(size=records.vectors.shape[1])
        got = [h.study_id for h in index.search_vector(query.astype(np.float32), k=10)]
        assert got == exact_top_k(records, query, 10)


def test_hits_carry_metadata_and_impression_but_no_internal_fields(built):
    index, records, _ = built
    hit = index.search_vector(records.vectors[3], k=1)[0]
    assert hit.impression == records.documents[3]
    assert hit.metadata["site"] == records.metadatas[3]["site"]
    assert "row_hash" not in hit.metadata
    assert "accession_number" not in hit.metadata


@pytest.mark.parametrize(
    "where",
    [
        {"site": "external", "lv_dilation": 1},
        {"$and": [{"field_strength": {"$gte": 3.0}}, {"age_min": {"$lt": 60}}]},
        {"$or": [{"split": "test"}, {"sex": {"$in": ["F"]}}]},
        {"diagnosis": {"$nin": ["normal"]}},
    ],
)
def test_filtered_search_is_exact_and_equal_in_both_modes(built, where):
    index, records, path = built
    exact = embedded_index(path)
    query = records.vectors[10]
    meta = pd.DataFrame.from_records(records.metadatas)
    mask = evaluate_where(normalize_where(where), meta)
    expected = exact_top_k(records, query, 8, mask)
    assert expected, "the filter should match some studies"
    got_exact = [h.study_id for h in exact.search_vector(query, k=8, where=where)]
    got_chroma = [h.study_id for h in index.search_vector(query, k=8, where=where)]
    assert got_exact == expected
    assert got_chroma == expected
    for hit in exact.search_vector(query, k=8, where=where):
        assert mask[records.ids.index(hit.study_id)]


@pytest.mark.parametrize(
    "where",
    [
        {"age_min": {"$ne": 30}},
        {FINDINGS[0]: {"$nin": [1]}},
        {"$or": [{"site": "nowhere"}, {"age_min": {"$nin": [50, 70]}}]},
    ],
)
def test_negations_never_match_a_study_without_the_field_in_both_modes(built, where):
    index, records, path = built
    field = next(name for name in ("age_min", FINDINGS[0]) if name in json.dumps(where))
    assert any(field not in meta for meta in records.metadatas), "some studies lack the field"
    query = records.vectors[10]
    got_exact = embedded_index(path).search_vector(query, k=N, where=where)
    got_chroma = index.search_vector(query, k=N, where=where)
    assert got_exact and [h.study_id for h in got_chroma] == [h.study_id for h in got_exact]
    assert all(field in hit.metadata for hit in got_chroma)


def test_filter_matching_nothing_gives_no_hits(built):
    index, records, path = built
    where = {"site": "nowhere"}
    assert index.search_vector(records.vectors[0], k=5, where=where) == []
    assert embedded_index(path).search_vector(records.vectors[0], 5, where) == []


def test_search_like_leaves_the_study_out(built):
    index, records, _ = built
    hits = index.search_like(records.ids[7], k=5)
    assert len(hits) == 5
    assert records.ids[7] not in [h.study_id for h in hits]
    assert hits[0].study_id == exact_top_k(records, records.vectors[7], 2)[1]
    with pytest.raises(UserError, match="not in the index"):
        index.search_like("no-such-study")


def test_search_like_accepts_the_largest_k(built):
    index, records, path = built
    for reader in (index, embedded_index(path)):
        hits = reader.search_like(records.ids[7], k=MAX_K)
        assert len(hits) == N - 1
        hits = reader.search_like(records.ids[7], k=MAX_K, where={"site": "internal"})
        assert records.ids[7] not in [h.study_id for h in hits]


def test_text_queries_empty_long_and_unicode(built):
    index, _, _ = built
    assert len(index.search_text("dilated left ventricle", k=3)) == 3
    assert len(index.search_text("Ödem im Myokard — 心肌 ✓", k=3)) == 3
    for empty in ("", "   \n\t"):
        with pytest.raises(UserError, match="empty"):
            index.search_text(empty)
    with pytest.raises(UserError, match=f"limit is {MAX_QUERY_CHARS}"):
        index.search_text("a" * 10_000)


def test_k_bounds(built):
    index, records, _ = built
    for bad in (0, -3):
        with pytest.raises(UserError, match="at least 1"):
            index.search_vector(records.vectors[0], k=bad)
    with pytest.raises(UserError, match="whole number"):
        index.search_vector(records.vectors[0], k=2.5)
    assert len(index.search_vector(records.vectors[0], k=N + 50)) == N


def test_unknown_filter_field_names_the_field(built):
    index, records, _ = built
    with pytest.raises(UserError, match="unknown filter field 'sitee'"):
        index.search_vector(records.vectors[0], k=3, where={"sitee": "external"})


def test_another_checkpoint_gets_a_clear_message(built):
    index, records, path = built
    other = EmbeddingIndex(index.client, "0123abcd")
    with pytest.raises(CheckpointError, match=f"indexes exist for checkpoints: {CHECKPOINT[:12]}"):
        other.search_vector(records.vectors[0])
    with pytest.raises(CheckpointError, match="32-d vectors but the query is 16-d"):
        index.search_vector(np.ones(16, dtype=np.float32))


def test_get_studies_count_and_collections(built):
    index, records, _ = built
    got = index.get_studies([records.ids[5], "missing", records.ids[2]])
    assert [h.study_id for h in got] == [records.ids[5], records.ids[2]]
    assert got[0].impression == records.documents[5]
    assert index.count() == N
    (info,) = [c for c in index.collections() if c.checkpoint == CHECKPOINT]
    assert info.count == N and info.dim == records.vectors.shape[1]
    assert info.name == collection_name(CHECKPOINT)


def test_bad_fingerprint_is_refused(built):
    index, _, _ = built
    with pytest.raises(CheckpointError, match="cannot name an index"):
        EmbeddingIndex(index.client, "bad name/with slash")
