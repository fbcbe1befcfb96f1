"""Per-epoch validation on the val split: study <-> report retrieval, val losses, optional AUC.

Model selection (``best.pt``) uses retrieval only, which needs no labels: the score is the mean
of R@1, R@5 and R@10 over both directions. Zero-shot AUC is computed only when labels are given
explicitly (``--val-labels``), and it is logged, never used to choose anything.
Identical impressions count as the same report: a study retrieving any copy of its text is a hit.
"""

from __future__ import annotations

import contextlib
import functools
import logging
import time
from collections.abc import Iterable, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import torch
from torch import nn

from model.embed import embed_texts, encode_studies, study_loader
from model.evaluation.retrieval import recalls_fixed_by, retrieval_ranks
from model.labels import labels_by_study
from model.nn.loss import ClipLoss
from model.progress import Progress
from model.prompts import DEFAULT_PROMPTS, PromptSet
from model.schema import VIEW_SLOTS
from model.training.run_folder import RunFolder
from model.training.val_loss import TrainingLoss, batch_matched_loss, val_features
from model.wording import counted
from model.zeroshot import finding_metrics, score_findings

log = logging.getLogger(__name__)
RECALL_KS: tuple[int, ...] = (1, 5, 10)
HELD_BYTES = 512 * 2**20  # val study tensors kept decoded in memory up to this size


def retrieval_recalls(
    video: np.ndarray, text: np.ndarray, texts: Sequence[str]
) -> dict[str, float]:
    """R@k both ways. video [N, D], text [N, D] unit-norm; ``texts`` the N impressions.

    Texts are deduplicated (U unique): study->report ranks the U reports for each study;
    report->study ranks the N studies for each unique report (a hit if any of its studies is in
    the top k). Candidates tied in similarity are taken in random order, in expectation
    (``QueryRanks``): counting ties in the query's favour gave a collapsed model, every
    embedding alike, R@k = 1 and the best selection score. Returns ``s2r@k``, ``r2s@k``, ``r@k``
    (mean of both) and ``median_rank_s2r`` (the median expected rank).
    """
    unique, inverse = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
    inverse = inverse.reshape(-1)
    first = np.array([np.flatnonzero(inverse == u)[0] for u in range(len(unique))])
    similarity = video @ text[first].T  # [N, U]
    s2r = retrieval_ranks(similarity, inverse[:, None] == np.arange(len(unique))[None, :])
    r2s = retrieval_ranks(similarity.T, np.arange(len(unique))[:, None] == inverse[None, :])
    out: dict[str, float] = {"median_rank_s2r": float(np.median(s2r.expected()))}
    for k in RECALL_KS:
        out[f"s2r@{k}"] = float(s2r.within(k).mean())
        out[f"r2s@{k}"] = float(r2s.within(k).mean())
        out[f"r@{k}"] = (out[f"s2r@{k}"] + out[f"r2s@{k}"]) / 2
    return out


def selection_score(metrics: dict[str, float]) -> float:
    """The label-free number ``best.pt`` maximises: mean of val R@1, R@5, R@10 (both ways)."""
    return float(np.mean([metrics[f"val_r@{k}"] for k in RECALL_KS]))


def _studies(n: int) -> str:
    return f"{counted(n, 'val study')} with a report impression"


# ``--val-labels`` and the prompts they are scored with, (None, None) without them
ValLabels = tuple[pd.DataFrame | None, PromptSet | None]


