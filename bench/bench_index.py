"""Case index speed and accuracy at 100,000 studies (synthetic clustered 256-d vectors).

    PYTHONPATH=. .venv/bin/python bench/bench_index.py [--studies 100000] [--queries 200] [--chroma-path DIR]
        [--data DATASET --checkpoint CKPT]   # also: indexing throughput of a real dataset

Figures, all from one run on this machine:

* build: upsert throughput (studies/s) into a new collection with the tuned HNSW settings;
* text query -> top-10, no filter: p50/p95 latency including text encoding by the MiniLM text
  tower (frozen, random projection to 256-d), against a numpy brute-force top-k over the same
  vectors, and recall@10 of Chroma's HNSW against the exact answer (held-out clustered queries);
* filtered query (site = external and lv_dilation = 1): exact in-memory path (what the dashboard
  uses) and Chroma's own filtered search, p50/p95 incl. text encoding, and Chroma's recall@10;
* with ``--data/--checkpoint``: ``python -m model index`` throughput on that dataset.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import numpy as np

from model.index.client import ChromaLocation, open_client
from model.index.embedding_index import EmbeddingIndex
from model.index.records import IndexRecords
from model.index.writer import upsert_records

DIM = 256
WHERE = {"site": "external", "lv_dilation": 1}
TEXTS = (
    "Dilated left ventricle with severely impaired systolic function.",
    "No late gadolinium enhancement.",
    "Asymmetric septal hypertrophy, maximal wall thickness 18 mm.",
    "Subepicardial lateral wall enhancement consistent with myocarditis.",
    "Normal biventricular size and function.",
    "Small pericardial effusion.",
)


def synthetic(n: int, seed: int, clusters: int = 200) -> tuple[np.ndarray, np.ndarray]:
    """(vectors float32 [n, 256] unit-norm, cluster labels [n]) around shared random centres."""
    centres = np.random.default_rng(0).normal(size=(clusters, DIM)).astype(np.float32)
    rng = np.random.default_rng(seed)
    labels = rng.integers(0, clusters, n)
    vectors = centres[labels] + 0.6 * rng.normal(size=(n, DIM)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True), labels


def records(n: int) -> IndexRecords:
    vectors, labels = synthetic(n, seed=1)
    metas = [
        {
            "site": "external" if i % 3 == 0 else "internal",
            "split": ("train", "val", "test")[i % 3],
            "sex": "F" if i % 2 else "M",
            "age_min": int(20 + 10 * (i % 7)),
            "field_strength": 3.0 if i % 3 == 0 else 1.5,
            "lv_dilation": int(labels[i] % 4 == 0),
            "dataset": "bench",
        }
        for i in range(n)
    ]
    docs = [f"Synthetic impression {i}." for i in range(n)]
    return IndexRecords([f"b{i:07d}" for i in range(n)], vectors, metas, docs)


def text_encoder() -> Callable[[str], np.ndarray]:
    """MiniLM text tower (no frozen-state cache) with a fixed random 384 -> 256 projection."""
    import torch

    from model.nn.config import TextTowerConfig
    from model.nn.text_tower import TextTower

    torch.manual_seed(0)
    torch.set_num_threads(1)  # one short query: extra threads only add contention on 2 cores
    tower = TextTower(TextTowerConfig(cache_frozen=False), embed_dim=DIM).eval()

    @torch.no_grad()
    def encode(text: str) -> np.ndarray:
        vector = tower([text])[0].float().numpy()
        return vector / np.linalg.norm(vector)

    return encode


def percentiles(samples: list[float]) -> str:
    ms = np.asarray(samples) * 1e3
    return f"p50 {np.percentile(ms, 50):6.1f} ms  p95 {np.percentile(ms, 95):6.1f} ms"


def timed(fn: Callable[[Any], object], texts: list[Any], repeats: int) -> list[float]:
    """Seconds per call of ``fn(item)``, cycling through ``texts``."""
    out = []
    for i in range(repeats):
        start = time.perf_counter()
        fn(texts[i % len(texts)])
        out.append(time.perf_counter() - start)
    return out


def numpy_top_k(vectors: np.ndarray, query: np.ndarray, k: int, mask=None) -> np.ndarray:
    scores = np.einsum("ij,j->i", vectors, query)  # faster than BLAS threads on a busy machine
    if mask is not None:
        scores = np.where(mask, scores, -np.inf)
    best = np.argpartition(-scores, k)[:k]
    return best[np.argsort(-scores[best])]


def bench_queries(index: EmbeddingIndex, data: IndexRecords, n_queries: int) -> None:
    encode = text_encoder()
    index.text_encoder = encode
    # Unique one-sentence queries (a trailing "(i)" would be a second sentence to the text tower).
    texts = [TEXTS[i % len(TEXTS)].rstrip(".") + f", case {i}." for i in range(n_queries)]
    queries, _ = synthetic(n_queries, seed=7)
    encode(texts[0])
    index.search_vector(queries[0], k=10)
    print(f"text encoding only           {percentiles(timed(encode, texts, n_queries))}")
    chroma = timed(lambda text: index.search_text(text, k=10), texts, n_queries)
    print(f"text query, Chroma HNSW      {percentiles(chroma)}")
    brute = timed(lambda text: numpy_top_k(data.vectors, encode(text), 10), texts, n_queries)
    print(f"text query, numpy brute      {percentiles(brute)}")
    print(f"  ratio Chroma/numpy p50 {np.median(chroma) / np.median(brute):.2f}")
    rows = list(range(n_queries))
    hnsw = timed(lambda i: index.search_vector(queries[i], k=10), rows, n_queries)
    exact = timed(lambda i: numpy_top_k(data.vectors, queries[i], 10), rows, n_queries)
    print(f"vector only, Chroma HNSW     {percentiles(hnsw)}")
    print(f"vector only, numpy brute     {percentiles(exact)}")
    print(f"  ratio Chroma/numpy p50 {np.median(hnsw) / np.median(exact):.2f}")
    recall = [
        len(
            {h.study_id for h in index.search_vector(q, k=10)}
            & {data.ids[i] for i in numpy_top_k(data.vectors, q, 10)}
        )
        / 10
        for q in queries
    ]
    print(f"recall@10 HNSW vs exact      {np.mean(recall):.4f} (min {np.min(recall):.1f})")
    bench_filtered(index, data, texts, queries)


def bench_filtered(
    index: EmbeddingIndex, data: IndexRecords, texts: list[str], queries: np.ndarray
) -> None:
    mask = np.array([m["site"] == "external" and m["lv_dilation"] == 1 for m in data.metadatas])
    print(f"filter {WHERE}: {mask.sum()} of {len(mask)} studies match")
    start = time.perf_counter()
    index.exact_filters = True
    index.snapshot()
    print(f"snapshot load                {time.perf_counter() - start:.1f} s (once per revision)")
    for label, exact in (("exact in-memory", True), ("Chroma filtered", False)):
        index.exact_filters = exact
        lat = timed(lambda text: index.search_text(text, k=10, where=WHERE), texts, 60)
        rows = list(range(len(queries)))
        vec = timed(lambda i: index.search_vector(queries[i], k=10, where=WHERE), rows, 60)
        recall = [
            len(
                {h.study_id for h in index.search_vector(q, k=10, where=WHERE)}
                & {data.ids[i] for i in numpy_top_k(data.vectors, q, 10, mask)}
            )
            / 10
            for q in queries[:50]
        ]
        print(f"filtered, {label:<18} {percentiles(lat)}  recall@10 {np.mean(recall):.4f}")
        print(f"  vector only (no encoding)  {percentiles(vec)}")


def bench_dataset(dataset: Path, checkpoint: Path, chroma: Path) -> None:
    from model.cli import main

    argv = ["index", "--checkpoint", str(checkpoint), "--data", str(dataset)]
    for label in ("first run (embeds unless cached)", "rerun (no-op)"):
        start = time.perf_counter()
        main([*argv, "--chroma-path", str(chroma)])
        print(f"index {dataset.name}, {label}: {time.perf_counter() - start:.1f} s")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=100_000)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--chroma-path", type=Path, help="reuse an index folder across runs")
    parser.add_argument("--data", type=Path)
    parser.add_argument("--checkpoint", type=Path)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    path = args.chroma_path or Path(tempfile.mkdtemp(prefix="bench-index-")) / "chroma"
    data = records(args.studies)
    index = EmbeddingIndex(open_client(ChromaLocation(path=path)), f"bench{args.studies}")
    start = time.perf_counter()
    report = upsert_records(index, data)
    took = time.perf_counter() - start
    print(
        f"index {report.total} studies: {report.written} written, {report.unchanged} unchanged "
        f"in {took:.1f} s ({len(data) / max(took, 1e-9):.0f} studies/s) HNSW {index.hnsw}"
    )
    bench_queries(index, data, args.queries)
    if args.data and args.checkpoint:
        bench_dataset(args.data, args.checkpoint, path.parent / "dataset-chroma")


if __name__ == "__main__":
    main()
