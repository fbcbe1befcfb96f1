"""What the Zero-shot page sends to the browser at a large hospital's scale (run on demand).

    python bench/bench_zeroshot_table.py [--studies 20000] [--root DIR] [--baseline OLD_PAGE.py]

Builds (or reuses) ``bench_scale``'s data root of ``--studies`` studies, opens the Zero-shot
page with ``streamlit.testing.v1.AppTest``, then changes the prompt (a tried finding, which
re-scores every study) and prints the bytes the page's elements carry after it: the per-study
table's Arrow data, every dataframe's, and every element's serialised proto (what the forward
messages carry, less their envelopes), with the rerun's CPU time. ``--baseline`` measures
another version of the page (``git show REV:pages/zeroshot.py > old.py``) in the same run,
alternating with the current one.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "bench")]

from bench_scale import build_scaled_root  # noqa: E402

PROMPT = ("Late gadolinium enhancement of the inferior wall", "No late gadolinium enhancement")


def element_bytes(node) -> int:
    """Serialised size of every element under ``node`` of an AppTest tree."""
    children = getattr(node, "children", None)
    if children is not None:
        return sum(element_bytes(child) for child in children.values())
    proto = getattr(node, "proto", None)
    return proto.ByteSize() if proto is not None else 0


def measure(page: Path) -> tuple[int, int, int, float, int]:
    """(per-study table Arrow bytes, all dataframes' Arrow bytes, all elements' bytes, the
    prompt change's CPU seconds, rows sent) after a prompt change on ``page``."""
    from streamlit.testing.v1 import AppTest

    at = AppTest.from_file(str(page), default_timeout=900).run()
    at.text_input(key="zs-try-pos").input(PROMPT[0])
    at.text_input(key="zs-try-neg").input(PROMPT[1])
    cpu = time.process_time()
    at.run()
    cpu = time.process_time() - cpu
    if at.exception:
        raise SystemExit(f"{page}: {at.exception[0].value}")
    frames = list(at.dataframe)
    table = next(d for d in frames if {"study_id", "split"} <= set(d.value.columns))
    arrow = sum(len(d.proto.arrow_data.data) for d in frames)
    total = element_bytes(at._tree)
    return len(table.proto.arrow_data.data), arrow, total, cpu, len(table.value)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=20_000)
    parser.add_argument("--root", type=Path, help="folder to build (reused when built)")
    parser.add_argument("--baseline", type=Path, help="an older pages/zeroshot.py to compare")
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    base = args.root or Path(tempfile.mkdtemp(prefix="bench-zeroshot-"))
    base.mkdir(parents=True, exist_ok=True)
    root = build_scaled_root(base, args.studies)
    os.environ["CMR_DATA_ROOT"] = str(root)
    pages = {"current": REPO / "pages" / "zeroshot.py"}
    if args.baseline:
        pages = {"baseline": args.baseline.resolve(), **pages}
    for repeat in range(args.repeats):
        for name, page in pages.items():
            table, arrow, total, cpu, rows = measure(page)
            print(
                f"{name:8s} #{repeat + 1}: {args.studies:,} studies, table {rows:,} rows "
                f"{table / 1e6:.3f} MB Arrow; all dataframes {arrow / 1e6:.3f} MB; all elements "
                f"{total / 1e6:.3f} MB; prompt change {cpu:.2f} s CPU",
                flush=True,
            )


if __name__ == "__main__":
    main()
