"""What the case index's record of a dataset's labels costs a page (run on demand; prints
figures for bench/RESULTS.md).

    python bench/bench_label_record.py [--studies 50000] [--root DIR] [--repeats 5]

On ``bench_scale``'s data root of ``--studies`` studies (labels for every study: the seven
findings), times, median of ``--repeats``, what the Case browser computes once per labels-file
version to judge whether the index holds that file's values: ``own_labels_prints`` (the values'
fingerprint, with the file hash an earlier index version recorded), against the floor the page
pays anyway for its label filters, ``labels_by_study`` (the file read and joined to the studies),
and the whole-file hash alone (what was compared before the values were).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "bench")]


def median_ms(work: Callable[[], object], repeats: int) -> float:
    """The median wall time of ``work()`` over ``repeats`` calls, in milliseconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        work()
        times.append(time.perf_counter() - start)
    return statistics.median(times) * 1000


def main() -> None:
    from bench_scale import build_scaled_root

    from model.index.held_datasets import own_labels_prints
    from model.index.label_fields import labels_fingerprint
    from model.labels import labels_by_study

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=50_000)
    parser.add_argument("--root", type=Path, help="folder to build (reused when built)")
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    base = args.root or Path(tempfile.mkdtemp(prefix="bench-labels-"))
    base.mkdir(parents=True, exist_ok=True)
    dataset = build_scaled_root(base, args.studies) / "ds" / "big"
    linkage = pd.read_csv(dataset / "linkage.csv", dtype=str, keep_default_na=False)
    floor = median_ms(lambda: labels_by_study(dataset / "labels.csv", linkage), args.repeats)
    prints = median_ms(lambda: own_labels_prints(dataset, linkage), args.repeats)
    file_hash = median_ms(lambda: labels_fingerprint([dataset / "labels.csv"]), args.repeats)
    print(
        f"{args.studies:,} studies: labels joined (floor) {floor:.0f} ms; values fingerprint "
        f"{prints:.0f} ms ({prints / floor:.2f}x the floor); file hash alone {file_hash:.1f} ms",
        flush=True,
    )


if __name__ == "__main__":
    main()
