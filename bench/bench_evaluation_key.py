"""What looking up a cached finding evaluation costs per rerun as the studies grow (run on
demand; prints figures for bench/RESULTS.md).

    python bench/bench_evaluation_key.py [--studies 20000 50000] [--findings 8] [--repeats 5]

The Zero-shot page looks up every labelled finding's AUC on each rerun (``--findings`` of
them, eight in the default prompt set). Before session 46 ``st.cache_data`` hashed each call's
scores, labels and the studies' patient keys (pandas Series, the keys Arrow strings) itself;
now the page hands it ``dashboard.content_key`` of them, the patient keys read once a rerun.
From 50,000 rows Streamlit hashes a sample of 10,000 (``_PANDAS_ROWS_LARGE``): cheaper, but two
Series that differ only outside the sample share a key; ``content_key`` reads every value.
Median CPU time of ``--repeats`` reruns, both ways, on the same Series (CPU: on a shared
machine wall time swung 10x between repeats).
"""

from __future__ import annotations

import argparse
import hashlib
import statistics
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))


def series(n: int, findings: int) -> tuple[list[pd.Series], list[pd.Series], pd.Series]:
    """(scores, labels) of each finding and the patient keys, indexed by study ID as the page's."""
    rng = np.random.default_rng(0)
    ids = pd.Index([f"h{i:015x}" for i in range(n)], dtype="str")
    patients = pd.Series([f"q{i // 2:015x}" for i in range(n)], index=ids, dtype="str")
    probs = [pd.Series(rng.random(n), index=ids, name=f"f{i}") for i in range(findings)]
    labels = [pd.Series(rng.integers(0, 2, n).astype(float), index=ids) for _ in range(findings)]
    return probs, labels, patients


def streamlit_hashing(probs: list, labels: list, patients: pd.Series) -> None:
    from streamlit.runtime.caching.cache_type import CacheType
    from streamlit.runtime.caching.hashing import update_hash

    for p, y in zip(probs, labels, strict=True):
        update_hash((p, y, 0.5, patients), hashlib.md5(), CacheType.DATA)


def content_keys(probs: list, labels: list, patients: pd.Series) -> None:
    from dashboard.content_key import content_key

    patients_key = content_key(patients)  # once a rerun (Studio._patients)
    for p, y in zip(probs, labels, strict=True):
        content_key(p, y, patients_key)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, nargs="+", default=[20_000, 50_000])
    parser.add_argument("--findings", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    for n in args.studies:
        parts = series(n, args.findings)
        for name, lookup in (
            ("streamlit hashing", streamlit_hashing),
            ("content_key", content_keys),
        ):
            times = []
            for _ in range(args.repeats):
                start = time.process_time()
                lookup(*parts)
                times.append(time.process_time() - start)
            print(
                f"{n:>7,} studies  {name:18s} {statistics.median(times) * 1000:7.1f} ms CPU a rerun"
            )


if __name__ == "__main__":
    main()
