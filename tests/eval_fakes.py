"""Fake dataset and encoder for evaluation tests that need no trained model.

Study vectors are the bag-of-words embedding of the study's impression plus noise, and the text
encoder is that same bag-of-words embedding, so zero-shot, probes and retrieval have signal.
"""

from __future__ import annotations

import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from model.evaluation.encoders import Encoder
from model.prompts import PromptSet

DIM = 32
WORDS = {
    "lv_dilation": ("dilated", "normal-size"),
    "lge": ("enhancement", "no-enhancement"),
}
PROMPTS = {
    "findings": {
        "lv_dilation": {"positive": ["dilated"], "negative": ["normal-size"]},
        "lge": {"positive": ["enhancement"], "negative": ["no-enhancement"]},
    },
    "diagnoses": {
        "normal": ["normal-size no-enhancement"],
        "nicm": ["dilated"],
        "icm": ["enhancement"],
    },
}


def bag_of_words(texts: list[str]) -> np.ndarray:
    """float [N, DIM] unit-norm: the sum of a fixed random vector per word."""
    out = np.zeros((len(texts), DIM))
    for i, text in enumerate(texts):
        for word in text.lower().split():
            out[i] += np.random.default_rng(zlib.crc32(word.encode())).normal(size=DIM)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


class FakeDataset:
    """The parts of CMRDataset the evaluation uses: ``root``, ``studies``, ``linkage()``,
    ``fingerprint()``, ``matches_fingerprint()``."""

    def __init__(self, root: Path, n: int, seed: int, split: str = "test") -> None:
        rng = np.random.default_rng(seed)
        self.root = root
        self.seed = seed
        self.flags = pd.DataFrame(
            {name: rng.random(n) < 0.45 for name in WORDS}, index=[f"f{seed}-{i}" for i in range(n)]
        )
        impressions = [
            " ".join(WORDS[name][0 if row[name] else 1] for name in WORDS)
            for _, row in self.flags.iterrows()
        ]
        self.studies = pd.DataFrame(
            {
                "study_id": self.flags.index,
                "patient_key": [f"p{seed}-{i // 2}" for i in range(n)],
                "site": "internal",
                "split": split,
                "impression": impressions,
            }
        )
        self.vectors = bag_of_words(impressions) + rng.normal(0, 0.25, (n, DIM))
        self.vectors /= np.linalg.norm(self.vectors, axis=1, keepdims=True)

    def fingerprint(self) -> str:
        return f"fake-{self.seed}"

    def matches_fingerprint(self, recorded: str) -> bool:
        return recorded == self.fingerprint()

    def linkage(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "study_id": self.studies["study_id"],
                "accession_number": "A" + self.studies["study_id"],
            }
        )

    def labels(self) -> pd.DataFrame:
        """Float labels by accession: the two findings plus diagnosis one-hots."""
        table = self.flags.astype(float)
        table["normal"] = (~self.flags.any(axis=1)).astype(float)
        table["nicm"] = (self.flags["lv_dilation"] & ~self.flags["lge"]).astype(float)
        table["icm"] = self.flags["lge"].astype(float)
        table.index = "A" + table.index
        return table


def fake_encoder(name: str = "fake") -> Encoder:
    def studies(dataset: FakeDataset, ids: list[str]) -> np.ndarray:
        position = {s: i for i, s in enumerate(dataset.studies["study_id"])}
        return dataset.vectors[[position[s] for s in ids]]

    return Encoder(name=name, kind="checkpoint", studies=studies, texts=bag_of_words, scale=20.0)


def fake_prompts() -> PromptSet:
    return PromptSet.from_dict(PROMPTS)
