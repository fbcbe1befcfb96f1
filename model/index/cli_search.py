"""``python -m model search``: natural-language or more-like-this search of a checkpoint's index.

    python -m model search "dilated left ventricle with LGE" --checkpoint RUN/best.pt --data DATASET
    python -m model search --like STUDY_ID --checkpoint RUN/best.pt --chroma-path DIR
        [--k 10] [--where '{"$and": [{"site": "external"}, {"lv_dilation": 1}]}'] [--json]

Prints rank, cosine similarity, study id, key metadata and the impression of the top-k studies.
Filters use Chroma's ``where`` language over the fields in ``model.index.filters``; filtered
results are exact unless ``--approximate-filters`` hands the filter to Chroma's HNSW search.
Search only reads the index, so it may run while an index command writes.
"""

from __future__ import annotations

import argparse
import json
import logging
import sys
from pathlib import Path

import numpy as np

from model.errors import DataError, UserError, not_found
from model.index.cli_index import add_chroma_arguments
from model.index.client import (
    default_chroma_path,
    index_failures,
    open_client,
    resolve_location,
)
from model.index.embedding_index import EmbeddingIndex, SearchHit, TextEncoder
from model.index.filters import (
    FIELD_TYPES,
    Where,
    check_k,
    check_query,
    load_where,
    normalize_where,
    where_fields,
)
from model.index.held_datasets import labels_state, own_labels_prints
from model.index.label_fields import IndexedLabels, own_label_fields, stale_note
from model.index.private_copy import readable_location
from model.index.read_check import check_readable
from model.labels import label_file, read_labels_csv
from model.schema import FINDINGS

log = logging.getLogger(__name__)

_SHOWN_FIELDS = ("site", "split", "sex", "age_band", "field_strength", "diagnosis")
_IMPRESSION_CHARS = 100


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.epilog = (
        f"filter fields: {', '.join(FIELD_TYPES)}, and the index's own label columns (those "
        "of each dataset's labels file). Example: --where "
        '\'{"$and": [{"site": "external"}, {"lv_dilation": 1}, {"age_min": {"$gte": 60}}]}\''
    )
    parser.add_argument("query", nargs="?", help="free-text query (or use --like)")
    parser.add_argument("--like", metavar="STUDY_ID", help="studies most like this one")
    parser.add_argument("--checkpoint", required=True, type=Path, help="a .pt checkpoint")
    parser.add_argument("--data", type=Path, help="a dataset; its index is DATASET/../chroma")
    parser.add_argument("--k", type=int, default=10, help="number of results (default 10)")
    parser.add_argument("--where", help="metadata filter as JSON (Chroma where syntax)")
    parser.add_argument(
        "--approximate-filters",
        action="store_true",
        help="let Chroma filter inside its HNSW search instead of exact in-memory scoring "
        "(filters with $ne or $nin stay exact)",
    )
    parser.add_argument("--json", action="store_true", help="one JSON object per result")
    add_chroma_arguments(parser)


def text_encoder_for(checkpoint: Path) -> TextEncoder:
    """``str -> float32 [D]`` unit-norm, using the checkpoint's text tower."""
    from model.embed import embed_texts
    from model.training.checkpoint import load_checkpoint

    model, _ = load_checkpoint(checkpoint)

    def encode(text: str) -> np.ndarray:
        return embed_texts(model, [text])[0]

    return encode


