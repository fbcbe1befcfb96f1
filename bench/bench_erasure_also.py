"""What ``forget``'s scan pays (session 51) for reading every text column of a ``.parquet`` and
of a CSV naming the studies (ids in columns other than ``study_id``), and for ``--also``.

    PYTHONPATH=. .venv/bin/python bench/bench_erasure_also.py [--files 20] [--studies 1300]
        [--repeats 5]

Writes into a temporary folder ``--files`` each of, ``--studies`` rows, one study withdrawn
(named in every file): a zero-shot style score table (``study_id, site, split`` + 5 scores) as
``.parquet`` and as CSV, a search export ``.parquet`` (``query_study_id, neighbour_study_id,
rank, similarity, impression``: no ``study_id`` column), and an ``embed --out`` ``.parquet``
(256-d). Then the best of ``--repeats`` runs of

- ``find_mentions`` as before this session: a parquet's ``study_id`` column alone read, a CSV's
  ``study_id`` column alone (``parquet_hits`` and the CSV reader replaced by the old ones);
- ``find_mentions`` as now (every text column of a parquet; a CSV the byte search found read
  whole, its other columns of rows kept searched);
- the same files half in a data root and half in a folder given with ``--also``: the scan of
  the two (``erase_everywhere``'s loop) against the one root holding all of them;
- per file, before and now: the best CPU time of 50 reads of each kind (less disturbed by
  other work on the machine than the scans).

Wall seconds; the CPU seconds of this process are printed too (less disturbed by other work).
"""

from __future__ import annotations

import argparse
import functools
import sys
import tempfile
from pathlib import Path
from unittest import mock

import numpy as np
import pandas as pd
import pyarrow as pa
import pyarrow.compute as pc
import pyarrow.parquet as pq

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from bench.bench_erasure_files import best  # noqa: E402
from model import erasure_files, erasure_text  # noqa: E402
from model.erasure_files import Hits, Wanted, wanted_of  # noqa: E402
from model.erasure_scan import Mentions, find_mentions  # noqa: E402
from model.study_embeddings import StudyEmbeddings  # noqa: E402

LABELS = ("lge", "hcm", "dcm", "mi", "normal")


def make_files(folder: Path, first: int, files: int, studies: int) -> list[str]:
    """The files of the module docstring, numbered from ``first``; returns the study ids."""
    rng = np.random.default_rng(0)
    ids = [f"s{i:015x}" for i in range(studies)]
    scores = pd.DataFrame({"study_id": ids, "site": "internal", "split": "test"})
    scores = scores.assign(**{k: rng.random(studies) for k in LABELS})
    near = pd.DataFrame(
        {
            "query_study_id": ids,
            "neighbour_study_id": ids[1:] + ids[:1],
            "rank": 1,
            "similarity": rng.random(studies),
            "impression": [f"Normal LV size and function, study {i}." for i in range(studies)],
        }
    )
    vectors = rng.standard_normal((studies, 256)).astype(np.float32)
    embeddings = StudyEmbeddings(ids, vectors, {"checkpoint_fingerprint": "f" * 16})
    for n in range(first, first + files):
        run = folder / f"run{n:02d}"
        run.mkdir(parents=True)
        scores.to_parquet(run / "scores.parquet", index=False)
        scores.to_csv(run / "scores.csv", index=False)
        near.to_parquet(run / "neighbours.parquet", index=False)
        embeddings.save(run / "vectors.parquet")
    return ids


def old_parquet_hits(path: Path, ids: set[str], _accessions: object = None) -> Hits | None:
    """``parquet_hits`` before this session: the ``study_id`` column only."""
    with pq.ParquetFile(path) as handle:
        names = handle.schema_arrow.names
        if "study_id" not in names:
            return Hits(0, 0, False)
        column = handle.read(columns=["study_id"]).column("study_id")
    hit = pc.is_in(column.cast(pa.string()), value_set=pa.array(sorted(ids), pa.string()))
    embedding = names[1:] == [f"e{i}" for i in range(len(names) - 1)] and len(names) > 1
    return Hits(int(pc.sum(hit).as_py() or 0), len(column), embedding)


def old_csv_hits(path: Path, wanted: Wanted) -> Hits | None:
    """The CSV reading before this session: the ``study_id`` column only."""
    column = pd.read_csv(path, dtype=str, keep_default_na=False, usecols=["study_id"])
    found = int(column["study_id"].isin(wanted.ids).sum())
    return Hits(found, len(column), False) if found else None


def scan(folders: list[Path], gone: list[str]) -> Mentions:
    """``erase_everywhere``'s scan of the data root and the ``--also`` folders."""
    found = Mentions()
    for folder in folders:
        found.add(find_mentions(folder, [f for f in folders if f != folder], gone))
    return found


def per_file(run: Path, gone: set[str]) -> None:
    """Print the best CPU milliseconds of 50 reads of each file of ``run``, before and now."""
    kinds = {
        name: (old_parquet_hits, erasure_files.parquet_hits)
        for name in ("scores.parquet", "neighbours.parquet", "vectors.parquet")
    }
    kinds["scores.csv"] = (old_csv_hits, erasure_text.table_hits)
    for name, reads in kinds.items():
        path = run / name
        wanted = wanted_of(sorted(gone), []) if name.endswith(".csv") else gone
        then, cpu = (best(functools.partial(f, path, wanted), 50)[1] * 1e3 for f in reads)
        print(f"{name:20s} before {then:6.2f} ms cpu  now {cpu:6.2f} ms cpu")


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--files", type=int, default=20)
    parser.add_argument("--studies", type=int, default=1300)
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args(argv)
    with tempfile.TemporaryDirectory() as scratch:
        root, split, also = (Path(scratch) / name for name in ("root", "split", "also"))
        ids = make_files(root, 0, args.files, args.studies)
        half = args.files // 2
        make_files(split, 0, half, args.studies)
        make_files(also, half, args.files - half, args.studies)
        gone = ids[len(ids) // 2 : len(ids) // 2 + 1]
        size = sum(p.stat().st_size for p in root.rglob("*") if p.is_file()) / 1e6
        print(f"{args.files} x (scores parquet + csv, neighbours parquet, vectors); {size:.1f} MB")
        with (
            mock.patch.object(erasure_files, "parquet_hits", old_parquet_hits),
            mock.patch.object(erasure_text, "table_hits", old_csv_hits),
        ):
            before = best(lambda: scan([root], gone), args.repeats)
            old = scan([root], gone)
        now = best(lambda: scan([root], gone), args.repeats)
        found = scan([root], gone)
        two = best(lambda: scan([split, also], gone), args.repeats)
        assert len(scan([split, also], gone).other) == len(found.other)
        per_file(root / "run00", set(gone))
    print(f"before: {len(old.rows)} tables, {len(old.other)} listed")
    print(f"now:    {len(found.rows)} tables, {len(found.other)} listed")
    rows = (("scan before", before), ("scan now", now), ("root + also", two))
    for name, (wall, cpu) in rows:
        print(f"{name:12s} wall {wall * 1e3:8.1f} ms  cpu {cpu * 1e3:8.1f} ms")


if __name__ == "__main__":
    main()
