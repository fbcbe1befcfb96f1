"""Dashboard benchmarks (run on demand; prints figures for bench/RESULTS.md).

    python bench/bench_dashboard.py [--data-root DIR] [--studies 10000] [--skip-umap]
                                    [--fresh-visits]

1. cold start: ``streamlit run app.py`` until /_stcore/health answers, then until the Home page
   renders in Chromium (when /usr/bin/chromium exists);
2. rerun time of every page with warm caches (AppTest, second run), over a tiny built data root;
   with ``--fresh-visits``, each page's first visit in a fresh process (after Home), as a new
   server's first user meets it (imports, checkpoint, index read check, UMAP compile included);
3. zero-shot re-score of N studies after editing one prompt (real text tower of the tiny
   checkpoint, cached study embeddings, one matrix product);
4. UMAP (cosine) of N studies: first fit in the process (numba compilation included) and again;
5. how the model reads a prompt pair: embedding a dataset's unique report sentences (once per
   checkpoint and dataset; ``--reports DATASET``, default the tiny one) and one pair's reading.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests")]


def page_stems(folder: Path = REPO / "pages") -> list[str]:
    """Every page of ``pages/`` by file stem, Home first as a server's first visit opens it: read
    from the folder, so a page added to the app is benched with no list here to forget it (this
    bench's and bench_scale's lists were once kept by hand, and bench_scale's lacked Few-shot)."""
    return sorted((p.stem for p in folder.glob("*.py")), key=lambda stem: (stem != "home", stem))


PAGES = [f"pages/{stem}.py" for stem in page_stems()]


class _Factory:
    def __init__(self, base: Path):
        self.base = base

    def getbasetemp(self) -> Path:
        return self.base


def build_root(base: Path) -> Path:
    from dashboard_fixtures import tiny_data_root

    return tiny_data_root(_Factory(base))


def bench_cold_start(root: Path) -> None:
    from test_browser_e2e import CHROMIUM, browser_page, streamlit_server

    start = time.perf_counter()
    with streamlit_server(root) as base:
        health = time.perf_counter() - start
        print(f"cold start: server healthy after {health:.1f} s")
        if not CHROMIUM.exists():
            print("cold start: chromium missing, first-render figure skipped")
            return
        with browser_page() as page:
            t0 = time.perf_counter()
            page.goto(base)
            page.get_by_text("Quick start").wait_for()
            first = time.perf_counter() - t0
            print(
                f"cold start: Home rendered {first:.1f} s after the first request "
                f"({health + first:.1f} s from launch)"
            )


def time_page(
    page: str, state: dict | None = None, timeout: float = 600
) -> tuple[float, float, str]:
    """(first render, warm rerun) seconds of ``page`` (``pages/x.py``) opened from the app with
    ``state`` in the session, and ``ok`` or the exception it raised."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=timeout)
    for key, value in (state or {}).items():
        at.session_state[key] = value
    at.run()
    t0 = time.perf_counter()
    at.switch_page(page).run()
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    at.run()
    warm = time.perf_counter() - t0
    return first, warm, "ok" if not at.exception else f"EXCEPTION {at.exception[0].value}"


def bench_page_reruns(root: Path) -> None:
    os.environ["CMR_DATA_ROOT"] = str(root)
    for page in PAGES:
        state = {"e-method": "PCA"} if page.endswith("embeddings.py") else {}
        first, warm, status = time_page(page, state)
        print(
            f"page {page:22s} first {first * 1000:7.0f} ms  warm rerun {warm * 1000:6.0f} ms  {status}"
        )


FRESH_VISIT = """
import sys, time
from streamlit.testing.v1 import AppTest

if __name__ == "__main__":
    at = AppTest.from_file(sys.argv[1], default_timeout=600)
    at.run()
    t0 = time.perf_counter()
    at.switch_page(sys.argv[2]).run()
    first = time.perf_counter() - t0
    t0 = time.perf_counter()
    at.run()
    print(first, time.perf_counter() - t0, len(at.exception))
"""


def bench_fresh_visits(root: Path) -> None:
    """Each page's first visit (after Home) and a rerun, each page in a process of its own."""
    import subprocess

    env = {**os.environ, "CMR_DATA_ROOT": str(root)}
    for page in PAGES:
        out = subprocess.run(
            [sys.executable, "-c", FRESH_VISIT, str(REPO / "app.py"), page],
            cwd=REPO,
            env=env,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.split()
        first, warm, errors = float(out[-3]), float(out[-2]), int(out[-1])
        status = "ok" if not errors else f"{errors} EXCEPTION(S)"
        print(
            f"fresh process: {page:22s} first {first * 1000:7.0f} ms  "
            f"rerun {warm * 1000:6.0f} ms  {status}"
        )


def clustered_unit_vectors(n: int, dim: int, seed: int = 0) -> np.ndarray:
    """``n`` unit vectors of ``dim`` around 12 random centres: embeddings with structure."""
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(12, dim))
    vectors = centres[rng.integers(0, 12, n)] + 0.6 * rng.normal(size=(n, dim))
    return (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)


def bench_rescore(root: Path, n: int) -> None:
    import functools

    from dashboard.scoring import CachedTextEncoder, score_all
    from model.embed import embed_texts
    from model.prompts import DEFAULT_PROMPTS, PromptSet
    from model.training.checkpoint import load_checkpoint

    checkpoint = next((root / "runs" / "tiny").glob("best.pt"))
    model, _meta = load_checkpoint(checkpoint)
    encoder = CachedTextEncoder(functools.partial(embed_texts, model))
    prompts = PromptSet.load(DEFAULT_PROMPTS)
    dim = int(encoder(["probe"]).shape[1])
    vectors = clustered_unit_vectors(n, dim)
    ids = [f"s{i}" for i in range(n)]
    t0 = time.perf_counter()
    score_all(ids, vectors, prompts, encoder, 30.0)
    cold = time.perf_counter() - t0
    timings = []
    for i in range(5):
        name = next(iter(prompts.findings))
        edited = PromptSet.from_dict(prompts.to_dict())
        first = edited.findings[name]
        edited.findings[name] = type(first)((f"{first.positive[0]} (edit {i})",), first.negative)
        t0 = time.perf_counter()
        scores = score_all(ids, vectors, edited, encoder, 30.0)
        timings.append(time.perf_counter() - t0)
    print(
        f"zero-shot: {n:,} studies x {scores.findings.shape[1]} findings + {scores.diagnoses.shape[1]} "
        f"classes (D={dim}): all prompts encoded {cold * 1000:.0f} ms; one prompt edited "
        f"median {np.median(timings) * 1000:.0f} ms, max {max(timings) * 1000:.0f} ms"
    )


def bench_prompt_reading(root: Path, reports: Path | None) -> None:
    import functools

    from dashboard.scoring import CachedTextEncoder
    from model.data.dataset import CMRDataset
    from model.embed import embed_texts
    from model.prompt_reading import embed_report_sentences, read_prompt_pair
    from model.training.checkpoint import load_checkpoint

    model, _meta = load_checkpoint(next((root / "runs" / "tiny").glob("best.pt")))
    studies = CMRDataset.open(reports or root / "ds" / "tiny").studies
    t0 = time.perf_counter()
    sentences = embed_report_sentences(studies["impression"], functools.partial(embed_texts, model))
    first = time.perf_counter() - t0
    encoder = CachedTextEncoder(functools.partial(embed_texts, model))
    timings = []
    for i in range(5):
        t0 = time.perf_counter()
        read_prompt_pair(f"Myocardial LGE {i}", f"No LGE {i}", encoder, sentences)
        timings.append(time.perf_counter() - t0)
    print(
        f"prompt reading: {len(sentences.texts):,} unique report sentences of {len(studies):,} "
        f"studies embedded in {first:.1f} s (once per checkpoint and dataset); one new prompt "
        f"pair read: median {np.median(timings) * 1000:.0f} ms, max {max(timings) * 1000:.0f} ms"
    )


def bench_umap(n: int) -> None:
    from model.projection import ProjectionConfig, fit_projection

    vectors = clustered_unit_vectors(n, 128)
    ids = [f"s{i}" for i in range(n)]
    for label in ("first in process (numba compile)", "again (compiled)"):
        t0 = time.perf_counter()
        fit_projection(ids, vectors, ProjectionConfig(method="UMAP"))
        print(
            f"UMAP: {n:,} studies, D=128, fitted on 2,000, the rest placed by 10-NN, {label}: "
            f"{time.perf_counter() - t0:.1f} s"
        )
    t0 = time.perf_counter()
    fit_projection(ids, vectors, ProjectionConfig(method="PCA"))
    print(f"PCA: {n:,} studies: {(time.perf_counter() - t0) * 1000:.0f} ms")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-root", type=Path, help="a built tiny data root (built if omitted)")
    parser.add_argument("--studies", type=int, default=10_000)
    parser.add_argument("--skip-umap", action="store_true")
    parser.add_argument("--skip-browser", action="store_true")
    parser.add_argument("--reports", type=Path, help="dataset whose report sentences are read")
    parser.add_argument("--fresh-visits", action="store_true", help="first visits, fresh processes")
    args = parser.parse_args()
    root = args.data_root or build_root(Path(tempfile.mkdtemp(prefix="bench-dashboard-")))
    if not args.skip_browser:
        bench_cold_start(root)
    bench_page_reruns(root)
    if args.fresh_visits:
        bench_fresh_visits(root)
    bench_rescore(root, args.studies)
    bench_prompt_reading(root, args.reports)
    if not args.skip_umap:
        bench_umap(args.studies)


if __name__ == "__main__":
    main()
