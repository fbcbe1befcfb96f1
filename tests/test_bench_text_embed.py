"""bench_text_embed on a tiny dataset: every impression is embedded cold and warm each repeat.
No timing is asserted; the figures live in bench/RESULTS.md."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import bench_text_embed  # noqa: E402
from model.data.dataset import CMRDataset  # noqa: E402
from tests.tiny_dataset import make_tiny_dataset, write_tiny_preset  # noqa: E402


def test_every_repeat_reports_cold_and_warm_for_every_impression(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    data = make_tiny_dataset(tmp_path / "data")
    preset = write_tiny_preset(tmp_path / "tiny.json")
    argv = ["bench_text_embed", "--data", str(data), "--preset", str(preset), "--repeats", "2"]
    monkeypatch.setattr(sys, "argv", argv)
    bench_text_embed.main()
    lines = capsys.readouterr().out.splitlines()
    reports = CMRDataset.open(data).studies["impression"].notna().sum()
    assert len(lines) == 2
    for repeat, line in enumerate(lines):
        assert f"repeat {repeat}: {reports} reports" in line
        assert "cold" in line and "warm" in line
