"""``.npz`` and ``.npy`` files other than embedding files, as ``forget`` reads and rewrites them.

An array file is compressed or holds its text as UTF-32, so a byte search does not find an
accession number in it (nor an id in a compressed one). Its arrays are read instead, without
pickle (``allow_pickle=False``: loading an object array would run code the file carries):

- an array of text (``<U``/``S``) names a withdrawn study when one of its values, stripped,
  is a withdrawn study's id or accession number (a whole value: ``ACC0001`` is not
  ``ACC00012``), or holds one as a whole token of a longer value (``ACC0001_frame3``,
  ``exports/ACC0001/cine.png``; not ``XACC0001Y``), by the rule of a file's name
  (``erasure_names.is_named``: letter case ignored, a value under 6 characters not looked
  for so); an integer array named as a key (below) names one when it holds an accession
  number of digits as its number, a float one (pandas makes an integer column with a gap
  float) when it holds one of ``erasure_numbers.MIN_DIGITS`` digits or more exactly
  (``70000001.0``; read as float64, as a ``.parquet``'s float column is);
- an ``.npz`` holding a key array (``ids``, ``study_ids``, ``accession_number(s)``, one
  dimension) loses the rows whose key is a withdrawn study's, as a whole value: every array
  whose first dimension is the key's length is written again without them (the others, a
  model's matrices, a scalar, kept whole), atomically and compressed as it was; one every row
  of which goes is removed, as an empty embedding file is. Named elsewhere too (another text
  array, a key of a row kept holding one within a longer value), it is listed;
- an array file naming them without a key array (an ``.npy``, an ``.npz`` of other arrays) is
  listed, as is one holding an object array, which is not read.

``embed --out``'s own ``.npz`` (``ids``, ``vectors``, ``provenance``) is ``erasure_files``'s.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO

import numpy as np

from model.atomic import atomic_write_npz
from model.erasure_files import Hits, Wanted
from model.erasure_names import text_names
from model.erasure_numbers import accession_numbers, decimal_numbers

KEY_ARRAYS = frozenset(
    {"ids", "study_id", "study_ids", "accession", "accessions", "accession_number"}
    | {"accession_numbers", "accessionnumber", "accessionnumbers"}
)
_ERRORS = (OSError, ValueError, EOFError, zipfile.BadZipFile)


@dataclass(frozen=True)
class ArrayHits:
    """What an array file holds of the withdrawn studies: ``hits`` (rows of its key array,
    ``elsewhere`` when another array names them) and whether it holds an object array that
    was not read (``pickled``)."""

    hits: Hits
    pickled: bool


def array_hits(path: Path, wanted: Wanted) -> ArrayHits | None:
    """The rows of ``path`` (``.npz`` or ``.npy``) naming ``wanted``; None when it cannot be
    read as one."""
    try:
        shapes = dict(_headers(path))
        pickled = any(dtype.hasobject for _, dtype in shapes.values())
        arrays = _read(path, [n for n, (s, d) in shapes.items() if _to_read(n, s, d, wanted)])
    except _ERRORS:
        return None
    keys = _keys(arrays) if path.suffix.lower() == ".npz" else []
    gone = _gone(arrays, keys, wanted)
    rows = len(gone) if keys else 0
    elsewhere = any(
        _mentioned(array[~gone] if _aligned(array, rows) else array, wanted)
        for array in arrays.values()
    )
    return ArrayHits(Hits(int(gone.sum()), rows, False, elsewhere), pickled)


def drop_npz_rows(path: Path, wanted: Wanted) -> bool:
    """Write the ``.npz`` ``path`` again without the rows its key arrays name (``wanted``),
    compressed if it was; remove it when every row goes. True when removed."""
    try:
        with zipfile.ZipFile(path) as archive:
            compressed = any(i.compress_type != zipfile.ZIP_STORED for i in archive.infolist())
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in data.files}
    except _ERRORS:
        return False  # changed since the scan: what it counted is not there to drop
    keys = _keys(arrays)
    gone = _gone(arrays, keys, wanted)
    if not keys or not gone.any():
        return False
    if gone.all():
        path.unlink(missing_ok=True)
        return True
    rows = len(gone)
    kept = {n: a[~gone] if _aligned(a, rows) else a for n, a in arrays.items()}
    atomic_write_npz(path, kept, compressed=compressed)
    return False


def _headers(path: Path) -> Iterator[tuple[str, tuple[tuple[int, ...], np.dtype]]]:
    """Each array's name, shape and type, read from its header alone (its data unread)."""
    if path.suffix.lower() == ".npy":
        with path.open("rb") as handle:
            yield "", _header(handle)
        return
    with zipfile.ZipFile(path) as archive:
        for info in archive.infolist():
            with archive.open(info) as handle:
                yield info.filename.removesuffix(".npy"), _header(handle)