def validating_part(epoch: int, step: int, bar: Progress) -> str:
    """The training bar's part while epoch ``epoch`` (from 0), ended at ``step``, validates, its
    count of epochs as the bar has it: "epoch 3/~16 · validating" (~: a count a time budget
    still chooses)."""
    steps_per_epoch = max(step // (epoch + 1), 1)  # an epoch validates at its end
    about = "~" if bar.estimated else ""
    return f"epoch {epoch + 1}/{about}{-(-(bar.total or 0) // steps_per_epoch)} · validating"


def logged_val_labels(labels_csv: Path, ds: object) -> ValLabels:
    """``--val-labels`` and the default prompts, for the logged val AUC (never for selection)."""
    return labels_by_study(labels_csv, ds.linkage()), PromptSet.load(DEFAULT_PROMPTS)


def log_validation(epoch: int, metrics: dict[str, float]) -> None:
    """One train.log line per validation (``epoch`` counted from 0)."""
    batch_loss = metrics.get("val_loss_batch")
    log.info(
        "epoch %d val R@1 %.3f R@5 %.3f R@10 %.3f loss %.3f (whole set)%s",
        epoch + 1,
        metrics["val_r@1"],
        metrics["val_r@5"],
        metrics["val_r@10"],
        metrics["val_loss"],
        "" if batch_loss is None else f", {batch_loss:.3f} in training-size batches",
    )


class ValSet:
    """The val split as validation reads it every epoch: study ids, their impressions, and the
    decoded, unaugmented study tensors (``study_loader``).

    The tensors are held in memory after the first read when they take at most ``HELD_BYTES``
    (cpu-small's demo val split: 140 studies, 165 MB), which spares every later epoch decoding
    them again; larger inputs (a ``paper`` study is 115 MB) are read afresh each time.
    """

    def __init__(self, ds: object, ids: Sequence[str], frames: int, size: int) -> None:
        self.ids = list(ids)
        studies = ds.studies.set_index("study_id")
        self.texts = [str(t) for t in studies.loc[self.ids, "impression"]]
        self._loader = study_loader(ds, self.ids, frames, size)
        self._holds = len(self.ids) * len(VIEW_SLOTS) * frames * size * size * 4 <= HELD_BYTES
        self._held: list[dict] | None = None

    def warn_selection(self) -> None:
        """Warn (into train.log) when this val set cannot rank epochs by all of R@1/5/10."""
        if not self.ids:  # a small export's hashed split can draw only report-less val studies
            log.warning(
                "the val split has no study with a report impression: nothing is validated and "
                "best.pt is the last epoch (ingest more studies with reports for a val split)"
            )
        elif self.fixed_recalls:
            log.warning(
                "the val split has %s: %s (ingest more studies with reports for a val split "
                "that tells epochs apart)",
                _studies(len(self.ids)),
                self._fixed_note(),
            )

    @property
    def fixed_recalls(self) -> list[int]:
        """The k whose val R@k is 1 at every epoch (no more than k val studies)."""
        return recalls_fixed_by(len(self.ids), RECALL_KS)

    @property
    def ranks_epochs(self) -> bool:
        """Whether the selection score can tell epochs apart: False without val studies or
        when every R@k is fixed at 1, and then best.pt is the last epoch."""
        return len(self.fixed_recalls) < len(RECALL_KS)

    def _fixed_note(self) -> str:
        """What the R@k fixed at 1 (``fixed_recalls``, not empty) leave to choose best.pt."""
        if not self.ranks_epochs:
            return "every val R@k is 1 at every epoch, so best.pt is the last epoch"
        fixed = "/".join(map(str, self.fixed_recalls))
        left = "/".join(str(k) for k in RECALL_KS if k not in self.fixed_recalls)
        return (
            f"val R@{fixed} {'is' if len(self.fixed_recalls) == 1 else 'are'} 1 at every "
            f"epoch, so best.pt is chosen by R@{left} alone (a tie keeps the earlier epoch)"
        )

    @property
    def selection(self) -> str:
        """How ``best.pt`` is chosen with this val set, as config.json records it."""
        if not self.ids:
            return "best.pt = the last epoch (no val study with a report impression); labels unused"
        if not self.ranks_epochs:
            return (
                f"best.pt = the last epoch ({_studies(len(self.ids))}: every val R@k is 1 at "
                "every epoch); labels unused"
            )
        rule = "best.pt = max mean val R@1/5/10 (study<->report); labels unused"
        if self.fixed_recalls:
            rule += f"; with {_studies(len(self.ids))}, {self._fixed_note()}"
        return rule

    def batches(self) -> Iterable[dict]:
        """The val studies' input batches, in ``ids`` order."""
        if not self._holds:
            return self._loader
        if self._held is None:
            self._held = list(self._loader)
        return self._held


@torch.no_grad()
def validate(
    model: nn.Module,
    loss_fn: nn.Module,
    val: ValSet,
    labels: pd.DataFrame | None = None,
    prompt_set: PromptSet | None = None,
    training_loss: TrainingLoss | None = None,
) -> dict[str, float]:
    """Val metrics (keys ``val_loss``, ``val_r@k``, ``val_s2r@k``, ``val_r2s@k``, ``val_auc``).

    ``val_loss`` scores the whole val set in one softmax (about log N at chance). With
    ``training_loss`` also ``val_loss_batch``, the same loss as a training step's on the scale of
    its batch (``model.training.val_loss``), with ``val_loss_batches`` chunks of
    ``val_loss_batch_size`` studies; absent when the val set fills no batch.
    """
    texts = val.texts
    embeddings = encode_studies(model, val.batches(), val.ids)
    with_sentences = training_loss is not None and training_loss.sentence_weight > 0
    features = val_features(model, embeddings.vectors, texts, with_sentences)
    text_vecs = features.text.numpy()
    metrics = {
        f"val_{k}": v for k, v in retrieval_recalls(embeddings.vectors, text_vecs, texts).items()
    }
    _, text_ids = np.unique(np.asarray(texts, dtype=object), return_inverse=True)
    val_loss = loss_fn(
        torch.from_numpy(embeddings.vectors),
        torch.from_numpy(text_vecs),
        model.scale().detach().cpu().float(),
        torch.from_numpy(text_ids),
    )
    metrics["val_loss"] = float(val_loss)
    if training_loss is not None:
        matched = batch_matched_loss(features, model.scale(), training_loss)
        if matched is not None:
            metrics["val_loss_batch"], metrics["val_loss_batches"] = matched
            metrics["val_loss_batch_size"] = training_loss.batch
    if labels is not None and prompt_set is not None:
        encoder = functools.partial(embed_texts, model)
        probs = score_findings(
            embeddings.vectors, prompt_set, encoder, float(model.scale()), ids=val.ids
        )
        table = finding_metrics(probs, labels)
        metrics["val_auc"] = float(table["AUC"].mean()) if len(table) else float("nan")
        for row in table.itertuples():
            metrics[f"val_auc_{row.Label}"] = float(row.AUC)
    return metrics


def validate_epoch(
    model: nn.Module,
    val: ValSet,
    val_labels: ValLabels,
    epoch: int,
    step: int,
    folder: RunFolder,
    training_loss: TrainingLoss | None = None,
    bar: Progress | None = None,
) -> float:
    """Validate after ``epoch`` (rank 0 alone), log it, append the ``val`` record to
    metrics.jsonl; returns the selection score. ``val_labels``: ``logged_val_labels`` or Nones;
    ``training_loss``: the step's global batch and sentence weight, for ``val_loss_batch``;
    ``bar``: the training's, which shows the validation as a part of its epoch."""
    labels, prompts = val_labels
    part = bar.part(validating_part(epoch, step, bar)) if bar else contextlib.nullcontext()
    with part:
        metrics = validate(model, ClipLoss(distributed=False), val, labels, prompts, training_loss)
    log_validation(epoch, metrics)
    score = selection_score(metrics)
    record = {"kind": "val", "epoch": epoch, "step": step, "selection_score": score}
    folder.append_metrics({**record, **metrics, "time": time.time()})
    return score
