"""Smoke test of bench/zeroshot_gap.py (so it cannot rot): a tiny two-site layout, no timing."""

from __future__ import annotations

import math
import shutil
import sys
from pathlib import Path

from model.schema import FINDINGS
from tests.tiny_dataset import make_tiny_dataset, shared_tiny_checkpoint

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "bench"))

import zeroshot_gap  # noqa: E402

COLUMNS = zeroshot_gap.COLUMNS


def test_every_finding_gets_its_aucs_and_single_class_ones_are_blank(tmp_path: Path) -> None:
    for site, n, seed in (("internal", 40, 0), ("external", 20, 1)):
        data = make_tiny_dataset(tmp_path / site, n=n, seed=seed)
        (tmp_path / "raw" / site).mkdir(parents=True)
        shutil.copy(data / "labels.csv", tmp_path / "raw" / site / "labels.csv")
    checkpoint = shared_tiny_checkpoint()[1]  # any real checkpoint: only read
    rows = zeroshot_gap.gap_table(
        checkpoint, tmp_path / "internal", tmp_path / "external", tmp_path / "raw"
    )
    assert [row["finding"] for row in rows] == list(FINDINGS)
    by_finding = {row["finding"]: row for row in rows}
    # the tiny reports vary LV size, LV function and LGE; every other finding is always absent
    for finding in FINDINGS:
        values = [by_finding[finding][column] for column in COLUMNS]
        if finding in ("lv_dysfunction", "lv_dilation", "lge"):
            assert all(0.0 <= value <= 1.0 for value in values), (finding, values)
        else:
            assert all(math.isnan(value) for value in values), (finding, values)
