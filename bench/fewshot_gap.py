"""Why the 1-shot prototype stalls: the study embedding against the reports it learned from.

    python -m bench.fewshot_gap CKPT [--root data/demo] [--split val] [--episodes 200]

A diagnostic for choosing what to work on, never part of training or of the product: it reads
labels. On one split of ``ROOT/internal`` it prints the 1-shot prototype AUC per finding
(episodes seeded, and queries kept off the support's patients, as in the evaluation) of four representations of the same studies:

- ``study``: the study embeddings (what the evaluation scores);
- ``report``: the model's own text embedding of each study's impression (the training target);
- ``report, sentences unit-normed``: the same with every sentence embedding unit-normed before
  the per-report mean, so each sentence weighs the same;
- ``label vector``: the findings and diagnosis one-hots as a unit vector, the best an embedding
  that encodes exactly the labels, each with the same weight, could do;
- ``study, whitened``: the study embeddings PCA-whitened (centred and every principal direction
  scaled to unit variance, fitted on the train split's embeddings, no labels), then unit-normed:
  whether evening out the embedding's few dominant directions, with no training, would help;
- ``study, before the projection``: the video tower's pooled feature before its projection head
  (the input of ``visual.head``), unit-normed: whether the shared space drops what the tower
  itself still holds, as CLIP's linear probes read the image tower's features before projecting.

Then three properties of the embedding geometry: the share of each space's variance a linear map
of the label vector explains (fitted on the train split, R^2 on this split), the share held by the
top three principal directions of the study embeddings, and the spread of sentence-embedding norms
before pooling (the weight the mean gives each sentence).
"""

from __future__ import annotations

import argparse
import logging
from pathlib import Path

import numpy as np
import pandas as pd
import torch
import torch.nn.functional as F

from bench.ab_val import one_shot_prototype
from model.data.dataset import CMRDataset
from model.embed import cached_study_embeddings, embed_studies
from model.labels import labels_by_study
from model.nn.packed_bert import mean_by_owner
from model.schema import DIAGNOSES, FINDINGS
from model.training.checkpoint import load_checkpoint


@torch.no_grad()
def report_embeddings(model: torch.nn.Module, texts: list[str]) -> tuple[np.ndarray, ...]:
    """(report embeddings [N, D], the same with unit-normed sentences [N, D], the norm of every
    sentence occurrence's embedding [S]); embedding rows unit-norm."""
    model.eval()
    features, owner = model.text.sentence_features(texts)  # [S, D], [S]
    plain = mean_by_owner(features, owner, len(texts))
    normed = mean_by_owner(F.normalize(features, dim=-1), owner, len(texts))
    return (
        F.normalize(plain, dim=-1).numpy(),
        F.normalize(normed, dim=-1).numpy(),
        features.norm(dim=-1).numpy(),
    )


@torch.no_grad()
def head_inputs(
    model: torch.nn.Module, train: dict, dataset: CMRDataset, ids: list[str]
) -> np.ndarray:
    """The video tower's pooled feature before its projection head, unit-normed: [N, C]; the
    studies read at the checkpoint's ``train`` frames and size, as its embeddings are."""
    captured: list[torch.Tensor] = []
    hook = model.visual.head.register_forward_hook(
        lambda module, inputs, output: captured.append(inputs[0].detach())
    )
    try:
        embed_studies(
            model.eval(), dataset, ids, frames=train.get("frames"), size=train.get("image_size")
        )
    finally:
        hook.remove()
    return F.normalize(torch.cat(captured), dim=-1).numpy()


def label_vectors(labels: pd.DataFrame) -> np.ndarray:
    """Findings and diagnosis one-hots, unknown as 0, unit-normed: float [N, L]."""
    columns = [c for c in (*FINDINGS, *DIAGNOSES) if c in labels.columns]
    values = np.nan_to_num(labels[columns].to_numpy(dtype=float))
    return values / np.maximum(np.linalg.norm(values, axis=1, keepdims=True), 1e-12)


