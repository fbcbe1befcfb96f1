"""Storage housekeeping on a data root six months on: the listing's time at that size, the bytes
``clean_caches`` frees, and what pruning the job records saves every page rerun.

    PYTHONPATH=. .venv/bin/python bench/bench_storage.py --demo /tmp/s41/demo --root DIR
        [--jobs 600] [--stale-caches 40] [--current-caches 10] [--repeats 3]

Copies a built demo root (``python -m model demo``) to ``--root`` (which must not exist), then
adds what months of use leave: per dataset ``--stale-caches`` embedding caches of an earlier
version of the dataset (each a copy of the demo's cache, with a map and a use mark) and
``--current-caches`` of the present one (the demo checkpoint's, and deleted runs'); ``--jobs`` ended
job records over six kinds (a train job's log 400 kB, the others' 20 kB), started over 180
days; 50 checkpoint temporaries of 1 MB left three days ago by killed writes. Then times
``survey`` (the listing), ``JobManager.list`` (what a Train page rerun reads), the dry run and
the cleaning, and the CLI as a user types it. Best of ``--repeats`` wall times.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from dashboard.jobs import JobManager  # noqa: E402
from model.checkpoint_meta import checkpoint_facts, read_sidecar  # noqa: E402
from model.data.dataset import CMRDataset  # noqa: E402
from model.storage import clean_caches, human_size, survey  # noqa: E402

KINDS = ("demo", "ingest", "train", "embed", "index", "evaluate")
DAY = 86400.0


def build(demo: Path, root: Path, jobs: int, stale: int, current: int) -> None:
    """The demo's copy with months of caches, job records and leftover writes added."""
    shutil.copytree(demo, root, symlinks=True)
    found = survey(root)
    copied = next(p for p in found.checkpoints if p.name == "best.pt")
    # the source's sidecar vouches for the source only; the copy is read (once) otherwise
    owner = read_sidecar(demo / copied.relative_to(root)) or checkpoint_facts(copied)
    for dataset in found.datasets:
        _caches(dataset, stale, current, owner.meta.fingerprint)
    now = time.time()
    for i in range(jobs):
        kind = KINDS[i % len(KINDS)]
        folder = root / "jobs" / f"{kind}-{i:05d}-{secrets.token_hex(3)}"
        folder.mkdir(parents=True)
        started = now - 180 * DAY * (1 - i / jobs)
        record = {"id": folder.name, "kind": kind, "started": started, "pid": 1, "outputs": {}}
        (folder / "job.json").write_text(json.dumps(record))
        (folder / "log.txt").write_bytes(b"x" * (400_000 if kind == "train" else 20_000))
        (folder / "progress.json").write_text('{"fraction": 1.0}')
        (folder / "result.json").write_text(json.dumps({"returncode": 0, "finished": started}))
    run = next(p.parent for p in root.rglob("best.pt"))
    for _ in range(50):
        temporary = run / f".best.pt.{secrets.token_hex(4)}.tmp"
        temporary.write_bytes(os.urandom(1_000_000))
        os.utime(temporary, (now - 3 * DAY, now - 3 * DAY))


def _caches(dataset: Path, stale: int, current: int, owner: str) -> None:
    """``stale`` caches of an earlier dataset version, ``current`` of the present one: the
    first of those of the demo's checkpoint, the others of deleted runs' checkpoints."""
    caches = dataset / "embeddings"
    source = next(p for p in caches.iterdir() if p.suffix == ".npz" and ".map-" not in p.name)
    fingerprint = CMRDataset.open(dataset).fingerprint()
    for count, data in ((stale, secrets.token_hex(8)), (current, fingerprint)):
        for i in range(count):
            checkpoint = owner if data == fingerprint and i == 0 else secrets.token_hex(8)
            name = f"{checkpoint}-{data}"
            shutil.copyfile(source, caches / f"{name}.npz")
            (caches / f"{name}.map-{secrets.token_hex(8)}.npz").write_bytes(os.urandom(30_000))
            (caches / f".{name}.npz.used").write_bytes(b"\n")


def best_of(repeats: int, action: Callable[[], object]) -> tuple[float, object]:
    """The shortest wall time of ``repeats`` calls, and the last call's result."""
    times, result = [], None
    for _ in range(repeats):
        started = time.perf_counter()
        result = action()
        times.append(time.perf_counter() - started)
    return min(times), result


def measure(root: Path, repeats: int) -> dict[str, object]:
    listing, before = best_of(repeats, lambda: survey(root))
    manager = JobManager(root / "jobs")
    jobs_before, listed = best_of(repeats, lambda: manager.list("train"))
    dry, planned = best_of(1, lambda: clean_caches(root))
    cli_started = time.perf_counter()
    subprocess.run(
        [sys.executable, "-m", "model", "storage", "--data-root", str(root)],
        cwd=REPO,
        check=True,
        capture_output=True,
    )
    cli = time.perf_counter() - cli_started
    cleaning, done = best_of(1, lambda: clean_caches(root, apply=True))
    after = survey(root)
    jobs_after, _ = best_of(repeats, lambda: manager.list("train"))
    return {
        "files": before.total.files,
        "bytes_before": before.total.bytes,
        "bytes_after": after.total.bytes,
        "freed": done.freed,
        "removals": len(planned.removals),
        "by_kind_before": {k: u.bytes for k, u in before.usage.items() if u.files},
        "by_kind_after": {k: u.bytes for k, u in after.usage.items() if u.files},
        "survey_s": round(listing, 2),
        "cli_s": round(cli, 2),
        "dry_run_s": round(dry, 2),
        "clean_s": round(cleaning, 2),
        "train_jobs_listed_before": len(listed),
        "jobs_list_before_s": round(jobs_before, 3),
        "jobs_list_after_s": round(jobs_after, 3),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--demo", type=Path, required=True, help="a built demo data root")
    parser.add_argument("--root", type=Path, required=True, help="where to build (must not exist)")
    parser.add_argument("--jobs", type=int, default=600)
    parser.add_argument("--stale-caches", type=int, default=40)
    parser.add_argument("--current-caches", type=int, default=10)
    parser.add_argument("--repeats", type=int, default=3)
    args = parser.parse_args()
    if args.root.exists():
        parser.error(f"{args.root} exists; give a new folder")
    build(args.demo, args.root, args.jobs, args.stale_caches, args.current_caches)
    result = measure(args.root, args.repeats)
    for key in ("bytes_before", "bytes_after", "freed"):
        result[key] = human_size(int(result[key]))
    for key in ("by_kind_before", "by_kind_after"):
        result[key] = {k: human_size(v) for k, v in result[key].items()}
    print(json.dumps(result, indent=2))


if __name__ == "__main__":
    main()
