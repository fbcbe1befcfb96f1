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
- A table with an accession-number column (``accession_number``, ``AccessionNumber`` or
  ``accession``: a dataset's labels, linkage or reports CSV copied elsewhere) loses the rows of
  the withdrawn studies' accession numbers the same way; an accession number is matched as a
  whole value (``ACC0001`` never matches ``ACC00012``): a cell of that column equal to it, and
  elsewhere a token of a cell bounded by no letter or digit.
- A table (``.parquet``, or a CSV the byte search found) naming them anywhere else, in rows it
  keeps (another column: ``query_study_id``, ``neighbour_study_id``, a list of ids, a note), in
  a column's name or in its metadata, is listed as still naming them (``Hits.elsewhere``): what
  such a column means is not known here, so it is not rewritten.
"""

from __future__ import annotations

import re
import zipfile
from collections.abc import Iterable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

from model.atomic import atomic_write_with
from model.erasure_numbers import (
    accession_needles,
    accession_numbers,
    accession_regex,
    cell_pattern,
    decimal_numbers,
    token_pattern,
)
from model.errors import DataError
from model.study_embeddings import StudyEmbeddings

_NPZ_KEYS = ({"ids", "vectors"}, {"ids", "vectors", "provenance"})
ACCESSION_COLUMNS = {"accession_number", "accessionnumber", "accession"}  # lower-cased


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


@dataclass(frozen=True)
class Wanted:
    """What a file is searched for: the withdrawn studies' ids and accession numbers."""

    ids: set[str]
    accessions: frozenset[str]
    needles: list[bytes]  # the ids as a file may hold them
    accession_token: re.Pattern[bytes] | None  # an accession number as a whole token
    accession_needles: tuple[bytes, ...] = ()  # searched first: the token only where one is
    name_words: frozenset[str] = frozenset()  # ids, accession numbers of letters and digits
    name_token: re.Pattern[str] | None = None  # the others, as whole tokens

    @property
    def values(self) -> set[str]:
        """Every value a cell or array element equal to names a withdrawn study."""
        return self.ids | self.accessions


def wanted_of(study_ids: list[str], accessions: Iterable[str]) -> Wanted:
    """What to search for, the accession numbers stripped (an empty one is none)."""
    held = frozenset(a.strip() for a in accessions if a.strip())
    token = accession_regex(held) if held else None
    values = {v.lower() for v in [*study_ids, *held] if len(v) >= MIN_NAME_VALUE}
    words = frozenset(v for v in values if WORD.fullmatch(v))
    needles = tuple(accession_needles(held))
    named = Wanted(set(study_ids), held, _needles(study_ids), token, needles, words)
    return replace(named, name_token=name_regex(values - words))


WORD = re.compile(r"[a-z0-9]+")  # a token of a name (lower-cased), split on anything else
# A shorter value is not looked for in names: accession number ``1234`` would name
# ``epoch_1234.png`` (its cells are still searched, and a file is removed only by name).
MIN_NAME_VALUE = 6


def name_regex(values: Iterable[str]) -> re.Pattern[str] | None:
    """Any of ``values`` (ids or accession numbers holding other characters than letters and
    digits, ``ACC-0001``) as a whole token of a file or folder name: no letter or digit either
    side, letter case ignored."""
    alternatives = "|".join(re.escape(v) for v in sorted(values))
    if not alternatives:
        return None
    return re.compile(rf"(?<![A-Za-z0-9])(?:{alternatives})(?![A-Za-z0-9])", re.IGNORECASE)


def _needles(study_ids: list[str]) -> list[bytes]:
    """The ids as a file may hold them: UTF-8 text, or an ``.npz`` array's UTF-32."""
    return [s.encode() for s in study_ids] + [s.encode("utf-32-le") for s in study_ids]


def parquet_hits(
    path: Path, ids: set[str], accessions: frozenset[str] = frozenset()
) -> Hits | None:
    """How many rows of the parquet ``path`` name ``ids`` in its ``study_id`` column (or
    ``accessions`` in an accession-number column), and whether it names them elsewhere (its
    text columns only are read); None when it cannot be read."""
    try:
        with pq.ParquetFile(path) as handle:
            schema = handle.schema_arrow
            read = [f.name for f in schema if _is_text(f.type) or _is_number(f, accessions)]
            table = handle.read(columns=read)
        hits = table_hits(table, ids, accessions)
    except (OSError, pa.ArrowException):
        return None
    names = schema.names
    is_embedding = len(names) > 1 and names == [
        "study_id",
        *(f"e{i}" for i in range(len(names) - 1)),
    ]
    metadata = b"".join(schema.metadata.values()) if schema.metadata else b""
    named = any(i.encode() in metadata for i in ids) or _in_names(names, ids)
    if accessions:
        named = named or bool(
            accession_regex(accessions).search(metadata + "/".join(names).encode())
        )
    return replace(hits, embeddings=is_embedding, elsewhere=hits.elsewhere or named)


def is_accession_column(name: str) -> bool:
    return name.strip().lower() in ACCESSION_COLUMNS


def _key_columns(
    names: list[str], ids: set[str], accessions: frozenset[str]
) -> list[tuple[str, Iterable[str]]]:
    """The columns naming a row's study, each with the values that withdraw it: ``study_id``
    with ``ids``, an accession-number column with ``accessions`` (when any are sought)."""
    keys: list[tuple[str, Iterable[str]]] = [("study_id", ids)] if "study_id" in names else []
    return keys + [(n, accessions) for n in names if accessions and is_accession_column(n)]


def gone_rows(table: pa.Table, ids: set[str], accessions: frozenset[str]) -> pa.Array:
    """Which rows of ``table`` are withdrawn studies': ``study_id`` one of ``ids``, or an
    accession-number column (stripped) one of ``accessions`` or, of digits, written as a
    decimal (``erasure_numbers``); an integer or float one holding one as its number."""
    gone = pa.array([False] * table.num_rows, pa.bool_())
    numbers, decimal = accession_numbers(accessions), cell_pattern(accessions)
    for name, values in _key_columns(table.column_names, ids, accessions):
        column = table.column(name)
        if name != "study_id" and (_is_int(column.type) or pa.types.is_floating(column.type)):
            hit = _number_in(column, numbers)
        else:
            text = pc.utf8_trim_whitespace(column.cast(pa.string()))
            hit = pc.is_in(text, value_set=pa.array(sorted(values), pa.string()))
            if name != "study_id" and decimal:
                hit = pc.or_(hit, pc.match_substring_regex(text, decimal))
        gone = pc.or_(gone, pc.fill_null(hit, False))
    return gone


def _number_in(column: pa.ChunkedArray, numbers: list[int]) -> pa.ChunkedArray:
    """Whether each value of the numeric ``column`` is one of ``numbers``: of a float column,
    exactly (read as float64: ``70000001.5`` is not 70000001, nor is a float32's 70000000)."""
    if pa.types.is_floating(column.type):
        exact = [float(n) for n in numbers if n <= 2**53]
        return pc.is_in(column.cast(pa.float64()), value_set=pa.array(exact, pa.float64()))
    return pc.is_in(column.cast(pa.int64(), safe=False), value_set=pa.array(numbers, pa.int64()))


def table_hits(table: pa.Table, ids: set[str], accessions: frozenset[str] = frozenset()) -> Hits:
    """Rows of ``table`` (its text columns) of withdrawn studies (``gone_rows``), and whether
    any other column of the rows left names one (an id as a whole cell or within one, an
    accession number as a whole token, of digits as an integer or, of ``MIN_DIGITS`` digits or
    more, as a float equal to it), or a column's name does."""
    keys = {name for name, _ in _key_columns(table.column_names, ids, accessions)}
    gone = gone_rows(table, ids, accessions)
    found, left = int(pc.sum(gone).as_py() or 0), table.filter(pc.invert(gone))
    parts = [re.escape(i) for i in sorted(ids)]
    pattern = "|".join([*parts, token_pattern(accessions)] if accessions else parts)
    elsewhere = _in_names(table.column_names, ids) or any(
        _names_any(left.column(i), pattern) or _any_number(left.column(i), accessions)
        for i, name in enumerate(left.column_names)
        if name not in keys
    )
    return Hits(found, table.num_rows, False, elsewhere)


def _any_number(column: pa.ChunkedArray, accessions: frozenset[str]) -> bool:
    """Whether the numeric ``column`` holds an accession number of digits: an integer one
    any, a float one those of ``MIN_DIGITS`` digits or more (a shorter one may be a count)."""
    if _is_int(column.type):
        numbers = accession_numbers(accessions)
    elif pa.types.is_floating(column.type):
        numbers = decimal_numbers(accessions)
    else:
        return False
    return bool(numbers) and bool(pc.any(pc.fill_null(_number_in(column, numbers), False)).as_py())


def _is_text(kind: pa.DataType) -> bool:
    """A column type that may hold an id: text, text dictionary-encoded, lists of text."""
    if pa.types.is_dictionary(kind):
        kind = kind.value_type
    if pa.types.is_list(kind) or pa.types.is_large_list(kind):
        return _is_text(kind.value_type)
    return pa.types.is_string(kind) or pa.types.is_large_string(kind)


def _is_int(kind: pa.DataType) -> bool:
    """An integer column: an accession number of digits may be stored as one."""
    return pa.types.is_integer(kind)


def _is_number(field: pa.Field, accessions: frozenset[str]) -> bool:
    """A column that may hold one of ``accessions`` (of digits) as a number: an integer one,
    a float accession-number column (pandas writes one with gaps as float64), or any float
    one when one of ``MIN_DIGITS`` digits or more is sought."""
    if _is_int(field.type):
        return bool(accession_numbers(accessions))
    if not pa.types.is_floating(field.type):
        return False
    if is_accession_column(field.name):
        return bool(accession_numbers(accessions))
    return bool(decimal_numbers(accessions))


def _names_any(column: pa.ChunkedArray, pattern: str) -> bool:
    """Whether a cell of the text ``column`` holds a match of ``pattern`` (an id)."""
    if not _is_text(column.type):
        return False
    while pa.types.is_list(column.type) or pa.types.is_large_list(column.type):
        column = pc.list_flatten(column)
    if pa.types.is_dictionary(column.type):
        column = column.cast(column.type.value_type)
    if not pattern:
        return False
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
    found = int(np.isin(held.astype(str), sorted(ids)).sum()) if len(held) else 0
    return Hits(found, len(held), True)


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


def drop_parquet_rows(path: Path, ids: set[str], accessions: frozenset[str] = frozenset()) -> None:
    """Write the parquet table ``path`` again without the rows of withdrawn studies
    (``gone_rows``), keeping its schema and metadata."""
    table = pq.read_table(path)
    left = table.filter(pc.invert(gone_rows(table, ids, accessions)))
    atomic_write_with(path, lambda tmp: pq.write_table(left, tmp))
