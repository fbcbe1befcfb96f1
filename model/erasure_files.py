"""The product's own binary per-study files under a data root, as ``forget`` reads and rewrites
them: ``embed --out`` files and ``.parquet`` tables with a ``study_id`` column.

- An embedding file (``StudyEmbeddings.save``: an ``.npz`` of ``ids``, ``vectors`` [N, D] and
  ``provenance``, or a ``.parquet`` of exactly ``study_id, e0..e{D-1}``) is recognised by what
  it holds, whatever its name. It loses the withdrawn studies' rows and is written again
  atomically, its provenance kept with a ``withdrawn`` entry added (when, how many rows: never
  which). A file every row of which was withdrawn is removed: an empty embedding file is of no
  use and would be read as the embeddings of nothing.
- Any other ``.parquet`` is compressed, so a byte search cannot find an id in it: its
  ``study_id`` column alone is read (cheap), and a table naming withdrawn studies loses their
  rows like a CSV, rewritten atomically with its schema and metadata. A parquet without a
  ``study_id`` column is not looked into further; one that cannot be read is listed.
"""

from __future__ import annotations

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

    @property
    def every_row(self) -> bool:
        return self.total > 0 and self.found == self.total


def parquet_hits(path: Path, ids: set[str]) -> Hits | None:
    """How many rows of the parquet ``path`` name ``ids`` (its ``study_id`` column only is
    read; none without one); None when it cannot be read."""
    try:
        with pq.ParquetFile(path) as handle:
            schema = handle.schema_arrow
            if "study_id" not in schema.names:
                return Hits(0, 0, False)
            column = handle.read(columns=["study_id"]).column("study_id")
        hit = pc.is_in(column.cast(pa.string()), value_set=pa.array(sorted(ids), pa.string()))
    except (OSError, pa.ArrowException):
        return None
    names = schema.names
    is_embedding = len(names) > 1 and names == [
        "study_id",
        *(f"e{i}" for i in range(len(names) - 1)),
    ]
    return Hits(int(pc.sum(hit).as_py() or 0), len(column), is_embedding)


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
