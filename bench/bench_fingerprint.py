"""Dataset fingerprint: the size-and-mtime hash recorded up to 2026-12 against the content one
(size and a sampled digest of every tensor, ``model.data.fingerprint``), read from the files (a
memo miss) and from the memo in the account's cache (``model.data.fingerprint_memo``).

    PYTHONPATH=. .venv/bin/python bench/bench_fingerprint.py [--studies 20000] [--frames 16]
        [--size 32] [--repeats 3] [--keep DIR]

Writes ``--studies`` random uint8 tensors ``[9, frames, size, size]`` and a studies.parquet
(once, into ``--keep`` when given, else a temporary folder), then times each fingerprint with
the files in the page cache (warm) and after asking the kernel to drop each file's cached pages
(``posix_fadvise DONTNEED``: cold, as after a reboot or on a dataset larger than memory; the
inodes a memo hit stats stay cached, which only dropping every cache as root would undo). The
content digest reads the same 16 blocks of any tensor over 64 KiB, so its cost does not grow
with the tensor size; the default 32 x 32 frames keep the bench's folder at about 3 GB instead of
12 GB at the default ingest size. Best of ``--repeats`` runs: wall seconds, and the CPU
seconds of this process (a figure that a machine shared with other work disturbs less); then
the wall time per study and as a multiple of the size-and-mtime one of the same run. The memo
is kept in the temporary folder, not the account's cache.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from model.data import fingerprint as fp  # noqa: E402
from model.data import fingerprint_memo  # noqa: E402
from model.process_setup import CACHE_ENV  # noqa: E402
from model.schema import DatasetPaths  # noqa: E402


def build(root: Path, studies: int, frames: int, size: int) -> list[str]:
    """Write the dataset's tensors and studies.parquet unless ``root`` holds them already."""
    paths = DatasetPaths(root)
    ids = [f"s{i:015x}" for i in range(studies)]
    if paths.studies.is_file() and len(pd.read_parquet(paths.studies)) == studies:
        return ids
    paths.tensors.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    for study_id in ids:
        np.save(paths.tensor(study_id), rng.integers(0, 256, (9, frames, size, size), np.uint8))
    pd.DataFrame({"study_id": ids, "split": "train"}).to_parquet(paths.studies, index=False)
    return ids


def drop_cache(paths: DatasetPaths, ids: list[str]) -> None:
    for study_id in ids:
        fd = os.open(paths.tensor(study_id), os.O_RDONLY)
        try:
            os.posix_fadvise(fd, 0, 0, os.POSIX_FADV_DONTNEED)
        finally:
            os.close(fd)


def best(run: Callable[[], str], repeats: int, before: Callable[[], None]) -> tuple[float, float]:
    """(wall, CPU of this process) seconds of the fastest of ``repeats`` runs."""
    times = []
    for _ in range(repeats):
        before()
        start, cpu = time.perf_counter(), time.process_time()
        run()
        times.append((time.perf_counter() - start, time.process_time() - cpu))
    return min(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=20000)
    parser.add_argument("--frames", type=int, default=16)
    parser.add_argument("--size", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--keep", type=Path)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as scratch:
        root = args.keep or Path(scratch)
        paths = DatasetPaths(root)
        ids = build(root, args.studies, args.frames, args.size)
        os.environ[CACHE_ENV] = str(Path(scratch) / "account-cache")  # not the home's memos
        print(f"{args.studies} studies, tensors [9, {args.frames}, {args.size}, {args.size}]")
        runs = {
            "size + mtime (before)": lambda: fp.mtime_fingerprint(paths, ids),
            "content, 1 reader": lambda: serial(paths, ids),
            f"content, {fp.READERS} readers (memo miss)": lambda: fp.content_fingerprint(
                paths, ids
            ),
            "memo hit (after)": lambda: fp.dataset_fingerprint(paths, ids),
        }
        baseline: tuple[float, float] | None = None
        for name, run in runs.items():
            if name.startswith("memo hit"):
                prime_memo(paths, ids)
            warm, warm_cpu = best(run, args.repeats, lambda: None)
            cold, cold_cpu = best(run, args.repeats, lambda: drop_cache(paths, ids))
            baseline = baseline or (warm, cold)
            per_study = f"{warm / len(ids) * 1e6:7.1f} / {cold / len(ids) * 1e6:7.1f} us"
            print(
                f"{name:32s} warm {warm:6.2f} s (CPU {warm_cpu:5.2f} s)   "
                f"cold {cold:6.2f} s (CPU {cold_cpu:5.2f} s)   per study warm/cold {per_study}"
                f"   x size+mtime {warm / baseline[0]:5.2f} / {cold / baseline[1]:5.2f}"
            )


def prime_memo(paths: DatasetPaths, ids: list[str]) -> None:
    """Fingerprint once so that the memo holds it, waiting until the files count as settled
    (``fingerprint_memo.SETTLED_S`` after they were last written)."""
    for _ in range(3):
        fp.dataset_fingerprint(paths, ids)
        if any(Path(os.environ[CACHE_ENV]).rglob("*.json")):
            return
        time.sleep(fingerprint_memo.SETTLED_S)
    raise RuntimeError("the fingerprint was not memoised: is the account cache writable?")


def serial(paths: DatasetPaths, ids: list[str]) -> str:
    """``content_fingerprint`` read by one thread (what the readers buy)."""
    readers = fp.READERS
    fp.READERS = 1
    try:
        return fp.content_fingerprint(paths, ids)
    finally:
        fp.READERS = readers


if __name__ == "__main__":
    main()
