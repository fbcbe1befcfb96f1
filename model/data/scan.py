"""Finding and reading the headers of every file under a source folder, in parallel chunks.

Every file that cannot be used becomes a ``skipped`` problem with its reason (not DICOM,
truncated, no pixel data, not MR, unreadable, ...); empty folders and unreadable folders too.
An image seen again under one SOPInstanceUID and frame keeps its first copy, or is read too when
it is a different image under the same UID (``model.data.duplicates``).
"""

from __future__ import annotations

import logging
import os
from collections import defaultdict
from collections.abc import Iterator
from concurrent.futures import Executor
from pathlib import Path

from model.data.dicom_read import DicomReadError, SliceHeader, read_headers
from model.data.duplicates import DuplicateCheck
from model.data.study import Problem
from model.data.time_limit import FILE_SECONDS, TimeLimitExceeded, time_limit
from model.progress import Progress

CHUNK_FILES = 64

log = logging.getLogger(__name__)


def walk_files(src: Path, problems: list[Problem]) -> list[str]:
    """Every regular file under ``src`` (sorted); empty / unreadable folders become problems.

    Ingest reads only what lies under ``src``: symbolic links to files outside it, and links
    to folders (never followed), become problems instead of being read. One ``scandir`` per
    folder: the entry types come with the listing, so plain files cost no further system call.
    """
    files: list[str] = []
    root = os.path.realpath(src)
    pending = [str(src)]
    while pending:
        folder = pending.pop()
        try:
            with os.scandir(folder) as listing:
                entries = sorted(listing, key=lambda entry: entry.name)
        except OSError as err:
            problems.append((folder, "", "skipped", f"unreadable folder: {err.strerror}"))
            continue
        if not entries:
            problems.append((folder, "", "skipped", "empty folder"))
        subfolders = []
        for entry in entries:
            reason = _link_problem(entry, root) if entry.is_symlink() else None
            if reason is not None:
                problems.append((entry.path, "", "skipped", reason))
            elif entry.is_dir(follow_symlinks=False):
                subfolders.append(entry.path)
            elif entry.is_file():
                files.append(entry.path)
        pending.extend(reversed(subfolders))  # depth first, in name order
    return sorted(files)


def without_inputs(files: list[str], inputs: tuple[str | Path | None, ...]) -> list[str]:
    """``files`` less ``inputs`` (the reports CSV, labels CSV and view map ingest was given):
    kept beside the images (an export copied whole), each was listed in the ingest report as
    skipped, "not a DICOM file". Only a file named like one of them is resolved."""
    given = {os.path.realpath(path) for path in inputs if path}
    names = {os.path.basename(path) for path in given}
    return [
        f for f in files if os.path.basename(f) not in names or os.path.realpath(f) not in given
    ]


def _link_problem(entry: os.DirEntry, root: str) -> str | None:
    """Why a symbolic link is not read, or None for a link to a file inside ``root``."""
    if entry.is_dir():
        return "symbolic link to a folder (not followed)"
    if not os.path.exists(entry.path):
        return "broken symbolic link"
    if not _inside(os.path.realpath(entry.path), root):
        return "symbolic link to outside the source folder"
    return None


def _inside(path: str, root: str) -> bool:
    return path == root or path.startswith(root.rstrip(os.sep) + os.sep)


def scan_chunk(paths: list[str]) -> tuple[list[SliceHeader], list[Problem], set[str]]:
    """Headers of every usable frame in ``paths``, a problem per unusable file, and the patient
    identifiers of the unusable files whose header could be read."""
    headers: list[SliceHeader] = []
    problems: list[Problem] = []
    identifiers: set[str] = set()
    for path in paths:
        try:
            with time_limit(FILE_SECONDS, "reading the header"):
                headers.extend(read_headers(path))
        except DicomReadError as err:
            problems.append((path, "", "skipped", str(err)))
            identifiers.update(err.identifiers)
        except TimeLimitExceeded as err:
            problems.append((path, "", "skipped", str(err)))
        except Exception as err:  # pydicom raises many types on hostile input; report, never crash
            problems.append((path, "", "skipped", f"unreadable DICOM: {type(err).__name__}: {err}"))
    return headers, problems, identifiers


def _chunks(items: list[str], size: int) -> Iterator[list[str]]:
    for start in range(0, len(items), size):
        yield items[start : start + size]


def scan_headers(
    files: list[str], executor: Executor | None, problems: list[Problem], identifiers: set[str]
) -> dict[str, list[SliceHeader]]:
    """StudyInstanceUID -> de-duplicated headers of all ``files``, read by ``executor`` (or
    inline); the patient identifiers of files skipped after their header was read are added to
    ``identifiers``."""
    by_study: dict[str, list[SliceHeader]] = defaultdict(list)
    first: dict[tuple[str, int], SliceHeader] = {}
    duplicates, reported, copies = DuplicateCheck(), set(), set()
    chunks = list(_chunks(files, CHUNK_FILES))
    results: Iterator[tuple[list[SliceHeader], list[Problem], set[str]]]
    results = executor.map(scan_chunk, chunks) if executor else map(scan_chunk, chunks)
    with Progress("ingest: read headers", total=len(files), unit="file") as bar:
        for chunk, (headers, chunk_problems, skipped) in zip(chunks, results, strict=True):
            problems.extend(chunk_problems)
            identifiers.update(skipped)
            for header in headers:
                key = (header.sop_uid, header.frame)
                if key in first:
                    level, reason = duplicates.verdict(first[key], header)
                    if header.path not in reported:  # one line a file, not one a frame
                        problems.append((header.path, "", level, reason))
                        reported.add(header.path)
                    if level == "skipped":
                        copies.add(header.path)
                        continue
                else:
                    first[key] = header
                by_study[header.study_uid].append(header)
            bar.update(len(chunk))
    if copies:  # an export copied in twice: one line here, the files in the report
        log.warning(
            "%d file(s) copy images already read (same SOPInstanceUID); the first copies kept, "
            "each copy named in ingest_report.csv",
            len(copies),
        )
    return dict(by_study)
