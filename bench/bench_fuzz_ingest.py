"""Fuzz ingest with many mutated DICOM files; print files tried, crashes, slowest file and peak RSS.

    .venv/bin/python bench/bench_fuzz_ingest.py [--files 2000] [--seed 0] [--batch 20]

Real DICOM files from ``tests/dicom_factory.py`` (one small study) are mutated by
``tests/dicom_fuzz.py`` (truncation, bit flips, huge or wrong element lengths, wrong VRs, lying
Rows/Columns/BitsAllocated, inserted garbage). Each batch of mutated files, together with the
intact rest of the study, is ingested into a fresh dataset folder. A crash is ingest raising, or a
mutated file that ends nowhere: not on a report line, and (header readable) its study neither
written nor rejected with a reason. Per-file time is
``read_headers`` + ``read_pixels`` of each mutated file alone (what ingest does with it).
"""

from __future__ import annotations

import argparse
import logging
import random
import resource
import shutil
import sys
import tempfile
import time
import traceback
import warnings
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))
from dicom_factory import StudySpec, write_study  # noqa: E402
from dicom_fuzz import mutate, random_mutation, study_of, unaccounted  # noqa: E402

from model.data.dicom_read import read_headers, read_pixels  # noqa: E402
from model.data.ingest import ingest  # noqa: E402


def _per_file(path: Path) -> tuple[float, float]:
    """(wall s, CPU s) of what ingest does with one file alone: read its header and pixels."""
    started, cpu = time.perf_counter(), time.process_time()
    try:
        for header in read_headers(path):
            read_pixels(path, header.layout)
    except Exception:  # noqa: BLE001 - hostile files fail in many ways; only time matters here
        pass
    return time.perf_counter() - started, time.process_time() - cpu


def run_batch(study: Path, rng: random.Random, size: int, work: Path) -> dict:
    """Mutate ``size`` files of the study, ingest the whole folder; return figures."""
    src = work / "src"
    shutil.copytree(study, src)
    files = sorted(p for p in src.rglob("*") if p.is_file())
    chosen = rng.sample(files, min(size, len(files)))
    times, cpu_times, studies = [], [], {}
    for path in chosen:
        path.write_bytes(mutate(path.read_bytes(), random_mutation(rng)))
        seconds, cpu = _per_file(path)
        times.append(seconds)
        cpu_times.append(cpu)
        studies[str(path.relative_to(src))] = study_of(path)
    crash = ""
    try:
        summary = ingest(src, work / "ds", frames=4, size=16)
        missing = unaccounted(work / "ds", studies)
        if summary.files_seen != len(files):
            crash = f"ingest saw {summary.files_seen} of {len(files)} files"
        elif missing:
            crash = f"unaccounted files: {missing[:3]}"
    except Exception:  # noqa: BLE001 - any escape is the crash being counted
        crash = traceback.format_exc(limit=3)
    shutil.rmtree(src)
    shutil.rmtree(work / "ds", ignore_errors=True)
    return {"files": len(chosen), "max_s": max(times), "max_cpu_s": max(cpu_times), "crash": crash}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=2000, help="mutated files to try")
    parser.add_argument("--batch", type=int, default=20, help="mutated files per ingest")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.ERROR)
    warnings.filterwarnings("ignore", module="pydicom")  # hostile files make it chatty
    rng = random.Random(args.seed)
    with tempfile.TemporaryDirectory(prefix="fuzz-ingest-") as tmp:
        work = Path(tmp)
        study = write_study(work / "seed", StudySpec(rows=24, cols=20, phases=4, sax_slices=2))
        seeds = sorted(p for p in study.rglob("*") if p.is_file())
        tried, crashes, max_s, max_cpu, started = 0, [], 0.0, 0.0, time.perf_counter()
        while tried < args.files:
            result = run_batch(study, rng, min(args.batch, args.files - tried), work)
            tried += result["files"]
            max_s, max_cpu = max(max_s, result["max_s"]), max(max_cpu, result["max_cpu_s"])
            if result["crash"]:
                crashes.append(result["crash"])
        elapsed = time.perf_counter() - started
    peak_mb = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    print(f"seed study: {len(seeds)} files; batches of {args.batch} mutated files per ingest")
    print(f"files tried: {tried}")
    print(f"crashes found: {len(crashes)}")
    print(f"max per-file time: {max_s * 1000:.1f} ms wall, {max_cpu * 1000:.1f} ms CPU")
    print(f"peak RSS: {peak_mb:.0f} MB")
    print(f"total: {elapsed:.1f} s ({tried / elapsed:.1f} files/s)")
    for crash in crashes[:5]:
        print("---", crash, sep="\n")
    return 1 if crashes else 0


if __name__ == "__main__":
    sys.exit(main())
