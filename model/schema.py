"""Names shared by every part of the product: view slots, findings, diagnoses, dataset file names."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

# The data root every command and page reads and writes under unless told another; an empty
# value (``CMR_DATA_ROOT=$UNSET_VAR``) is the default, not the current folder.
DATA_ROOT_ENV = "CMR_DATA_ROOT"


def default_data_root() -> Path:
    """``$CMR_DATA_ROOT``, else ``./data``, as given (a relative one is read from the current
    folder): the dashboard's root and ``python -m model demo``'s default ``--root``, one place."""
    return Path(os.environ.get(DATA_ROOT_ENV) or "data").expanduser()


# Standard view slots, in tensor order. Cine slots carry T phases; ``lge_sax`` carries slices on
# the time axis; ``lge_4ch`` / ``lge_2ch`` are single images (frame 0 only).
VIEW_SLOTS: tuple[str, ...] = (
    "sax_base",
    "sax_mid",
    "sax_apex",
    "4ch",
    "2ch",
    "3ch",
    "lge_sax",
    "lge_4ch",
    "lge_2ch",
)
CINE_SLOTS: tuple[str, ...] = VIEW_SLOTS[:6]
# Where ingest takes each short-axis slot in a base -> apex stack (fraction of the way down), for
# DICOM series and ACDC volumes alike.
SAX_LEVELS: dict[str, float] = {"sax_base": 0.2, "sax_mid": 0.5, "sax_apex": 0.8}

# Binary findings (label columns, prompt-set keys).
FINDINGS: tuple[str, ...] = (
    "lv_dysfunction",
    "lv_dilation",
    "lv_hypertrophy",
    "rv_dilation",
    "rv_dysfunction",
    "lge",
    "pericardial_effusion",
)
# One diagnosis per study (one-hot label columns, prompt-set keys).
DIAGNOSES: tuple[str, ...] = (
    "normal",
    "nicm",
    "icm",
    "hcm",
    "amyloidosis",
    "myocarditis",
    "rv",
)
# A study_id as ingest writes it: model.data.deid.pseudonym(salt, "study", uid), "s" and 15 hex.
_STUDY_ID = re.compile(r"s[0-9a-f]{15}")


def is_study_pseudonym(text: str) -> bool:
    """Whether ``text`` has the shape of a study_id ingest gives: the only kind of typed
    identifier a message may quote back, since a user may paste anything where a study ID
    belongs, a medical record number too."""
    return bool(_STUDY_ID.fullmatch(text))


SPLITS: tuple[str, ...] = ("train", "val", "test")
# Evaluation labels kept beside a dataset (accession_number + label columns, 1/0/blank): the
# file ``ingest --labels`` stores, and the diagnosis labels an ACDC ingest derives.
LABELS_FILE = "labels.csv"
ACDC_LABELS_FILE = "acdc_labels.csv"


@dataclass(frozen=True)
class DatasetPaths:
    """File layout of an ingested dataset folder (see DESIGN.md, "Data contract")."""

    root: Path

    @property
    def studies(self) -> Path:
        return self.root / "studies.parquet"

    @property
    def linkage(self) -> Path:
        return self.root / "linkage.csv"

    @property
    def tensors(self) -> Path:
        return self.root / "tensors"

    @property
    def ingest_report(self) -> Path:
        return self.root / "ingest_report.csv"

    @property
    def labels(self) -> Path:
        return self.root / LABELS_FILE

    @property
    def acdc_labels(self) -> Path:
        return self.root / ACDC_LABELS_FILE

    @property
    def embeddings(self) -> Path:
        return self.root / "embeddings"

    def tensor(self, study_id: str) -> Path:
        return self.tensors / f"{study_id}.npy"
