"""Dataset API over an ingested folder: ``CMRDataset`` (tables, tensors, masks).

Tensors are memory-mapped ``.npy`` files (uint8 ``[V, T0, S0, S0]``). The torch dataset that
feeds training and embedding, ``StudyVideoDataset``, lives in ``model.data.video_dataset`` and
still imports from here, loaded on first use: this module imports no torch, so the dashboard
lists studies and plays their cines without importing it (about a second of a Studies page's
first visit).
"""

from __future__ import annotations

import json
from functools import cached_property
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd

from model.data.fingerprint import dataset_fingerprint, mtime_fingerprint
from model.errors import DataError, UserError, not_found
from model.schema import SPLITS, VIEW_SLOTS, DatasetPaths

if TYPE_CHECKING:
    from model.data.video_dataset import StudyVideoDataset

REQUIRED_COLUMNS = ("study_id", "split", "view_frames", "impression")


class CMRDataset:
    """An ingested dataset folder (see docs/ARCHITECTURE.md, "Dataset")."""

    def __init__(self, root: Path, studies: pd.DataFrame, settings: dict) -> None:
        self.paths = DatasetPaths(root)
        self.studies = studies
        self.settings = settings
        self._rows = {sid: i for i, sid in enumerate(studies["study_id"])}
        self._layout: tuple[tuple[int, ...], int] | None = (
            None  # (shape, header bytes) of .npy files
        )

    @classmethod
    def open(cls, path: str | Path) -> CMRDataset:
        """Open ``path``; DataError naming what is missing when it is not an ingested dataset."""
        root = Path(path)
        paths = DatasetPaths(root)
        check_dataset_folder(root)
        try:
            studies = pd.read_parquet(paths.studies)
            settings = json.loads((root / "dataset.json").read_text(encoding="utf-8"))
        except FileNotFoundError as err:
            raise DataError(
                f"{root} is not a complete dataset: {Path(err.filename).name} is missing"
            ) from err
        except (OSError, ValueError) as err:
            raise DataError(f"{root} cannot be read as a dataset: {err}") from err
        missing = [c for c in REQUIRED_COLUMNS if c not in studies.columns]
        if missing:
            raise DataError(f"{paths.studies} lacks columns {missing}; re-run ingest")
        check_every_study_has_a_view(paths, studies)
        return cls(root, studies.reset_index(drop=True), settings)

    @property
    def root(self) -> Path:
        return self.paths.root

    @property
    def frames(self) -> int:
        return int(self.settings.get("frames", 16))

    @property
    def size(self) -> int:
        return int(self.settings.get("size", 64))

    def __len__(self) -> int:
        return len(self.studies)

    def ids(self, split: str | None = None) -> list[str]:
        """Study ids, all or of one split (train / val / test)."""
        if split is None:
            return list(self.studies["study_id"])
        if split not in SPLITS:
            raise UserError(f"unknown split {split!r}; use one of {', '.join(SPLITS)}")
        return list(self.studies.loc[self.studies["split"] == split, "study_id"])

    def reported_ids(self, split: str) -> tuple[list[str], int]:
        """Ids of one split whose report impression is not blank, and how many were blank."""
        ids = self.ids(split)
        texts = self.studies.set_index("study_id").loc[ids, "impression"]
        reported = texts.fillna("").astype(str).str.strip().ne("")
        return list(texts.index[reported.to_numpy()]), int((~reported).sum())

    def trainable_ids(self) -> tuple[list[str], int]:
        """``reported_ids("train")``; a ``DataError`` saying why when fewer than two remain."""
        ids, blank = self.reported_ids("train")
        if len(ids) >= 2:
            return ids, blank
        hint = (  # a reports CSV read as holding no impression looks the same as none given
            "ingest_report.csv says why each has none: no --reports CSV, no report for its "
            "accession number, or a report without an IMPRESSION, CONCLUSION or SUMMARY heading."
            if blank
            else "Ingest more studies."
        )
        raise DataError(
            f"{self.root} has {len(ids)} train studies with a report impression ({blank} blank); "
            f"training needs >= 2. {hint}"
        )

    def row(self, study_id: str) -> pd.Series:
        if study_id not in self._rows:
            raise DataError(f"study {study_id} is not in dataset {self.root}")
        return self.studies.iloc[self._rows[study_id]]

    def load_video(self, study_id: str) -> np.ndarray:
        """uint8 ``[V, T0, S0, S0]``, memory-mapped (read-only)."""
        path = self.paths.tensor(study_id)
        if self._layout is not None:
            shape, offset = self._layout
            if path.is_file() and path.stat().st_size == offset + int(np.prod(shape)):
                return np.memmap(path, dtype=np.uint8, mode="r", offset=offset, shape=shape)
        try:
            video = np.load(path, mmap_mode="r", allow_pickle=False)
        except FileNotFoundError as err:
            raise DataError(
                f"tensor of study {study_id} is missing ({path}); re-run ingest"
            ) from err
        except (ValueError, EOFError) as err:  # cut short, emptied, or not a .npy file at all
            reason = "not a .npy array" if "pickle" in str(err) else str(err) or "empty"
            raise DataError(
                f"tensor of study {study_id} is damaged ({path}: {reason}); re-run ingest"
            ) from err
        if video.ndim != 4 or video.shape[0] != len(VIEW_SLOTS) or video.dtype != np.uint8:
            raise DataError(
                f"tensor of study {study_id} has shape {video.shape}, expected [9, T, S, S]"
            )
        if video.flags.c_contiguous:
            self._layout = (tuple(video.shape), int(video.offset))
        return video

    def view_frames(self, study_id: str) -> np.ndarray:
        """int ``[V]``: valid frames per view slot (0 = missing view)."""
        return np.asarray(self.row(study_id)["view_frames"], dtype=np.int64)

    def masks(self, study_id: str) -> tuple[np.ndarray, np.ndarray]:
        """(view_mask bool ``[V]``, frame_mask bool ``[V, T0]``) of the stored tensor."""
        counts = self.view_frames(study_id)
        frame_mask = np.arange(self.frames)[None, :] < counts[:, None]
        return counts > 0, frame_mask

    def linkage(self) -> pd.DataFrame:
        """study_id, accession_number (for joining evaluation labels; never shown in the UI)."""
        return read_linkage(self.paths.linkage)

    @cached_property
    def _fingerprint(self) -> str:
        return dataset_fingerprint(self.paths, self._rows)

    def fingerprint(self) -> str:
        """Hex id of the dataset's content (``model.data.fingerprint``): it changes whenever
        studies.parquet or a study tensor changes, and not when the folder is copied."""
        return self._fingerprint

    def matches_fingerprint(self, recorded: str) -> bool:
        """Whether ``recorded`` (a checkpoint's, a run's) names this dataset as it is: its
        ``fingerprint()``, or the size-and-mtime one recorded up to 2026-12 of these very files
        (so an older run resumes on its own unchanged dataset)."""
        if recorded == self.fingerprint():
            return True
        return bool(recorded) and recorded == mtime_fingerprint(self.paths, self._rows)


