"""Label precision@10 of report -> study retrieval under two readings of "share the findings".

    python -m bench.precision_readings CKPT [--root data/demo] [--split test]

A diagnostic beside issue 4's precision@10 target, never part of training or of the product: it
reads labels. Each report of one split of ``ROOT/internal`` ranks that split's studies by the
model's embeddings (the report embedded by the text tower, as the evaluation embeds it), and a
retrieved study counts as consistent with the query's study:

- ``exact`` (the evaluation's reading, ``model.evaluation.retrieval``): every finding known on
  both sides agrees;
- ``has the query's findings``: it has every finding the query's study has, whatever else it
  has; a query's study with no finding asks for studies with none.

Each reading is printed with its ceiling (a perfect ranking) and chance (a random one) on the
same studies, so a shortfall can be put down to the model or to the reading.
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import torch

from bench.fewshot_gap import report_embeddings
from model.data.dataset import CMRDataset
from model.embed import cached_study_embeddings
from model.evaluation.retrieval import (
    consistent_matrix,
    label_consistent_precision,
    label_precision_bounds,
)
from model.labels import labels_by_study
from model.schema import FINDINGS
from model.training.checkpoint import load_checkpoint


def has_query_findings(findings: np.ndarray) -> np.ndarray:
    """bool [N, N]: study j has every finding study i has (i with none: j has none either).

    findings: float [N, F] with 1/0 and NaN for unknown; an unknown finding is not had.
    """
    positive = np.nan_to_num(findings, nan=0.0).astype(bool)
    consistent = np.all(~positive[:, None, :] | positive[None, :, :], axis=2)
    normal = ~positive.any(axis=1)
    consistent[normal] = normal[None, :]
    return consistent


def readings(similarity: np.ndarray, findings: np.ndarray) -> dict[str, float]:
    """Mean precision@10, ceiling and chance of each reading; similarity float [N, N] (query i's
    own study is candidate i), findings float [N, F]."""
    figures = {}
    for name, consistent in (
        ("exact", consistent_matrix(findings)),
        ("has the query's findings", has_query_findings(findings)),
    ):
        ceiling, chance = label_precision_bounds(consistent)
        figures[f"{name}: precision@10"] = float(
            np.nanmean(label_consistent_precision(similarity, consistent))
        )
        figures[f"{name}: ceiling"] = float(np.nanmean(ceiling))
        figures[f"{name}: chance"] = float(np.nanmean(chance))
    return figures


@torch.no_grad()
def precision_figures(checkpoint: Path, root: Path, split: str) -> dict[str, float]:
    """``readings`` for one checkpoint on one split of ``root/internal``."""
    dataset = CMRDataset.open(root / "internal")
    labels = labels_by_study(root / "raw" / "internal" / "labels.csv", dataset.linkage())
    embeddings = cached_study_embeddings(checkpoint, dataset)
    studies = dataset.studies.set_index("study_id").loc[embeddings.ids]
    texts = studies["impression"].fillna("").astype(str)
    keep = (studies["split"] == split) & (texts.str.len() > 0) & studies.index.isin(labels.index)
    keep = keep.to_numpy()
    model, _ = load_checkpoint(checkpoint)
    reports, _, _ = report_embeddings(model, texts[keep].tolist())
    findings = labels.reindex(studies.index[keep])[list(FINDINGS)].to_numpy(dtype=float)
    return readings(reports @ embeddings.vectors[keep].T, findings)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--root", type=Path, default=Path("data/demo"))
    parser.add_argument("--split", default="test", choices=("train", "val", "test"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for name, value in precision_figures(args.checkpoint, args.root, args.split).items():
        print(f"{name:40s} {value:6.3f}")


if __name__ == "__main__":
    main()
