"""What the ``/proc`` scan behind the served-folder check costs (``model.index.folder_users``),
as ``storage --clean-caches``, ``index`` and ``forget`` pay it once per command.

    PYTHONPATH=. .venv/bin/python bench/bench_folder_users.py [--extra 0 500] [--files 64]
        [--repeats 30]

For each ``--extra`` count, starts that many more idle processes (``sleep``, as a busy lab
server's daemons and shells), plus one process holding ``--files`` files open under a
temporary index folder and one looking like ``chroma run --path`` on it, then times
``folder_users`` over that folder ``--repeats`` times and prints the processes ``/proc`` listed
and the median and slowest scan. Checks each scan found the server and the reader.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO))

from model.index.folder_users import folder_users  # noqa: E402

_HOLD = (
    "import sys, time; from pathlib import Path; folder = Path(sys.argv[1]); "
    "held = [open(folder / f'f{i}', 'w') for i in range(int(sys.argv[2]))]; "
    "print('open', flush=True); time.sleep(600)"
)


def _start(command: list[str]) -> subprocess.Popen:
    proc = subprocess.Popen(command, stdout=subprocess.PIPE, text=True)
    assert proc.stdout is not None and proc.stdout.readline() == "open\n"
    return proc


def measure(extra: int, files: int, repeats: int) -> dict[str, float]:
    """Seconds per scan (median, slowest) with ``extra`` idle processes more, and how many
    processes ``/proc`` listed."""
    with tempfile.TemporaryDirectory() as tmp:
        folder = Path(tmp) / "chroma"
        folder.mkdir()
        idle = [subprocess.Popen(["sleep", "600"]) for _ in range(extra)]
        reader = _start([sys.executable, "-c", _HOLD, str(folder), str(files)])
        server = _start(
            [sys.executable, "-c", _HOLD, str(folder), "1", "chroma", "run", "--path", str(folder)]
        )
        try:
            listed = sum(entry.name.isdigit() for entry in Path("/proc").iterdir())
            times = []
            for _ in range(repeats):
                started = time.perf_counter()
                found = folder_users([folder])[folder]
                times.append(time.perf_counter() - started)
                assert [s.pid for s in found.servers] == [server.pid]
                assert found.readers == [reader.pid]
        finally:
            for proc in [*idle, reader, server]:
                proc.kill()
                proc.wait()
    return {"processes": listed, "median": statistics.median(times), "slowest": max(times)}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--extra", type=int, nargs="+", default=[0, 500])
    parser.add_argument("--files", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=30)
    args = parser.parse_args()
    for extra in args.extra:
        got = measure(extra, args.files, args.repeats)
        print(
            f"{got['processes']:.0f} processes in /proc (+{extra} idle): scan median "
            f"{got['median'] * 1000:.1f} ms, slowest {got['slowest'] * 1000:.1f} ms "
            f"({args.repeats} scans)"
        )


if __name__ == "__main__":
    main()
