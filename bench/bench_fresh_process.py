"""An embedded index's child processes: forked from the fork server against spawned afresh.

    python -m bench.bench_fresh_process [--repeats 3] [--studies 1300]

Every write to an embedded index folder, and every read check of one, runs in a child process
that never held the caller's heap (``model.index.fresh_process``). Each repeat starts one fresh
Python per way, alternating, that does what an index command and then the dashboard do with a
folder, each step in its own child, and prints each step's wall seconds:

1. ``write``: upsert that many synthetic 256-d studies into a new folder (the first child; with
   the fork server, it starts the server);
2. ``check``: ``damaged_collections`` counts and queries the folder's collection (the dashboard's
   read check of a folder it has not seen);
3. ``rewrite``: the same upsert again (every study unchanged, as a second index command);
4. ``check again``: the read check once more.

Ways: ``forkserver`` (the product since 2026-12-08) and ``spawn`` (every child a new interpreter,
as before; the peer, measured in the same run). The bench prints the median per way and step and
the ratio of spawn to the fork server.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
STEPS = ("write", "check", "rewrite", "check again")
CHILD = """
import json, multiprocessing, sys, tempfile, time
from pathlib import Path

from bench.bench_index import records
from model.index import fresh_process
from model.index.cli_index import _write
from model.index.client import ChromaLocation
from model.index.read_check import damaged_collections

way, studies = sys.argv[1], int(sys.argv[2])
if way == "spawn":
    fresh_process._context = lambda: multiprocessing.get_context("spawn")
data = records(studies)
seconds = []
with tempfile.TemporaryDirectory() as folder:
    location = ChromaLocation(path=Path(folder) / "chroma")
    steps = [
        lambda: _write(location, "f" * 64, data, None),
        lambda: damaged_collections(location),
        lambda: _write(location, "f" * 64, data, None),
        lambda: damaged_collections(location),
    ]
    for step in steps:
        start = time.perf_counter()
        step()
        seconds.append(time.perf_counter() - start)
print(json.dumps(seconds))
"""


def step_seconds(way: str, studies: int) -> list[float]:
    """Each step's wall seconds in a fresh Python doing them the ``way`` given."""
    done = subprocess.run(
        [sys.executable, "-c", CHILD, way, str(studies)],
        cwd=REPO,
        capture_output=True,
        text=True,
        check=False,
    )
    if done.returncode != 0:
        raise RuntimeError(f"{way} failed (exit status {done.returncode}): {done.stderr[-2000:]}")
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--studies", type=int, default=1300)
    args = parser.parse_args()
    ways = ("forkserver", "spawn")
    found: dict[str, list[list[float]]] = {way: [] for way in ways}
    for _ in range(args.repeats):
        for way in ways:
            found[way].append(step_seconds(way, args.studies))
    for index, step in enumerate([*STEPS, "all"]):
        median = {
            way: statistics.median(sum(run) if step == "all" else run[index] for run in found[way])
            for way in ways
        }
        for way in ways:
            print(f"{step}, {way}: {median[way]:.2f} s (median of {args.repeats})")
        print(f"{step}, spawn / forkserver: {median['spawn'] / median['forkserver']:.2f}x")


if __name__ == "__main__":
    main()
