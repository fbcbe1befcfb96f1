"""Smoke test of bench/bench_erasure_spreadsheets.py (so it cannot rot: its workbook must still
be found naming the study sought, by the part holding it). No timing is asserted."""

from __future__ import annotations

import pytest

from bench import bench_erasure_spreadsheets


def test_the_workbook_is_read_and_each_ratio_printed(capsys: pytest.CaptureFixture[str]) -> None:
    bench_erasure_spreadsheets.main(["--studies", "30", "--repeats", "1"])
    lines = capsys.readouterr().out.splitlines()
    assert lines[0].startswith("30 rows, workbook ")
    assert [line.split(":")[0] for line in lines[-2:]] == [
        "zip_hits / decompress",
        "zip_hits / csv search",
    ]
