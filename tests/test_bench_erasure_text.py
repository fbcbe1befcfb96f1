"""Smoke test of bench/bench_erasure_text.py (so it cannot rot: it stubs the scan's readers,
whose names and signatures must follow the current ones). No timing is asserted."""

from __future__ import annotations

import pytest

from bench import bench_erasure_text


def test_scans_with_and_without_the_session_53_additions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bench_erasure_text.main(["--files", "2", "--studies", "40", "--frames", "3", "--repeats", "1"])
    out = capsys.readouterr().out
    assert "before: 0 tables, 0 listed, 0 zips listed" in out
    assert "now: 2 tables, 2 listed, 2 zips listed" in out  # labels.csv rows, frames.npz, zip
