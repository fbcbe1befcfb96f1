"""Text files under a data root as ``forget`` reads them: their bytes, and a CSV's or TSV's cells.

- A text file (CSV, TSV, JSON, a log, Markdown, HTML, a zip archive's text member) names a
  withdrawn study when its bytes hold one of the studies' ids, or one of their accession
  numbers as a whole token (``model.erasure_numbers``: one of digits also written as a
  decimal, ``70000001.0`` or ``7.0000001e+07``, never ``70000001.5`` nor ``700000010.0``). A
  file over ``MAX_SCANNED_BYTES`` is not read: it is not one of the product's tables or records.
- A CSV or TSV so found is read as a table, every column as text (an accession number may be
  all digits with leading zeros; read by Arrow, 4 times faster than pandas): its rows whose
  ``study_id`` or accession-number column names a withdrawn study (``erasure_files.gone_rows``:
  a decimal cell ``70000001.0`` of an accession-number column included) go with ``--apply``,
  written again atomically; named in another column of a row kept, it is listed.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pyarrow as pa
import pyarrow.csv as pa_csv

from model import erasure_files
from model.atomic import atomic_write_with
from model.erasure_files import Hits, Wanted

MAX_SCANNED_BYTES = 512 * 1024 * 1024  # larger files are not the product's tables or records
# the files searched as text: tables, records, logs, notes (a zip's members of these too)
TEXT_SUFFIXES = frozenset({".csv", ".tsv", ".json", ".jsonl", ".md", ".html", ".txt", ".log"})
SEPARATORS = {".csv": ",", ".tsv": "\t"}  # text tables whose rows forget removes


def file_names_any(path: Path, wanted: Wanted) -> bool:
    """Whether the text file ``path`` names a withdrawn study (``names_any``); False when it
    cannot be read or is over ``MAX_SCANNED_BYTES``."""
    try:
        if path.stat().st_size > MAX_SCANNED_BYTES:
            return False
        data = path.read_bytes()
    except OSError:
        return False
    return names_any(data, wanted)


def names_any(data: bytes, wanted: Wanted) -> bool:
    """Whether ``data`` holds a withdrawn study's id, or one of their accession numbers as a
    whole token. The token is tried only where a plain search finds one of its needles, each
    of which a token begins with (``erasure_numbers.accession_needles``): matched there, from
    the byte before, never searched for through the rest (a search tries it at every byte, 10
    times slower than a plain one, and slower still through XML's many ``<``, ``"`` and ``=``)."""
    if any(needle in data for needle in wanted.needles):
        return True
    token = wanted.accession_token
    return token is not None and any(
        token.match(data, max(at - 1, 0)) for at in _found_at(data, wanted.accession_needles)
    )


def _found_at(data: bytes, needles: tuple[bytes, ...]) -> Iterator[int]:
    """Every offset in ``data`` where one of ``needles`` begins."""
    for needle in needles:
        at = data.find(needle)
        while at != -1:
            yield at
            at = data.find(needle, at + 1)


def table_hits(path: Path, wanted: Wanted) -> Hits | None:
    """``erasure_files.table_hits`` of the CSV or TSV ``path`` (every column read as text);
    None when it names none of them there or cannot be parsed."""
    parse = pa_csv.ParseOptions(delimiter=SEPARATORS[path.suffix.lower()], newlines_in_values=True)
    try:
        with pa_csv.open_csv(path, parse_options=parse) as reader:
            names = reader.schema.names
        convert = pa_csv.ConvertOptions(column_types=dict.fromkeys(names, pa.string()))
        table = pa_csv.read_csv(path, parse_options=parse, convert_options=convert)
        hits = erasure_files.table_hits(table, wanted.ids, wanted.accessions)
    except (OSError, KeyError, pa.ArrowException):
        return None
    return hits if hits.found or hits.elsewhere else None


def drop_rows(path: Path, ids: set[str], accessions: frozenset[str]) -> None:
    """Write the CSV or TSV ``path`` again without the rows of withdrawn studies
    (``erasure_files.gone_rows``), every cell kept as it was read (text: ``70000002.0`` stays
    so, an empty cell empty), so a row kept is written as it was (but for quotes a cell does
    not need, which pandas leaves out)."""
    separator = SEPARATORS[path.suffix.lower()]
    table = pd.read_csv(path, dtype=str, keep_default_na=False, sep=separator)
    cells = pa.table([pa.array(table[c], pa.string()) for c in table.columns], list(table.columns))
    gone = erasure_files.gone_rows(cells, ids, accessions).to_numpy(zero_copy_only=False)
    left = table[~gone]
    atomic_write_with(path, lambda tmp: left.to_csv(tmp, index=False, sep=separator))
