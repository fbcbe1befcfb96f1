"""Studies withdrawn from a dataset (``DATASET/withdrawn.csv``), so an ingest never adds them again.

A patient who withdraws consent is erased from a dataset (``python -m model forget``); the raw
export they came from usually stays on the hospital's disks, and a later ingest of the same
export would bring their studies back. So the erasure records, per study, two salted hashes: of
its accession number and of its study_id (``deid.pseudonym`` with the dataset's own salt,
namespaces ``withdrawn-accession`` / ``withdrawn-study``). Neither can be turned back into the
accession number or the study_id without the salt, and neither is the study_id itself, so the
study's pseudonym appears nowhere in the data root once it is erased. Ingest computes both
hashes for every study it finds and skips those recorded, with one log line.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from pathlib import Path

import pandas as pd

from model.atomic import atomic_write_with
from model.data.deid import pseudonym

log = logging.getLogger(__name__)

WITHDRAWN_FILE = "withdrawn.csv"
COLUMNS = ["kind", "hash"]


def accession_hash(salt: bytes, accession: str) -> str:
    """The salted hash an erasure records for an accession number."""
    return pseudonym(salt, "withdrawn-accession", accession.strip(), length=24)


def study_hash(salt: bytes, study_id: str) -> str:
    """The salted hash an erasure records for a study_id."""
    return pseudonym(salt, "withdrawn-study", study_id, length=24)


def read_withdrawn(dataset: Path) -> set[str]:
    """Every hash recorded in ``dataset``'s withdrawn.csv (empty without one)."""
    path = dataset / WITHDRAWN_FILE
    if not path.is_file():
        return set()
    return set(pd.read_csv(path, dtype=str, keep_default_na=False)["hash"])


def record_withdrawn(dataset: Path, entries: Iterable[tuple[str, str]]) -> int:
    """Add ``(kind, hash)`` entries to ``dataset``'s withdrawn.csv (atomically; entries already
    there are kept once); returns how many were new."""
    path = dataset / WITHDRAWN_FILE
    known = (
        pd.read_csv(path, dtype=str, keep_default_na=False)
        if path.is_file()
        else pd.DataFrame(columns=COLUMNS)
    )
    new = pd.DataFrame(list(entries), columns=COLUMNS)
    merged = pd.concat([known, new], ignore_index=True).drop_duplicates("hash")
    atomic_write_with(path, lambda tmp: merged.to_csv(tmp, index=False))
    return len(merged) - len(known)


def is_withdrawn(withdrawn: set[str], salt: bytes, study_id: str, accession: str) -> bool:
    """Whether a study an ingest found (its ``study_id`` and accession number) was withdrawn."""
    if not withdrawn:
        return False
    if study_hash(salt, study_id) in withdrawn:
        return True
    return bool(accession.strip()) and accession_hash(salt, accession) in withdrawn


def without_withdrawn(plans: list, dataset: Path, salt: bytes) -> list:
    """``plans`` (ingest's, with ``task.study_id`` and ``accession``) less the withdrawn
    studies, saying how many were skipped (never which: their identifiers stay out of logs)."""
    withdrawn = read_withdrawn(dataset)
    kept = [p for p in plans if not is_withdrawn(withdrawn, salt, p.task.study_id, p.accession)]
    if len(kept) < len(plans):
        log.info(
            "skipped %d studies withdrawn from %s (%s: consent withdrawn, erased)",
            len(plans) - len(kept),
            dataset.name,
            WITHDRAWN_FILE,
        )
    return kept
