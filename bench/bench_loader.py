"""Training-loader throughput: StudyVideoDataset through a DataLoader, studies per second.

    .venv/bin/python bench/bench_loader.py [--data DATASET] [--studies 256] [--workers 0 2]
                                           [--batch 16] [--epochs 2]

Without ``--data`` a dataset of random uint8 tensors in the documented format is written to a
temporary folder. Each configuration (stored grid, on-the-fly resize/sub-sampling, augmentation)
is timed over whole epochs after one warm-up batch; the figure to compare with the training step
rate of the cpu-small preset is studies/s with 2 workers.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch.utils.data import DataLoader

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from model.data.dataset import CMRDataset, StudyVideoDataset  # noqa: E402
from model.schema import VIEW_SLOTS  # noqa: E402

CONFIGS = (
    ("stored 16x64", {}),
    ("frames 8, size 32", {"frames": 8, "size": 32}),
    ("augment", {"augment": True}),
    ("cpu-small: 8 + augment", {"frames": 8, "augment": True}),
)


def write_random_dataset(root: Path, studies: int, frames: int = 16, size: int = 64) -> Path:
    """Documented-format dataset of random tensors (view frames like a full study)."""
    rng = np.random.default_rng(0)
    (root / "tensors").mkdir(parents=True)
    rows = []
    for index in range(studies):
        study_id = f"s{index:015d}"
        video = rng.integers(0, 255, (len(VIEW_SLOTS), frames, size, size), dtype=np.uint8)
        np.save(root / "tensors" / f"{study_id}.npy", video)
        rows.append({"study_id": study_id, "split": "train", "impression": f"Study {index}.",
                     "view_frames": [frames] * 6 + [10, 1, 1]})  # fmt: skip
    pd.DataFrame(rows).to_parquet(root / "studies.parquet", index=False)
    (root / "dataset.json").write_text(json.dumps({"frames": frames, "size": size, "fov_mm": 224}))
    return root


def cpu_ms_per_item(ds: CMRDataset, items: int = 64, **options) -> float:
    """CPU milliseconds of one ``StudyVideoDataset`` item in this process (no loader)."""
    videos = StudyVideoDataset(ds, ds.ids("train"), **options)
    videos[0]
    started = time.process_time()
    for index in range(items):
        videos[index % len(videos)]
    return (time.process_time() - started) * 1000 / items


def studies_per_s(ds: CMRDataset, workers: int, batch: int, epochs: int, **options) -> float:
    loader = DataLoader(
        StudyVideoDataset(ds, ds.ids("train"), **options),
        batch_size=batch,
        shuffle=True,
        num_workers=workers,
        persistent_workers=workers > 0,
    )
    next(iter(loader))  # warm-up: worker start, page cache
    started, seen = time.perf_counter(), 0
    for _ in range(epochs):
        for batch_items in loader:
            seen += batch_items["video"].shape[0]
    return seen / (time.perf_counter() - started)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path)
    parser.add_argument("--studies", type=int, default=256)
    parser.add_argument("--workers", type=int, nargs="+", default=[0, 2])
    parser.add_argument("--batch", type=int, default=16)
    parser.add_argument("--epochs", type=int, default=2)
    args = parser.parse_args()
    torch.set_num_threads(1)
    with tempfile.TemporaryDirectory(prefix="bench-loader-") as tmp:
        root = args.data or write_random_dataset(Path(tmp) / "dataset", args.studies)
        ds = CMRDataset.open(root)
        print(f"{len(ds.ids('train'))} training studies in {root}")
        for name, options in CONFIGS:
            cost = cpu_ms_per_item(ds, **options)
            print(
                f"item cost {name:30s}: {cost:6.2f} CPU ms ({1000 / cost:7.1f} studies/s per core)"
            )
        for workers in args.workers:
            for name, options in CONFIGS:
                rate = studies_per_s(ds, workers, args.batch, args.epochs, **options)
                print(f"workers={workers} {name:18s}: {rate:8.1f} studies/s")


if __name__ == "__main__":
    main()
