"""Text embedding throughput: every impression of a dataset through the text tower, cold and warm.

    python -m bench.bench_text_embed --data DATASET [--preset cpu-small] [--repeats 3]

What building the index and scoring a prompt set wait for. A fresh model of the preset (eval
mode, weights as initialised: the cost does not depend on them) embeds every impression of the
dataset with ``encode_text(normalize=True)``, first with the frozen-state cache cleared (``cold``:
MiniLM's frozen layers run for every unique sentence) and then again (``warm``: the trainable top
layer and the projection only). Each repeat prints reports/s for both.
"""

from __future__ import annotations

import argparse
import time
from pathlib import Path

import torch

from model.allocator import tune_allocator
from model.data.dataset import CMRDataset
from model.nn.clip_model import CMRClip
from model.nn.presets import load_preset


def timed_encode(model: CMRClip, texts: list[str]) -> float:
    """Seconds to embed ``texts`` once."""
    start = time.perf_counter()
    model.encode_text(texts, normalize=True)
    return time.perf_counter() - start


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, required=True, help="an ingested dataset folder")
    parser.add_argument("--preset", default="cpu-small")
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    tune_allocator()
    texts = CMRDataset.open(args.data).studies["impression"].dropna().tolist()
    torch.manual_seed(0)
    model = CMRClip(load_preset(args.preset).model).eval()
    with torch.no_grad():
        for repeat in range(args.repeats):
            model.text.clear_cache()
            cold = timed_encode(model, texts)
            warm = timed_encode(model, texts)
            print(
                f"{args.preset} repeat {repeat}: {len(texts)} reports, "
                f"cold {cold:.2f} s ({len(texts) / cold:.0f} reports/s), "
                f"warm {warm:.2f} s ({len(texts) / warm:.0f} reports/s)"
            )


if __name__ == "__main__":
    main()
