"""The product's own binary per-study files under a data root, as ``forget`` reads and rewrites
them: ``embed --out`` files and ``.parquet`` tables with a ``study_id`` column.

- An embedding file (``StudyEmbeddings.save``: an ``.npz`` of ``ids``, ``vectors`` [N, D] and
  ``provenance``, or a ``.parquet`` of exactly ``study_id, e0..e{D-1}``) is recognised by what
  it holds, whatever its name. It loses the withdrawn studies' rows and is written again
  atomically, its provenance kept with a ``withdrawn`` entry added (when, how many rows: never
  which). A file every row of which was withdrawn is removed: an empty embedding file is of no
  use and would be read as the embeddings of nothing.
- Any other ``.parquet`` is compressed, so a byte search cannot find an id in it: its text
  columns alone are read (cheap: an embedding file's only one is ``study_id``), and a table
  naming withdrawn studies in its ``study_id`` column loses their rows like a CSV, rewritten
  atomically with its schema and metadata. One that cannot be read is listed.
- A table (``.parquet``, or a CSV the byte search found) naming them anywhere else, in rows it
  keeps (another column: ``query_study_id``, ``neighbour_study_id``, a list of ids, a note), in
  a column's name or in its metadata, is listed as still naming them (``Hits.elsewhere``): what
  such a column means is not known here, so it is not rewritten.
"""

from __future__ import annotations

import re
import zipfile
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from model.atomic import atomic_write_with
from model.errors import DataError
from model.study_embeddings import StudyEmbeddings

_NPZ_KEYS = ({"ids", "vectors"}, {"ids", "vectors", "provenance"})


@dataclass(frozen=True)
class Hits:
    """Rows of a file naming withdrawn studies (``found``) of its ``total``; ``embeddings``
    when the file is an embedding file (``StudyEmbeddings``)."""

    found: int
    total: int
    embeddings: bool
    elsewhere: bool = False  # named elsewhere too: another column of rows kept, a name, metadata

    @property
    def every_row(self) -> bool:
        return self.total > 0 and self.found == self.total


def parquet_hits(path: Path, ids: set[str]) -> Hits | None:
    """How many rows of the parquet ``path`` name ``ids`` in its ``study_id`` column, and
    whether it names them elsewhere (its text columns only are read); None when it cannot be
    read."""
    try:
        with pq.ParquetFile(path) as handle:
            schema = handle.schema_arrow
            texts = [f.name for f in schema if _is_text(f.type)]
            table = handle.read(columns=texts)
        hits = table_hits(table, ids)
    except (OSError, pa.ArrowException):
        return None
    names = schema.names
    is_embedding = len(names) > 1 and names == [
        "study_id",
        *(f"e{i}" for i in range(len(names) - 1)),
    ]
    metadata = b"".join(schema.metadata.values()) if schema.metadata else b""
    named = any(i.encode() in metadata for i in ids) or _in_names(names, ids)
    return replace(hits, embeddings=is_embedding, elsewhere=hits.elsewhere or named)


def table_hits(table: pa.Table, ids: set[str]) -> Hits:
    """Rows of ``table`` (its text columns) whose ``study_id`` is one of ``ids``, and whether
    any other text column of the rows left names one (as a whole cell or within one), or a
    column's name does."""
    found, left = 0, table
    if "study_id" in table.column_names:
        value_set = pa.array(sorted(ids), pa.string())
        gone = pc.is_in(table.column("study_id").cast(pa.string()), value_set=value_set)
        found, left = int(pc.sum(gone).as_py() or 0), table.filter(pc.invert(gone))
    pattern = "|".join(re.escape(i) for i in sorted(ids))
    elsewhere = _in_names(table.column_names, ids) or any(
        _names_any(left.column(i), pattern)
        for i, name in enumerate(left.column_names)
        if name != "study_id"
    )
    return Hits(found, table.num_rows, False, elsewhere)


def _is_text(kind: pa.DataType) -> bool:
    """A column type that may hold an id: text, text dictionary-encoded, lists of text."""
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _is_text(kind.value_type)
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _names_any(column: pa.ChunkedArray, pattern: str) -> bool:
    """Whether a cell of the text ``column`` holds a match of ``pattern`` (an id)."""
    if not _is_text(column.type):
        return False
    while pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        column = pc.list_flatten(column)
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    return bool(pc.any(pc.match_substring_regex(column, pattern)).as_py())


def _in_names(names: list[str], ids: set[str]) -> bool:
    return any(i in name for name in names for i in ids)


def npz_hits(path: Path, ids: set[str]) -> Hits | None:
    """How many rows of the embedding file ``path`` (an ``.npz``) name ``ids``; None when it
    is not one (other arrays, or ``ids`` and ``vectors`` that do not match)."""
    try:
        with np.load(path, allow_pickle=False) as data:
            if set(data.files) not in _NPZ_KEYS:
                return None
            held, vectors = data["ids"], data["vectors"]
    except (OSError, ValueError, EOFError, zipfile.BadZipFile):
        return None
    if held.ndim != 1 or vectors.ndim != 2 or len(held) != len(vectors):
        return None
    return Hits(sum(str(i) in ids for i in held), len(held), True)


def drop_embedding_rows(path: Path, ids: set[str], erased_at: str) -> bool:
    """Write the embedding file ``path`` again without the rows of ``ids``, its provenance
    saying when and how many went; remove it when every row goes. True when removed."""
    try:
        embeddings = StudyEmbeddings.load(path)
    except DataError:
        return False  # changed since the scan: nothing the scan counted is left to drop
    keep = np.array([sid not in ids for sid in embeddings.ids], dtype=bool)
    if keep.all():
        return False
    if not keep.any():
        path.unlink(missing_ok=True)
        return True
    note = {"erased_at": erased_at, "rows_removed": int((~keep).sum())}
    provenance = dict(embeddings.provenance)
    provenance["withdrawn"] = [*provenance.get("withdrawn", []), note]
    kept = [sid for sid, k in zip(embeddings.ids, keep, strict=True) if k]
    replace(embeddings, ids=kept, vectors=embeddings.vectors[keep], provenance=provenance).save(
        path
    )
    return False


def drop_parquet_rows(path: Path, ids: set[str]) -> None:
    """Write the parquet table ``path`` again without the rows whose ``study_id`` is one of
    ``ids``, keeping its schema and metadata."""
    table = pq.read_table(path)
    value_set = pa.array(sorted(ids), pa.string())
    gone = pc.is_in(table.column("study_id").cast(pa.string()), value_set=value_set)
    left = table.filter(pc.invert(gone))
    atomic_write_with(path, lambda tmp: pq.write_table(left, tmp))
