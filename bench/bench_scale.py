"""The dashboard at a large hospital's scale (run on demand; prints figures for bench/RESULTS.md).

    python bench/bench_scale.py [--studies 20000] [--root DIR] [--pages studies,zeroshot,...]

Builds (once per ``--root``) a data root whose active dataset holds ``--studies`` studies
without videos: the tiny data root's checkpoint, a ``studies.parquet`` of that many rows in the
ingest schema (tensors only for the first 24, copied from the tiny dataset), ``linkage.csv``,
``labels.csv`` and the checkpoint's embedding cache filled with clustered random unit vectors.
Then opens each page with ``streamlit.testing.v1.AppTest`` and prints its first run, a warm
rerun and the process's peak resident memory (VmHWM).
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(REPO), str(REPO / "tests"), str(REPO / "bench")]

from bench_dashboard import page_stems  # noqa: E402

VARIANTS = {"embeddings": ("embeddings-site",)}  # a page opened a second way (PAGE_STATE)
TENSORS = 24
EXAMPLES = 10  # the Few-shot page's set: its first 5 studies examples, the next 5 counter-examples


def page_names(folder: Path = REPO / "pages") -> tuple[str, ...]:
    """Every page of ``pages/`` in ``page_stems`` order (Home first), each page's ``VARIANTS``
    after it."""
    return tuple(name for stem in page_stems(folder) for name in (stem, *VARIANTS.get(stem, ())))


PAGES = page_names()


def build_scaled_root(base: Path, n: int) -> Path:
    """A data root whose active dataset ``ds/big`` holds ``n`` studies (see the module doc)."""
    from bench_dashboard import build_root, clustered_unit_vectors

    from model.data.dataset import CMRDataset
    from model.embed import StudyEmbeddings, cache_path
    from model.training.checkpoint import read_checkpoint_meta

    root = build_root(base)
    big = root / "ds" / "big"
    if (big / ".built").exists():
        return root
    tiny = root / "ds" / "tiny"
    rows = pd.read_parquet(tiny / "studies.parquet")
    labels = pd.read_csv(tiny / "labels.csv")
    picks = np.arange(n) % len(rows)
    studies = rows.iloc[picks].reset_index(drop=True)
    studies["study_id"] = [f"b{i:06d}" for i in range(n)]
    studies["patient_key"] = [f"pb{i:06d}" for i in range(n)]
    studies["site"] = np.where(np.arange(n) % 5, "internal", "external")
    studies["split"] = np.random.default_rng(0).choice(
        ["train", "val", "test"], n, p=[0.6, 0.2, 0.2]
    )
    studies["age_band"] = [f"{10 * (i % 8 + 1)}-{10 * (i % 8 + 1) + 9}" for i in range(n)]
    big.mkdir(parents=True, exist_ok=True)
    (big / "tensors").mkdir(exist_ok=True)
    for i, study_id in enumerate(studies["study_id"][:TENSORS]):
        shutil.copy(
            tiny / "tensors" / f"{rows['study_id'][picks[i]]}.npy",
            big / "tensors" / f"{study_id}.npy",
        )
    studies.to_parquet(big / "studies.parquet", index=False)
    accessions = [f"ACCB{i:07d}" for i in range(n)]
    pd.DataFrame({"study_id": studies["study_id"], "accession_number": accessions}).to_csv(
        big / "linkage.csv", index=False
    )
    scaled = labels.iloc[picks].reset_index(drop=True)
    scaled["accession_number"] = accessions
    scaled.to_csv(big / "labels.csv", index=False)
    shutil.copy(tiny / "ingest_report.csv", big / "ingest_report.csv")
    settings = json.loads((tiny / "dataset.json").read_text())
    (big / "dataset.json").write_text(json.dumps({**settings, "salt_id": "big"}))
    checkpoint = root / "runs" / "tiny" / "best.pt"
    meta = read_checkpoint_meta(checkpoint)
    dim = int(meta.config["model"]["embed_dim"])
    ds = CMRDataset.open(big)
    StudyEmbeddings(list(ds.ids()), clustered_unit_vectors(n, dim)).save(
        cache_path(ds, meta.fingerprint)
    )
    (root / "active.json").write_text(
        json.dumps({"checkpoint": str(checkpoint), "dataset": str(big)})
    )
    (big / ".built").write_text("ok")
    return root


def peak_rss_mb() -> float:
    for line in Path("/proc/self/status").read_text().splitlines():
        if line.startswith("VmHWM:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def bench_page(page: str, state: dict) -> None:
    from bench_dashboard import time_page

    first, warm, status = time_page(f"pages/{page.split('-')[0]}.py", state, timeout=900)
    print(
        f"page {page:15s} first {first * 1000:8.0f} ms  warm rerun {warm * 1000:7.0f} ms  "
        f"peak RSS {peak_rss_mb():6.0f} MB  {status}",
        flush=True,
    )


PAGE_STATE = {  # "embeddings-site": the map coloured by site
    "embeddings": {"e-method": "PCA"},
    "embeddings-site": {"e-method": "PCA", "e-colour": "site"},
    "browser": {"b-mode": "Text", "b-query": "dilated left ventricle"},
}


def page_state(page: str, root: Path) -> dict:
    """The session ``page`` opens with on the data root ``root``: ``PAGE_STATE``'s, and for
    Few-shot an example set of the big dataset's studies, so the page ranks every study (with
    none it draws only its pickers)."""
    if page != "fewshot":
        return PAGE_STATE.get(page, {})
    from dashboard.few_shot import SETS_KEY
    from model.example_set import ExampleSet

    ids = [f"b{i:06d}" for i in range(EXAMPLES)]  # build_scaled_root's study IDs
    half = EXAMPLES // 2
    examples = ExampleSet("bench", tuple(ids[:half]), tuple(ids[half:]))
    return {SETS_KEY: {str(root / "ds" / "big"): examples}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--studies", type=int, default=20_000)
    parser.add_argument("--root", type=Path, help="folder to build (reused when built)")
    parser.add_argument("--pages", default=",".join(PAGES))
    args = parser.parse_args()
    base = args.root or Path(tempfile.mkdtemp(prefix="bench-scale-"))
    base.mkdir(parents=True, exist_ok=True)
    t0 = time.perf_counter()
    root = build_scaled_root(base, args.studies)
    print(f"data root {root} ({args.studies:,} studies) ready in {time.perf_counter() - t0:.1f} s")
    os.environ["CMR_DATA_ROOT"] = str(root)
    for page in args.pages.split(","):
        bench_page(page, page_state(page, root))


if __name__ == "__main__":
    main()
