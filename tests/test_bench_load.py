"""Smoke test of bench/bench_load.py (so it cannot rot): tiny sizes, a few seconds, no errors.

No timing is asserted; the figures live in bench/RESULTS.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest
from dashboard_fixtures import tiny_data_root

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import bench_load  # noqa: E402


def test_dashboard_session_loop_rescores_and_searches(
    tmp_path: Path, tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch
) -> None:
    root = bench_load.build_load_root(tmp_path, 300, tiny_root=tiny_data_root(tmp_path_factory))
    assert len(pd.read_parquet(root / "ds" / "load-300" / "studies.parquet")) == 300
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    log = bench_load.dashboard_load(root, sessions=1, seconds=2.0, max_rounds=2)
    assert log.errors == []
    summary = log.summary()
    assert {"zero-shot re-score", "text search"} <= set(summary)
    assert all(s["n"] >= 1 and s["p50_ms"] <= s["p95_ms"] for s in summary.values())


def test_server_clients_query_without_errors(tmp_path: Path) -> None:
    with bench_load.chroma_server(tmp_path / "chroma") as location:
        bench_load.fill_server(location, 200)
        log = bench_load.server_load(location, clients=2, seconds=2.0)
    assert log.errors == []
    counts = {op: s["n"] for op, s in log.summary().items()}
    assert counts.get("query top-10", 0) >= 2 and counts.get("query top-10 + filter", 0) >= 1
