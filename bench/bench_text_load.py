"""What a fresh process pays to load the text model: ours against transformers' BERT and tokenizer.

    python -m bench.bench_text_load [--repeats 5]

Every CLI command, job and dashboard process that reads text loads MiniLM once. Each repeat
starts one fresh Python per way of loading it, alternating, and reads its CPU time (user +
system, from ``resource.getrusage`` of the ended child) and wall time:

- ``ours``: ``model.nn.minilm.load_bert`` (our BERT modules, ``model/nn/bert.py``) and
  ``load_tokenizer`` (``model/nn/wordpiece.py``, on the ``tokenizers`` library), as the text
  tower does;
- ``hf-tokenizer``: our BERT modules with ``transformers``' ``BertTokenizerFast`` on the same
  folder, as the text tower did until 2026-12-07;
- ``transformers``: ``transformers.BertModel.from_pretrained`` and ``BertTokenizerFast``, as it
  did before our BERT modules;
- ``torch``: ``import torch`` alone (the floor any way pays).

Prints the median of each and each peer's ratio to ``ours`` (all measured in the same run).
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
HF_TOKENIZER = (
    "from transformers import BertTokenizerFast\n"
    "BertTokenizerFast.from_pretrained(folder, local_files_only=True)\n"
)
LOADERS = {
    "ours": (
        "from model.nn.minilm import load_bert, load_tokenizer, text_model_dir\n"
        "folder = text_model_dir(); load_bert(folder); load_tokenizer(folder)\n"
    ),
    "hf-tokenizer": (
        "from model.nn.minilm import load_bert, text_model_dir\n"
        "folder = text_model_dir(); load_bert(folder)\n" + HF_TOKENIZER
    ),
    "transformers": (
        "from transformers import BertModel\n"
        "from model.nn.minilm import text_model_dir\n"
        "folder = text_model_dir()\n"
        "BertModel.from_pretrained(folder, local_files_only=True).eval()\n" + HF_TOKENIZER
    ),
    "torch": "import torch\n",
}
PEERS = ("hf-tokenizer", "transformers")  # each one's CPU time is printed as a ratio to ours


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
    for peer in PEERS:
        print(f"{peer} / ours: {median[peer][0] / median['ours'][0]:.2f}x CPU")


if __name__ == "__main__":
    main()
