"""What the Embeddings page's "Colour by" box costs each rerun (run on demand; prints figures for
bench/RESULTS.md).

    python bench/bench_map_colours.py [--studies 50000] [--repeats 5]

``dashboard.map_labels.colour_options`` decides which of the map table's columns vary and so are
offered as colours; it runs on every rerun of the page. The table here is the shape of a large
hospital's map: 10 label columns (0, 1 or blank), 10 text fields of three values and 5 numeric
ones, beside the study IDs and coordinates. The floor is one pass of pandas' ``nunique`` over the
same columns, which any answer to "does this column vary" needs.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO)]

from dashboard.map_labels import colour_options  # noqa: E402


def map_table(studies: int, seed: int = 0) -> pd.DataFrame:
    """A map table of ``studies`` rows: IDs, x, y, 10 label, 10 text and 5 numeric columns."""
    rng = np.random.default_rng(seed)
    columns: dict[str, object] = {
        "study_id": [f"s{i:015x}" for i in range(studies)],
        "x": rng.random(studies),
        "y": rng.random(studies),
    }
    for j in range(10):
        columns[f"finding {j} (label)"] = rng.choice([0.0, 1.0, np.nan], studies)
    for j in range(10):
        columns[f"field{j}"] = rng.choice(["a", "b", "c"], studies)
    for j in range(5):
        columns[f"measure{j}"] = rng.random(studies)
    return pd.DataFrame(columns)


def best_of(repeats: int, work) -> float:
    """The fastest of ``repeats`` runs of ``work()``, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=50_000)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    table = map_table(args.studies)
    varying = table.drop(columns=["study_id", "x", "y"])
    floor = best_of(args.repeats, lambda: varying.nunique(dropna=False))
    options = best_of(args.repeats, lambda: colour_options(table))
    print(f"{args.studies:,} studies x {table.shape[1]} columns, best of {args.repeats}:")
    print(f"  floor (nunique of the candidate columns): {floor * 1000:.1f} ms")
    print(f"  colour_options: {options * 1000:.1f} ms ({options / floor:.2f}x the floor)")


if __name__ == "__main__":
    main()
