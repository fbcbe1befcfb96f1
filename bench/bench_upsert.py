"""Where ``python -m model index`` spends its upsert time, and what Chroma's settings change.

    python bench/bench_upsert.py [--studies 20000] [--variants base,threads:1,...] [--profile]

Writes ``--studies`` synthetic records (``bench_index.records``: clustered 256-d unit vectors,
with the metadata fields a real study carries) into a new embedded collection through
``model.index.writer.upsert_records``, once per variant, and prints the wall and CPU time (the
process's, Chroma's native threads included: on a busy machine the wall time measures the
load, the CPU time the work) and whether 50 queries' top-10 neighbours are those of ``base``:

* ``base``: the collection as ``model.index.collection_spec.HnswParams`` makes it;
* ``threads:N``: Chroma's ``hnsw.num_threads`` (default: every core);
* ``batch:B:S``: ``hnsw.batch_size`` (the brute-force buffer before HNSW insertion, default
  100) and ``hnsw.sync_threshold`` (when the graph is written to disk, default 1000);
* ``lean``: two metadata fields a record instead of twelve;
* ``nogc``: Python's garbage collector off during the upsert;
* ``defaults``: Chroma's own HNSW settings (ef_construction 100, M 16): lower recall, so not
  a lever that keeps results, only a measure of what the tuned graph costs.

``--profile`` prints ``cProfile``'s top functions of the first variant.
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import pstats
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path
from typing import Any

import numpy as np

sys.path[:0] = [str(Path(__file__).resolve().parent.parent), str(Path(__file__).resolve().parent)]

from bench_index import records  # noqa: E402

from model.index import collection_spec  # noqa: E402
from model.index.client import ChromaLocation, open_client  # noqa: E402
from model.index.embedding_index import EmbeddingIndex  # noqa: E402
from model.index.records import IndexRecords  # noqa: E402
from model.index.writer import upsert_records  # noqa: E402

EXTRA = {  # what a real study's record carries beyond bench_index's fields
    "dataset_folder": "/data/hospital/ds/internal-2026",
    "dataset_id": "abcd1234abcd1234",
    "views": "sax_base,sax_mid,sax_apex,4ch,2ch,3ch,lge_sax",
    "scanner": "SIEMENS Avanto",
    "age_band": "60-69",
}


TUNED = collection_spec.HnswParams.configuration  # the settings new collections get


def configuration(variant: str) -> dict[str, Any]:
    """The collection configuration of ``variant`` (see the module doc)."""
    config = TUNED(collection_spec.HnswParams())
    name, *values = variant.split(":")
    if name == "threads":
        config["hnsw"]["num_threads"] = int(values[0])
    elif name == "batch":
        config["hnsw"].update(batch_size=int(values[0]), sync_threshold=int(values[1]))
    elif name == "defaults":
        config = {"hnsw": {"space": "cosine"}}
    return config


def run(data: IndexRecords, variant: str, profile: bool) -> tuple[float, float, np.ndarray]:
    """(wall s, CPU s, top-10 ids of 50 queries) of one upsert of ``data`` as ``variant``."""
    if variant == "lean":
        lean = [{"site": m["site"], "dataset": m["dataset"]} for m in data.metadatas]
        data = replace(data, metadatas=lean)
    collection_spec.HnswParams.configuration = lambda self: configuration(variant)
    profiler = cProfile.Profile() if profile else None
    try:
        with tempfile.TemporaryDirectory() as folder:
            index = EmbeddingIndex(open_client(ChromaLocation(path=Path(folder))), "bench")
            wall, cpu = time.perf_counter(), time.process_time()
            if profiler is not None:
                profiler.enable()
            if variant == "nogc":
                gc.disable()
            try:
                upsert_records(index, data)
            finally:
                gc.enable()
            if profiler is not None:
                profiler.disable()
            wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
            found = index.client.get_collection(index.name, embedding_function=None).query(
                query_embeddings=data.vectors[:50], n_results=10
            )
    finally:
        collection_spec.HnswParams.configuration = TUNED
    if profiler is not None:
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(12)
    return wall, cpu, np.array(found["ids"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=20_000)
    parser.add_argument("--variants", default="base,threads:1,batch:1000:20000,lean,base")
    parser.add_argument("--profile", action="store_true")
    args = parser.parse_args()
    data = records(args.studies)
    for meta in data.metadatas:
        meta.update(EXTRA)
    first: np.ndarray | None = None
    for i, variant in enumerate(args.variants.split(",")):
        wall, cpu, neighbours = run(data, variant, args.profile and i == 0)
        first = neighbours if first is None else first
        same = int((neighbours == first).all(axis=1).sum())
        print(
            f"{variant:16s} {args.studies:,} studies: wall {wall:6.1f} s "
            f"({1000 * wall / args.studies:5.2f} ms/study), CPU {cpu:6.1f} s "
            f"({1000 * cpu / args.studies:5.2f} ms/study); top-10 as the first: {same}/50",
            flush=True,
        )


if __name__ == "__main__":
    main()