def _header(handle: IO[bytes]) -> tuple[tuple[int, ...], np.dtype]:
    version = np.lib.format.read_magic(handle)
    if version == (1, 0):
        shape, _, dtype = np.lib.format.read_array_header_1_0(handle)
    else:
        shape, _, dtype = np.lib.format.read_array_header_2_0(handle)
    return shape, dtype


def _to_read(name: str, shape: tuple[int, ...], dtype: np.dtype, wanted: Wanted) -> bool:
    """Whether the array may name a withdrawn study: text, or a key array of integers or
    floats (when an accession number of digits is sought, as such a number)."""
    if dtype.kind in "US":
        return True
    key = name.lower() in KEY_ARRAYS and len(shape) == 1
    return key and dtype.kind in "iuf" and bool(_numbers(dtype, wanted))


def _read(path: Path, names: list[str]) -> dict[str, np.ndarray]:
    if path.suffix.lower() == ".npy":
        return {"": np.load(path, allow_pickle=False)} if names else {}
    with np.load(path, allow_pickle=False) as data:
        return {name: data[name] for name in names}


def _keys(arrays: dict[str, np.ndarray]) -> list[str]:
    """The key arrays naming the rows: one dimension, text or integers, of the first one's
    length."""
    keys = [
        name
        for name, array in arrays.items()
        if name.lower() in KEY_ARRAYS and array.ndim == 1 and array.dtype.kind in "USiuf"
    ]
    return [name for name in keys if len(arrays[name]) == len(arrays[keys[0]])]


def _gone(arrays: dict[str, np.ndarray], keys: list[str], wanted: Wanted) -> np.ndarray:
    """Which rows the key arrays name (none when there is no key array)."""
    gone = np.zeros(len(arrays[keys[0]]) if keys else 0, dtype=bool)
    for name in keys:
        gone |= _named(arrays[name], wanted)
    return gone


def _named(array: np.ndarray, wanted: Wanted) -> np.ndarray:
    """Per value of ``array``: whether it is a withdrawn study's id or accession number."""
    if array.dtype.kind in "iu":
        return np.isin(array, _numbers(array.dtype, wanted))
    if array.dtype.kind == "f":  # exactly, as float64 (70000001.5 is not 70000001)
        return np.isin(array.astype(np.float64), np.array(_numbers(array.dtype, wanted), float))
    if array.dtype.kind == "S":
        array = np.char.decode(array, "utf-8", errors="replace")
    return np.isin(np.char.strip(array.astype(str)), sorted(wanted.values))


def _numbers(dtype: np.dtype, wanted: Wanted) -> list[int]:
    """The accession numbers of digits an array of ``dtype`` may hold as its numbers: any in an
    integer one, those of ``MIN_DIGITS`` digits or more in a float one (a shorter one may be a
    count or a score)."""
    if dtype.kind == "f":
        return decimal_numbers(wanted.accessions)
    return accession_numbers(wanted.accessions) if dtype.kind in "iu" else []


def _mentioned(array: np.ndarray, wanted: Wanted) -> bool:
    """Whether a value of ``array`` is a withdrawn study's id or accession number, or a text
    value holds one as a whole token (``erasure_names.text_names`` of the values joined by
    line breaks, which bound a token: one pass over the text)."""
    if _named(array, wanted).any():
        return True
    if array.dtype.kind not in "US" or not array.size:
        return False
    if array.dtype.kind == "S":
        array = np.char.decode(array, "utf-8", errors="replace")
    return text_names("\n".join(array.ravel().tolist()), wanted)


def _aligned(array: np.ndarray, rows: int) -> bool:
    """Whether ``array`` holds one entry a row (its first dimension the key's length)."""
    return rows > 0 and array.ndim >= 1 and array.shape[0] == rows
