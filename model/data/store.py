"""Writing a dataset folder safely: one ingest at a time, settings checked, tables merged atomically.

Tensors are written (atomically, one file per study) before the tables; ``studies.parquet`` is
replaced last, so an interrupted ingest leaves the previous dataset valid and a rerun completes
it. Re-ingesting a study replaces its row where it stands (same pseudonymous study_id), unless its
files give fewer views than the dataset holds (``study_worker``); new studies are appended.
A patient already in the dataset keeps its split, however the split of a new study was drawn.
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pandas as pd

from model.atomic import atomic_write_bytes, atomic_write_json, atomic_write_with
from model.data.deid import SALT_FILE
from model.data.resample import GridConfig
from model.errors import DataError
from model.file_lock import SHARED_HOLDERS, FileLock, holder_doing
from model.schema import DatasetPaths

log = logging.getLogger(__name__)

LOCK_FILE = ".ingest.lock"
# what each holder of the ingest lock does to the dataset, for the next comer's message
_CHANGING = {"forget": "erasing studies from", "storage clean-up": "tidying the caches of"}
SETTINGS_FILE = "dataset.json"
# 1: first layout; 2: every view turned upright at ingest (model/data/orientation.py), so tensors
# of the two versions do not line up and one dataset never mixes them.
FORMAT_VERSION = 2
REPORT_COLUMNS = ["path", "study_id", "series", "level", "reason"]
STUDY_COLUMNS = [
    "study_id",
    "patient_key",
    "site",
    "split",
    "views",
    "view_frames",
    "cine_phases",
    "pixel_spacing_mm",
    "matrix",
    "manufacturer",
    "scanner",
    "field_strength",
    "age_band",
    "sex",
    "impression",
    "source",
]


def report_row(path: str, level: str, reason: str, study_id: str = "", series: str = "") -> dict:
    """One ingest_report.csv line; ``level`` is skipped / rejected / warning."""
    return {"path": path, "study_id": study_id, "series": series, "level": level, "reason": reason}


@contextlib.contextmanager
def ingest_lock(root: Path, doing: str = "ingest") -> Iterator[None]:
    """Hold ``DATASET/.ingest.lock`` (``model.file_lock``): a second ingest into the same dataset
    is refused, naming the first; a killed ingest's lock is released by the kernel, so a pid the
    system reuses after a crash can never block the dataset. ``forget`` holds it too (``doing``
    says which, for the refused one's message); an index run holds it shared while it writes the
    dataset's studies into the case index (``model.index.withdrawn_guard``), as a command does
    writing per-study results (``model.withdrawn_outputs``): this one is refused, told so."""

    def busy(holder: str) -> str:
        if holder == SHARED_HOLDERS:
            return (
                f"{root} is being read by another process (an index run writing its studies "
                "into the case index, a command writing its per-study results, or a storage "
                "dry run); wait for it to finish"
            )
        other = holder_doing(root / LOCK_FILE) or "ingest"
        return f"another {other} ({holder}) is {_CHANGING.get(other, 'writing')} {root}; wait for it to finish"

    root.mkdir(parents=True, exist_ok=True)
    with FileLock(root / LOCK_FILE, busy, doing=doing):
        yield


def check_settings(root: Path, grid: GridConfig, salt_id: str) -> None:
    """Write dataset.json for a new dataset; DataError if an existing one used another grid."""
    path = root / SETTINGS_FILE
    settings = {
        "frames": grid.frames,
        "size": grid.size,
        "fov_mm": grid.fov_mm,
        "salt_id": salt_id,
        "format_version": FORMAT_VERSION,
    }
    if path.exists():
        try:
            existing = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, json.JSONDecodeError) as err:
            raise DataError(f"{path} is damaged: {err}") from err
        version = int(existing.get("format_version", 1))
        if version != FORMAT_VERSION:
            raise DataError(
                f"{root} was written by ingest format {version} (this is format "
                f"{FORMAT_VERSION}: views turned upright); ingest into a new dataset folder"
            )
        if existing.get("salt_id", salt_id) != salt_id:
            raise DataError(
                f"{root / SALT_FILE} is not the salt the studies in {root} were pseudonymised "
                "with (it was replaced): every study would get a new study_id and be stored "
                "twice. Restore the dataset's own salt.key, or ingest into a new dataset folder"
            )
        for key in ("frames", "size", "fov_mm"):
            if float(existing.get(key, -1)) != float(settings[key]):
                raise DataError(
                    f"{root} was ingested with {key}={existing.get(key)}; this ingest asks for "
                    f"{settings[key]}. Use the same settings or a new dataset folder"
                )
        return
    atomic_write_json(path, settings)


def write_tensor(paths: DatasetPaths, study_id: str, video: np.ndarray) -> None:
    """Save uint8 ``[V, T, S, S]`` as ``tensors/<study_id>.npy`` atomically.

    Serialised in memory first: ``np.save`` straight into a file fails a full disk with an
    ``OSError`` that has no errno ("N requested and M written"), which no message can explain.
    """
    paths.tensors.mkdir(parents=True, exist_ok=True)
    buffer = io.BytesIO()
    np.save(buffer, np.ascontiguousarray(video), allow_pickle=False)
    atomic_write_bytes(paths.tensor(study_id), buffer.getbuffer())  # a view: no second copy


def stored_views(paths: DatasetPaths) -> dict[str, tuple[str, ...]]:
    """study_id -> the views ``studies.parquet`` holds of it (empty for a new dataset)."""
    if not paths.studies.exists():
        return {}
    studies = pd.read_parquet(paths.studies, columns=["study_id", "views"])
    return {
        study_id: tuple(filter(None, str(views).split(",")))
        for study_id, views in zip(studies["study_id"], studies["views"], strict=True)
    }


def _read_csv(path: Path, columns: list[str]) -> pd.DataFrame:
    if not path.exists():
        return pd.DataFrame(columns=columns)
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def _merge(existing: pd.DataFrame, new: pd.DataFrame, key: str) -> pd.DataFrame:
    """``existing`` with the rows ``new`` replaces updated where they stand, other new rows
    appended: a re-ingested study keeps its place (an evaluation's resamples, episodes and
    folds follow the studies' order, so moving it would change every figure)."""
    if existing.empty:
        return new.reset_index(drop=True)
    if new.empty:
        return existing.reset_index(drop=True)
    kept = existing[~existing[key].isin(set(new[key]))]
    merged = pd.concat([kept, new], ignore_index=True)
    place = {value: i for i, value in enumerate(existing[key])}
    rank = [place.get(value, len(place) + i) for i, value in enumerate(merged[key])]
    return merged.iloc[np.argsort(rank, kind="stable")].reset_index(drop=True)


def _keep_patient_splits(existing: pd.DataFrame, new: pd.DataFrame) -> pd.DataFrame:
    """``new`` rows with the split their patient already has in ``existing`` (a dataset an older
    ingest split otherwise): one patient's studies never straddle train and test."""
    if existing.empty or new.empty:
        return new
    known = dict(zip(existing["patient_key"], existing["split"], strict=True))
    new = new.copy()
    new["split"] = [known.get(k, s) for k, s in zip(new["patient_key"], new["split"], strict=True)]
    return new


def merge_tables(
    paths: DatasetPaths,
    rows: list[dict],
    links: list[dict],
    report: list[dict],
    extra_csv: dict[str, tuple[list[dict], str]] | None = None,
) -> pd.DataFrame:
    """Merge new rows into the dataset tables (report, linkage, extras, then studies last).

    ``studies.parquet`` marks a folder as a dataset: it is not written while there is no study.
    """
    report = pd.concat(
        [
            _read_csv(paths.ingest_report, REPORT_COLUMNS),
            pd.DataFrame(report, columns=REPORT_COLUMNS),
        ],
        ignore_index=True,
    ).drop_duplicates()
    atomic_write_with(paths.ingest_report, lambda tmp: report.to_csv(tmp, index=False))
    for name, (extra_rows, key) in (extra_csv or {}).items():
        merged = _merge(_read_csv(paths.root / name, []), pd.DataFrame(extra_rows, dtype=str), key)
        atomic_write_with(paths.root / name, lambda tmp, m=merged: m.to_csv(tmp, index=False))
    linkage = _merge(
        _read_csv(paths.linkage, ["study_id", "accession_number"]),
        pd.DataFrame(links, columns=["study_id", "accession_number"], dtype=str),
        "study_id",
    )
    atomic_write_with(paths.linkage, lambda tmp: linkage.to_csv(tmp, index=False))
    if not rows and not paths.studies.exists():
        # no study yet: no studies table, so the folder is not mistaken for a dataset
        return pd.DataFrame(columns=STUDY_COLUMNS)
    existing = pd.read_parquet(paths.studies) if paths.studies.exists() else pd.DataFrame()
    studies = _merge(existing, _keep_patient_splits(existing, pd.DataFrame(rows)), "study_id")
    atomic_write_with(paths.studies, lambda tmp: studies.to_parquet(tmp, index=False))
    return studies
