"""Smoke test of bench/bench_few_shot.py (so it cannot rot as model.few_shot changes): tiny
sizes, every method and study count printed with its ratio to the floor. No timing is asserted;
the figures live in bench/RESULTS.md."""

from __future__ import annotations

import sys

import pytest

from bench import bench_few_shot


def test_every_method_and_size_is_timed_against_its_floor(
    monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    argv = ["bench_few_shot", "--studies", "50", "120", "--shots", "4", "6", "--dim", "16"]
    argv += ["--repeats", "1", "--evaluate-at", "200", "--resamples", "10", "20"]
    monkeypatch.setattr(sys, "argv", argv)
    bench_few_shot.main()
    lines = capsys.readouterr().out.splitlines()
    for n in ("N=50 ", "N=120 "):
        (start,) = [i for i, line in enumerate(lines) if line.startswith(n)]
        assert "floor vectors @ prototype" in lines[start]
        timed = lines[start + 1 : start + 7]
        for method in ("prototype, 4 examples", "prototype, 3 + 3", "logistic, 2 + 2"):
            assert sum(method in line and "ratio" in line for line in timed) == 1, timed
    (start,) = [i for i, line in enumerate(lines) if line.startswith("evaluate_ranking")]
    evaluation = lines[start:]
    assert "N=200" in evaluation[0] and "floor" in evaluation[0] and len(evaluation) == 3
    assert ["10 resamples" in evaluation[1], "20 resamples" in evaluation[2]] == [True, True]
    assert all("ratio" in line for line in evaluation[1:])
