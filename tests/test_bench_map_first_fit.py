"""bench_map_first_fit's harness: each way runs in a fresh process per repeat and size, and the
medians and the ratio are printed (the fits are replaced by trivial code here;
``tests/test_projection.py`` checks the map itself). No timing is asserted."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import bench_map_first_fit  # noqa: E402


def test_each_way_and_size_runs_in_a_child_and_is_reported(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    setup = "import sys, time\nn = int(sys.argv[1])\nstart = time.perf_counter()\n"
    fits = {"ours": "x = n\n", "umap-search": "sum(range(n * 1000))\n"}
    monkeypatch.setattr(bench_map_first_fit, "SETUP", setup)
    monkeypatch.setattr(bench_map_first_fit, "FITS", fits)
    argv = ["bench_map_first_fit", "--repeats", "2", "--studies", "5", "50"]
    monkeypatch.setattr(sys, "argv", argv)
    bench_map_first_fit.main()
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines] == [
        "5 studies, ours", "5 studies, umap-search", "5 studies, umap-search / ours",
        "50 studies, ours", "50 studies, umap-search", "50 studies, umap-search / ours",
    ]  # fmt: skip
    assert all(line.endswith("s (median of 2)") for line in lines[:2])
    assert lines[2].endswith("x")


def test_a_fit_that_fails_stops_the_bench(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_map_first_fit, "SETUP", "raise SystemExit(3)\n")
    monkeypatch.setattr(sys, "argv", ["bench_map_first_fit", "--repeats", "1", "--studies", "5"])
    with pytest.raises(Exception, match="exit status 3"):
        bench_map_first_fit.main()
