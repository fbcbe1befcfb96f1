"""Smoke test of bench/bench_evaluate.py (so it cannot rot as the evaluation's interfaces
change): tiny sizes, no errors, every figure printed. No timing is asserted; the figures live in
bench/RESULTS.md."""

from __future__ import annotations

import sys

import pytest

from bench import bench_evaluate


def test_the_evaluation_bench_runs_on_a_small_synthetic_site(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["bench_evaluate", "--studies", "120", "--development", "120", "--episodes", "2"]
    monkeypatch.setattr(sys, "argv", [*argv, "--dim", "32"])
    bench_evaluate.main()
    printed = capsys.readouterr().out
    assert "total:" in printed and "train-split probe diagnosis accuracy" in printed
