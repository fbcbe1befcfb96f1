"""Accession numbers as ``forget`` finds them in text and in numeric columns, decimals included.

An accession number is matched as a whole token: no letter or digit either side (``ACC0001``
is not in ``ACC00012``, ``1234`` not in ``12345``). One of digits alone may also have been
written as a number: pandas writes an integer column with a gap as floats, so a labels table
copied and saved again holds accession number ``70000001`` as ``70000001.0`` (a CSV cell, a
JSON number), ``7.0000001e+07`` (numpy's ``savetxt``) or the float 70000001.0 (a ``.parquet``
float column). So, for such a number of at least ``MIN_DIGITS`` digits (a shorter one is as
likely a count or a score),

- a text token equal to it as a decimal (``70000001.0``, ``70000001.00``, ``70000001.``) or in
  scientific notation (``7.0000001e7``, ``7.0000001E+07``) is matched, a leading zero given
  (``0070000001``) being lost in any number;
- a decimal that is not that integer (``70000001.5``) or a longer number (``700000010.0``) is
  not: a token of digits followed by a point and more digits is matched only whole;
- a float column holds it when a value is exactly that integer (read as float64: a float32
  cannot hold such a number exactly, nor float64 one over 2**53, which are not looked for).

The patterns here use no look-around, so pyarrow's RE2 (a table's cells) and Python's ``re``
(a file's bytes, a pandas column) read them alike.
"""

from __future__ import annotations

import re
from collections.abc import Iterable

MIN_DIGITS = 6
_LARGEST = 2**53  # float64 holds every integer up to this exactly
_BEFORE = r"(?:^|[^A-Za-z0-9])"  # what may come before a token
_AFTER = r"(?:$|[^A-Za-z0-9])"  # after a token holding a letter
_AFTER_NUMBER = r"(?:$|[^A-Za-z0-9.]|\.(?:$|[^0-9]))"  # after a number: no more digits


def accession_numbers(accessions: Iterable[str]) -> list[int]:
    """The accession numbers of digits alone, as the numbers an integer column holds
    (``00123`` is 123 there: a number keeps no leading zeros)."""
    return sorted({int(a) for a in accessions if a.isdigit() and int(a) < 2**63})


def decimal_numbers(accessions: Iterable[str]) -> list[int]:
    """The accession numbers of digits looked for as decimals and in float columns: of at
    least ``MIN_DIGITS`` digits (as a number) and exact as a float64."""
    least = 10 ** (MIN_DIGITS - 1)
    return [n for n in accession_numbers(accessions) if least <= n <= _LARGEST]


def decimal_forms(numbers: Iterable[int]) -> str | None:
    """Any of ``numbers`` written as a decimal or in scientific notation, as a pattern (None
    when there is none): ``70000001.0``, ``7.0000001e+07``; never the bare integer, whose text
    is the accession number's own (leading zeros and all)."""
    forms = []
    for number in numbers:
        digits = str(number)
        head, tail = digits[0], digits[1:].rstrip("0")
        mantissa = rf"{head}\.{tail}0*" if tail else rf"{head}(?:\.0*)?"
        forms += [rf"{digits}\.0*", rf"{mantissa}[eE]\+?0*{len(digits) - 1}"]
    return "|".join(forms) or None


def cell_pattern(accessions: Iterable[str]) -> str | None:
    """A whole cell holding one of ``accessions`` as a decimal (``decimal_forms``), for a
    full match: ``^(?:...)$``; None when none is looked for so."""
    forms = decimal_forms(decimal_numbers(accessions))
    return rf"^(?:{forms})$" if forms else None


def token_pattern(accessions: Iterable[str]) -> str:
    """Any of ``accessions`` as a whole token of text (module docstring): a letter or digit
    on neither side, and one of digits alone also as a decimal, never followed by more
    decimals. Empty when ``accessions`` is."""
    held = sorted(set(accessions))
    words = [re.escape(a) for a in held if not a.isdigit()]
    numbers = [re.escape(a) for a in held if a.isdigit()]
    forms = decimal_forms(decimal_numbers(held))
    numbers += [forms] if forms else []
    parts = [rf"{_BEFORE}(?:{'|'.join(words)}){_AFTER}"] if words else []
    if numbers:
        parts.append(rf"{_BEFORE}(?:{'|'.join(numbers)}){_AFTER_NUMBER}")
    return "|".join(parts)


def accession_regex(accessions: Iterable[str]) -> re.Pattern[bytes]:
    """``token_pattern`` for bytes (a file's, a parquet's metadata)."""
    return re.compile(token_pattern(accessions).encode())


def accession_needles(accessions: Iterable[str]) -> list[bytes]:
    """Plain bytes one of which begins every token of ``token_pattern`` in a text naming
    ``accessions`` (the token is tried only where one begins: a plain search is ten times
    faster): each accession number as given, and for one of digits its number's digits and
    scientific mantissa."""
    needles = {a.encode() for a in accessions}
    for number in decimal_numbers(accessions):
        digits = str(number)
        head, tail = digits[0], digits[1:].rstrip("0")
        needles.add(digits.encode())
        needles |= {f"{head}.{tail}".encode()} if tail else {f"{head}{c}".encode() for c in ".eE"}
    return sorted(needles)
