"""Evaluation speed after embeddings exist: 1,300 studies, 7 findings, 7 diagnoses, 100 episodes.

    .venv/bin/python bench/bench_evaluate.py [--studies 1300] [--development 1300]
                                             [--episodes 100] [--dim 128]

Synthetic clustered embeddings (one cluster per diagnosis, one direction per finding, noise) and
a bag-of-words text encoder stand in for a trained model; the timing covers everything
``evaluate`` does per site: zero-shot with bootstrap CIs, few-shot (k = 1..32, both probes),
grouped-CV linear probes, the train-split probes (fitted on ``--development`` more labelled
studies of the ``train`` split), retrieval, and writing CSVs, PNGs, HTML and JSON. Prints the
figures.
"""

from __future__ import annotations

import argparse
import tempfile
import time
import zlib
from pathlib import Path

import numpy as np
import pandas as pd

from model.evaluation.encoders import Encoder
from model.evaluation.fewshot import FewShotConfig
from model.evaluation.inputs import load_development, load_site
from model.evaluation.outputs import write_outputs
from model.evaluation.site_probes import fit_train_split
from model.evaluation.suite import SuiteConfig, evaluate_site
from model.prompts import DEFAULT_PROMPTS, PromptSet
from model.schema import DIAGNOSES, FINDINGS

# Findings typical of each diagnosis (the rest are drawn at a low rate).
TYPICAL = {
    "normal": (),
    "nicm": ("lv_dysfunction", "lv_dilation"),
    "icm": ("lv_dysfunction", "lge"),
    "hcm": ("lv_hypertrophy", "lge"),
    "amyloidosis": ("lv_hypertrophy", "lge", "pericardial_effusion"),
    "myocarditis": ("lge",),
    "rv": ("rv_dilation", "rv_dysfunction"),
}


def word_vectors(texts: list[str], dim: int) -> np.ndarray:
    """Bag of words: float [N, dim] unit-norm, a fixed random vector per word."""
    out = np.zeros((len(texts), dim))
    for i, text in enumerate(texts):
        for word in text.split():
            out[i] += np.random.default_rng(zlib.crc32(word.encode())).normal(size=dim)
    return out / np.maximum(np.linalg.norm(out, axis=1, keepdims=True), 1e-12)


class SyntheticDataset:
    """``root``, ``studies`` and ``linkage()`` like CMRDataset, plus ``vectors`` [N, dim]."""

    def __init__(self, root: Path, n: int, dim: int, development: int, seed: int = 0) -> None:
        rng = np.random.default_rng(seed)
        diagnosis = rng.choice(DIAGNOSES, size=n)
        findings = np.array(
            [
                [f in TYPICAL[d] if rng.random() > 0.1 else rng.random() < 0.1 for f in FINDINGS]
                for d in diagnosis
            ]
        )
        impressions = [
            " ".join(
                [d] + [f if flag else f"no_{f}" for f, flag in zip(FINDINGS, row, strict=True)]
            )
            for d, row in zip(diagnosis, findings, strict=True)
        ]
        ids = [f"s{i:05d}" for i in range(n)]
        self.root, self.seed = root, seed
        self.studies = pd.DataFrame(
            {
                "study_id": ids,
                "patient_key": [f"p{i // 2}" for i in range(n)],
                "site": "internal",
                "split": ["train"] * development + ["test"] * (n - development),
                "impression": impressions,
            }
        )
        noise = rng.normal(0, 0.6 / np.sqrt(dim), (n, dim)) * np.sqrt(dim) / 4
        self.vectors = word_vectors(impressions, dim) + noise
        self.vectors /= np.linalg.norm(self.vectors, axis=1, keepdims=True)
        self.label_table = pd.DataFrame(findings.astype(float), columns=list(FINDINGS), index=ids)
        for name in DIAGNOSES:
            self.label_table[name] = (diagnosis == name).astype(float)
        self.label_table.index = "A" + self.label_table.index

    def fingerprint(self) -> str:
        """What an evaluation summary records of its dataset (CMRDataset: a content hash)."""
        return f"synthetic-{len(self.studies)}-{self.seed}"

    def linkage(self) -> pd.DataFrame:
        return pd.DataFrame(
            {
                "study_id": self.studies["study_id"],
                "accession_number": "A" + self.studies["study_id"],
            }
        )


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=1300)
    parser.add_argument("--development", type=int, default=1300)
    parser.add_argument("--episodes", type=int, default=100)
    parser.add_argument("--dim", type=int, default=128)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        total = args.studies + args.development
        dataset = SyntheticDataset(Path(tmp), total, args.dim, args.development)
        site = load_site(dataset, "internal", True, dataset.label_table)
        development = load_development(dataset, dataset.label_table)
        position = {s: i for i, s in enumerate(dataset.studies["study_id"])}
        encoder = Encoder(
            name="synthetic",
            kind="checkpoint",
            studies=lambda ds, ids: ds.vectors[[position[s] for s in ids]],
            texts=lambda texts: word_vectors(list(texts), args.dim),
            scale=50.0,
        )
        config = SuiteConfig(fewshot=FewShotConfig(episodes=args.episodes))
        start, cpu_start = time.perf_counter(), time.process_time()
        probes = fit_train_split(encoder, development, config.probe, config.blas_threads)
        result = evaluate_site(encoder, site, PromptSet.load(DEFAULT_PROMPTS), config, probes)
        computed = time.perf_counter()
        write_outputs(Path(tmp) / "eval", [result], [site], [encoder], result.problems, {})
        written, cpu_used = time.perf_counter(), time.process_time() - cpu_start
    print(
        f"studies={args.studies} development={args.development} dim={args.dim} "
        f"episodes={args.episodes} shots=1..32 bootstrap=1000"
    )
    print(
        f"metrics: {computed - start:.1f} s; outputs (CSV/PNG/HTML/JSON): {written - computed:.1f} s"
    )
    print(f"total: {written - start:.1f} s wall, {cpu_used:.1f} s CPU (this process)")
    proto = result.fewshot[result.fewshot["method"] == "prototype"].groupby("k")["auc"].mean()
    print("few-shot prototype mean AUC by k:", proto.round(3).to_dict())
    for setting in ("linear probe", "train-split probe"):
        accuracy = result.diagnosis[setting]["accuracy"]
        print(f"{setting} diagnosis accuracy: {accuracy:.3f}")
    print(result.retrieval.round(3).to_string(index=False))


if __name__ == "__main__":
    main()
