"""Quality benchmark: train cpu-small on the demo data and report zero-shot finding AUCs.

    python -m bench.quality --root data/demo --out runs/quality [--kinds multiview,static,flat]

``--root`` holds the demo layout (``raw/<site>/labels.csv`` and ingested ``<site>/`` datasets, as
``python -m model demo`` or ``generate`` + ``ingest`` build them). For each video tower kind it
trains the cpu-small preset (that kind swapped in) on the internal train split, picks ``best.pt``
by label-free val retrieval, then scores the internal test split and the whole external site with
the default and the paraphrase prompt sets. Labels are read only here, after training. Prints a
table and writes ``<out>/quality.json``; targets (DESIGN/brief) are reported, not asserted.
"""

from __future__ import annotations

import argparse
import functools
import json
import logging
import time
from pathlib import Path

import numpy as np
import pandas as pd

from model.allocator import tune_allocator
from model.data.dataset import CMRDataset
from model.embed import cached_study_embeddings, embed_texts
from model.labels import labels_by_study
from model.nn.presets import load_preset, preset_to_dict
from model.prompts import DEFAULT_PROMPTS, PARAPHRASE_PROMPTS, PromptSet
from model.training.checkpoint import load_checkpoint
from model.training.run_folder import RunFolder
from model.training.train import TrainOptions, train
from model.zeroshot import finding_metrics, score_findings

log = logging.getLogger("bench.quality")


def epochs_for(spec: str | None, kind: str) -> int | None:
    """``--epochs``: one number for every kind, or ``kind=E`` pairs (``multiview=16,flat=5``)."""
    if not spec:
        return None
    if "=" not in spec:
        return int(spec)
    pairs = dict(item.split("=", 1) for item in spec.split(","))
    return int(pairs[kind]) if kind in pairs else None


def kind_preset(base: str, kind: str, out: Path, epochs: int | None) -> Path:
    """Write the base preset with ``video.kind`` replaced; returns the JSON path."""
    spec = preset_to_dict(load_preset(base))
    spec["model"]["video"]["kind"] = kind
    spec["name"] = f"{base}-{kind}"
    if kind == "flat":
        spec["model"]["video"]["stem"] = "linear"
    if epochs:
        spec["train"]["epochs"] = epochs
    path = out / f"preset-{kind}.json"
    path.write_text(json.dumps(spec, indent=2))
    return path


def train_kind(args: argparse.Namespace, kind: str) -> tuple[Path, dict]:
    """Train (or resume / reuse) one kind; returns best.pt and timing figures."""
    run = args.out / kind
    folder = RunFolder(run)
    status = folder.read_status().get("state")
    start = time.monotonic()
    if status != "finished":
        preset = kind_preset(args.preset, kind, args.out, epochs_for(args.epochs, kind))
        options = TrainOptions(
            data=args.root / "internal",
            out=run,
            preset=str(preset),
            resume=folder.last_checkpoint.exists(),
            device=args.device,
        )
        train(options)
    seconds = time.monotonic() - start
    rates = [r["studies_per_s"] for r in folder.read_metrics() if r["kind"] == "train"]
    config = folder.read_config()
    figures = {
        "train_s": seconds,
        "train_studies_per_s": float(np.median(rates)) if rates else None,
        "epochs": config.get("epochs"),  # chosen by the time budget when the preset has one
    }
    return folder.final_checkpoint, figures


def evaluate(checkpoint: Path, root: Path, site: str, split: str | None) -> dict[str, pd.DataFrame]:
    """Per-finding metrics of both prompt sets on one site (optionally one split)."""
    ds = CMRDataset.open(root / site)
    labels = labels_by_study(root / "raw" / site / "labels.csv", ds.linkage())
    embeddings = cached_study_embeddings(checkpoint, ds)
    model, _ = load_checkpoint(checkpoint)
    split_of = ds.studies.set_index("study_id")["split"]
    keep = [i for i, sid in enumerate(embeddings.ids) if split is None or split_of[sid] == split]
    ids = [embeddings.ids[i] for i in keep]
    encoder = functools.partial(embed_texts, model)
    scale = float(model.scale().detach())
    tables = {}
    for name, path in (("default", DEFAULT_PROMPTS), ("paraphrase", PARAPHRASE_PROMPTS)):
        probs = score_findings(
            embeddings.vectors[keep], PromptSet.load(path), encoder, scale, ids=ids
        )
        tables[name] = finding_metrics(probs, labels).set_index("Label")
    return tables


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--root", type=Path, default=Path("data/demo"))
    parser.add_argument("--out", type=Path, default=Path("runs/quality"))
    parser.add_argument("--preset", default="cpu-small")
    parser.add_argument("--kinds", default="multiview")
    parser.add_argument("--epochs", help="E for every kind, or per kind: multiview=16,flat=5")
    parser.add_argument("--device", default="auto")
    args = parser.parse_args()
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s")
    tune_allocator()  # as ``python -m model train`` does
    args.out.mkdir(parents=True, exist_ok=True)
    results: dict[str, dict] = {}
    for kind in args.kinds.split(","):
        checkpoint, figures = train_kind(args, kind)
        internal = evaluate(checkpoint, args.root, "internal", "test")
        external = evaluate(checkpoint, args.root, "external", None)
        results[kind] = {
            **figures,
            "checkpoint": str(checkpoint),
            "auc": {
                f"{site}/{prompts}": table["AUC"].round(4).to_dict()
                for site, tables in (("internal_test", internal), ("external", external))
                for prompts, table in tables.items()
            },
        }
        print(
            f"\n== {kind}: {figures['epochs']} epochs trained in {figures['train_s']:.0f} s, "
            f"{figures['train_studies_per_s'] or 0:.1f} studies/s"
        )
        for key, aucs in results[kind]["auc"].items():
            values = np.array(list(aucs.values()), dtype=float)
            print(
                f"{key:28s} mean AUC {np.nanmean(values):.3f}  min {np.nanmin(values):.3f}  "
                + " ".join(f"{k}={v:.3f}" for k, v in aucs.items())
            )
    (args.out / "quality.json").write_text(json.dumps(results, indent=2))
    print(f"\nwrote {args.out / 'quality.json'}")


if __name__ == "__main__":
    main()
