"""Validation loss on the training loss's scale: the val set scored in batches of the training's
global batch size, with the training's own loss.

An InfoNCE loss over B pairs is about log B at chance and falls as the pairs separate, so a loss
over the whole val set at once (``val_loss``: one softmax over N studies, about log N) cannot be
drawn beside the per-step training loss (one global batch of B). Here the val studies, in their
fixed order, are cut into consecutive chunks of B; each chunk is scored as one training step
would score it (``ClipLoss`` with identical impressions as positives, mixed with ``SentenceLoss``
by ``train.sentence_loss`` as ``Engine.loss_on`` mixes them) at the model's current scale; the
logged ``val_loss_batch`` is the mean over the chunks.

A last chunk of fewer than B studies is dropped, as training drops its last partial batch (fewer
negatives score a lower loss, which would pull the mean down); a val set smaller than one batch
logs no batch-matched loss (``warn_batch_loss`` says so once). The loss reads the embeddings
validation has already made, in eval mode and without a gradient, and draws no random number,
so computing it leaves training (and an exact resume) unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from model.nn.loss import ClipLoss, text_ids_from_texts
from model.nn.sentence_loss import SentenceLoss

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class TrainingLoss:
    """What one training step's loss scores: ``batch`` pairs (the global batch: per-rank batch
    times world size) and the sentence-level loss's weight (``train.sentence_loss``)."""

    batch: int
    sentence_weight: float = 0.0


@dataclass(frozen=True)
class ValFeatures:
    """The val set's unit-norm features, float32 on the CPU: ``video``/``text [N, D]``,
    ``text_ids [N]``; with a sentence weight also every sentence occurrence ``sentences [S, D]``,
    its study's index ``owner [S]`` (ascending) and its text's id ``sentence_ids [S]``."""

    video: torch.Tensor
    text: torch.Tensor
    text_ids: torch.Tensor
    sentences: torch.Tensor | None = None
    owner: torch.Tensor | None = None
    sentence_ids: torch.Tensor | None = None


def chunk_bounds(n: int, batch: int) -> list[tuple[int, int]]:
    """``(start, stop)`` of each full chunk of ``batch`` among ``n`` items; the rest dropped."""
    return [(start, start + batch) for start in range(0, n - batch + 1, batch)]


@torch.no_grad()
def val_features(
    model: nn.Module,
    video: np.ndarray,
    text: np.ndarray,
    texts: Sequence[str],
    with_sentences: bool,
) -> ValFeatures:
    """``video``/``text [N, D]`` (validation's embeddings of the N val studies and ``texts``)
    as tensors, with their sentences' features read by the model (eval mode: no word dropout)."""
    texts = list(texts)
    features = ValFeatures(
        torch.from_numpy(video), torch.from_numpy(text), text_ids_from_texts(texts)
    )
    if not with_sentences:
        return features
    model.eval()
    sentences, owner = model.text.sentence_features(texts)
    flat, _ = model.text.read_sentences(texts)
    return ValFeatures(
        features.video,
        features.text,
        features.text_ids,
        F.normalize(sentences.float(), dim=-1).cpu(),
        owner.cpu(),
        text_ids_from_texts(flat),
    )


@torch.no_grad()
def batch_matched_loss(
    features: ValFeatures, scale: torch.Tensor, loss: TrainingLoss
) -> tuple[float, int] | None:
    """(mean loss over the full chunks of ``loss.batch`` val pairs, number of chunks); None
    when the val set fills no chunk. ``scale`` is the multiplier ``exp(logit_scale)``."""
    bounds = chunk_bounds(len(features.video), loss.batch)
    if not bounds:
        return None
    clip, sentence = ClipLoss(distributed=False), SentenceLoss(distributed=False)
    weight = loss.sentence_weight
    scale = scale.detach().cpu().float()
    values = []
    for start, stop in bounds:
        video = features.video[start:stop]
        value = clip(video, features.text[start:stop], scale, features.text_ids[start:stop])
        if weight > 0 and features.sentences is not None:
            rows = (features.owner >= start) & (features.owner < stop)
            part = sentence(
                video,
                features.sentences[rows],
                scale,
                features.owner[rows] - start,
                features.sentence_ids[rows],
            )
            value = (1.0 - weight) * value + weight * part
        values.append(float(value))
    return float(np.mean(values)), len(values)


def warn_batch_loss(n_val: int, batch: int) -> None:
    """Warn (into train.log) when the val set is too small for a batch-matched val loss."""
    if 0 < n_val < batch:
        log.warning(
            "the val split has %d studies, fewer than one training batch of %d: no "
            "batch-matched val loss is logged (the Loss chart draws training loss alone)",
            n_val,
            batch,
        )