def check_every_study_has_a_view(paths: DatasetPaths, studies: pd.DataFrame) -> None:
    """DataError naming the studies whose every view slot is missing (``view_frames`` all 0).

    Ingest never writes one (it rejects a study with no usable view), but a studies.parquet
    edited by hand or written by another tool can hold one. The video tower would pool nothing
    for it and give every such study the same vector: a constant point in the embedding map
    and an equal score for every search, with no sign of why.
    """
    empty = [
        str(study_id)
        for study_id, counts in zip(studies["study_id"], studies["view_frames"], strict=True)
        if counts is None or not any(int(count) > 0 for count in counts)
    ]
    if empty:
        named = ", ".join(empty[:5]) + (f" and {len(empty) - 5} more" if len(empty) > 5 else "")
        raise DataError(
            f"{paths.studies} lists {len(empty)} stud{'y' if len(empty) == 1 else 'ies'} with "
            f"no view (view_frames all 0): {named}. Ingest never writes such a study; remove "
            "its row, or ingest its images again"
        )


def read_linkage(path: Path) -> pd.DataFrame:
    """A dataset's linkage.csv (``study_id``, ``accession_number``, as text); empty when absent."""
    if not path.is_file():
        return pd.DataFrame(columns=["study_id", "accession_number"])
    return pd.read_csv(path, dtype=str, keep_default_na=False)


def __getattr__(name: str) -> type[StudyVideoDataset]:
    """``from model.data.dataset import StudyVideoDataset`` (the README's import) imports torch
    only when it is asked for."""
    if name == "StudyVideoDataset":
        from model.data.video_dataset import StudyVideoDataset

        return StudyVideoDataset
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


def check_dataset_folder(root: Path) -> None:
    """DataError unless ``root`` is a folder holding a dataset's ``studies.parquet`` (a quick
    look, nothing read: commands check it before their slow work, ``model.input_checks``)."""
    if not root.is_dir():
        raise DataError(not_found("dataset folder", root, folder=True))
    if not DatasetPaths(root).studies.is_file():
        raise DataError(
            f"{root} is not a dataset (no studies.parquet); if it holds DICOM or NIfTI "
            f"studies, ingest them first with `python -m model ingest {root} --out DATASET` "
            "and give DATASET instead"
        )
