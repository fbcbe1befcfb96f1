"""Smoke test of bench/bench_accumulation.py (so it cannot rot): the tiny preset, a few seconds.

No timing is asserted; the figures live in bench/RESULTS.md.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from bench import bench_accumulation
from tests.tiny_dataset import write_tiny_preset


def test_two_micro_batches_hold_less_for_backward_than_one(tmp_path: Path) -> None:
    preset = write_tiny_preset(tmp_path / "tiny.json", batch_size=8)
    args = argparse.Namespace(
        preset=str(preset), kind="multiview", freqs="1,2", steps=1, rounds=1, batch_size=None,
        device="cpu",
    )  # fmt: skip
    one, two = bench_accumulation.measure(args)
    assert (one["freq"], one["micro_batch"], two["micro_batch"]) == (1, 8, 4)
    assert 0 < two["held_mib"] < one["held_mib"]
    assert one["ratio"] == 1.0 and two["step_s"] > 0 and two["cpu_s"] > 0
