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
# the Arabic article written as the sun letter after it sounds (``ar-Rashid``, ``ad-Din``,
# ``as-Sayed``, ``ash-Shakur``, ``an-Nur``; ``el``, ``ul`` alike): a particle where it starts a name
ASSIMILATED_ARTICLES = tuple(
    vowel + sun for vowel in "aeu" for sun in ("th", "dh", "sh", "t", "d", "r", "z", "s", "n")
)
# of those, the ones no English word spells: a name's particle also apart by a space (``Ar Rashid``)
_UNWORDED_ARTICLES = ("ar", "ash", "ath", "adh", "az", "ur", "ud", "ush", "uz", "esh", "ez")
_PARTICLE_SET = frozenset(PARTICLES)
_SEPARATOR = r"[\s'’-]?"
# one or more particles before a name, each joined to what follows or apart from it
_ALTERNATIVES = "|".join(sorted(PARTICLES, key=len, reverse=True))
PARTICLE_RUN = rf"(?:(?:{_ALTERNATIVES}){_SEPARATOR})+"
_PARTICLES_ONLY = re.compile(PARTICLE_RUN, re.IGNORECASE)
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
# the Arabic article joined in the script, and the letters a name after it counts from: الرشيد is
# رشيد, while the ال of إلهام (Elham, folded الهام) is no article and هام a word ("important")
ARABIC_ARTICLE = "ال"
MIN_CORE_LETTERS = 4


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
    or more (``ALRASHID``: ``RASHID``; ``VANDERMEER``: ``DERMEER``), or after the Arabic article
    of ``MIN_CORE_LETTERS`` or more (``الرشيد``: ``رشيد``)."""
    cores = set()
    marked = _CASE_JOINED.match(part)
    if marked and len(part) - marked.end() >= 3:
        cores.add(part[marked.end() :])
    if part.startswith(ARABIC_ARTICLE) and len(part) >= len(ARABIC_ARTICLE) + MIN_CORE_LETTERS:
        cores.add(part[len(ARABIC_ARTICLE) :])  # الرشيد: رشيد
    pieces = split_particles(part)
    for start in range(1, len(pieces)):
        core = "".join(pieces[start:])
        if len(core) >= MIN_SPLIT_LETTERS:
            cores.add(core)
    return cores


def _cuts(particles: str) -> list[int]:
    """Where a run of ``particles`` may end (``DeLa``: after ``DeLa`` or ``De``), last first."""
    ends = range(len(particles), 0, -1)
    return [end for end in ends if _PARTICLES_ONLY.fullmatch(particles, 0, end)]


def _names(particles: str, written: str, names: set[str]) -> bool:
    """Whether ``written`` after ``particles`` is one of ``names``, alone or with the particles
    (all, or the last ones) joined to it; where the last particle is joined to it and the case
    does not show the join (``Delay``), only the whole spelling counts."""
    pieces, word = _LETTER_RUN.findall(particles), written.lower()
    spelled = ["".join(pieces[start:]).lower() + word for start in range(len(pieces))]
    if particles[-1].isalpha() and not _case_marked(particles, written):
        return spelled[0] in names
    return word in names or bool(names.intersection(spelled))


def _case_marked(particles: str, word: str) -> bool:
    """Whether the case shows where a particle joined to a name ends: ``alRashid``,
    ``McDonald``, ``OBrien`` (not ``Delay``, nor ``ALRASHID``)."""
    capitalised = word[0].isupper() and word[1:2].islower()
    return capitalised and (particles[-1].islower() or len(particles) == 1)


def particle_joins(parts: list[str]) -> set[str]:
    """Each run of particles among a name's ``parts`` joined to the part after it
    (``AL``, ``RASHID`` as ``ALRASHID``; ``VAN``, ``DER``, ``BERG`` as ``VANDERBERG`` and
    ``DERBERG``; ``O``, ``BRIEN`` as ``OBRIEN``), and the names inside each part after a
    particle joined to it (``joined_cores``)."""
    if not any(map(str.isalpha, parts)):
        return set()  # an ID or a date
    joins = {core for part in parts for core in joined_cores(part)}
    for index, part in enumerate(parts):
        if part.lower() in PARTICLES or not part.isalpha():
            continue
        start = index
        while start > 0 and parts[start - 1].lower() in PARTICLES:
            start -= 1
            joins.add("".join(parts[start : index + 1]))
    return joins


def particle_forms(parts: list[str]) -> list[list[str]]:
    """A name's ``parts``, and without its particles where it has some and two parts remain
    (``AL``, ``RASHID``, ``KHALID`` also as ``RASHID``, ``KHALID``)."""
    kept = [part for part in parts if part.lower() not in _PARTICLE_SET]
    return [parts, kept] if 1 < len(kept) < len(parts) else [parts]


def scrub_particles(text: str, names: set[str]) -> str:
    """``text`` with each of the ``names`` (lower-cased letter runs) written after one or more
    particles, joined or apart (``Al-Rashid``, ``alRashid``, ``Mc Donald``, ``van der Berg``
    of ``VANDERBERG``), replaced by ``[removed]`` with its particles; a particle before any
    other word stays (``AL normal``, ``LA dilated``, ``de novo``), and a word that starts like
    one is split only where the case shows it (``_case_marked``: ``Delay`` keeps ``Lay``)."""
    if not names:
        return text

    def replace(match: re.Match) -> str:
        particles, written = match.group(1), match.group(2)
        for cut in _cuts(particles):  # the longest run of particles first: DeLay is De + Lay
            rest = particles[cut:] + written
            if rest.isalpha() and _names(particles[:cut], rest, names):
                out = _LETTER_RUN.sub("[removed]", particles[:cut])
                joined = particles[cut - 1].isalpha()  # alRashid: one word
                return (out[: -len("[removed]")] if joined else out) + "[removed]"
        return match.group()

    return _PARTICLED.sub(replace, text)


_JOINED_ALTERNATIVES = "|".join(sorted({*PARTICLES, *ASSIMILATED_ARTICLES}, key=len, reverse=True))
_SPACED_ALTERNATIVES = "|".join(sorted({*PARTICLES, *_UNWORDED_ARTICLES}, key=len, reverse=True))
# particles before a scrubbed name: ``Ar-[removed]``, ``O'[removed]``, ``van der [removed]``
_ORPHANED = re.compile(
    rf"(?<![^\W\d_])(?:(?:{_JOINED_ALTERNATIVES})[-'’]|(?:{_SPACED_ALTERNATIVES})[ \t]+)+"
    r"(?=\[removed\])",
    re.IGNORECASE,
)


def scrub_orphaned_particles(text: str) -> str:
    """``text`` with the particles a scrub left before a name it removed (``Ar-[removed]`` of
    ``Ar-Rashid``, ``Abu-[removed]``, ``O'[removed]``, ``van der [removed]``) removed too: a
    particle tells the name's origin and first letters (``Ar-`` is a name in ``r``). Joined by a
    hyphen or an apostrophe any particle or assimilated article goes; apart by a space, one no
    English word spells (``at``, ``as``, ``an`` stay: "seen at [removed]")."""
    if "[removed]" not in text:
        return text
    return _ORPHANED.sub(lambda match: _LETTER_RUN.sub("[removed]", match.group()), text)