def run(args: argparse.Namespace) -> int:
    from model.training.checkpoint import read_checkpoint_meta

    if bool(args.query) == bool(args.like):
        raise UserError('give either a text query or --like STUDY_ID, e.g. search "dilated LV"')
    if args.query is not None:
        check_query(args.query)  # fail fast, before loading the model
    check_k(args.k)
    asked = load_where(args.where)  # checked against the index's fields once it is open
    if args.data and not (args.data / "studies.parquet").is_file():
        _refuse_dataset(args.data)
    location = resolve_location(
        args.chroma_path,
        args.chroma_host,
        args.chroma_port,
        default_chroma_path(args.data) if args.data else None,
    )
    location = readable_location(location)  # a colleague's folder: a private copy of it
    fingerprint = read_checkpoint_meta(args.checkpoint).fingerprint
    damaged: frozenset[str] = frozenset()
    if not location.is_server and (location.path / "chroma.sqlite3").is_file():
        damaged = check_readable(location, fingerprint)  # a damaged folder segfaults its reader
    with index_failures(location):
        index = EmbeddingIndex(
            open_client(location, create=False),
            fingerprint,
            exact_filters=not args.approximate_filters,
            unreadable=damaged,
        )
        total = index.count()
        own_labels = index.label_fields()
        where = normalize_where(asked, own_labels)
        if args.data:
            _say_labels_state(_labels_state(index, args.data, where), args.data)
        if args.like:
            hits = index.search_like(args.like, k=args.k, where=where)
        else:
            index.text_encoder = text_encoder_for(args.checkpoint)
            hits = index.search_text(args.query, k=args.k, where=where)
        absent = absent_fields(index, where) if where and not hits else []
    if args.k > total:
        log.info("asked for %d results; the index holds %d studies", args.k, total)
    if absent:
        labels = set(absent) & {*FINDINGS, "diagnosis", *own_labels}
        log.info(
            "no studies match the filter: no indexed study has a value for %s%s",
            ", ".join(absent),
            " (they were indexed without labels: give them with ingest --labels or index "
            "--labels, then run python -m model index again)"
            if labels
            else "",
        )
    elif not hits:
        log.info("no studies match%s", " the filter" if where else "")
    _write_hits(hits, as_json=args.json)
    return 0


def _refuse_dataset(data: Path) -> None:
    """DataError naming why ``data`` is not a dataset: its index would be looked for beside a
    folder that is missing or holds no studies (a mistyped path searched another index)."""
    if not data.is_dir():
        raise DataError(not_found("--data dataset folder", data, folder=True))
    raise DataError(f"--data {data} is not a dataset (no studies.parquet)")


def absent_fields(index: EmbeddingIndex, where: dict) -> list[str]:
    """The fields ``where`` names that no study of the index holds (an index built without
    labels has no finding or diagnosis fields: filtering on them finds nothing)."""
    held = index.snapshot().metadata.columns
    return sorted(field for field in where_fields(where) if field not in held)


def _write_hits(hits: list[SearchHit], as_json: bool) -> None:
    out = sys.stdout
    for hit in hits:
        if as_json:
            row = {
                "rank": hit.rank,
                "study_id": hit.study_id,
                "similarity": round(hit.similarity, 6),
                "impression": hit.impression,
                "metadata": hit.metadata,
            }
            out.write(json.dumps(row, ensure_ascii=False) + "\n")
            continue
        shown = " ".join(f"{k}={hit.metadata[k]}" for k in _SHOWN_FIELDS if k in hit.metadata)
        impression = hit.impression.replace("\n", " ")
        if len(impression) > _IMPRESSION_CHARS:
            impression = impression[: _IMPRESSION_CHARS - 1] + "…"
        out.write(
            f"{hit.rank:>3}  {hit.similarity:+.3f}  {hit.study_id}  {shown}\n     {impression}\n"
        )
    out.flush()


def _labels_state(index: EmbeddingIndex, dataset: Path, where: Where | None) -> IndexedLabels:
    """``labels_state`` of ``dataset`` for a search filtered by ``where``: the fields it names
    that are own columns of the dataset's labels file are its chosen label fields, as the Case
    browser's chosen filters are (a sibling dataset's column, or a finding, is not one), so the
    warning can say the index holds none of a chosen column's values of this dataset."""
    own = label_file(dataset)
    try:
        parsed = read_labels_csv(own) if own is not None else None
    except DataError:  # one the index cannot take either: nothing to compare
        parsed = None
    if parsed is None:
        return labels_state(index.collection().metadata, dataset, ("", ""))
    chosen = where_fields(where) & set(own_label_fields(parsed))
    prints = own_labels_prints(dataset, parsed=parsed)
    return labels_state(index.collection().metadata, dataset, prints, chosen)


def _say_labels_state(state: IndexedLabels, dataset: Path) -> None:
    """Warn when the index's label values of ``dataset`` are not its labels file's, worded as
    the Case browser words it (``stale_note``)."""
    if not state.current:
        log.warning("%s", stale_note(state, str(dataset)))
