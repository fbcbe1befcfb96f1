"""What ``forget``'s data-root scan pays for reading ``.parquet`` files and recognising
embedding files (``model.erasure_files``), and what rewriting them costs.

    PYTHONPATH=. .venv/bin/python bench/bench_erasure_files.py [--files 10] [--studies 1300]
        [--dim 256] [--repeats 5]

Writes into a temporary data root ``--files`` each of: ``embed --out`` files as ``.npz`` and as
``.parquet`` (``StudyEmbeddings.save``, ``--studies`` rows of ``--dim`` float32) and zero-shot
style ``.parquet`` score tables (study_id + 5 label columns), plus one CSV score table per file
(the scan's old business) and a copy of a dataset's ``labels.csv`` (``accession_number`` + 5
label columns, one row a study). Then, one study withdrawn, the best of ``--repeats`` runs of

- ``find_mentions`` as before this change: the same walk and byte search, parquet files not
  read and an ``.npz`` not recognised (``erasure_files.parquet_hits``/``npz_hits`` stubbed);
- ``find_mentions`` with parquet files read but ``.npz`` files not recognised (the cost of
  reading the parquet files alone);
- ``find_mentions`` as now (each parquet's ``study_id`` column read, each ``.npz`` naming the
  study opened to check it is an embedding file), searching by study id alone;
- ``find_mentions`` searching by the study's accession number too (``forget``'s scan: each
  file's bytes searched for it, each CSV naming it read as text cells, each parquet's text
  columns checked for it);
- ``rewrite_mentions`` of what it found (once, on a fresh copy: it changes the root);
- (session 52) on a second root, the same files plus, a folder, ``--named`` pictures named
  after studies' accession numbers (the withdrawn one's among them), a compressed ``.npz``
  keyed by accession numbers (S x 16 features) and a ``.parquet`` of them as integers:
  ``find_mentions`` by study id and accession number without the session's additions (no
  name checked, no array file read but embedding files, integer columns unread) and with them.

Wall seconds; the CPU seconds of this process are printed too (less disturbed by other work).
"""

from __future__ import annotations

import argparse
import contextlib
import shutil
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from model import erasure_arrays, erasure_files, erasure_scan  # noqa: E402
from model.erasure_arrays import ArrayHits  # noqa: E402
from model.erasure_files import Hits, wanted_of  # noqa: E402
from model.erasure_scan import find_mentions, rewrite_mentions  # noqa: E402
from model.study_embeddings import StudyEmbeddings  # noqa: E402

LABELS = ("lge", "hcm", "dcm", "mi", "normal")
NOTHING = ArrayHits(Hits(0, 0, False), False)


def make_root(root: Path, files: int, studies: int, dim: int) -> list[str]:
    """The data root described in the module docstring; returns the study ids (study ``i``'s
    accession number is ``accession(i)``)."""
    rng = np.random.default_rng(0)
    ids = [f"S{i:016d}" for i in range(studies)]
    vectors = rng.standard_normal((studies, dim)).astype(np.float32)
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    embeddings = StudyEmbeddings(ids, vectors, {"checkpoint_fingerprint": "f" * 16})
    scores = pd.DataFrame({"study_id": ids, **{k: rng.random(studies) for k in LABELS}})
    numbers = [accession(i) for i in range(studies)]
    labels = pd.DataFrame(
        {"accession_number": numbers, **{k: rng.integers(0, 2, studies) for k in LABELS}}
    )
    for n in range(files):
        folder = root / f"run{n:02d}"
        folder.mkdir(parents=True)
        embeddings.save(folder / "vectors.npz")
        embeddings.save(folder / "vectors.parquet")
        scores.to_parquet(folder / "scores.parquet", index=False)
        scores.to_csv(folder / "scores.csv", index=False)
        labels.to_csv(folder / "labels.csv", index=False)
    return ids


