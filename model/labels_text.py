"""A labels CSV's bytes as a table of text cells: its encoding, its delimiter and its header.

``model.labels`` validates the cells; this module only reads them, as spreadsheets save them:
UTF-8 (with or without Excel's BOM), UTF-16 with its BOM (Excel's "Unicode Text"), or Windows-1252
(Excel's "CSV (Comma delimited)" on a Western-European Windows), with ',' ';' or tab between
cells and Excel's ``sep=;`` hint as the first line.
"""

from __future__ import annotations

import codecs
import csv
import io
import logging
import re
from typing import IO

from model.errors import DataError, header_names
from model.schema import DIAGNOSES, FINDINGS

log = logging.getLogger(__name__)

KEY = "accession_number"
HEADER_BYTES = 1 << 20  # a labels file's header line is read up to this many bytes
_SEP_HINT = re.compile(r'"?sep=(\\t|\t|[^\w\s"])"?', re.IGNORECASE)  # Excel's "sep=;" first line
_DELIMITERS = {",": "commas", ";": "semicolons", "\t": "tabs"}
# what no text file holds: C0 control characters other than tab and newlines (binary data,
# UTF-16 without its BOM), a UTF-16 BOM inside the file
_NOT_TEXT = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]|ÿþ|þÿ")
# a character UTF-8 writes in two to four bytes: a file holding one is UTF-8, not Windows-1252
_UTF8_CHARACTER = re.compile(
    rb"[\xc2-\xdf][\x80-\xbf]|[\xe0-\xef][\x80-\xbf]{2}|[\xf0-\xf4][\x80-\xbf]{3}"
)
_ASSUMED: set[str] = set()  # labels files already logged as read in Windows-1252


def line(handle: IO[bytes], head: bytes) -> bytes:
    """``head`` and the next line of ``handle`` (UTF-16's: with its newline's second byte)."""
    read = handle.readline(HEADER_BYTES)
    wide = (head or read).startswith((codecs.BOM_UTF16_LE, codecs.BOM_UTF16_BE))
    return head + read + (handle.read(1) if wide else b"")


def codec(raw: bytes) -> str:
    """The codec a file's BOM names: UTF-8 with Excel's BOM, UTF-16 with either; else UTF-8."""
    boms = {codecs.BOM_UTF8: "utf-8-sig", codecs.BOM_UTF16_LE: "utf-16"}
    boms[codecs.BOM_UTF16_BE] = "utf-16"
    return next((name for bom, name in boms.items() if raw.startswith(bom)), "utf-8")


def sep_hint(first: str) -> str | None:
    """The delimiter a first line ``sep=;`` names (the hint Excel reads and some exports
    write, ``sep=\\t`` or a tab for tabs); None for any other line."""
    match = _SEP_HINT.fullmatch(first.rstrip("\r\n"))
    return None if match is None else "\t" if match[1] == "\\t" else match[1]


def decode(raw: bytes, path: str) -> str:
    """The file's text: UTF-8 (with or without the BOM Excel writes), UTF-16 with its BOM
    (Excel's "Unicode Text"), or else Windows-1252 where it reads as text (Excel's "CSV (Comma
    delimited)" on Western Windows writes "é", "–", "µ" in it), said once in the log. Anything
    else is refused, saying how to save it: binary data, a file cut inside a UTF-8 character,
    one mixing UTF-8 with other bytes."""
    try:
        return raw.decode(codec(raw))
    except UnicodeDecodeError as err:
        text = _windows_text(raw, err) if codec(raw) == "utf-8" else None
        if text is None:
            raise DataError(
                f"labels file {path} is not a readable CSV: it is not UTF-8 text ({err.reason} "
                f"at byte {err.start}); save it as 'CSV UTF-8 (Comma delimited)'"
            ) from err
    if path not in _ASSUMED:
        _ASSUMED.add(path)
        log.warning(
            "labels file %s is not UTF-8: read as Windows-1252 (Excel's 'CSV (Comma delimited)' "
            "on Western Windows); save it as 'CSV UTF-8 (Comma delimited)' if its names read wrong",
            path,
        )
    return text


