"""Files and folders named after a withdrawn study, and which of them ``forget`` removes.

A user names a result after its study (``ACC0001.png``, ``s0123456789abcde_report.pdf``, a
folder ``exports/ACC0001/``): the name alone is the patient's personal data, whatever the file
holds. A name names a withdrawn study when it holds the study's id or accession number as a
whole token: bounded by no letter or digit (``ACC0001_attn.png`` names ``ACC0001``,
``ACC00012.png`` does not), letter case ignored. Every such file or folder under the folders
searched is listed; with ``--apply`` a FILE so named is removed when it is a per-study result
and nothing else:

- a picture, video, document, log, JSON or ``.npy`` (``REMOVABLE``): what a user saves of
  one study (an attention map, a report copy, a search result, a per-study log);
- a table (CSV, TSV, ``.parquet``) or ``.npz`` only when every row of it is the withdrawn
  studies' (by its ``study_id``/accession-number column or key array): one with rows of other
  studies loses the withdrawn studies' rows and is listed, for the officer to rename;

never a link (what it points to would stay), a file in a dataset folder (another dataset's:
that dataset's own, list-only; the dataset erased is ``model.erasure``'s), an example set, an
embedding file keeping rows, a checkpoint, a DICOM or NIfTI image (the hospital's export, which
``forget`` never touches) or any other kind: those are listed. A folder so named is listed, not
removed (it may hold anything); the files in it are searched as any others.
"""

from __future__ import annotations

import re
from collections.abc import Collection
from pathlib import Path

from model.erasure_files import WORD, Wanted

REMOVABLE = frozenset(
    {".png", ".jpg", ".jpeg", ".gif", ".bmp", ".tif", ".tiff", ".webp", ".svg"}
    | {".mp4", ".webm", ".avi", ".mov", ".pdf", ".txt", ".md", ".html", ".htm", ".rtf"}
    | {".log", ".json", ".jsonl", ".npy"}
)
TABLES = frozenset({".csv", ".tsv", ".parquet", ".npz"})
_DATASET_FILES = ("dataset.json", "studies.parquet")
REDACTED = "[names a withdrawn study]"  # a path's part in a record, a summary, a log line
_FEW_WORDS = 32  # up to so many sought, each is searched for alone in a long text
_WORD_CHARACTERS = frozenset("abcdefghijklmnopqrstuvwxyz0123456789")


def is_named(name: str, wanted: Wanted) -> bool:
    """Whether the file or folder name ``name`` holds a withdrawn study's id or accession
    number as a whole token (a set look-up of its tokens: as fast for a thousand studies as
    for one; a regular expression for the few holding other characters)."""
    if wanted.name_words and not wanted.name_words.isdisjoint(WORD.findall(name.lower())):
        return True
    return wanted.name_token is not None and wanted.name_token.search(name) is not None


def text_names(text: str, wanted: Wanted) -> bool:
    """``is_named`` for a long text (an array's values joined by line breaks): where few
    values are sought, each is searched for as a literal and its matches' edges checked (30
    to 100 times faster than splitting the text into its tokens, done for many values)."""
    if wanted.name_token is not None and wanted.name_token.search(text) is not None:
        return True
    words, lowered = wanted.name_words, text.lower()
    if len(words) > _FEW_WORDS:
        return not words.isdisjoint(WORD.findall(lowered))
    return any(_holds_word(lowered, word) for word in words)


def _holds_word(lowered: str, word: str) -> bool:
    """Whether ``lowered`` holds ``word`` (letters and digits) with neither on either side
    (a pattern starting with the literal is searched fast; a look-behind first is not)."""
    for found in re.finditer(rf"{word}(?![a-z0-9])", lowered):
        if found.start() == 0 or lowered[found.start() - 1] not in _WORD_CHARACTERS:
            return True
    return False


def removable(path: Path, root: Path, whole: bool) -> bool:
    """Whether the file ``path`` (under ``root``, named after a withdrawn study) is removed
    with ``--apply``; ``whole``: it is a table every row of which is the studies'."""
    if path.is_symlink() or in_dataset(path, root):
        return False
    suffix = path.suffix.lower()
    return whole if suffix in TABLES else suffix in REMOVABLE


def in_dataset(path: Path, root: Path) -> bool:
    """Whether ``path`` lies in a dataset folder (one holding ``dataset.json`` or
    ``studies.parquet``) at or under ``root``."""
    for folder in path.parents:
        if any((folder / name).is_file() for name in _DATASET_FILES):
            return True
        if folder == root:
            return False
    return False


def redacted_path(path: str, named: Collection[str]) -> str:
    """``path`` with each of its parts that holds one of ``named`` (the withdrawn studies' ids
    and accession numbers: a user may name a file after a study; letter case ignored, as
    ``is_named`` ignores it) replaced by ``REDACTED``."""
    lowered = [n.lower() for n in named]
    parts = path.split("/")
    return "/".join(REDACTED if any(n in part.lower() for n in lowered) else part for part in parts)
