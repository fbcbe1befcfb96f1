"""Load: concurrent dashboard sessions and concurrent clients of a shared Chroma server.

    PYTHONPATH=. .venv/bin/python bench/bench_load.py [--studies 10000] [--sessions 8]
        [--session-seconds 60] [--clients 50] [--seconds 60] [--skip-dashboard] [--skip-server]

1. dashboard: ``--sessions`` AppTest sessions of ``app.py`` at once (a process each) over a data
   root with the tiny checkpoint (real text tower) and ``--studies`` studies with synthetic
   clustered embeddings. Each loops: open Zero-shot, edit a prompt (re-score every study), open
   Case browser, type a new query (rank every study, 12 case cards). Errors = exceptions or error
   boxes on a page; p50/p95 per operation.
2. server: ``chroma run`` on a free loopback port with ``--studies`` synthetic 256-d vectors (as in
   bench_index.py); ``--clients`` threads, each with its own HttpClient, query top-10 (one in four
   with a metadata filter) for ``--seconds``: errors, p50/p95, queries/s.
"""

from __future__ import annotations

import argparse
import contextlib
import multiprocessing
import os
import shutil
import sys
import tempfile
import threading
import time
from collections import defaultdict
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "bench")]

from bench_dashboard import build_root  # noqa: E402
from bench_index import records, synthetic  # noqa: E402
from chroma_server import chroma_server  # noqa: E402

from model.index.client import ChromaLocation, open_client  # noqa: E402
from model.index.embedding_index import EmbeddingIndex  # noqa: E402

CHECKPOINT = "10ad0000bench01"


@dataclass
class OpLog:
    """Latencies (s) per operation and error messages, shared by worker threads."""

    latencies: dict[str, list[float]] = field(default_factory=lambda: defaultdict(list))
    errors: list[str] = field(default_factory=list)
    _lock: threading.Lock = field(default_factory=threading.Lock)

    def record(self, op: str, seconds: float, error: str | None = None) -> None:
        with self._lock:
            self.latencies[op].append(seconds)
            if error is not None:
                self.errors.append(f"{op}: {error}")

    @classmethod
    def merged(cls, parts: list[tuple[dict[str, list[float]], list[str]]]) -> OpLog:
        """One log from (latencies, errors) pairs that worker processes sent back."""
        log = cls()
        for latencies, errors in parts:
            for op, values in latencies.items():
                log.latencies[op].extend(values)
            log.errors.extend(errors)
        return log

    def summary(self) -> dict[str, dict[str, float]]:
        """Per operation: count, p50 and p95 in milliseconds."""
        return {
            op: {
                "n": len(values),
                "p50_ms": float(np.percentile(values, 50) * 1000),
                "p95_ms": float(np.percentile(values, 95) * 1000),
            }
            for op, values in sorted(self.latencies.items())
        }


