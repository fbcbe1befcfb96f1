"""Benchmark the synthetic study generator: seconds, studies/s, files and MB on disk.

    python bench/bench_generate.py [--internal 100] [--external 30] [--workers 2] [--keep DIR]

Prints one line per site and an extrapolation to the default demo (1,000 internal + 300 external).
"""

from __future__ import annotations

import argparse
import os
import resource
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from sample_data.generate import generate  # noqa: E402

DEMO = {"internal": 1000, "external": 300}


def disk_usage_bytes(path: Path) -> tuple[int, int]:
    """(apparent bytes, allocated bytes as ``du`` counts file-system blocks)."""
    out = subprocess.run(
        ["du", "-sb", "--apparent-size", str(path)], capture_output=True, text=True
    )
    apparent = int(out.stdout.split()[0])
    blocks = subprocess.run(["du", "-sk", str(path)], capture_output=True, text=True)
    return apparent, int(blocks.stdout.split()[0]) * 1024


def _cpu_seconds() -> float:
    """CPU time of this process plus its finished children (the worker pool)."""
    own = resource.getrusage(resource.RUSAGE_SELF)
    children = resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--internal", type=int, default=100)
    parser.add_argument("--external", type=int, default=30)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--keep", type=Path, default=None, help="write here and keep the output")
    args = parser.parse_args()
    root = args.keep or Path(tempfile.mkdtemp(prefix="bench_generate_"))
    print(f"load average before: {os.getloadavg()[0]:.2f} on {os.cpu_count()} CPUs")
    demo_s = demo_mb = demo_cpu = 0.0
    for site, n in (("internal", args.internal), ("external", args.external)):
        if n <= 0:
            continue
        out = root / site
        cpu_before = _cpu_seconds()
        summary = generate(out, n, site, args.seed, workers=args.workers)
        cpu_per_study = (_cpu_seconds() - cpu_before) / n
        apparent, allocated = disk_usage_bytes(out)
        per_study_s = summary.seconds / n
        per_study_mb = allocated / 1e6 / n
        demo_s += per_study_s * DEMO[site]
        demo_cpu += cpu_per_study * DEMO[site]
        demo_mb += per_study_mb * DEMO[site]
        print(
            f"{site}: {n} studies, {summary.files} files, {summary.seconds:.1f} s "
            f"({n / summary.seconds:.2f} studies/s, {args.workers} workers), "
            f"{apparent / 1e6:.1f} MB apparent, {allocated / 1e6:.1f} MB allocated "
            f"({per_study_mb * 1000:.0f} kB/study), {cpu_per_study:.3f} CPU s/study"
        )
    print(
        f"extrapolated demo (1000 internal + 300 external): {demo_s:.0f} s wall here, "
        f"{demo_cpu:.0f} CPU s (= {demo_cpu / args.workers:.0f} s on {args.workers} idle cores), "
        f"{demo_mb:.0f} MB"
    )
    print(f"load average after: {os.getloadavg()[0]:.2f}")
    if args.keep is None:
        shutil.rmtree(root)


if __name__ == "__main__":
    main()
