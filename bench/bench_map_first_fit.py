"""A fresh process's first UMAP map: our exact neighbour graph against UMAP's own search.

    python -m bench.bench_map_first_fit [--repeats 3] [--studies 24 2000]

The Embeddings page fits a map of a dataset the first time it shows it (later visits read the
stored map), and UMAP compiles its numba kernels on first use in each process. Each repeat
starts one fresh Python per way and size, alternating, that fits a map of that many seeded
random unit vectors (128-d, as cpu-small embeds) with ``ProjectionConfig``'s defaults:

- ``ours``: ``model.projection.fit_projection`` (neighbours from ``cosine_knn``, handed to UMAP);
- ``umap-search``: the same ``umap.UMAP`` settings finding its neighbours itself (what
  ``fit_projection`` did until 2026-12-07; the peer, measured in the same run).

Each child prints the seconds of its fit (imports excluded); the bench prints the median per way
and size and the ratio of the peer to ours.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SETUP = (
    "import sys, time\n"
    "import numpy as np\n"
    "import umap\n"
    "from model.projection import ProjectionConfig, fit_projection\n"
    "n = int(sys.argv[1])\n"
    "x = np.random.default_rng(0).standard_normal((n, 128)).astype(np.float32)\n"
    "x /= np.linalg.norm(x, axis=1, keepdims=True)\n"
    "c = ProjectionConfig()\n"
    "start = time.perf_counter()\n"
)
FITS = {
    "ours": "fit_projection([str(i) for i in range(n)], x, c)\n",
    "umap-search": (
        "umap.UMAP(n_neighbors=min(c.n_neighbors, n - 1), min_dist=c.min_dist,\n"
        "    n_epochs=c.n_epochs, metric='cosine', random_state=c.seed,\n"
        "    init='random' if n < 50 else 'spectral', n_jobs=1).fit_transform(x)\n"
    ),
}
REPORT = "print(time.perf_counter() - start)\n"


def fit_seconds(way: str, studies: int) -> float:
    """Seconds of the first fit of ``studies`` vectors in a fresh process, the ``way`` given."""
    code = SETUP + FITS[way] + REPORT
    done = subprocess.run(
        [sys.executable, "-W", "ignore", "-c", code, str(studies)],
        cwd=REPO,
        check=True,
        capture_output=True,
        text=True,
    )
    return float(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--studies", type=int, nargs="+", default=[24, 2000])
    args = parser.parse_args()
    for studies in args.studies:
        found: dict[str, list[float]] = {way: [] for way in FITS}
        for _ in range(args.repeats):
            for way in FITS:
                found[way].append(fit_seconds(way, studies))
        median = {way: statistics.median(seconds) for way, seconds in found.items()}
        for way, seconds in median.items():
            print(f"{studies} studies, {way}: {seconds:.2f} s (median of {args.repeats})")
        ratio = median["umap-search"] / median["ours"]
        print(f"{studies} studies, umap-search / ours: {ratio:.2f}x")


if __name__ == "__main__":
    main()
