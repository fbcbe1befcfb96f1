"""bench/bench_storage.py runs end to end on a tiny demo-like root (the figures are in
RESULTS.md): the cleaning frees the stale caches, temporaries and surplus job records only."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np

from model.checkpoint_meta import CheckpointFacts, CheckpointMeta, file_stamp, write_sidecar
from tests.tiny_dataset import make_tiny_dataset

REPO = Path(__file__).resolve().parent.parent


def test_the_bench_builds_cleans_and_times(tmp_path: Path) -> None:
    demo = tmp_path / "demo-root"
    dataset = make_tiny_dataset(demo / "demo" / "internal", n=4)
    (dataset / "embeddings").mkdir()
    vectors = np.zeros((4, 8), np.float32)
    np.savez(
        dataset / "embeddings" / "ab12-0123456789abcdef.npz", ids=np.arange(4), vectors=vectors
    )
    checkpoint = demo / "runs" / "demo-cpu-small" / "best.pt"
    checkpoint.parent.mkdir(parents=True)
    checkpoint.write_bytes(b"w" * 1000)
    meta = CheckpointMeta(checkpoint, {}, "ab12ab12ab12ab12", "", 1, 1)
    write_sidecar(checkpoint, CheckpointFacts(meta, None), file_stamp(checkpoint))
    command = [sys.executable, str(REPO / "bench" / "bench_storage.py"), "--demo", str(demo)]
    command += ["--root", str(tmp_path / "root"), "--jobs", "150", "--stale-caches", "3"]
    command += ["--current-caches", "2", "--repeats", "1"]
    done = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr[-2000:]
    result = json.loads(done.stdout)
    assert result["train_jobs_listed_before"] == 25
    # 3 stale caches with a map and a use mark each, the demo's own stale one, the 50
    # temporaries, 5 job records of each of 6 kinds; the copied checkpoint is no real one (its
    # sidecar vouches for the source's file only), so no cache is removed for its checkpoint
    assert result["removals"] == 3 * 3 + 1 + 50 + 6 * 5
    assert (dataset / "studies.parquet").is_file()
    kept = sorted((tmp_path / "root" / "demo" / "internal" / "embeddings").glob("*-*.npz"))
    assert len([p for p in kept if ".map-" not in p.name]) == 2
    assert "ab12ab12ab12ab12" in {p.name.split("-")[0] for p in kept}
