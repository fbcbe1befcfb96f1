"""What one indexed study carries: id, embedding, searchable metadata and the impression.

Metadata fields (all filterable, see ``model.index.filters.FIELD_TYPES``): ``site``, ``split``,
``views`` (present slots joined by ``,``), ``n_views`` and one ``view_<slot>`` flag (0/1) per slot,
``age_band`` and ``age_min`` (lower bound of the band, absent when unknown), ``sex``,
``manufacturer``, ``scanner``, ``field_strength``, ``dataset`` (folder name) and, when a labels CSV
is attached, one 0/1 field per finding (absent when blank), ``diagnosis``, and one 0/1 field per
other label column of the file (``model.index.label_fields``: a hospital's own labels, under
their own names). Patient names, IDs,
birth dates and accession numbers never enter the index: labels are joined through the dataset's
linkage table here and only their values are kept.
"""

from __future__ import annotations

import hashlib
import logging
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.errors import DataError
from model.index.label_fields import own_label_fields
from model.labels import diagnosis_targets, join_to_studies, read_labels_csv
from model.schema import DIAGNOSES, FINDINGS, VIEW_SLOTS

log = logging.getLogger(__name__)

_AGE_BAND = re.compile(r"^(\d+)\s*(?:-\s*\d+|\+)$")
_TEXT_COLUMNS = ("site", "split", "age_band", "sex", "manufacturer", "scanner")


@dataclass
class IndexRecords:
    """Rows to upsert: ``vectors`` float32 [N, D] unit-norm, one id/metadata/document per row;
    ``labels``: dataset_folder -> ``label_fields.dataset_record`` (own label fields, the values'
    fingerprint, the labels files) of the datasets they come from, recorded in the collection."""

    ids: list[str]
    vectors: np.ndarray
    metadatas: list[dict[str, Any]]
    documents: list[str]
    labels: dict[str, dict[str, Any]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.ids)

    def concat(self, other: IndexRecords) -> IndexRecords:
        if len(self) and other.vectors.shape[1:] != self.vectors.shape[1:]:
            raise DataError("datasets were embedded with different vector sizes")
        return IndexRecords(
            ids=self.ids + other.ids,
            vectors=np.concatenate([self.vectors, other.vectors]) if len(self) else other.vectors,
            metadatas=self.metadatas + other.metadatas,
            documents=self.documents + other.documents,
            labels={**self.labels, **other.labels},
        )


def age_lower_bound(age_band: str) -> int | None:
    """``"40-49"`` -> 40, ``"90+"`` -> 90, anything else -> None."""
    match = _AGE_BAND.match(str(age_band).strip())
    return int(match.group(1)) if match else None


def study_metadata(
    row: pd.Series | Mapping[str, Any], dataset_name: str, identity: dict[str, str] | None = None
) -> dict[str, Any]:
    """Index metadata of one ``studies.parquet`` row (no labels; see ``read_labels``).

    ``identity`` (``dataset_identity``) tells the dataset apart from another of the same name."""
    meta: dict[str, Any] = {name: str(row.get(name, "unknown")) for name in _TEXT_COLUMNS}
    views = [v for v in str(row.get("views", "")).split(",") if v]
    meta["views"] = ",".join(views)
    meta["n_views"] = len(views)
    for slot in VIEW_SLOTS:
        meta[f"view_{slot}"] = int(slot in views)
    age_min = age_lower_bound(meta["age_band"])
    if age_min is not None:
        meta["age_min"] = age_min
    strength = pd.to_numeric(row.get("field_strength"), errors="coerce")
    if pd.notna(strength):
        meta["field_strength"] = float(strength)
    meta["dataset"] = dataset_name
    meta.update(identity or {})
    return meta


def dataset_identity(salt_id: str, folder: Path) -> dict[str, str]:
    """``dataset_id`` (the dataset's salt id: the same dataset, wherever it is copied) and
    ``dataset_folder`` (a hash of its resolved folder: the same place, even re-ingested with a
    new salt), which let a re-index prune its own dataset's departed studies and nobody else's."""
    where = hashlib.sha256(str(folder.resolve()).encode("utf-8")).hexdigest()[:12]
    return {"dataset_id": salt_id, "dataset_folder": where}


def read_labels(
    csv_path: str | Path, linkage: pd.DataFrame, parsed: pd.DataFrame | None = None
) -> pd.DataFrame:
    """Labels CSV (``model.labels.read_labels_csv``, or the same file already ``parsed``) ->
    frame indexed by the study_ids of ``linkage`` it labels (none, for another dataset's file).

    Columns kept: the findings present and the file's own label columns that can be index fields
    (``own_label_fields``), Int64 (NA when blank), and ``diagnosis`` (from one-hot diagnosis
    columns, when present). Raises ``DataError`` naming what is wrong.
    """
    labels = read_labels_csv(csv_path) if parsed is None else parsed
    finding_cols = [c for c in FINDINGS if c in labels.columns]
    diagnosis_cols = [c for c in DIAGNOSES if c in labels.columns]
    own_cols = own_label_fields(labels, csv_path)
    if not finding_cols and not diagnosis_cols and not own_cols:
        raise DataError(
            f"labels file {csv_path} has none of the finding or diagnosis columns, nor another "
            "label column the index can take"
        )
    joined = join_to_studies(labels, linkage)
    out = pd.DataFrame(index=joined.index)
    for column in (*finding_cols, *own_cols):
        out[column] = joined[column].astype("Int64")
    if diagnosis_cols:
        known, target = diagnosis_targets(joined, diagnosis_cols)
        out["diagnosis"] = np.where(known, np.array(diagnosis_cols, dtype=object)[target], None)
    log.debug("labels for %d of %d linked studies in %s", len(out), len(linkage), csv_path)
    return out


def attach_labels(meta: dict[str, Any], labels: pd.DataFrame | None, study_id: str) -> None:
    """Add the study's known label values (blank ones stay absent) to ``meta`` in place."""
    if labels is None or study_id not in labels.index:
        return
    _add_labels(meta, labels.loc[study_id].items())


def _add_labels(meta: dict[str, Any], values: Iterable[tuple[Any, Any]]) -> None:
    for column, value in values:
        if pd.notna(value):
            meta[str(column)] = str(value) if column == "diagnosis" else int(value)


def build_records(
    studies: pd.DataFrame,
    ids: list[str],
    vectors: np.ndarray,
    dataset_name: str,
    labels: pd.DataFrame | None = None,
    identity: dict[str, str] | None = None,
) -> IndexRecords:
    """Records for ``ids`` (rows of ``vectors`` float32 [N, D]) from the dataset's study table."""
    table = studies.set_index("study_id")
    missing = [i for i in ids if i not in table.index]
    if missing:
        raise DataError(
            f"{len(missing)} embedded studies are not in the dataset, e.g. {missing[0]}"
        )
    # each table read once: a row lookup (.loc) per study took 25 s at 20,000 studies
    rows = table.to_dict("index")
    label_rows = {} if labels is None else labels.to_dict("index")
    metadatas, documents = [], []
    for study_id in ids:
        row = rows[study_id]
        meta = study_metadata(row, dataset_name, identity)
        _add_labels(meta, label_rows.get(study_id, {}).items())
        metadatas.append(meta)
        documents.append(str(row.get("impression", "") or ""))
    return IndexRecords(
        ids=list(ids),
        vectors=np.ascontiguousarray(vectors, dtype=np.float32),
        metadatas=metadatas,
        documents=documents,
    )
