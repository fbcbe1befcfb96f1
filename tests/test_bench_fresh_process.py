"""bench_fresh_process's harness: each way runs in a fresh process per repeat, and the medians
per step and the ratios are printed (the steps are replaced by trivial code here;
``tests/test_index_fresh_process.py`` checks the children themselves). No timing is asserted."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import bench_fresh_process  # noqa: E402

STEPS_BY_WAY = (
    "import sys\nprint([1.0, 2.0, 3.0, 4.0] if sys.argv[1] == 'spawn' else [1, 1, 1, 1])\n"
)


def test_each_step_is_reported_per_way_with_the_ratio(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    monkeypatch.setattr(bench_fresh_process, "CHILD", STEPS_BY_WAY)
    monkeypatch.setattr(sys, "argv", ["bench_fresh_process", "--repeats", "2", "--studies", "5"])
    bench_fresh_process.main()
    lines = capsys.readouterr().out.splitlines()
    assert [line.split(":")[0] for line in lines[:3]] == [
        "write, forkserver", "write, spawn", "write, spawn / forkserver",
    ]  # fmt: skip
    assert len(lines) == 3 * 5 and lines[-3].startswith("all, forkserver: 4.00 s (median of 2)")
    assert lines[-1] == "all, spawn / forkserver: 2.50x"
    assert lines[8] == "rewrite, spawn / forkserver: 3.00x"


def test_a_way_that_fails_stops_the_bench(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(bench_fresh_process, "CHILD", "raise SystemExit(3)\n")
    monkeypatch.setattr(sys, "argv", ["bench_fresh_process", "--repeats", "1"])
    with pytest.raises(RuntimeError, match="exit status 3"):
        bench_fresh_process.main()
