"""bench_first_visit on a copy of the tiny data root: a run with the checkpoint's sidecar removed
reads the metadata with torch and writes the sidecar; the next run reads it and imports no
torch. No timing is asserted; the figures live in bench/RESULTS.md."""

from __future__ import annotations

import shutil
import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench import bench_first_visit  # noqa: E402

pytestmark = pytest.mark.slow


def test_a_visit_without_the_sidecar_imports_torch_and_one_with_it_does_not(
    data_root: Path,
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    root = Path(shutil.copytree(data_root, tmp_path / "root"))
    checkpoint = root / "runs" / "tiny" / "best.pt"
    argv = ["bench_first_visit", "--data-root", str(root), "--checkpoint", str(checkpoint)]
    monkeypatch.setattr(sys, "argv", [*argv, "--runs", "1"])
    bench_first_visit.main()
    lines = capsys.readouterr().out.splitlines()
    assert len(lines) == 6, lines
    assert lines[0].startswith("start: load average")
    assert (
        lines[1].startswith("run 0 no sidecar") and "torch imported: True, errors: []" in lines[1]
    )
    assert lines[2].startswith("run 0 sidecar") and "torch imported: False, errors: []" in lines[2]
    assert lines[3].startswith("no sidecar: median") and lines[4].startswith("sidecar: median")
    assert lines[5].startswith("end: load average")