def explained_by_labels(
    train: np.ndarray, train_labels: np.ndarray, split: np.ndarray, split_labels: np.ndarray
) -> float:
    """R^2 on ``split`` of a least-squares map label vector -> embedding fitted on ``train``."""
    design = np.c_[train_labels, np.ones(len(train_labels))]
    weights, *_ = np.linalg.lstsq(design, train, rcond=None)
    predicted = np.c_[split_labels, np.ones(len(split_labels))] @ weights
    residual = ((split - predicted) ** 2).sum()
    return float(1.0 - residual / ((split - split.mean(axis=0)) ** 2).sum())


def top_share(vectors: np.ndarray, directions: int = 3) -> float:
    """Share of the variance of ``vectors [N, D]`` in its top principal directions."""
    variances = np.linalg.svd(vectors - vectors.mean(axis=0), compute_uv=False) ** 2
    return float(variances[:directions].sum() / variances.sum())


def whitened(train: np.ndarray, vectors: np.ndarray, shrink: float = 1e-3) -> np.ndarray:
    """``vectors [N, D]`` PCA-whitened by the principal directions of ``train [M, D]``, unit-normed.

    Each direction's variance gets ``shrink`` x the largest added first, so directions with almost
    no variance are not blown up without bound."""
    mean = train.mean(axis=0)
    _, singular, directions = np.linalg.svd(train - mean, full_matrices=False)
    variance = singular**2 / len(train)
    scaled = (vectors - mean) @ directions.T / np.sqrt(variance + shrink * variance[0])
    return scaled / np.maximum(np.linalg.norm(scaled, axis=1, keepdims=True), 1e-12)


def gap_figures(checkpoint: Path, root: Path, split: str, episodes: int) -> dict[str, float]:
    """Every figure the module docstring lists, for one checkpoint and split."""
    dataset = CMRDataset.open(root / "internal")
    labels = labels_by_study(root / "raw" / "internal" / "labels.csv", dataset.linkage())
    embeddings = cached_study_embeddings(checkpoint, dataset)
    studies = dataset.studies.set_index("study_id").loc[embeddings.ids]
    model, meta = load_checkpoint(checkpoint)
    features = head_inputs(model, meta.config.get("train", {}), dataset, embeddings.ids)
    figures: dict[str, float] = {}
    spaces = {}
    for part in dict.fromkeys(("train", split)):  # once each, also when split is "train"
        keep = (studies["split"] == part).to_numpy()
        texts = studies.loc[keep, "impression"].fillna("").tolist()
        reports, normed, norms = report_embeddings(model, texts)
        part_labels = labels.reindex(studies.index[keep])
        patients = studies.loc[keep, "patient_key"].astype(str).to_numpy()
        spaces[part] = (embeddings.vectors[keep], reports, label_vectors(part_labels))
        if part == split:
            for name, vectors in (
                ("study", embeddings.vectors[keep]),
                ("report", reports),
                ("report, sentences unit-normed", normed),
                ("label vector", spaces[part][2]),
                ("study, whitened", whitened(spaces["train"][0], embeddings.vectors[keep])),
                ("study, before the projection", features[keep]),
            ):
                figures[f"1-shot {name}"] = one_shot_prototype(
                    vectors, part_labels, episodes, patients
                )
            figures.update(
                {
                    "sentence norm min": float(norms.min()),
                    "sentence norm median": float(np.median(norms)),
                    "sentence norm max": float(norms.max()),
                }
            )
    train_studies, train_reports, train_labels = spaces["train"]
    split_studies, split_reports, split_labels = spaces[split]
    figures["R2 labels -> study"] = explained_by_labels(
        train_studies, train_labels, split_studies, split_labels
    )
    figures["R2 labels -> report"] = explained_by_labels(
        train_reports, train_labels, split_reports, split_labels
    )
    figures["top-3 share, study"] = top_share(split_studies)
    return figures


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("checkpoint", type=Path)
    parser.add_argument("--root", type=Path, default=Path("data/demo"))
    parser.add_argument("--split", default="val", choices=("train", "val", "test"))
    parser.add_argument("--episodes", type=int, default=200)
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    for name, value in gap_figures(args.checkpoint, args.root, args.split, args.episodes).items():
        print(f"{name:38s} {value:8.3f}")


if __name__ == "__main__":
    main()
