"""The case index a year on: what ``python -m model storage`` lists of it, and what
``--clean-caches --apply`` frees, on a data root with ``--checkpoints`` indexed checkpoints of
which ``--deleted`` runs were deleted since.

    PYTHONPATH=. .venv/bin/python bench/bench_storage_index.py --root DIR
        [--studies 1300] [--dim 128] [--checkpoints 5] [--deleted 3]

Builds at ``--root`` (which must not exist) an embedded index ``ds/chroma`` holding, per
checkpoint, the synthetic records the index tests use (``tests/index_fakes.py``: clustered
vectors, the studies' metadata and finding labels), written by the index's own writer; the
first kept checkpoint's index rebuilt once (``--rebuild``'s swap, as after a damaged graph), and
a run folder with a checkpoint (its sidecar only vouching for its fingerprint) for each kept one.
Then times the listing, the dry run and the cleaning (one each: the cleaning changes the root),
and says the case indexes' bytes on disk, the database file's and the segment folders before
and after.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import secrets
import sqlite3
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from chromadb.api.shared_system_client import SharedSystemClient  # noqa: E402

from model.checkpoint_meta import (  # noqa: E402
    CheckpointFacts,
    CheckpointMeta,
    file_stamp,
    write_sidecar,
)
from model.cli import main as cli_main  # noqa: E402
from model.index.client import ChromaLocation, open_client  # noqa: E402
from model.index.embedding_index import EmbeddingIndex  # noqa: E402
from model.index.rebuild import rebuild_index  # noqa: E402
from model.index.writer import upsert_records  # noqa: E402
from model.storage import clean_caches, human_size, survey  # noqa: E402
from tests.index_fakes import make_records  # noqa: E402


def build(root: Path, studies: int, dim: int, checkpoints: int, deleted: int) -> list[str]:
    """The root described in the module's docstring; the kept checkpoints' fingerprints."""
    folder = root / "ds" / "chroma"
    client = open_client(ChromaLocation(path=folder))
    fingerprints = [secrets.token_hex(8) for _ in range(checkpoints)]
    for seed, fingerprint in enumerate(fingerprints):
        upsert_records(EmbeddingIndex(client, fingerprint), make_records(studies, dim, seed))
    kept = fingerprints[deleted:]
    rebuild_index(client, kept[0], make_records(studies, dim, 99))
    SharedSystemClient.clear_system_cache()
    for fingerprint in kept:
        best = root / "runs" / fingerprint[:8] / "best.pt"
        best.parent.mkdir(parents=True)
        best.write_bytes(b"weights")
        meta = CheckpointMeta(best, {}, fingerprint, "", 1, 1)
        write_sidecar(best, CheckpointFacts(meta, None), file_stamp(best))
    return kept


def _index_state(root: Path) -> dict[str, object]:
    """The case indexes' bytes on disk, the database file's size and how much of it is free
    pages (what a VACUUM would give back), and the segment folders."""
    folder = root / "ds" / "chroma"
    database = folder / "chroma.sqlite3"
    with contextlib.closing(sqlite3.connect(f"{database.as_uri()}?mode=ro", uri=True)) as db:
        free = db.execute("PRAGMA freelist_count").fetchone()[0]
        free *= db.execute("PRAGMA page_size").fetchone()[0]
    return {
        "case_indexes": human_size(survey(root).usage["case indexes"].bytes),
        "database": human_size(database.stat().st_size),
        "database_free": human_size(free),
        "segment_folders": sum(1 for p in folder.iterdir() if p.is_dir()),
    }


def measure(root: Path) -> dict[str, object]:
    before = _index_state(root)
    started = time.perf_counter()
    with contextlib.redirect_stdout(io.StringIO()) as listing:
        cli_main(["storage", "--data-root", str(root)])
    listed = time.perf_counter() - started
    started = time.perf_counter()
    planned = clean_caches(root)
    dry = time.perf_counter() - started
    started = time.perf_counter()
    done = clean_caches(root, apply=True)
    cleaned = time.perf_counter() - started
    return {
        "before": before,
        "after": _index_state(root),
        "listing": [line for line in listing.getvalue().splitlines() if "cmrclip-" in line],
        "removals": {str(r.path.relative_to(root)): (r.why, r.detail) for r in planned.removals},
        "would_free": human_size(sum(r.bytes for r in planned.removals)),
        "freed": human_size(done.freed),  # the database's free pages too: --apply compacts it
        "would_free_bytes": sum(r.bytes for r in planned.removals),
        "freed_bytes": done.freed,
        "listing_s": round(listed, 2),
        "dry_run_s": round(dry, 2),
        "clean_s": round(cleaned, 2),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--root", type=Path, required=True, help="where to build (must not exist)")
    parser.add_argument("--studies", type=int, default=1300)
    parser.add_argument("--dim", type=int, default=128)
    parser.add_argument("--checkpoints", type=int, default=5)
    parser.add_argument("--deleted", type=int, default=3)
    args = parser.parse_args()
    if args.root.exists():
        parser.error(f"{args.root} exists; give a new folder")
    if not 0 <= args.deleted < args.checkpoints:
        parser.error("--deleted must be at least 0 and fewer than --checkpoints")
    build(args.root, args.studies, args.dim, args.checkpoints, args.deleted)
    print(json.dumps(measure(args.root), indent=2))


if __name__ == "__main__":
    main()
