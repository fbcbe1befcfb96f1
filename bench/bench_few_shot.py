"""Few-shot scoring speed (the Few-shot page and ``python -m model fewshot``) against a floor.

    PYTHONPATH=. .venv/bin/python bench/bench_few_shot.py [--studies 1000 10000 50000]
        [--shots 8 64] [--dim 128] [--repeats 5] [--evaluate-at 50000] [--resamples 1000 300]

Random unit-norm float32 study vectors of ``--dim`` (the cost does not depend on what they
hold). For each study count N and set size k, ``model.few_shot.few_shot_scores`` is timed for:

* ``prototype, k examples``: no counter-examples, so the counter-prototype is the mean of every
  other study (what a set picked on the map or on case cards usually is);
* ``prototype, k/2 + k/2``, ``logistic, k/2 + k/2`` and ``prompted, k/2 + k/2``: half examples,
  half counter-examples; ``prompted``'s prior logits are given (a random direction's, scaled as
  a checkpoint's), so embedding its few prompts with the text tower is not timed.

Each against the floor ``vectors @ prototype`` over the same N (one matrix-vector product, what
any scoring must at least do), as a ratio. Then ``evaluate_ranking`` (AUC with the patient
bootstrap; 1,000 resamples is the command's, 300 the page's) at ``--evaluate-at`` studies,
against one plain AUC (``sklearn.metrics.roc_auc_score``) of the same scores. Median of
``--repeats`` runs each, after one untimed warm-up.
"""

from __future__ import annotations

import argparse
import logging
import time
from collections.abc import Callable
from dataclasses import replace

import numpy as np
import pandas as pd
from sklearn.metrics import roc_auc_score

from model.example_set import ExampleSet
from model.few_shot import evaluate_ranking, few_shot_scores
from model.prompts import FindingPrompts


def unit_vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """float32 [n, dim], each row unit-norm."""
    vectors = np.random.default_rng(seed).normal(size=(n, dim)).astype(np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


def median_seconds(fn: Callable[[], object], repeats: int) -> float:
    """Median wall seconds of ``fn()`` over ``repeats`` runs after one untimed warm-up."""
    fn()
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return float(np.median(times))


def example_sets(ids: list[str], shots: int, seed: int = 1) -> dict[str, ExampleSet]:
    """The timed sets of ``shots`` studies each, drawn at random from ``ids``."""
    picked = [ids[i] for i in np.random.default_rng(seed).choice(len(ids), shots, replace=False)]
    half = max(shots // 2, 1)
    mixed = ExampleSet("bench", positive=tuple(picked[:half]), negative=tuple(picked[half:]))
    return {
        f"prototype, {shots} examples": ExampleSet("bench", positive=tuple(picked)),
        f"prototype, {half} + {shots - half}": mixed,
        f"logistic, {half} + {shots - half}": mixed,
        f"prompted, {half} + {shots - half}": replace(
            mixed, prompts=FindingPrompts(("a finding",), ("no finding",))
        ),
    }


def bench_scoring(n: int, dim: int, shots: list[int], repeats: int) -> None:
    vectors = unit_vectors(n, dim)
    ids = [f"s{i:06d}" for i in range(n)]
    prototype = vectors[:8].mean(axis=0)
    floor = median_seconds(lambda: vectors @ prototype, repeats)
    prior = 20.0 * (vectors @ unit_vectors(1, dim, seed=2)[0])
    print(f"N={n:,} D={dim}: floor vectors @ prototype {floor * 1e3:.3f} ms")
    for k in shots:
        for label, examples in example_sets(ids, k).items():
            method = label.split(",")[0]
            took = median_seconds(
                lambda e=examples, m=method: few_shot_scores(
                    vectors, ids, e, m, prior_logits=prior
                ),
                repeats,
            )
            print(f"  {label:<24} {took * 1e3:9.2f} ms  ratio {took / floor:8.1f}")


def bench_evaluation(n: int, dim: int, resamples: list[int], repeats: int) -> None:
    vectors = unit_vectors(n, dim)
    ids = [f"s{i:06d}" for i in range(n)]
    examples = ExampleSet("bench", positive=tuple(ids[:8]), negative=tuple(ids[8:16]))
    scores = few_shot_scores(vectors, ids, examples)
    rng = np.random.default_rng(2)
    truth = pd.Series(rng.integers(0, 2, n).astype(float), index=ids)
    truth[rng.random(n) < 0.1] = np.nan  # a tenth unlabelled
    patients = pd.Series([f"p{i // 2}" for i in range(n)], index=ids)  # two studies each
    known = truth.notna().to_numpy()
    values, labels = scores["score"].to_numpy()[known], truth.to_numpy()[known]
    floor = median_seconds(lambda: roc_auc_score(labels, values), repeats)
    print(f"evaluate_ranking N={n:,}: floor one roc_auc_score {floor * 1e3:.2f} ms")
    for count in resamples:
        took = median_seconds(
            lambda count=count: evaluate_ranking(scores, truth, patients, "bench", count), repeats
        )
        print(f"  {count:,} resamples {took * 1e3:12.1f} ms  ratio {took / floor:8.1f}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, nargs="+", default=[1_000, 10_000, 50_000])
    parser.add_argument("--shots", type=int, nargs="+", default=[8, 64])
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--evaluate-at", type=int, default=50_000)
    parser.add_argument("--resamples", type=int, nargs="+", default=[1000, 300])
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for n in args.studies:
        bench_scoring(n, args.dim, args.shots, args.repeats)
    bench_evaluation(args.evaluate_at, args.dim, args.resamples, args.repeats)


if __name__ == "__main__":
    main()
