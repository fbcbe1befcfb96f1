"""Study embeddings as stored on disk (``StudyEmbeddings``) and where a dataset caches those of
a checkpoint (``cache_path``): torch-free, so a dashboard page shows stored embeddings without
importing torch (``model.embed`` computes them and re-exports both).
"""

from __future__ import annotations

import json
import zipfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.atomic import atomic_write_npz, atomic_write_with
from model.errors import DataError, UserError
from model.schema import DatasetPaths


@dataclass(frozen=True)
class StudyEmbeddings:
    """Study ids and their unit-norm embeddings ``vectors`` float32 [N, D], with the
    ``provenance`` of the vectors (``embed_studies`` and ``cached_study_embeddings`` say what it
    holds; empty for a file written before embeddings recorded it)."""

    ids: list[str]
    vectors: np.ndarray
    provenance: dict[str, Any] = field(default_factory=dict)

    def save(self, path: str | Path) -> None:
        """Atomic ``.npz`` (ids, vectors, provenance as JSON) or ``.parquet`` (study_id,
        e0..e{D-1}; provenance in the file's metadata)."""
        path = Path(path)
        if path.suffix == ".parquet":
            table = pd.DataFrame(self.vectors, columns=[f"e{i}" for i in range(self.dim)])
            table.insert(0, "study_id", self.ids)
            table.attrs["provenance"] = self.provenance  # parquet metadata (pandas attrs)
            atomic_write_with(path, lambda tmp: table.to_parquet(tmp, index=False))
        elif path.suffix == ".npz":
            provenance = np.asarray(json.dumps(self.provenance, sort_keys=True))
            arrays = {"ids": np.asarray(self.ids, dtype=str), "vectors": self.vectors}
            atomic_write_npz(path, {**arrays, "provenance": provenance})
        else:
            raise UserError(f"embedding output {path} must end in .npz or .parquet")

    @classmethod
    def load(cls, path: str | Path) -> StudyEmbeddings:
        """Read a file ``save`` wrote (``.parquet`` by its suffix, else ``.npz``)."""
        try:
            if Path(path).suffix == ".parquet":
                table = pd.read_parquet(path)
                vectors = table.drop(columns="study_id").to_numpy(dtype=np.float32)
                provenance = dict(table.attrs.get("provenance") or {})
                return cls([str(i) for i in table["study_id"]], vectors, provenance)
            with np.load(path, allow_pickle=False) as data:
                recorded = str(data["provenance"]) if "provenance" in data.files else "{}"
                provenance = json.loads(recorded)
                return cls([str(i) for i in data["ids"]], data["vectors"], provenance)
        except (OSError, KeyError, ValueError, EOFError, zipfile.BadZipFile) as err:
            raise DataError(f"embedding file {path} is unreadable: {err}") from err

    @property
    def dim(self) -> int:
        return int(self.vectors.shape[1]) if self.vectors.ndim == 2 else 0


def cache_path(ds: object, checkpoint_fingerprint: str) -> Path:
    """``DATASET/embeddings/<checkpoint fingerprint>-<dataset fingerprint>.npz``."""
    paths = DatasetPaths(Path(ds.root))
    return paths.embeddings / f"{checkpoint_fingerprint}-{ds.fingerprint()}.npz"
