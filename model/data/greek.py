"""Greek names in the Latin letters hospitals write them in, for the scrub.

A Greek hospital's DICOM name may be in Greek (``Παπαδόπουλος^Γεώργιος``) while a report writes
it in Latin letters (``Mr Papadopoulos``), or the reverse. As for Cyrillic there is no one
transliteration: ELOT 743 (``Ευάγγελος`` as ``Evangelos``; ``Λάμπρος`` as ``Lampros``, as Greek
passports write it, or contracted as ``Lambros``, ``Μπάμπης`` as ``Bambis``), the popular one (``Χρήστος`` as ``Hristos``, ``Βασίλειος`` as ``Vasilios``), the
classical or English one (``Demetrios``, ``Theophilos``, ``Eustathios``), ``Γιάννης`` as ``Yannis``
or ``Yiannis``, and the German one (``Wassilios``, ``Papadopulos``). A name is sought in each
(``greek_readings``: always ``SCHEMES`` readings, one per scheme, so that a run of words read in
one scheme spells a name in that scheme). Accents and the final sigma do not count; a dialytika
parts a diphthong (``Ευδοκία`` ``Evdokia``, ``Ταΐρης`` ``Tairis``).
"""

from __future__ import annotations

import re
import unicodedata
from dataclasses import dataclass, replace

GREEK = re.compile(r"[\u0370-\u03ff\u1f00-\u1fff]")
_GREEK_WORD = re.compile(r"[\u0370-\u03ff\u1f00-\u1fff\u0300-\u036f]+")
_LETTERS = dict(
    zip("αβγδεζηικλμνξοπρστυφω", "avgdeziiklmnxoprstyfo", strict=True),
    θ="th", χ="ch", ψ="ps",
)  # fmt: skip
_VOWELS = set("αεηιουω")
_VOICED = _VOWELS | set("βγδζλμνρ")  # αυ, ευ read av, ev before these, af, ef before others


@dataclass(frozen=True)
class _Scheme:
    eta: str = "i"
    upsilon: str = "y"
    chi: str = "ch"
    beta: str = "v"
    phi: str = "f"
    ou: str = "ou"
    iota_digraphs: bool = False  # ει, οι as i (Vasilios) rather than ei, oi
    au_as_u: bool = False  # αυ, ευ as au, eu (Eustathios) rather than av/af, ev/ef
    contracted: bool = True  # μπ, ντ, γκ as b, d, g at the start and mb, nd, ng inside
    gamma_iota: str = ""  # a word's first γι before a vowel as y or yi (Yannis, Yiannis)


_ELOT = _Scheme()
SCHEMES = (
    _ELOT,
    replace(_ELOT, contracted=False),  # passports since 2011: Lampros, Ntinos
    replace(_ELOT, upsilon="i", chi="h", iota_digraphs=True),  # popular: Hristos, Kiriakos
    replace(_ELOT, upsilon="i", iota_digraphs=True),  # popular: Christos, Vasilios
    replace(_ELOT, eta="e", phi="ph", au_as_u=True, contracted=False),  # English: Demetrios
    replace(_ELOT, gamma_iota="y"),  # Yannis, Yorgos
    replace(_ELOT, gamma_iota="yi", chi="h"),  # Yiannis, Yiorgos
    replace(_ELOT, beta="w", ou="u", iota_digraphs=True),  # German: Wassilios, Papadopulos
)


def _letters(word: str) -> list[tuple[str, bool]]:
    """The Greek letters of ``word``, lower-cased without accents, each with whether it bears
    a dialytika (which parts it from the vowel before)."""
    out: list[tuple[str, bool]] = []
    for char in unicodedata.normalize("NFD", word.lower()):
        if char == "\u0308" and out:
            out[-1] = (out[-1][0], True)
        elif not unicodedata.combining(char):
            out.append(("σ" if char == "ς" else char, False))
    return out


def _digraph(letters: list[tuple[str, bool]], i: int, scheme: _Scheme) -> str | None:
    """The Latin spelling of the two letters at ``i`` read together; None when they are not a
    digraph."""
    if i + 1 >= len(letters) or letters[i + 1][1]:
        return None
    pair, after = (
        letters[i][0] + letters[i + 1][0],
        letters[i + 2][0] if i + 2 < len(letters) else "",
    )
    if pair == "ου":
        return scheme.ou
    if pair in ("αυ", "ευ", "ηυ"):
        first = scheme.eta if pair[0] == "η" else _LETTERS[pair[0]]
        second = "u" if scheme.au_as_u else ("v" if after in _VOICED else "f")
        return first + second
    if pair in ("ει", "οι") and scheme.iota_digraphs:
        return "i"
    if pair in ("μπ", "ντ", "γκ"):
        if not scheme.contracted:
            return {"μπ": "mp", "ντ": "nt", "γκ": "gk"}[pair]
        start = {"μπ": "b", "ντ": "d", "γκ": "g"}[pair]
        return start if i == 0 else {"μπ": "mb", "ντ": "nd", "γκ": "ng"}[pair]
    if pair in ("γγ", "γξ", "γχ"):
        return "n" + _spell_letter(pair[1], scheme)
    if pair == "γι" and scheme.gamma_iota and i == 0 and after in _VOWELS:
        return scheme.gamma_iota
    return None


def _spell_letter(letter: str, scheme: _Scheme) -> str:
    """One Greek letter in ``scheme`` (the letters schemes spell alike from ``_LETTERS``)."""
    special = {
        "η": scheme.eta,
        "υ": scheme.upsilon,
        "χ": scheme.chi,
        "β": scheme.beta,
        "φ": scheme.phi,
    }
    return special[letter] if letter in special else _LETTERS.get(letter, letter)


def _spell(word: str, scheme: _Scheme) -> str:
    """A Greek ``word`` in ``scheme``, lower-cased."""
    letters, out, i = _letters(word), [], 0
    while i < len(letters):
        digraph = _digraph(letters, i, scheme)
        if digraph is not None:
            out.append(digraph)
            i += 2
        else:
            out.append(_spell_letter(letters[i][0], scheme))
            i += 1
    return "".join(out)


def greek_readings(word: str) -> list[str]:
    """A Greek ``word`` in each scheme (``SCHEMES``), lower-cased, one per scheme."""
    return [_spell(word, scheme) for scheme in SCHEMES]


def greek_spellings(text: str) -> list[str]:
    """``text`` (a name or a DICOM name group) with its Greek words in Latin letters in each
    scheme, capitalised where they were, distinct; none where it holds no Greek letter."""
    if text.isascii() or not GREEK.search(text):
        return []

    def spelled(scheme: _Scheme) -> str:
        def one(match: re.Match) -> str:
            latin = _spell(match.group(), scheme)
            return latin.capitalize() if match.group()[0].isupper() else latin

        return _GREEK_WORD.sub(one, text)

    return list(dict.fromkeys(spelled(scheme) for scheme in SCHEMES))
