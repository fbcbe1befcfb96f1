"""Erasing withdrawn studies from a dataset: what ``python -m model forget`` removes there.

A patient withdraws consent (GDPR right to erasure, a research opt-out): their studies must go
from everything the product keeps. Inside the dataset folder a study lives in

- ``studies.parquet`` (its row, its report impression), ``tensors/<study_id>.npy``;
- ``linkage.csv`` (study_id <-> accession number), ``labels.csv`` / ``acdc_labels.csv`` (rows of
  its accession number) and ``ingest_report.csv`` (lines about it);
- ``embeddings/``: every study-embedding cache of the dataset, with the maps and report
  sentences made from them. All are named after the dataset's fingerprint, which the erasure
  changes, so ``embedding_cache.tidy`` removes them as of an earlier version of the dataset (a
  page embeds the dataset again on its next use).

Everything is changed under the ingest lock (no ingest writes meanwhile; ``forget`` holds it
from reading linkage.csv to writing its record), ``studies.parquet`` first and atomically: a reader sees the dataset before or after the erasure, never a row whose
tensor is gone (a reader that listed the studies just before may still fail to open a removed
tensor: it reads the dataset again, as after any ingest). Before anything is removed the
studies' salted hashes go to ``withdrawn.csv`` (``model.data.withdrawn``), so an interrupted
erasure, or a later ingest of the same export, never brings them back.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import pandas as pd

from model import embedding_cache
from model.atomic import atomic_write_with
from model.data import deid
from model.data.dataset import read_linkage
from model.data.fingerprint import dataset_fingerprint
from model.data.store import SETTINGS_FILE
from model.data.withdrawn import accession_hash, record_withdrawn, study_hash
from model.errors import UserError
from model.schema import DatasetPaths, is_study_pseudonym

log = logging.getLogger(__name__)

_ACCESSION = "accession_number"


@dataclass
class Targets:
    """The studies to erase: their study_ids and accession numbers (from linkage.csv), and the
    1-based positions and values of the accession numbers given that the dataset does not hold
    (recorded as withdrawn all the same: an ingest must never add them later)."""

    study_ids: list[str]
    accessions: list[str]
    unknown: list[int] = field(default_factory=list)
    unknown_values: list[str] = field(default_factory=list, repr=False)


@dataclass
class DatasetErasure:
    """What erasing the targets removes (or removed, when ``applied``) from the dataset."""

    studies: int = 0
    tensors: int = 0
    table_rows: dict[str, int] = field(default_factory=dict)
    caches: list[Path] = field(default_factory=list)
    caches_left: list[Path] = field(default_factory=list)
    fingerprints: set[str] = field(default_factory=set)  # the dataset had (caches say)
    hashes: list[str] = field(default_factory=list)
    applied: bool = False


def check_dataset(dataset: Path) -> DatasetPaths:
    """The dataset's paths; a UserError naming the problem when it is not a dataset folder."""
    paths = DatasetPaths(dataset)
    if not paths.studies.is_file() or not (dataset / SETTINGS_FILE).is_file():
        raise UserError(f"{dataset} is not a dataset folder (no studies.parquet/dataset.json)")
    return paths


def find_targets(paths: DatasetPaths, accessions: list[str], study_ids: list[str]) -> Targets:
    """The studies named by ``accessions`` (looked up in linkage.csv) and ``study_ids``.

    An unknown accession number is reported by its position, never quoted (it may be any
    hospital number); an unknown study_id is an error, quoted only when it has a study_id's
    shape (the only identifier a message may echo: ``schema.is_study_pseudonym``)."""
    linkage = read_linkage(paths.linkage)
    held = set(pd.read_parquet(paths.studies, columns=["study_id"])["study_id"])
    by_accession: dict[str, list[str]] = {}
    for sid, acc in zip(linkage["study_id"], linkage[_ACCESSION], strict=True):
        by_accession.setdefault(str(acc).strip(), []).append(str(sid))
    chosen: dict[str, str] = {}
    unknown: list[int] = []
    for position, acc in enumerate(accessions, start=1):
        found = [sid for sid in by_accession.get(acc.strip(), []) if sid in held]
        if not acc.strip() or not found:
            unknown.append(position)
        chosen.update(dict.fromkeys(found, acc.strip()))
    accession_of = dict(zip(linkage["study_id"], linkage[_ACCESSION], strict=True))
    for sid in study_ids:
        if sid not in held:
            named = sid if is_study_pseudonym(sid) else "a study ID given"
            raise UserError(f"{named} is not a study of {paths.root}")
        chosen.setdefault(sid, str(accession_of.get(sid, "")).strip())
    missing = [accessions[i - 1].strip() for i in unknown if accessions[i - 1].strip()]
    return Targets(list(chosen), [chosen[sid] for sid in chosen], unknown, missing)


