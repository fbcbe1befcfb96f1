"""Cyrillic names in the Latin letters hospitals write them in, and back, for the scrub.

A Russian or Ukrainian patient's DICOM name may be in Cyrillic (``Иванов^Иван``) while the report
writes it in Latin letters (``Mr Ivanov``), or the reverse; a scrub that compares letters finds
neither. There is no one transliteration: passports (ICAO 9303: ``Юрий`` as ``Iurii``), the
popular English one (``Yuriy``), German (``Juri``, ``Iwanow``, ``Schukow``) and Ukrainian's own
(``Григорій`` as ``Hryhorii``) are all in use, so a name is sought in each. Greek names are read
the same way (``greek.py``: ELOT 743 and the spellings in use beside it). Arabic and Hebrew names
are not transliterated from their script, nor CJK names without their DICOM alphabetic form:
vowels or readings a name's letters do not fix make a spelling a guess (they are found in their
own script). An Arabic or Hebrew name the header gives in Latin letters is found in the report's
other Latin spellings of it (``latin_variants.py``: ``Mohammed`` as ``Muhammad``).
"""

from __future__ import annotations

import re

from model.data.greek import GREEK, greek_readings, greek_spellings

CYRILLIC = re.compile(r"[\u0400-\u04ff]")
TRANSLITERATED = re.compile(r"[\u0400-\u04ff\u0370-\u03ff\u1f00-\u1fff]")  # Cyrillic, Greek
_COMMON = dict(
    zip("абвгдезиклмнопрстуфыэ", "abvgdeziklmnoprstufye", strict=True),
    ё="e", ж="zh", х="kh", ц="ts", ч="ch", ш="sh", щ="shch", ъ="", ь="", й="y", ю="yu", я="ya",
    і="i", ї="yi", є="ye", ґ="g", ў="u",
)  # fmt: skip
_SCHEMES = (
    _COMMON,  # popular English (BGN/PCGN without its marks): Yuriy, Zhukov
    {**_COMMON, "й": "i", "ю": "iu", "я": "ia", "ъ": "ie", "ї": "i", "є": "ie"},  # ICAO: Iurii
    {**_COMMON, "в": "w", "ж": "sch", "з": "s", "й": "j", "х": "ch", "ц": "z", "ч": "tsch",
     "ш": "sch", "щ": "schtsch", "ю": "ju", "я": "ja", "ё": "jo", "є": "je", "ї": "ji"},  # German
    {**_COMMON, "г": "h", "и": "y", "й": "i", "ю": "iu", "я": "ia", "ї": "i", "є": "ie"},  # Ukrainian
)  # fmt: skip
READINGS = 2 * len(_SCHEMES)  # how many ``latin_readings`` a word has
_ENDING = re.compile(r"(?:iy|yy|ii)\b")  # Yuriy, Dmitriy as English writes them short: Yury


def _spell(text: str, scheme: dict[str, str]) -> str:
    """``text`` letter by letter in ``scheme``, an upper-case letter's spelling capitalised."""
    out = []
    for char in text:
        latin = scheme.get(char.lower())
        if latin is None:
            out.append(char)
        else:
            out.append(latin.capitalize() if char.isupper() else latin)
    return "".join(out)


def latin_readings(word: str) -> list[str]:
    """A Cyrillic or Greek ``word`` in each transliteration, lower-cased, always ``READINGS``
    of them (a run of words read in one scheme spells a name in that scheme): for Cyrillic one
    per scheme, then the short endings; for Greek one per scheme (``greek_readings``)."""
    if GREEK.search(word):
        return greek_readings(word)
    readings = [_spell(word, scheme).lower() for scheme in _SCHEMES]
    return readings + [_ENDING.sub("y", reading) for reading in readings]


def latin_spellings(text: str) -> list[str]:
    """``text`` (a name or a DICOM name group) written in Latin letters in each transliteration,
    distinct; none where it holds no Cyrillic or Greek letter."""
    if text.isascii() or not CYRILLIC.search(text):
        return greek_spellings(text)
    spellings: list[str] = []
    for scheme in _SCHEMES:
        spelled = _spell(text, scheme)
        for spelling in (spelled, _ENDING.sub("y", spelled)):
            if spelling not in spellings:
                spellings.append(spelling)
    return spellings
