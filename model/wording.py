"""Counts in words: ``counted(1, "study")`` is "1 study", ``counted(2, "study")`` "2 studies".

Evaluation messages and reports on a tiny dataset (a demo, a site with one labelled patient)
said "1 studies", "1 patients"; training said "past 1 epochs". Every count of a noun that may be
1 goes through here rather than a ternary of its own. The dashboard uses it too (``model`` is
below it; it may not import the dashboard).
"""

from __future__ import annotations

from typing import Any

import numpy as np

_VOWELS = "aeiou"


def plural_of(noun: str) -> str:
    """The English plural of ``noun`` (its last word): study -> studies, day -> days,
    patient -> patients, class -> classes, epoch -> epochs. An irregular one (match ->
    matches, series) is given to ``counted``."""
    if noun.endswith("y") and noun[-2:-1] not in _VOWELS:
        return noun[:-1] + "ies"
    if noun.endswith(("s", "x", "sh")):  # not "ch": epoch -> epochs
        return noun + "es"
    return noun + "s"


def counted(value: Any, noun: str, plural: str | None = None) -> str:
    """``value`` (an int, written 1,234) and ``noun`` in its number: singular for 1, ``plural``
    (default ``plural_of(noun)``) otherwise. A value that is not an int (a summary's missing
    count, "?") is written as it is, with the plural."""
    many = plural if plural is not None else plural_of(noun)
    if isinstance(value, int | np.integer) and not isinstance(value, bool):
        return f"{int(value):,} {noun if value == 1 else many}"
    return f"{value} {many}"
