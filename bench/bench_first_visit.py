"""A fresh dashboard process's first visit to a page, with the checkpoint's metadata sidecar or
without it (or with the code before the sidecar).

    python -m bench.bench_first_visit --data-root ROOT --checkpoint CKPT
        [--page pages/zeroshot.py] [--runs 6] [--before DIR] [--read POSITIVE NEGATIVE]

What a clinician waits for when they open a page of a newly restarted dashboard, its study
embeddings and prompt vectors already stored: each run is a new interpreter that imports
Streamlit's test runner (as a server has imported Streamlit before any visit) and then runs the
app once on ``--page`` (``AppTest``), timed. Runs alternate the states ``no sidecar`` (the
sidecar of ``CKPT``, ``CKPT.meta.json``, is removed first: the page reads the checkpoint's
metadata with torch, as every visit did before the sidecar, and writes the sidecar) and
``sidecar`` (the one the run before wrote), and with ``--before DIR`` (a checkout of the code
before the change, e.g. ``git worktree add DIR <commit>``) a third, ``before``: that code's app
on the same data. ``--read`` also reads a pair of wordings on the Zero-shot page ("How does the
model read these two wordings?"), whose report sentences are kept beside the study embeddings
after the first reading (``model.sentence_store``). Each run prints its time, whether torch was imported and whether the page
showed an error; the summary gives each state's median and the load average before and after.
It removes and rewrites only the sidecar of ``CKPT``: run it on a copy of a data root.
"""

from __future__ import annotations

import argparse
import json
import os
import statistics
import subprocess
import sys
from pathlib import Path

FIRST_VISIT = """
import json, sys, time
from streamlit.testing.v1 import AppTest

at = AppTest.from_file(sys.argv[1], default_timeout=600)
at.switch_page(sys.argv[2])
if len(sys.argv) > 3:  # the Zero-shot page's trial pair, read ("How does the model read...")
    at.session_state["zs-try-pos"], at.session_state["zs-try-neg"] = sys.argv[3:5]
    at.session_state["zs-read"] = True
start = time.perf_counter()
at.run()
print(json.dumps({
    "seconds": time.perf_counter() - start,
    "torch": "torch" in sys.modules,
    "errors": [str(box.value)[:200] for box in [*at.exception, *at.error]],
}))
"""


def first_visit(code: Path, data_root: Path, page: str, wordings: list[str]) -> dict:
    """The figures of one fresh process's first visit to ``page`` of ``code``'s app (reading
    the two ``wordings`` on the Zero-shot page, when given)."""
    done = subprocess.run(
        [sys.executable, "-c", FIRST_VISIT, str(code / "app.py"), page, *wordings],
        cwd=code,
        env={**os.environ, "CMR_DATA_ROOT": str(data_root)},
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def load_text() -> str:
    """The 1, 5 and 15 minute load averages, as one line."""
    return "load average " + ", ".join(f"{x:.2f}" for x in os.getloadavg())


def main() -> None:
    from model.checkpoint_meta import sidecar_path

    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0].replace("\n", " "))
    parser.add_argument("--data-root", type=Path, required=True, help="a copy of a data root")
    parser.add_argument("--checkpoint", type=Path, required=True, help="its active checkpoint")
    parser.add_argument("--page", default="pages/zeroshot.py", help="the page first visited")
    parser.add_argument("--runs", type=int, default=6, help="runs of each state, alternated")
    parser.add_argument("--before", type=Path, help="a checkout of the code before the sidecar")
    parser.add_argument(
        "--read", nargs=2, default=[], metavar=("POSITIVE", "NEGATIVE"), help="a pair to read"
    )
    args = parser.parse_args()
    codes = {"no sidecar": Path(__file__).resolve().parents[1]}
    codes["sidecar"] = codes["no sidecar"]
    if args.before is not None:
        codes["before"] = args.before.resolve()
    times: dict[str, list[float]] = {state: [] for state in codes}
    print(f"start: {load_text()}")
    for run in range(args.runs):
        for state, code in codes.items():
            if state == "no sidecar":
                sidecar_path(args.checkpoint).unlink(missing_ok=True)
            got = first_visit(code, args.data_root, args.page, args.read)
            times[state].append(got["seconds"])
            print(
                f"run {run} {state}: {got['seconds']:.2f} s, torch imported: {got['torch']}, "
                f"errors: {got['errors']}"
            )
    for state, seconds in times.items():
        print(
            f"{state}: median {statistics.median(seconds):.2f} s, range "
            f"{min(seconds):.2f}-{max(seconds):.2f} s over {len(seconds)} runs"
        )
    print(f"end: {load_text()}")


if __name__ == "__main__":
    main()
