"""Synthetic index records for index tests: clustered unit vectors + realistic metadata.

No torch and no trained model: vectors are cluster centres plus noise, the text encoder maps a
query to a fixed random unit vector per text, so results are deterministic and exact answers can
be computed with numpy.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from model.index.client import ChromaLocation, open_client
from model.index.embedding_index import EmbeddingIndex
from model.index.label_fields import dataset_record
from model.index.records import IndexRecords, build_records
from model.schema import FINDINGS, VIEW_SLOTS

DIM = 32
CHECKPOINT = "feedc0ffee1234"


def clustered_vectors(n: int, dim: int = DIM, clusters: int = 8, seed: int = 0) -> np.ndarray:
    """float32 [n, dim] unit-norm vectors around ``clusters`` random centres."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(clusters, dim)).astype(np.float32)
    labels = rng.integers(0, clusters, n)
    vectors = centres[labels] + 0.7 * rng.normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def studies_table(n: int, seed: int = 0) -> pd.DataFrame:
    """A ``studies.parquet``-like frame with varied site/split/sex/age/views."""
    rng = np.random.default_rng(seed + 1)
    rows = []
    for i in range(n):
        views = [s for s in VIEW_SLOTS if rng.random() < 0.8] or ["sax_mid"]
        rows.append(
            {
                "study_id": f"st{seed:02d}{i:05d}",
                "site": "external" if i % 3 == 0 else "internal",
                "split": ("train", "val", "test")[i % 3 - (i % 7 == 0)],
                "views": ",".join(views),
                "age_band": ("30-39", "50-59", "70-79", "90+", "unknown")[i % 5],
                "sex": "F" if i % 2 else "M",
                "manufacturer": "GE" if i % 3 == 0 else "SIEMENS",
                "scanner": "Signa" if i % 3 == 0 else "Avanto",
                "field_strength": 3.0 if i % 3 == 0 else 1.5,
                "impression": f"Study {i}: left ventricle {'dilated' if i % 4 == 0 else 'normal'}.",
            }
        )
    return pd.DataFrame(rows)


def labels_table(ids: list[str], seed: int = 0) -> pd.DataFrame:
    """Finding labels indexed by study_id (Int64, some blank), as ``read_labels`` returns."""
    rng = np.random.default_rng(seed + 2)
    values = rng.integers(0, 2, size=(len(ids), len(FINDINGS)))
    frame = pd.DataFrame(values, index=pd.Index(ids, name="study_id"), columns=list(FINDINGS))
    frame = frame.astype("Int64")
    frame.iloc[::11, 0] = pd.NA
    frame["diagnosis"] = np.where(frame["lv_dilation"] == 1, "nicm", "normal")
    return frame


def make_records(n: int, dim: int = DIM, seed: int = 0, labelled: bool = True) -> IndexRecords:
    studies = studies_table(n, seed)
    ids = studies["study_id"].tolist()
    labels = labels_table(ids, seed) if labelled else None
    return build_records(studies, ids, clustered_vectors(n, dim, seed=seed), "synthetic", labels)


def sarcoid_records(sarcoid: list, folder: str = "f00") -> IndexRecords:
    """Records of ``len(sarcoid)`` studies labelled with ``lge`` = 1 and a hospital's own label
    ``sarcoid`` (1 / 0 / None), recorded as one dataset's (``folder``) own label field."""
    studies = studies_table(len(sarcoid))
    ids = studies["study_id"].tolist()
    labels = pd.DataFrame(
        {
            "lge": pd.array([1] * len(ids), dtype="Int64"),
            "sarcoid": pd.array(sarcoid, dtype="Int64"),
        },
        index=pd.Index(ids, name="study_id"),
    )
    records = build_records(studies, ids, clustered_vectors(len(ids)), "hospital", labels)
    records.labels[folder] = dataset_record(labels, [])
    return records


def hash_text_encoder(dim: int = DIM):
    """``str -> float32 [dim]`` unit vector seeded by the text (a stand-in text tower)."""

    def encode(text: str) -> np.ndarray:
        rng = np.random.default_rng(zlib.crc32(text.encode("utf-8")))
        vector = rng.normal(size=dim).astype(np.float32)
        return vector / np.linalg.norm(vector)

    return encode


def embedded_index(path: Path, checkpoint: str = CHECKPOINT, **kwargs) -> EmbeddingIndex:
    client = open_client(ChromaLocation(path=path))
    return EmbeddingIndex(client, checkpoint, text_encoder=hash_text_encoder(), **kwargs)


def exact_top_k(records: IndexRecords, query: np.ndarray, k: int, mask=None) -> list[str]:
    """Ids of the exact cosine top-k (numpy brute force), optionally among ``mask`` rows."""
    scores = records.vectors @ (query / np.linalg.norm(query))
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    order = np.argsort(-scores, kind="stable")[:k]
    return [records.ids[i] for i in order if np.isfinite(scores[i])]