def _run_workers(count: int, target: Callable[[int], None]) -> None:
    threads = [threading.Thread(target=target, args=(i,), daemon=True) for i in range(count)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()


# ----- 1. dashboard sessions --------------------------------------------------------------------
def build_load_root(base: Path, studies: int, tiny_root: Path | None = None) -> Path:
    """A data root whose active dataset has ``studies`` studies with synthetic embeddings.

    The checkpoint is the tiny root's (built under ``base`` unless ``tiny_root`` is given; only
    read). Tensors are hard links to one tiny study; rows, labels and linkage repeat the tiny ones.
    """
    from bench_dashboard import clustered_unit_vectors

    from model.atomic import atomic_write_json
    from model.data.dataset import CMRDataset
    from model.embed import StudyEmbeddings, cache_path
    from model.training.checkpoint import read_checkpoint_meta

    tiny_root = tiny_root or build_root(base)
    root = base / "load-root"
    tiny, big = tiny_root / "ds" / "tiny", root / "ds" / f"load-{studies}"
    checkpoint = tiny_root / "runs" / "tiny" / "best.pt"
    if not (big / ".built").exists():
        source = pd.read_parquet(tiny / "studies.parquet")
        pick = np.arange(studies) % len(source)
        rows = source.iloc[pick].reset_index(drop=True)
        rows["study_id"] = [f"L{i:06d}" for i in range(studies)]
        rows["patient_key"] = "p" + rows["study_id"]
        rows["split"] = np.array(["train", "val", "test"])[np.arange(studies) % 3]
        (big / "tensors").mkdir(parents=True, exist_ok=True)
        one = tiny / "tensors" / f"{source['study_id'][0]}.npy"
        for study_id in rows["study_id"]:
            with contextlib.suppress(FileExistsError):
                os.link(one, big / "tensors" / f"{study_id}.npy")
        accessions = [f"LACC{i:06d}" for i in range(studies)]
        linkage = pd.read_csv(tiny / "linkage.csv").set_index("study_id")["accession_number"]
        labels = pd.read_csv(tiny / "labels.csv").set_index("accession_number")
        labels = labels.loc[linkage[source["study_id"]].to_numpy()[pick]].reset_index(drop=True)
        labels.insert(0, "accession_number", accessions)
        labels.to_csv(big / "labels.csv", index=False)
        link = {"study_id": rows["study_id"], "accession_number": accessions}
        pd.DataFrame(link).to_csv(big / "linkage.csv", index=False)
        for name in ("dataset.json", "ingest_report.csv"):
            shutil.copyfile(tiny / name, big / name)
        rows.to_parquet(big / "studies.parquet", index=False)
        meta = read_checkpoint_meta(checkpoint)
        vectors = clustered_unit_vectors(studies, int(meta.config["model"]["embed_dim"]))
        embeddings = StudyEmbeddings(ids=rows["study_id"].tolist(), vectors=vectors)
        embeddings.save(cache_path(CMRDataset.open(big), meta.fingerprint))
        (big / ".built").write_text("ok")
    atomic_write_json(root / "active.json", {"checkpoint": str(checkpoint), "dataset": str(big)})
    return root


def _page_step(log: OpLog, op: str, at, action: Callable[[], object]) -> None:
    start = time.perf_counter()
    error = None
    try:
        action()
        problems = [e.value for e in at.exception] + [e.value for e in at.error]
        error = str(problems[0])[:200] if problems else None
    except Exception as err:  # noqa: BLE001 - any failure of a session is an error to count
        error = f"{type(err).__name__}: {err}"[:200]
    log.record(op, time.perf_counter() - start, error)


def dashboard_load(root: Path, sessions: int, seconds: float, max_rounds: int = 1000) -> OpLog:
    """``sessions`` sessions looping re-scores and searches, started together behind a barrier.

    AppTest swaps Streamlit's process-wide runtime on every run, so concurrent sessions need a
    process each (caches are not shared); a single session runs in this process.
    """
    if sessions == 1:
        latencies, errors = _session(0, root, seconds, max_rounds, None)
        return OpLog.merged([(latencies, errors)])
    context = multiprocessing.get_context("spawn")
    barrier, queue = context.Barrier(sessions), context.Queue()
    args = (root, seconds, max_rounds, barrier, queue)
    procs = [context.Process(target=_session_process, args=(i, *args)) for i in range(sessions)]
    for proc in procs:
        proc.start()
    results = [queue.get(timeout=seconds + 900) for _ in procs]
    for proc in procs:
        proc.join(timeout=60)
    return OpLog.merged(results)


def _session_process(index: int, root: Path, seconds: float, max_rounds: int, barrier, queue):
    try:
        queue.put(_session(index, root, seconds, max_rounds, barrier))
    except Exception as err:  # noqa: BLE001 - a session that dies is an error, not a hang
        queue.put(({}, [f"session {index}: {type(err).__name__}: {err}"[:200]]))
        barrier.abort()


def _session(
    index: int, root: Path, seconds: float, max_rounds: int, barrier
) -> tuple[dict[str, list[float]], list[str]]:
    """One session: warm up (cold caches), wait for the others, then loop until time is up."""
    from streamlit.testing.v1 import AppTest

    os.environ["CMR_DATA_ROOT"] = str(root)
    log = OpLog()
    at = AppTest.from_file(str(REPO / "app.py"), default_timeout=600)
    _page_step(log, "open app (cold)", at, at.run)
    _page_step(log, "zero-shot (cold)", at, lambda: at.switch_page("pages/zeroshot.py").run())
    _page_step(log, "case browser (cold)", at, lambda: at.switch_page("pages/browser.py").run())
    if barrier is not None:
        barrier.wait(timeout=900)
    deadline = time.monotonic() + seconds
    for round_ in range(max_rounds):
        if time.monotonic() > deadline:
            break
        _session_round(log, at, f"reader {index} round {round_}")
    return dict(log.latencies), log.errors


def _session_round(log: OpLog, at, tag: str) -> None:
    query = f"Dilated left ventricle, {tag}"
    _page_step(log, "open zero-shot", at, lambda: at.switch_page("pages/zeroshot.py").run())
    _page_step(log, "zero-shot re-score", at, lambda: _edit_prompt(at, tag))
    _page_step(log, "open case browser", at, lambda: at.switch_page("pages/browser.py").run())
    _page_step(log, "text search", at, lambda: at.text_input(key="b-query").input(query).run())


def _edit_prompt(at, tag: str) -> None:
    at.text_input(key="zs-try-neg").input("Normal left ventricular size.")
    at.text_input(key="zs-try-pos").input(f"Dilated left ventricle ({tag}).").run()


# ----- 2. shared Chroma server ------------------------------------------------------------------
def fill_server(location: ChromaLocation, studies: int) -> float:
    """Upsert ``studies`` synthetic records into the server; returns the seconds it took."""
    from model.index.writer import upsert_records

    start = time.perf_counter()
    upsert_records(EmbeddingIndex(open_client(location), CHECKPOINT), records(studies))
    return time.perf_counter() - start


def server_load(location: ChromaLocation, clients: int, seconds: float) -> OpLog:
    """``clients`` threads with their own HttpClient querying top-10 until time is up."""
    queries = synthetic(512, seed=2)[0]
    log = OpLog()
    deadline = time.monotonic() + seconds

    def client(index: int) -> None:
        rng = np.random.default_rng(index)
        try:
            index_ = EmbeddingIndex(open_client(location), CHECKPOINT, exact_filters=False)
        except Exception as err:  # noqa: BLE001 - a client that cannot connect is an error
            log.record("connect", 0.0, f"{type(err).__name__}: {err}"[:200])
            return
        count = 0
        while time.monotonic() < deadline:
            filtered = count % 4 == 3
            op = "query top-10 + filter" if filtered else "query top-10"
            start = time.perf_counter()
            error = None
            where = {"site": "external"} if filtered else None
            try:
                hits = index_.search_vector(queries[rng.integers(len(queries))], 10, where)
                error = None if len(hits) == 10 else f"{len(hits)} hits instead of 10"
            except Exception as err:  # noqa: BLE001 - every failed query counts
                error = f"{type(err).__name__}: {err}"[:200]
            log.record(op, time.perf_counter() - start, error)
            count += 1

    _run_workers(clients, client)
    return log


def report(title: str, log: OpLog, seconds: float) -> None:
    total = sum(len(v) for v in log.latencies.values())
    print(f"{title}: {total} operations in {seconds:.0f} s, {len(log.errors)} errors")
    for op, stats in log.summary().items():
        print(
            f"  {op:24s} n={stats['n']:6d}  p50 {stats['p50_ms']:8.1f} ms  "
            f"p95 {stats['p95_ms']:8.1f} ms  ({stats['n'] / seconds:.1f}/s)"
        )
    for message in log.errors[:5]:
        print(f"  error: {message}")


def _load_average() -> str:
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=10_000)
    parser.add_argument("--sessions", type=int, default=8)
    parser.add_argument("--session-seconds", type=float, default=60.0)
    parser.add_argument("--clients", type=int, default=50)
    parser.add_argument("--seconds", type=float, default=60.0)
    parser.add_argument("--skip-dashboard", action="store_true")
    parser.add_argument("--skip-server", action="store_true")
    args = parser.parse_args()
    base = Path(tempfile.mkdtemp(prefix="bench-load-"))
    now = time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime())
    print(f"{now}, {os.cpu_count()} CPUs, load average before: {_load_average()}")
    if not args.skip_dashboard:
        root = build_load_root(base, args.studies)
        log = dashboard_load(root, args.sessions, args.session_seconds)
        title = f"dashboard: {args.sessions} sessions, {args.studies:,} studies"
        report(title, log, args.session_seconds)
        print(f"load average: {_load_average()}")
    if not args.skip_server:
        with chroma_server(base / "chroma", timeout_s=120.0) as location:
            filled = fill_server(location, args.studies)
            print(f"server: {args.studies:,} vectors (256-d) upserted in {filled:.1f} s")
            start = time.monotonic()
            log = server_load(location, args.clients, args.seconds)
            took = time.monotonic() - start
        report(f"server: {args.clients} clients", log, took)
        print(f"load average: {_load_average()}")
    shutil.rmtree(base, ignore_errors=True)


if __name__ == "__main__":
    main()
