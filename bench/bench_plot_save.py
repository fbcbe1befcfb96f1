"""What saving an evaluation's figures costs: the product's ``plots._save`` (one layout pass
for the tight bounding box, handed to the PNG and the SVG save) against the peer it replaced
(``bbox_inches="tight"`` on each save, which lays the figure out again per format), alternated
in one run.

    PYTHONPATH=. .venv/bin/python bench/bench_plot_save.py [--repeats 5]

The figures are the three kinds every evaluated model gets per site, at the paper's size: the
zero-shot ROC of 7 findings, the few-shot panels of 7 findings (3 methods, k = 1..32) and a
7-class confusion matrix. Prints the median milliseconds per figure kind and their ratio, and
checks both ways write the same PNG pixels.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.figure import Figure
from PIL import Image

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from model.evaluation import plots  # noqa: E402
from model.evaluation.tables import vector_path  # noqa: E402
from model.schema import DIAGNOSES, FINDINGS  # noqa: E402


def peer_save(figure: Figure, path: Path) -> Path:
    """The save before session 54: a tight bounding box found again by each format's save."""
    for target, kind in ((path, "png"), (vector_path(path), "svg")):
        with matplotlib.rc_context({"svg.hashsalt": plots.SVG_SALT}):
            figure.savefig(
                target, format=kind, dpi=plots.DPI, bbox_inches="tight", metadata={"Date": None}
            )
    return path


def figures(rng: np.random.Generator) -> dict[str, Callable[[], Figure]]:
    """Builders of one figure of each kind, on random but plausible numbers."""
    grid = np.linspace(0, 1, 60)
    roc = {f: (list(grid), list(np.sqrt(grid) ** rng.uniform(0.5, 1.5))) for f in FINDINGS}
    aucs = {f: float(rng.uniform(0.6, 0.95)) for f in FINDINGS}
    intervals = {f: (aucs[f] - 0.05, aucs[f] + 0.05) for f in FINDINGS}
    rows = [
        {"label_key": f, "method": m, "k": k, "auc": a, "auc_lo": a - 0.05, "auc_hi": a + 0.05}
        for f in FINDINGS
        for m in ("prototype", "logistic", "prompted")
        for k in (1, 2, 4, 8, 16, 32)
        for a in [float(rng.uniform(0.6, 0.95))]
    ]
    counts = rng.integers(0, 40, (len(DIAGNOSES), len(DIAGNOSES)))
    matrix = pd.DataFrame(counts, index=list(DIAGNOSES), columns=list(DIAGNOSES))
    return {
        "roc": lambda: plots.roc_figure(roc, aucs, "Zero-shot ROC", intervals),
        "fewshot": lambda: plots.fewshot_panels(pd.DataFrame(rows), aucs, "Few-shot"),
        "confusion": lambda: plots.confusion_figure(matrix, "Confusion"),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    saves = {"product": plots._save, "peer": peer_save}
    with tempfile.TemporaryDirectory() as tmp:
        for kind, build in figures(np.random.default_rng(0)).items():
            seconds: dict[str, list[float]] = {name: [] for name in saves}
            for repeat in range(args.repeats):
                order = list(saves) if repeat % 2 == 0 else list(reversed(saves))
                for name in order:
                    figure = build()  # not timed: the same for both
                    started = time.perf_counter()
                    saves[name](figure, Path(tmp) / f"{kind}_{name}.png")
                    seconds[name].append(time.perf_counter() - started)
            same = np.array_equal(
                *(np.asarray(Image.open(Path(tmp) / f"{kind}_{n}.png")) for n in saves)
            )
            product, peer = (statistics.median(seconds[n]) * 1000 for n in saves)
            print(
                f"{kind}: product {product:.0f} ms, peer {peer:.0f} ms, "
                f"ratio {product / peer:.2f}, same PNG pixels: {same}"
            )


if __name__ == "__main__":
    main()