def erase_from_dataset(paths: DatasetPaths, targets: Targets, apply: bool) -> DatasetErasure:
    """Plan (and with ``apply`` do) the erasure of ``targets`` from the dataset; the caller
    holds its ingest lock (``ingest_lock``). See the module docstring for the order of the
    writes."""
    salt = deid.load_or_create_salt(paths.root, create=False)
    studies = pd.read_parquet(paths.studies)
    gone = studies["study_id"].isin(set(targets.study_ids))
    result = DatasetErasure(studies=int(gone.sum()), applied=apply)
    result.fingerprints = {dataset_fingerprint(paths, studies["study_id"])}
    result.tensors = sum(paths.tensor(sid).exists() for sid in targets.study_ids)
    result.hashes = [study_hash(salt, sid) for sid in targets.study_ids]
    withdrawn = [("study", h) for h in result.hashes] + [
        ("accession", accession_hash(salt, acc))
        for acc in [*targets.accessions, *targets.unknown_values]
        if acc
    ]
    result.caches = _caches(paths)
    result.fingerprints |= {_data_print(p.name) for p in result.caches} - {""}
    if apply:  # first: an erasure interrupted from here on is never undone by an ingest
        record_withdrawn(paths.root, withdrawn)
    if not apply or not targets.study_ids:
        result.table_rows = _table_rows(paths, targets, write=False)
        return result
    kept = studies[~gone].reset_index(drop=True)
    atomic_write_with(paths.studies, lambda tmp: kept.to_parquet(tmp, index=False))
    result.table_rows = _table_rows(paths, targets, write=True)
    for sid in targets.study_ids:
        paths.tensor(sid).unlink(missing_ok=True)
    if paths.embeddings.is_dir():
        embedding_cache.tidy(paths.embeddings, dataset_fingerprint(paths, kept["study_id"]))
    result.caches_left = _caches(paths)
    return result


def _caches(paths: DatasetPaths) -> list[Path]:
    """Every study-embedding cache, map and report-sentence store of the dataset: each holds
    every study's vector or text, so each goes (prompt vectors hold no study and stay)."""
    if not paths.embeddings.is_dir():
        return []
    return sorted(
        p
        for p in paths.embeddings.iterdir()
        if embedding_cache.is_cache_name(p.name) or embedding_cache.is_derived_name(p.name)
    )


def _data_print(name: str) -> str:
    """The dataset fingerprint a cache file (``<ckpt fp>-<data fp>.npz``) is named after."""
    return name.split("-", 1)[1][:16] if embedding_cache.is_cache_name(name) else ""


def _table_rows(paths: DatasetPaths, targets: Targets, write: bool) -> dict[str, int]:
    """Rows of the targets in each table beside studies.parquet (``write``: removed)."""
    ids, accessions = set(targets.study_ids), {a for a in targets.accessions if a}
    tables = {
        paths.linkage: ("study_id", ids),
        paths.ingest_report: ("study_id", ids),
        paths.labels: (_ACCESSION, accessions),
        paths.acdc_labels: (_ACCESSION, accessions),
    }
    counts: dict[str, int] = {}
    for path, (column, values) in tables.items():
        if not path.is_file():
            continue
        table = pd.read_csv(path, dtype=str, keep_default_na=False)
        if column not in table.columns:
            continue
        hit = table[column].str.strip().isin(values)
        counts[path.name] = int(hit.sum())
        if write and hit.any():
            left = table[~hit]
            atomic_write_with(path, lambda tmp, t=left: t.to_csv(tmp, index=False))
    return counts
