"""What session 53's additions to ``forget``'s data-root scan cost: accession numbers written as
decimals (CSV cells, ``.parquet`` float columns of any name), ids within longer text values of
arrays, and zip archives' member names and text members (``model.erasure_numbers``,
``model.erasure_arrays``, ``model.erasure_zips``).

    PYTHONPATH=. .venv/bin/python bench/bench_erasure_text.py [--files 10] [--studies 1300]
        [--frames 30] [--repeats 5]

Writes into a temporary data root ``--files`` folders, each holding: a labels CSV saved again by
pandas (its accession column float, as after a gap), a zero-shot style ``.parquet`` of scores
(``study_id`` + 5 float columns), an ``.npz`` of frame paths (``--studies`` x ``--frames`` text
values ``exports/<accession>/frame_07.png``, no key array) and an export zip (one picture member
per study under ``exports/<accession>/``, the labels CSV and a JSON summary). One study is
withdrawn by its accession number of digits. Prints the best of ``--repeats`` of

- ``find_mentions`` with the session's additions stubbed (no zip read, array values matched
  whole only, no decimal looked for) and as now, and the difference a folder;
- reading one zip (``erasure_zips.zip_hits``), one frame-path array (whole values only, and with
  tokens: the cost per element, the array naming the study and, another study sought, naming
  none), the scores parquet with and without its float columns read,
  and the labels CSV's cells.

Wall seconds; the CPU seconds of this process too (less disturbed by other work).
"""

from __future__ import annotations

import argparse
import contextlib
import json
import sys
import tempfile
import zipfile
from collections.abc import Iterator
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_erasure_files import accession, best  # noqa: E402
from model import (  # noqa: E402
    erasure_arrays,
    erasure_files,
    erasure_numbers,
    erasure_text,
    erasure_zips,
)
from model.erasure_files import wanted_of  # noqa: E402
from model.erasure_scan import find_mentions  # noqa: E402

LABELS = ("lge", "hcm", "dcm", "mi", "normal")


def make_root(root: Path, files: int, studies: int, frames: int) -> list[str]:
    """The data root of the module docstring; returns the accession numbers."""
    rng = np.random.default_rng(0)
    numbers = [accession(i) for i in range(studies)]
    as_float = [float(n) if i % 97 else np.nan for i, n in enumerate(numbers)]  # with gaps
    labels = pd.DataFrame({"accession_number": as_float, "lge": rng.integers(0, 2, studies)})
    ids = [f"S{i:016d}" for i in range(studies)]
    scores = pd.DataFrame({"study_id": ids, **{k: rng.random(studies) for k in LABELS}})
    paths = np.array([f"exports/{n}/frame_{f:02d}.png" for n in numbers for f in range(frames)])
    for n in range(files):
        folder = root / f"run{n:02d}"
        folder.mkdir(parents=True)
        labels.to_csv(folder / "labels.csv", index=False)
        scores.to_parquet(folder / "scores.parquet", index=False)
        np.savez_compressed(folder / "frames.npz", paths=paths)
        with zipfile.ZipFile(folder / "export.zip", "w", zipfile.ZIP_DEFLATED) as archive:
            for number in numbers:
                archive.writestr(f"exports/{number}/cine.png", b"\x89PNG" * 256)
            archive.write(folder / "labels.csv", "labels.csv")
            archive.writestr("summary.json", json.dumps({"auc": 0.91, "studies": studies}))
    return numbers


@contextlib.contextmanager
def without_session_53() -> Iterator[None]:
    """The scan with zips unread, array values matched whole only, and no decimal sought."""
    with (
        mock.patch.object(erasure_zips, "zip_hits", lambda p, w: erasure_zips.ZipHits()),
        mock.patch.object(erasure_arrays, "text_names", lambda text, wanted: False),
        mock.patch.object(erasure_files, "decimal_numbers", lambda a: []),
        mock.patch.object(erasure_numbers, "decimal_numbers", lambda a: []),
    ):
        yield


def per_item(run: Path, gone: list[str], studies: int, frames: int) -> None:
    """Print the best CPU milliseconds of 20 reads of each kind of file of ``run``."""
    wanted = wanted_of(["S" + "9" * 16], gone)
    absent = wanted_of(["S" + "9" * 16], ["0079999999"])  # in no file
    with np.load(run / "frames.npz") as data:
        paths = data["paths"]
    reads = {
        "zip (members + text)": lambda: erasure_zips.zip_hits(run / "export.zip", wanted),
        "frame paths, whole": lambda: erasure_arrays._named(paths, wanted).any(),
        "frame paths, tokens": lambda: erasure_arrays._mentioned(paths, wanted),
        "frame paths, none held": lambda: erasure_arrays._mentioned(paths, absent),
        "scores.parquet, text": lambda: erasure_files.parquet_hits(run / "scores.parquet", set()),
        "scores.parquet, +float": lambda: erasure_files.parquet_hits(
            run / "scores.parquet", set(), frozenset(gone)
        ),
        "labels.csv cells": lambda: erasure_text.table_hits(run / "labels.csv", wanted),
    }
    cpu = {name: best(read, 20)[1] * 1e3 for name, read in reads.items()}
    for name, ms in cpu.items():
        print(f"{name:24s} best of 20: {ms:7.2f} ms cpu")
    elements = studies * frames
    for name in ("frame paths, tokens", "frame paths, none held"):
        added = (cpu[name] - cpu["frame paths, whole"]) * 1e6 / elements
        print(f"{name}: {elements} elements, {added:.0f} ns an element added (cpu)")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--studies", type=int, default=1300)
    parser.add_argument("--frames", type=int, default=30)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "root"
        numbers = make_root(root, args.files, args.studies, args.frames)
        gone = [numbers[len(numbers) // 2 + 1]]
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6
        print(f"{args.files} x (labels.csv, scores.parquet, frames.npz, export.zip); {size:.1f} MB")
        with without_session_53():
            before = best(lambda: find_mentions(root, [], [], gone), args.repeats)
            old = find_mentions(root, [], [], gone)
        now = best(lambda: find_mentions(root, [], [], gone), args.repeats)
        found = find_mentions(root, [], [], gone)
        for name, got in (("before", old), ("now", found)):
            print(
                f"{name}: {len(got.rows)} tables, {len(got.other)} listed, "
                f"{len(got.zips)} zips listed"
            )
        for name, (wall, cpu) in (("scan before", before), ("scan now", now)):
            print(f"{name:12s} wall {wall * 1e3:8.1f} ms  cpu {cpu * 1e3:8.1f} ms")
        print(f"session 53 added {(now[1] - before[1]) * 1e3 / args.files:.1f} ms cpu a folder")
        per_item(root / "run00", gone, args.studies, args.frames)


if __name__ == "__main__":
    main()
