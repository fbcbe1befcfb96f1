"""What a fresh process pays to load the text model: ours against transformers' BertModel.

    python -m bench.bench_text_load [--repeats 5]

Every CLI command, job and dashboard process that reads text loads MiniLM once. Each repeat
starts one fresh Python per way of loading it, alternating, and reads its CPU time (user +
system, from ``resource.getrusage`` of the ended child) and wall time:

- ``ours``: ``model.nn.minilm.load_bert`` (our BERT modules, ``model/nn/bert.py``) and the
  tokenizer, as the text tower does;
- ``transformers``: ``transformers.BertModel.from_pretrained`` on the same folder and the same
  tokenizer, as the text tower did before (the peer, measured in the same run);
- ``torch``: ``import torch`` alone (the floor any way pays).

Prints the median of each and the ratio of ``transformers`` to ``ours``.
"""

from __future__ import annotations

import argparse
import resource
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
LOADERS = {
    "ours": (
        "from model.nn.minilm import load_bert, load_tokenizer, text_model_dir\n"
        "folder = text_model_dir(); load_bert(folder); load_tokenizer(folder)\n"
    ),
    "transformers": (
        "from transformers import BertModel\n"
        "from model.nn.minilm import load_tokenizer, text_model_dir\n"
        "folder = text_model_dir()\n"
        "BertModel.from_pretrained(folder, local_files_only=True).eval(); load_tokenizer(folder)\n"
    ),
    "torch": "import torch\n",
}


def timed_child(code: str) -> tuple[float, float]:
    """(CPU seconds, wall seconds) of a fresh ``python -c code`` run from the repository."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    start = time.perf_counter()
    subprocess.run([sys.executable, "-c", code], cwd=REPO, check=True, capture_output=True)
    wall = time.perf_counter() - start
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return cpu, wall


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeats", type=int, default=5)
    args = parser.parse_args()
    found: dict[str, list[tuple[float, float]]] = {name: [] for name in LOADERS}
    for _ in range(args.repeats):
        for name, code in LOADERS.items():
            found[name].append(timed_child(code))
    median = {
        name: (statistics.median(c for c, _ in runs), statistics.median(w for _, w in runs))
        for name, runs in found.items()
    }
    for name, (cpu, wall) in median.items():
        print(f"{name:>12}: {cpu:.2f} s CPU, {wall:.2f} s wall (median of {args.repeats})")
    ratio = median["transformers"][0] / median["ours"][0]
    print(f"transformers / ours: {ratio:.2f}x CPU")


if __name__ == "__main__":
    main()
