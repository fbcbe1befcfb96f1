"""What the folder fsync after each atomic write costs: a checkpoint save and a small ingest,
with it and without it, alternated in one run.

    PYTHONPATH=. .venv/bin/python bench/bench_fsync.py [--preset cpu-small] [--studies 8] [--repeats 5]

``model.atomic`` fsyncs a file before renaming it into place (as it always has) and, since
session 48, its folder after, so the new name survives a power cut. "without" stands in
``sync_folder`` with a no-op (the code before), "with" is the product default. The checkpoint is
the one a run writes after every epoch (``bench_checkpoint.trained_model``); the ingest writes
one tensor file per study plus its tables, into a fresh folder each time (the DICOM set is
generated first, not timed). Prints the median wall time of each and the folder fsyncs counted.
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
import model.atomic as atomic  # noqa: E402
from bench.bench_checkpoint import timed_save, trained_model  # noqa: E402
from model.data.ingest import ingest  # noqa: E402

_REAL_SYNC = atomic.sync_folder


@contextlib.contextmanager
def folder_sync(enabled: bool, counter: list[int]) -> Iterator[None]:
    """The product's folder fsync (counted), or none: the code before session 48."""

    def counted(folder: str | Path) -> None:
        counter[0] += 1
        _REAL_SYNC(folder)

    chosen = counted if enabled else (lambda _folder: None)
    atomic.sync_folder = chosen
    try:
        yield
    finally:
        atomic.sync_folder = _REAL_SYNC


def timed(action: Callable[[int], None], repeats: int) -> dict[bool, tuple[float, int]]:
    """{with fsync: (median seconds, folder fsyncs per run)}, the two alternated."""
    seconds: dict[bool, list[float]] = {False: [], True: []}
    syncs = {False: [0], True: [0]}
    for repeat in range(repeats):
        for enabled in (False, True) if repeat % 2 == 0 else (True, False):
            with folder_sync(enabled, syncs[enabled]):
                started = time.perf_counter()
                action(repeat * 2 + enabled)
                seconds[enabled].append(time.perf_counter() - started)
    return {on: (statistics.median(seconds[on]), syncs[on][0] // repeats) for on in seconds}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--preset", default="cpu-small")
    parser.add_argument("--studies", type=int, default=8)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    from sample_data.generate import generate

    model, config, resume = trained_model(args.preset)
    with tempfile.TemporaryDirectory(prefix="bench-fsync-") as tmp:
        work = Path(tmp)
        generate(work / "generated", studies=args.studies, site="internal", seed=7, workers=1)

        def save(_run: int) -> None:  # as a run saves last.pt: frozen layers by reference
            timed_save(work / "run" / "last.pt", model, config, resume, by_reference=True)

        figures = {"checkpoint save": timed(save, args.repeats)}
        src = work / "generated" / "dicom"
        figures["ingest"] = timed(lambda i: ingest(src, work / f"ds{i}"), args.repeats)
    for name, by_mode in figures.items():
        (off, _), (on, syncs) = by_mode[False], by_mode[True]
        print(
            f"{name}: without folder fsync {off * 1000:.0f} ms, with {on * 1000:.0f} ms "
            f"({(on - off) * 1000:+.0f} ms, {syncs} folder fsyncs per run)"
        )


if __name__ == "__main__":
    main()
