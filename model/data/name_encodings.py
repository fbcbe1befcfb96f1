"""A name as keyboards and encodings write it, for the scrubs.

Many PACS store names in ASCII capitals (``MUELLER^ZOE``, ``LOPEZ^JOSE``, ``DVORAK^ANTONIN``)
while the reader types them as spoken (``Frau Müller``, ``Zoë``, ``José López``, ``Dvořák``). A
header's name with diacritics is sought in its ASCII spellings already (``deid.ascii_spellings``);
``scrub_unaccented`` covers the other way: a text with a word with marks that reads as a name
without them is scrubbed a second and third time read without them (marks dropped: ``Müller``
as ``Muller``; German: ``Mueller``), and what those find is removed from the text as written.

An old export or a Windows zip archiver may write names in a CJK code page: a name a zip
misencoded reads as cp437 symbols (``misread_names``), a folder named in a code page as bytes no
UTF-8 decoding reads (``legacy_readings``), for the ingest report's scrub.
"""

from __future__ import annotations

import contextlib
import itertools
import re
import unicodedata
from collections.abc import Callable

from model.data.deid import WORD_RUN, ascii_spellings, name_representations
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


def scrub_unaccented(text: str, scrub: Callable[[str], str], sought: Callable[[str], bool]) -> str:
    """``scrub(text)``, and where ``text`` writes a word with diacritics that ``sought`` takes
    for a name read without them (lower-cased ASCII: ``muller``, ``mueller``), what ``scrub``
    removes from it read so (each of ``READINGS``) removed too: a French or German report writes
    its words with accents (``sévère``), and scrubbing each three times cost 2-3 times as much."""
    text = scrub(text)
    if text.isascii() or not _MARKED_LATIN.search(text):
        return text
    words = (word.group() for word in WORD_RUN.finditer(text) if _MARKED_LATIN.search(word.group()))
    spellings = (s.lower() for w in words for s in ascii_spellings(unicodedata.normalize("NFC", w)))
    if not any(map(sought, spellings)):
        return text
    for reading in range(READINGS):
        text = scrub_reading(text, scrub, lambda cluster, r=reading: _unaccented(cluster, r))
    return text


# the code pages Windows zip tools write names in, in Chinese, Japanese, Korean and Taiwanese locales
_CJK_CODE_PAGES = ("gbk", "cp932", "cp949", "big5")


def misread_names(identifiers: set[str]) -> set[str]:
    """The name parts of ``identifiers`` outside ASCII as a zip shows them whose Windows
    archiver wrote them in a Chinese, Japanese or Korean code page without the zip's UTF-8 flag:
    those bytes read as cp437, as Python's zipfile reads them (``王`` in GBK reads ``═⌡``). Mostly
    symbols, not letters, so no word-by-word scrub finds them; a part of one character counts,
    as no ordinary word is written this way."""
    misread = set()
    for identifier in identifiers:
        parts = {part for group in name_representations(identifier) for part in group}
        for part, code_page in itertools.product(parts, _CJK_CODE_PAGES):
            if part.isascii():
                continue
            with contextlib.suppress(UnicodeEncodeError):
                misread.add(part.encode(code_page).decode("cp437"))
    return misread


def legacy_readings(text: str) -> list[str]:
    """``text`` alone, or where it holds bytes no UTF-8 decoding read (a folder an old export
    named in its code page, which Python lists as surrogate escapes that no CSV or Parquet file
    stores) its readings in each CJK code page that reads them whole, then the Western one."""
    try:
        text.encode("utf-8")
        return [text]
    except UnicodeEncodeError:
        raw = text.encode("utf-8", "surrogateescape")
    readings = []
    for code_page in _CJK_CODE_PAGES:
        with contextlib.suppress(UnicodeDecodeError):
            readings.append(raw.decode(code_page))
    try:
        return [*readings, raw.decode("cp1252")]
    except UnicodeDecodeError:  # cp1252 leaves five bytes undefined; latin-1 reads every byte
        return [*readings, raw.decode("latin-1")]
