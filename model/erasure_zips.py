"""Zip archives under a data root (an export a user made, results zipped to share), and the
spreadsheets that are zip archives of XML (``.xlsx``, ``.ods``), as ``forget`` reads them:
listed, never rewritten.

A zip is read where it lies, nothing extracted to disk: every member's name (a member named
after a withdrawn study, ``export/ACC0001/cine.png``, by ``erasure_names.is_named``'s rule),
and the bytes of each text member (CSV, TSV, JSON, a log: ``erasure_text.TEXT_SUFFIXES``; a
spreadsheet's XML parts, holding its cells' text and numbers, and its links: ``SHEET_PARTS``)
of at most ``MAX_MEMBER_BYTES``, searched as a text file on disk is (``names_any``), at most
``MAX_ARCHIVE_BYTES`` of them an archive (a member's size as the archive states it is not
trusted: no more is read than the bound). An archive naming them is listed with those members,
for the officer to make it again without them or remove it: rewriting an archive or a
spreadsheet a user made (maybe signed, maybe sent) is not ``forget``'s to do. A text member
that cannot be read (encrypted, damaged, larger than those bounds) is counted and the archive
listed for a check by hand; one that cannot be opened at all is listed as not read (a
password-protected ``.xlsx`` is not a zip). A member that is itself a zip archive or a
spreadsheet (an export zipped again) is read the same way, in memory, its bytes counted against
the same bound, to ``MAX_DEPTH`` archives deep (one deeper is counted as not read); a PDF in
one is judged by its name alone; an ``.npz`` is an array file (``model.erasure_arrays``), not
one of these.
"""

from __future__ import annotations

import io
import posixpath
import zipfile
import zlib
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from model.erasure_files import Wanted
from model.erasure_names import is_named
from model.erasure_text import TEXT_SUFFIXES, names_any

MAX_MEMBER_BYTES = 64 * 1024 * 1024  # a larger member is counted as not read
MAX_ARCHIVE_BYTES = 512 * 1024 * 1024  # text read from one archive at most
SPREADSHEETS = frozenset({".xlsx", ".ods"})  # Office Open XML and OpenDocument: zips of XML
# a spreadsheet's members searched: its cells, strings and notes (XML), its links (.rels)
SHEET_PARTS = frozenset({".xml", ".rels"})
MAX_DEPTH = 3  # archives read one inside another (an export zipped again, a spreadsheet in it)
SHOWN_MEMBERS = 10  # members named in the summary line (the record has them all)
_ERRORS = (OSError, EOFError, ValueError, RuntimeError, NotImplementedError, zlib.error)


@dataclass(frozen=True)
class ZipHits:
    """The members of a zip archive naming a withdrawn study (by name or by what they hold;
    ``inner.zip!/tables/labels.csv``: a member of the member ``inner.zip``), and how many of
    its text members and archives could not be read; ``spreadsheet``: the archive is an
    ``.xlsx`` or ``.ods`` (its members are its XML parts)."""

    members: list[str] = field(default_factory=list)
    unread: int = 0
    spreadsheet: bool = False

    def line(self, shown: str, redact: Callable[[str], str]) -> str:
        """The summary line of the archive (``shown``: its path as printed); ``redact`` turns
        a member's name into what may be printed."""
        kind, member = ("spreadsheet", "parts") if self.spreadsheet else ("zip archive", "members")
        parts = []
        if self.members:
            named = ", ".join(redact(m) for m in self.members[:SHOWN_MEMBERS])
            more = len(self.members) - SHOWN_MEMBERS
            named += f" and {more} more (the erasure record lists them)" if more > 0 else ""
            parts.append(f"{len(self.members)} of its {member} name them: {named}")
        if self.unread:
            parts.append(
                f"{self.unread} {'' if self.spreadsheet else 'text '}{member} not read "
                f"(encrypted, damaged, too large, or archives over {MAX_DEPTH} deep: check "
                "them yourself)"
            )
        return (
            f"  {kind} {shown}, never rewritten (make it again without them, or remove "
            f"it, yourself): {'; '.join(parts)}"
        )


def zip_hits(path: Path, wanted: Wanted) -> ZipHits | None:
    """What the zip archive or spreadsheet ``path`` holds of the withdrawn studies (module
    docstring); None when it cannot be read as an archive."""
    spreadsheet = path.suffix.lower() in SPREADSHEETS
    reading = _Reading(wanted)
    try:
        with zipfile.ZipFile(path) as archive:
            _read_archive(archive, reading, "", spreadsheet, depth=1)
    except (zipfile.BadZipFile, *_ERRORS):
        return None
    return ZipHits(reading.members, reading.unread, spreadsheet)


@dataclass
class _Reading:
    """One archive's reading: what is sought, the bytes it may still read, what it found."""

    wanted: Wanted
    budget: int = MAX_ARCHIVE_BYTES
    members: list[str] = field(default_factory=list)  # as archive!/member within another
    unread: int = 0


def _read_archive(
    archive: zipfile.ZipFile, reading: _Reading, prefix: str, spreadsheet: bool, depth: int
) -> None:
    """Add the members of ``archive`` (``depth`` archives deep; ``prefix``: the name of the
    member it is, with ``!/``) naming them to ``reading``: by name, by their text, or, for
    one that is itself an archive or a spreadsheet, by its own members."""
    searched = SHEET_PARTS if spreadsheet else TEXT_SUFFIXES
    for info in archive.infolist():
        name = prefix + info.filename
        if is_named(info.filename, reading.wanted):
            reading.members.append(name)
            continue
        suffix = _suffix(info.filename)
        inner = suffix == ".zip" or suffix in SPREADSHEETS
        if info.is_dir() or not (inner or suffix in searched):
            continue
        data = _member(archive, info, reading.budget) if depth < MAX_DEPTH or not inner else None
        if data is None:
            reading.unread += 1
            continue
        reading.budget -= len(data)
        if inner:
            _read_inner(data, reading, name, suffix in SPREADSHEETS, depth + 1)
        elif names_any(data, reading.wanted):
            reading.members.append(name)


def _read_inner(data: bytes, reading: _Reading, name: str, spreadsheet: bool, depth: int) -> None:
    """The member ``name``, an archive or spreadsheet itself, read in memory; counted as not
    read when it does not open."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            _read_archive(archive, reading, f"{name}!/", spreadsheet, depth)
    except (zipfile.BadZipFile, *_ERRORS):
        reading.unread += 1


def _suffix(name: str) -> str:
    """A member's suffix, lower-cased (``posixpath``: a third of the time ``PurePosixPath``
    took, which was a third of reading an archive's names)."""
    return posixpath.splitext(name)[1].lower()


def _member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, budget: int) -> bytes | None:
    """The bytes of the member ``info`` (read no further than the bounds: a member's size as
    the archive states it may lie); None when it cannot be read within them."""
    limit = min(MAX_MEMBER_BYTES, budget)
    if info.flag_bits & 0x1 or info.file_size > limit:
        return None  # encrypted, or larger than may be read
    try:
        with archive.open(info) as handle:
            data = handle.read(limit + 1)
    except (zipfile.BadZipFile, *_ERRORS):
        return None
    return data if len(data) <= limit else None
