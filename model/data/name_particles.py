"""Names with particles, for the scrubs: ``Al-Rashid``, ``van der Berg``, ``O'Brien``, ``McDonald``.

A header may write a surname with its particle (``AL-RASHID``, ``VAN DER BERG``), joined to it
(``ALRASHID``, ``VANDERBERG``, ``McDonald``) or without it, and a report any other way: ``Al
Rashid``, ``alRashid``, ``Rashid``, ``Mac Donald``. A particle goes with the name it stands
before (``scrub_particles``), never alone: ``de`` or ``AL`` (an abbreviation) is a word of its own.
The Arabic article and kunya (``al``, ``el``, ``ul``, ``abu``), patronymics (``bin``, ``ibn``,
``ben``, ``bar``, ``bint``), European particles (``van``, ``der``, ``von``, ``de``, ``la``,
``di``, ``da``, ``du``, ``dos``, ``ter``), the Irish ``O'`` and the Scottish ``Mc``/``Mac``.
"""

from __future__ import annotations

import re

PARTICLES = (
    "al", "el", "ul", "abu", "abou", "bin", "ibn", "bint", "ben", "bar", "van", "der", "den",
    "von", "zu", "de", "la", "le", "du", "da", "di", "del", "della", "dos", "das", "ter", "ten",
    "mc", "mac", "o",
)  # fmt: skip
_SEPARATOR = r"[\s'’-]?"
# one or more particles before a name, each joined to what follows or apart from it
PARTICLE_RUN = rf"(?:(?:{'|'.join(sorted(PARTICLES, key=len, reverse=True))}){_SEPARATOR})+"
_LETTER_RUN = re.compile(r"[^\W\d_]+")
# particles, then the word they stand before (a name where a scrub knows it)
_PARTICLED = re.compile(rf"(?<![^\W\d_])({PARTICLE_RUN})([^\W\d_]+)", re.IGNORECASE)
# a header's surname joined to its particle: ``ALRASHID``, ``VANDERBERG``, ``MCDONALD``
_JOINED = ("abou", "abu", "mac", "van", "von", "der", "den", "al", "el", "mc")  # longest first
# the name after a particle the case marks: ``AlRashid``, ``McDonald``, ``DiMaggio``
_CASE_JOINED = re.compile(r"(?:Al|El|Abu|Mc|Mac|Van|Von|Di|De|Da|La|Le|Du)(?=[A-Z][a-z])")
# a name split from an all-capitals joined particle counts from this many letters: ``ELMORE`` of
# the Arabic ``el`` would be ``MORE``, ``ALBERT`` ``BERT``; ``ALRASHID`` is ``RASHID``
MIN_SPLIT_LETTERS = 5


def split_particles(part: str) -> list[str]:
    """``part`` (one letter run of a name) as the particles joined at its start and the rest
    (``VANDERBERG``: ``VAN``, ``DER``, ``BERG``); itself alone where it starts with none or
    the rest would be under 3 letters."""
    pieces, rest = [], part
    while True:
        lower = rest.lower()
        prefix = next((p for p in _JOINED if lower.startswith(p)), None)
        if prefix is None or len(rest) - len(prefix) < 3 or not rest.isalpha():
            return [*pieces, rest]
        pieces.append(rest[: len(prefix)])
        rest = rest[len(prefix) :]


def joined_cores(part: str) -> set[str]:
    """The names inside ``part`` after a particle joined to it, safe to scrub on their own:
    after one the case marks (``McDonald``: ``Donald``), or of ``MIN_SPLIT_LETTERS`` letters
    or more (``ALRASHID``: ``RASHID``; ``VANDERMEER``: ``DERMEER``)."""
    cores = set()
    marked = _CASE_JOINED.match(part)
    if marked and len(part) - marked.end() >= 3:
        cores.add(part[marked.end() :])
    pieces = split_particles(part)
    for start in range(1, len(pieces)):
        core = "".join(pieces[start:])
        if len(core) >= MIN_SPLIT_LETTERS:
            cores.add(core)
    return cores


def particle_joins(parts: list[str]) -> set[str]:
    """Each run of particles among a name's ``parts`` joined to the part after it
    (``AL``, ``RASHID`` as ``ALRASHID``; ``VAN``, ``DER``, ``BERG`` as ``VANDERBERG`` and
    ``DERBERG``; ``O``, ``BRIEN`` as ``OBRIEN``), and the names inside each part after a
    particle joined to it (``joined_cores``)."""
    joins = {core for part in parts for core in joined_cores(part)}
    for index, part in enumerate(parts):
        if part.lower() in PARTICLES or not part.isalpha():
            continue
        start = index
        while start > 0 and parts[start - 1].lower() in PARTICLES:
            start -= 1
            joins.add("".join(parts[start : index + 1]))
    return joins


def scrub_particles(text: str, names: set[str]) -> str:
    """``text`` with each of the ``names`` (lower-cased letter runs) written after one or more
    particles, joined or apart (``Al-Rashid``, ``alRashid``, ``Mc Donald``, ``van der Berg``
    of ``VANDERBERG``), replaced by ``[removed]`` with its particles; a particle before any
    other word stays (``AL normal``, ``LA dilated``, ``de novo``)."""
    if not names:
        return text

    def replace(match: re.Match) -> str:
        particles, word = match.group(1), match.group(2).lower()
        pieces = _LETTER_RUN.findall(particles)
        spelled = ["".join(pieces[start:]).lower() + word for start in range(len(pieces))]
        if word not in names and not names.intersection(spelled):
            return match.group()
        out = _LETTER_RUN.sub("[removed]", particles)
        joined = particles[-1].isalpha()  # alRashid: one word
        return (out[: -len("[removed]")] if joined else out) + "[removed]"

    return _PARTICLED.sub(replace, text)
