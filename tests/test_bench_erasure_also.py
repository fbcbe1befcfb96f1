"""Smoke test of bench/bench_erasure_also.py (so it cannot rot: it patches in the scan's earlier
readers, whose signatures must follow the current ones). No timing is asserted."""

from __future__ import annotations

import pytest

from bench import bench_erasure_also


def test_scans_before_and_now_and_lists_the_tables_naming_the_study(
    capsys: pytest.CaptureFixture[str],
) -> None:
    bench_erasure_also.main(["--files", "2", "--studies", "40", "--repeats", "1"])
    out = capsys.readouterr().out
    assert "before: 4 tables, 0 listed" in out  # the study_id column alone
    assert "now:    4 tables, 2 listed" in out  # other columns read too
    assert "root + also" in out