def _windows_text(raw: bytes, err: UnicodeDecodeError) -> str | None:
    """``raw`` read as Windows-1252 where that is text no other reading fits, else None."""
    if err.reason == "unexpected end of data":
        return None  # UTF-8 cut short inside a character
    if _UTF8_CHARACTER.search(raw):
        return None
    try:
        text = raw.decode("cp1252")
    except UnicodeDecodeError:  # the five bytes Windows-1252 leaves undefined
        return None
    return None if _NOT_TEXT.search(text) else text


def table(text: str, path: str) -> tuple[list[str], list[list[str]]]:
    """Header cells (stripped, the schema's names as keys: ``_known_name``; the accession
    number's column found in any case, by the delimiter, ',' ';' or tab, that gives it) and the
    rows that are not blank, padded to the header; a row longer than the header is refused.
    A first line ``sep=;`` (Excel's hint) is skipped and its delimiter used."""
    hint = sep_hint(text.partition("\n")[0])
    text = text.partition("\n")[2] if hint is not None else text
    first = text.splitlines()[0] if text.strip() else ""
    guess = next((d for d in _DELIMITERS if key_index(cells(first, d)) is not None), None)
    if hint is not None and guess not in (None, hint) and key_index(cells(first, hint)) is None:
        raise DataError(
            f"labels file {path}: its first line says 'sep={_shown(hint)}' ({_DELIMITERS.get(hint, repr(hint))}"
            f" between cells) but its header row has {_DELIMITERS[guess]} between cells; delete "
            f"that first line or make it 'sep={_shown(guess)}'"
        )
    delimiter = hint or guess or ","
    try:
        lines = list(csv.reader(io.StringIO(text, newline=""), delimiter=delimiter, strict=True))
    except csv.Error as err:
        raise DataError(f"labels file {path} is not a readable CSV: {err}") from err
    if not lines or not any(cell.strip() for cell in lines[0]):
        raise DataError(f"labels file {path} is not a readable CSV: it has no header line")
    header = [cell.strip() for cell in lines[0]]
    key = key_index(header)
    if key is None:
        raise DataError(f"labels file {path} has no '{KEY}' column ({_found(header, hint)})")
    header = [_known_name(name) for name in header]
    header[key] = KEY
    header = [name or f"Unnamed: {i}" for i, name in enumerate(header)]
    return ["_row", *header], _rows(lines, len(header), path)


def _shown(delimiter: str) -> str:
    return "\\t" if delimiter == "\t" else delimiter


def _found(header: list[str], hint: str | None) -> str:
    """What a header without the accession number's column holds, for the message refusing it:
    one column is a file with none of the delimiters looked for (or the one ``sep=`` named)."""
    names = header_names(header[:10])
    if len(header) > 1 or "[not shown]" in names:
        return f"found {names}"
    if hint is None:
        return f"found one column {names}: save it with commas between cells"
    return (
        f"found one column {names} split by the {_DELIMITERS.get(hint, repr(hint))} its first "
        f"line 'sep={_shown(hint)}' names: save it with commas between cells"
    )


def _rows(lines: list[list[str]], columns: int, path: str) -> list[list[str]]:
    """The rows after the header that are not blank, each its number and its cells padded to
    ``columns``; a row with a non-blank cell past them is refused."""
    rows = []
    for number, row in enumerate(lines[1:], start=1):
        if any(cell.strip() for cell in row[columns:]):
            raise DataError(
                f"labels file {path}: row {number} after the header has more cells than the "
                "header has columns; remove the extra cells or name their column"
            )
        row = (row + [""] * columns)[:columns]
        if any(cell.strip() for cell in row):
            rows.append([number, *row])
    return rows


def _known_name(cell: str) -> str:
    """A header cell naming a finding or diagnosis of ``model.schema`` as a spreadsheet shows it
    ("LV dysfunction", "HCM") -> its key, the column name every prompt set and page looks for;
    any other cell as it is."""
    key = re.sub(r"[\s-]+", "_", cell.lower())
    return key if key in FINDINGS or key in DIAGNOSES else cell


def cells(row: str, delimiter: str) -> list[str]:
    """One line of text split into cells by ``delimiter``."""
    return next(csv.reader([row], delimiter=delimiter), [])


def key_index(header: list[str]) -> int | None:
    """Where ``header`` has the accession number's column: ``accession_number`` in any case,
    with spaces or hyphens for the underscore ("Accession Number")."""
    names = [re.sub(r"[\s-]+", "_", cell.strip().lower()) for cell in header]
    return names.index(KEY) if KEY in names else None
