"""bench/bench_fingerprint.py runs end to end on a few studies (the figures are in RESULTS.md)."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent


def test_the_bench_times_the_fingerprints_and_the_memo(tmp_path: Path) -> None:
    command = [sys.executable, str(REPO / "bench" / "bench_fingerprint.py"), "--studies", "40"]
    command += ["--repeats", "1", "--keep", str(tmp_path)]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    lines = done.stdout.splitlines()
    assert lines[0] == "40 studies, tensors [9, 16, 32, 32]"
    assert [line.split("warm")[0].strip() for line in lines[1:]] == [
        "size + mtime (before)",
        "content, 1 reader",
        "content, 8 readers (memo miss)",
        "memo hit (after)",
    ]
