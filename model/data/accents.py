"""Latin names written with diacritics in a report whose header writes them without, for the
impression scrubs.

Many PACS store names in ASCII capitals (``MUELLER^ZOE``, ``LOPEZ^JOSE``, ``DVORAK^ANTONIN``)
while the reader types them as spoken (``Frau Müller``, ``Zoë``, ``José López``, ``Dvořák``). A
header's name with diacritics is sought in its ASCII spellings already (``deid.ascii_spellings``);
``scrub_unaccented`` covers the other way: a text with Latin letters bearing marks is scrubbed
a second and third time read without them (marks dropped: ``Müller`` as ``Muller``; German:
``Mueller``), and what those find is removed from the text as written.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable

from model.data.deid import ascii_spellings
from model.data.text_fold import scrub_reading

# Latin letters with marks, composed (Latin-1, Extended-A and -B, Extended Additional) or not
_MARKED_LATIN = re.compile(
    r"[\u00c0-\u00d6\u00d8-\u00f6\u00f8-\u024f\u1e00-\u1eff]|[A-Za-z][\u0300-\u036f]"
)
READINGS = 2  # marks dropped (ü as u), then German (ü as ue)


def _unaccented(cluster: str, reading: int) -> str:
    """A letter with what attaches to it in ASCII (``READINGS``: ``ü`` as ``u``, then ``ue``);
    as written where it has no ASCII spelling (another script) or is ASCII already."""
    spellings = ascii_spellings(unicodedata.normalize("NFC", cluster))
    return spellings[min(reading, len(spellings) - 1)] if spellings else cluster


def scrub_unaccented(text: str, scrub: Callable[[str], str]) -> str:
    """``scrub(text)``, and where ``text`` writes Latin letters with diacritics, what ``scrub``
    removes from it read without them (each of ``READINGS``) removed too."""
    text = scrub(text)
    if text.isascii() or not _MARKED_LATIN.search(text):
        return text
    for reading in range(READINGS):
        text = scrub_reading(text, scrub, lambda cluster, r=reading: _unaccented(cluster, r))
    return text
