"""Smoke test of bench/bench_erasure_files.py (so it cannot rot: it stubs the scan's readers,
whose signatures must follow the current ones). No timing is asserted."""

from __future__ import annotations

import pytest

from bench import bench_erasure_files


def test_scans_with_and_without_the_session_52_additions(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bench_erasure_files.main(["--files", "2", "--studies", "40", "--repeats", "1", "--named", "4"])
    out = capsys.readouterr().out
    assert "session 52 before: 6 tables, 0 files removed, 0 listed" in out
    assert "session 52 now: 10 tables, 2 files removed, 0 listed" in out  # .npz, int parquet, png
