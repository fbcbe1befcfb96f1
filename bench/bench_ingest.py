"""Ingest throughput against its floor, measured side by side in one run.

    .venv/bin/python bench/bench_ingest.py [--studies 20] [--site internal] [--workers 1 2] [--src DIR]

The floor is plain ``pydicom.dcmread`` + ``pixel_array`` of the same files in one process (no
grouping, resampling or writing). Ingest runs into a fresh dataset folder per worker count; the
ratio ingest files/s / floor files/s is printed per worker count (targets: >= 0.7 with 1 worker,
>= 1.7 with 2), with CPU ms per file (all processes), which a busy machine disturbs less than wall
time. For each worker count above 1 the same floor also runs in that many processes at once, each
on its share of the files: the machine's own parallel ceiling (two busy cores may each run slower
than one), against which the ingest's parallel efficiency is printed. Without ``--src`` a
synthetic set is generated first (not timed).
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing
import resource
import sys
import tempfile
import time
from pathlib import Path

import pydicom

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
from model.data.ingest import ingest  # noqa: E402


def _files(src: Path) -> list[Path]:
    return sorted(p for p in src.rglob("*") if p.is_file())


def _cpu_s() -> float:
    """CPU seconds of this process and its finished children (pool workers)."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def _read_and_decode(files: list[Path]) -> None:
    """The floor's work: plain read + pixel decode of each file."""
    for path in files:
        pydicom.dcmread(path).pixel_array  # noqa: B018 - decoding is what is timed


def floor_files_per_s(files: list[Path]) -> tuple[float, float]:
    """Plain read + decode of every file in this process: (files per second, CPU ms per file)."""
    started, cpu = time.perf_counter(), _cpu_s()
    _read_and_decode(files)
    return len(files) / (time.perf_counter() - started), (_cpu_s() - cpu) * 1000 / len(files)


def parallel_floor_files_per_s(files: list[Path], processes: int) -> float:
    """The floor in ``processes`` forked processes at once, files split evenly: files per second."""
    shares = [files[i::processes] for i in range(processes)]
    context = multiprocessing.get_context("fork")
    started = time.perf_counter()
    with context.Pool(processes) as pool:
        pool.map(_read_and_decode, shares, chunksize=1)
    return len(files) / (time.perf_counter() - started)


def ingest_files_per_s(src: Path, work: Path, workers: int) -> tuple[float, float, int]:
    """(files per second, CPU ms per file over all processes, studies written)."""
    out = work / f"dataset-w{workers}"
    cpu = _cpu_s()
    summary = ingest(src, out, workers=workers)
    cpu_ms = (_cpu_s() - cpu) * 1000 / summary.files_seen
    return summary.files_seen / summary.elapsed_s, cpu_ms, summary.studies_written


def _source(args: argparse.Namespace, work: Path) -> Path:
    if args.src is not None:
        return args.src
    from sample_data.generate import generate

    generate(work / "generated", studies=args.studies, site=args.site, seed=7, workers=2)
    return work / "generated" / "dicom"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=20)
    parser.add_argument("--site", default="internal")
    parser.add_argument("--workers", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--src", type=Path, help="existing DICOM folder instead of generating")
    parser.add_argument("--repeats", type=int, default=2, help="alternating floor / ingest rounds")
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    with tempfile.TemporaryDirectory(prefix="bench-ingest-") as tmp:
        work = Path(tmp)
        src = _source(args, work)
        files = _files(src)
        floor_files_per_s(files[:50])  # warm the page cache and imports
        print(f"{len(files)} files under {src}")
        for round_index in range(args.repeats):
            floor, floor_cpu = floor_files_per_s(files)
            print(
                f"round {round_index + 1}: floor (dcmread + pixel_array, 1 process): "
                f"{floor:8.1f} files/s, {floor_cpu:.2f} CPU ms/file"
            )
            for workers in args.workers:
                rate, cpu_ms, studies = ingest_files_per_s(src, work / f"r{round_index}", workers)
                print(
                    f"round {round_index + 1}: ingest workers={workers}: {rate:8.1f} files/s "
                    f"({studies} studies, {rate / floor:.2f}x floor), {cpu_ms:.2f} CPU ms/file "
                    f"({floor_cpu / cpu_ms:.2f}x floor per CPU second)"
                )
                if workers > 1:
                    ceiling = parallel_floor_files_per_s(files, workers)
                    print(
                        f"round {round_index + 1}: floor in {workers} processes: {ceiling:8.1f} "
                        f"files/s ({ceiling / floor:.2f}x floor); ingest workers={workers} reaches "
                        f"{rate / ceiling:.2f}x of it"
                    )


if __name__ == "__main__":
    main()
