"""bench_checkpoint on the tiny preset: both storage forms are written, sized and loaded back.
No timing is asserted; the figures live in bench/RESULTS.md."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import bench_checkpoint  # noqa: E402
from tests.tiny_dataset import write_tiny_preset  # noqa: E402


def test_both_forms_are_saved_and_the_reference_form_is_smaller(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    preset = write_tiny_preset(tmp_path / "tiny.json")
    argv = ["bench_checkpoint", "--preset", str(preset), "--repeats", "1", "--out", str(tmp_path)]
    monkeypatch.setattr(sys, "argv", argv)
    bench_checkpoint.main()
    lines = capsys.readouterr().out.splitlines()
    sizes = {line.split()[1]: float(line.split("MiB")[0].split()[-1]) for line in lines[:2]}
    assert set(sizes) == {"every", "by"} and sizes["by"] < sizes["every"] / 3
    assert lines[2].startswith("load by reference")
    assert [p.name for p in tmp_path.iterdir()] == ["tiny.json"]  # the files were removed
