"""Smoke test of bench/bench_val_loss.py (so it cannot rot): the tiny preset, a few seconds.

No timing is asserted; the figures live in bench/RESULTS.md.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

from tests.tiny_dataset import write_tiny_preset

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import bench_val_loss  # noqa: E402


def test_times_validation_with_and_without_the_batch_matched_loss(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    preset = write_tiny_preset(tmp_path / "tiny.json", batch_size=4)
    bench_val_loss.main(["--preset", str(preset), "--studies", "10", "--repeats", "1"])
    out = capsys.readouterr().out
    assert "10 val studies" in out and "batches of 4, sentence weight 0.5" in out
    assert "validation without val_loss_batch" in out and "the chunked loss" in out
