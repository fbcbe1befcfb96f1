"""bench/bench_explain.py runs on the tiny preset and counts the occlusions it times."""

from __future__ import annotations

from pathlib import Path

import pytest

from bench.bench_explain import main
from tests.tiny_dataset import write_tiny_preset

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_bench_prints_a_row_per_chunk_with_the_occlusion_count(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    preset = write_tiny_preset(tmp_path / "tiny.json")
    argv = ["--preset", str(preset), "--repeats", "1", "--chunks", "8", "64", "--patch", "16"]
    assert main([*argv, "--threads", "1"]) == 0
    rows = [line.split("|") for line in capsys.readouterr().out.splitlines()[2:]]
    assert [row[1].strip() for row in rows] == ["8", "64"]
    # 9 views, 7 x 4 + 2 frames, 9 x 2 x 2 squares of 16 px on 32-pixel frames
    assert {row[3].strip() for row in rows} == {str(9 + 30 + 36)}
