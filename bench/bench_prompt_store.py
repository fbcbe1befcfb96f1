"""A fresh process's first Zero-shot scoring, with the checkpoint's prompt vectors stored or not.

    python -m bench.bench_prompt_store --checkpoint CKPT --embeddings CACHE.npz [--runs 6]

What a clinician's first Zero-shot visit to a newly started dashboard waits for in scoring the
shipped default prompt set: each run is a new interpreter that does what the page's cached
scoring does (``dashboard.cache.zero_shot_scores``, without Streamlit): read the checkpoint's
metadata and logit scale, open the study embeddings ``CACHE.npz`` (a dataset's
``embeddings/<checkpoint fp>-<dataset fp>.npz``) and score every study through a
``CachedTextEncoder`` over the checkpoint's text store in that folder (``model.text_store``),
building the model only for texts the store lacks. Runs alternate ``empty`` (the store file is
removed first, so the run builds the model, encodes the prompts and writes the store) and
``filled`` (the store the previous run wrote). Each run prints its wall time from the first
import, the part of it spent importing the scoring code (torch included: this script imports
``model.training.checkpoint`` for the model it may build; the page itself, with the checkpoint's
metadata sidecar, imports no torch when the store is filled, ``bench_first_visit``) and whether
the text model was built (its tokenizer's library, ``tokenizers``, imported); the summary is of
the time after those imports. It removes and rewrites only the store of ``CKPT`` in the folder
of ``CACHE.npz``: run it on a copy.
"""

from __future__ import annotations

import argparse
import json
import statistics
import subprocess
import sys
from pathlib import Path

FIRST_SCORING = """
import json, sys, time
start = time.perf_counter()
from pathlib import Path
from dashboard.scoring import CachedTextEncoder, score_all
from model.embed import StudyEmbeddings
from model.prompts import DEFAULT_PROMPTS, PromptSet
from model.text_store import TextStore, read_texts
from model.training.checkpoint import load_checkpoint, read_checkpoint_meta
from model.zeroshot import checkpoint_scale

imported = time.perf_counter()
checkpoint, cache = sys.argv[1], Path(sys.argv[2])
store = TextStore(cache.parent, read_checkpoint_meta(checkpoint).fingerprint)
encoder = CachedTextEncoder(lambda texts: read_texts(load_checkpoint(checkpoint)[0], texts), store)
emb = StudyEmbeddings.load(cache)
scores = score_all(
    emb.ids, emb.vectors, PromptSet.load(DEFAULT_PROMPTS), encoder, checkpoint_scale(checkpoint)
)
print(json.dumps({
    "seconds": time.perf_counter() - start,
    "imports": imported - start,
    "studies": len(scores.findings),
    "built": "tokenizers" in sys.modules,
}))
"""


def first_scoring(checkpoint: Path, cache: Path) -> dict:
    """The figures of one fresh process's first scoring (``FIRST_SCORING``)."""
    root = Path(__file__).resolve().parents[1]
    done = subprocess.run(
        [sys.executable, "-c", FIRST_SCORING, str(checkpoint), str(cache)],
        cwd=root,
        capture_output=True,
        text=True,
        check=True,
    )
    return json.loads(done.stdout.strip().splitlines()[-1])


def main() -> None:
    from model.text_store import TextStore
    from model.training.checkpoint import read_checkpoint_meta

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--checkpoint", type=Path, required=True, help="a .pt checkpoint")
    parser.add_argument("--embeddings", type=Path, required=True, help="its study-embedding cache")
    parser.add_argument("--runs", type=int, default=6, help="runs, alternating empty and filled")
    args = parser.parse_args()
    store = TextStore(args.embeddings.parent, read_checkpoint_meta(args.checkpoint).fingerprint)
    if store.path is None:
        raise SystemExit(f"{args.checkpoint}: its fingerprint is not hex, so it has no store")
    times: dict[str, list[float]] = {"empty": [], "filled": []}
    for run in range(args.runs):
        state = "empty" if run % 2 == 0 else "filled"
        if state == "empty":
            store.path.unlink(missing_ok=True)
        got = first_scoring(args.checkpoint, args.embeddings)
        times[state].append(got["seconds"] - got["imports"])
        print(
            f"run {run} store {state}: {got['seconds']:.2f} s for {got['studies']} studies "
            f"({got['imports']:.2f} s of it importing the scoring code, torch included, "
            f"not timed as the page's), text model built: {got['built']}"
        )
    for state, seconds in times.items():
        if seconds:
            print(
                f"{state}: after the imports, median {statistics.median(seconds):.2f} s, range "
                f"{min(seconds):.2f}-{max(seconds):.2f} s over {len(seconds)} runs"
            )


if __name__ == "__main__":
    main()
