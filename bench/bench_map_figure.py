"""What the Embeddings page's map costs each rerun now that it keeps marker shapes at any size
(run on demand; prints figures for bench/RESULTS.md).

    python bench/bench_map_figure.py [--studies 10000 20000 50000] [--repeats 5]

``dashboard.map_figure.embedding_map`` builds the plotly figure and Streamlit sends it as JSON
(``plotly.io.to_json``) on every rerun. Each category's marker shape goes to plotly as one typed
array of symbol numbers (``symbol_array``). Measured in one run, on the same table coloured by a
seven-category column with two hover columns:

- committed: the figure as the page builds it, shapes included;
- floor: the same figure with one symbol for every point (a scalar, checked once), the cost of
  the map without shapes, as maps over 10,000 studies were drawn before this session;
- names: the shapes given as a list of symbol names, which plotly checks point by point (the
  reason those maps had dropped them).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.io as pio

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO)]

from dashboard import map_figure  # noqa: E402

CATEGORIES = ["HCM", "DCM", "amyloid", "myocarditis", "infarct", "sarcoid", "normal"]


def map_table(studies: int, seed: int = 0) -> pd.DataFrame:
    """``studies`` rows: IDs, x, y, a seven-category diagnosis with blanks, age and a site."""
    rng = np.random.default_rng(seed)
    diagnosis = rng.choice(np.array([*CATEGORIES, None], dtype=object), studies)
    return pd.DataFrame(
        {
            "study_id": [f"s{i:015x}" for i in range(studies)],
            "x": rng.normal(size=studies),
            "y": rng.normal(size=studies),
            "diagnosis": diagnosis,
            "age": rng.integers(18, 90, studies),
            "site": rng.choice(["internal", "external"], studies),
        }
    )


def _names(names: pd.Series, order: list[str]) -> list[str]:
    """The shapes as a list of symbol names, one a point."""
    turn = {name: map_figure.SYMBOLS[i % len(map_figure.SYMBOLS)] for i, name in enumerate(order)}
    return [turn.get(name, "circle") for name in names]


SYMBOLS: dict[str, Callable[[pd.Series, list[str]], object]] = {
    "committed": map_figure.symbol_array,
    "floor": lambda names, order: "circle",
    "names": _names,
}


def best_of(repeats: int, build: Callable[[], object]) -> float:
    """The fastest of ``repeats`` calls, in seconds."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        build()
        times.append(time.perf_counter() - start)
    return min(times)


def measure(table: pd.DataFrame, repeats: int) -> dict[str, tuple[float, float]]:
    """Per variant: (build seconds, build + JSON seconds), best of ``repeats``."""
    legend = map_figure.map_legend(table, "diagnosis")
    hover = ("diagnosis", "age")
    figures: dict[str, tuple[float, float]] = {}
    for variant, symbols in SYMBOLS.items():
        map_figure.symbol_array = symbols
        try:

            def build() -> object:
                return map_figure.embedding_map(table, "diagnosis", hover=hover, legend=legend)

            def build_and_send() -> object:
                return pio.to_json(build(), validate=False)

            figures[variant] = (best_of(repeats, build), best_of(repeats, build_and_send))
        finally:
            map_figure.symbol_array = SYMBOLS["committed"]
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, nargs="+", default=[10_000, 20_000, 50_000])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    print("| studies | variant | figure (ms) | figure + JSON (ms) | × floor (figure + JSON) |")
    print("| --- | --- | --- | --- | --- |")
    for studies in args.studies:
        figures = measure(map_table(studies), args.repeats)
        floor = figures["floor"][1]
        for variant, (build_s, sent_s) in figures.items():
            print(
                f"| {studies:,} | {variant} | {build_s * 1e3:.0f} | {sent_s * 1e3:.0f} "
                f"| {sent_s / floor:.2f} |"
            )


if __name__ == "__main__":
    main()