def make_extras(root: Path, files: int, studies: int, named: int) -> None:
    """The session-52 files of the module docstring, in each folder ``make_root`` made."""
    rng = np.random.default_rng(1)
    numbers = [accession(i) for i in range(studies)]
    features = rng.standard_normal((studies, 16)).astype(np.float32)
    as_int = pd.DataFrame({"accession_number": [int(n) for n in numbers], "lge": 0})
    middle = range(studies // 2 - named // 2, studies // 2 - named // 2 + named)
    for n in range(files):
        folder = root / f"run{n:02d}"
        (folder / "figures").mkdir()
        for i in middle:
            (folder / "figures" / f"{accession(i)}_attention.png").write_bytes(b"\x89PNG" * 64)
        keyed = {"accession_numbers": np.array(numbers), "features": features}
        np.savez_compressed(folder / "labels.npz", **keyed)
        as_int.to_parquet(folder / "labels_int.parquet", index=False)


@contextlib.contextmanager
def without_session_52() -> Iterator[None]:
    """The scan without names checked, other array files than embedding files read, integer
    columns read (it byte-searched those array files: not counted here, so the cost added is
    if anything overstated)."""
    with (
        mock.patch.object(
            erasure_scan, "erasure_names", mock.Mock(is_named=lambda name, wanted: False)
        ),
        mock.patch.object(erasure_arrays, "array_hits", lambda p, w: NOTHING),
        mock.patch.object(erasure_files, "accession_numbers", lambda a: []),
    ):
        yield


@contextlib.contextmanager
def arrays_unrecognised() -> Iterator[None]:
    """An ``.npz`` recognised neither as an embedding file nor by its arrays."""
    with (
        mock.patch.object(erasure_files, "npz_hits", lambda p, i: None),
        mock.patch.object(erasure_arrays, "array_hits", lambda p, w: NOTHING),
    ):
        yield


def session_52(scratch: Path, args: argparse.Namespace) -> None:
    """Print the scan's cost before and with the session's additions (module docstring)."""
    root = scratch / "root52"
    ids = make_root(root, args.files, args.studies, args.dim)
    make_extras(root, args.files, args.studies, args.named)
    gone, numbers = [ids[len(ids) // 2]], [accession(len(ids) // 2)]
    with without_session_52():
        before = best(lambda: find_mentions(root, [], gone, numbers), args.repeats)
        old = find_mentions(root, [], gone, numbers)
    now = best(lambda: find_mentions(root, [], gone, numbers), args.repeats)
    found = find_mentions(root, [], gone, numbers)
    for name, got in (("before", old), ("now", found)):
        print(
            f"session 52 {name}: {len(got.rows)} tables, {len(got.removed)} files removed, "
            f"{len(got.other)} listed"
        )
    for name, (wall, cpu) in (("52 before", before), ("52 now", now)):
        print(f"{name:12s} wall {wall * 1e3:8.1f} ms  cpu {cpu * 1e3:8.1f} ms")
    print(f"session 52 added {(now[0] - before[0]) * 1e3 / args.files:.2f} ms a folder (wall)")
    wanted = wanted_of(gone, numbers)
    reads = {
        "labels.npz arrays": lambda: erasure_arrays.array_hits(
            root / "run00" / "labels.npz", wanted
        ),
        "int parquet, text": lambda: erasure_files.parquet_hits(
            root / "run00" / "labels_int.parquet", set(gone)
        ),
        "int parquet, +int": lambda: erasure_files.parquet_hits(
            root / "run00" / "labels_int.parquet", set(gone), frozenset(numbers)
        ),
    }
    for name, read in reads.items():
        print(f"{name:18s} best of 50: {best(read, 50)[1] * 1e3:6.2f} ms cpu")


def accession(i: int) -> str:
    """Study ``i``'s accession number (digits, as many hospitals' are)."""
    return f"{70000000 + i:010d}"


def best(run: Callable[[], object], repeats: int) -> tuple[float, float]:
    """Best wall and CPU seconds of ``repeats`` calls of ``run``."""
    walls, cpus = [], []
    for _ in range(repeats):
        wall, cpu = time.perf_counter(), time.process_time()
        run()
        walls.append(time.perf_counter() - wall)
        cpus.append(time.process_time() - cpu)
    return min(walls), min(cpus)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=10)
    parser.add_argument("--studies", type=int, default=1300)
    parser.add_argument("--dim", type=int, default=256)
    parser.add_argument("--repeats", type=int, default=5)
    parser.add_argument("--named", type=int, default=50)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        root = Path(scratch) / "root"
        ids = make_root(root, args.files, args.studies, args.dim)
        gone = ids[len(ids) // 2 : len(ids) // 2 + 1]
        numbers = [accession(len(ids) // 2)]
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6
        print(
            f"{args.files} x (npz, parquet embeddings, parquet + csv scores, labels.csv); {size:.1f} MB"
        )
        with (
            mock.patch.object(erasure_files, "parquet_hits", lambda p, i, a=(): Hits(0, 0, False)),
            arrays_unrecognised(),
        ):
            before = best(lambda: find_mentions(root, [], gone), args.repeats)
        with arrays_unrecognised():
            parquet = best(lambda: find_mentions(root, [], gone), args.repeats)
        now = best(lambda: find_mentions(root, [], gone), args.repeats)
        by_acc = best(lambda: find_mentions(root, [], gone, numbers), args.repeats)
        found = find_mentions(root, [], gone, numbers)
        print(f"found: {len(found.embeddings)} embedding files, {len(found.rows)} tables")
        copy = Path(scratch) / "copy"
        shutil.copytree(root, copy)
        found = find_mentions(copy, [], gone, numbers)
        rewrite = best(lambda: rewrite_mentions(found, set(gone), "now", 1, numbers), 1)
        session_52(Path(scratch), args)
    rows = (
        ("scan before", before),
        ("+ parquet", parquet),
        ("ids only", now),
        ("+ accession", by_acc),
    )
    for name, (wall, cpu) in (*rows, ("rewrite", rewrite)):
        print(f"{name:12s} wall {wall * 1e3:8.1f} ms  cpu {cpu * 1e3:8.1f} ms")
    per_parquet = (parquet[0] - before[0]) * 1e3 / (2 * args.files)
    per_npz = (now[0] - parquet[0]) * 1e3 / args.files
    print(f"added per parquet file {per_parquet:.2f} ms, per embedding .npz {per_npz:.2f} ms")
    per_labels = (by_acc[0] - now[0]) * 1e3 / args.files
    print(
        f"accession search added {(by_acc[0] / now[0] - 1) * 100:.0f}%, {per_labels:.2f} ms a folder"
    )


if __name__ == "__main__":
    main()
