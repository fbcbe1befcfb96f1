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
validation makes anyway (the text embeddings, with a sentence weight, made from the sentence
features the sentence loss needs: one text-tower pass), in eval mode and without a gradient, and
draws no random number, so computing it leaves training (and an exact resume) unchanged.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from model.embed import embed_texts, text_threads
from model.nn.loss import ClipLoss, text_ids_from_texts
from model.nn.packed_bert import mean_by_owner
from model.nn.sentence_loss import SentenceLoss
from model.wording import counted

log = logging.getLogger(__name__)
TEXT_CHUNK = 256  # texts per text-tower call, as ``embed_texts`` reads them


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
    model: nn.Module, video: np.ndarray, texts: Sequence[str], with_sentences: bool
) -> ValFeatures:
    """The val set's features: ``video [N, D]`` (validation's study embeddings) as a tensor and
    the N ``texts`` embedded as ``embed_texts`` embeds them, in eval mode (no word dropout).

    With ``with_sentences`` the text embeddings are made from the sentences' features, in
    ``embed_texts``' chunks of texts, exactly as ``encode_text`` makes them (the mean of each
    text's sentences), so the sentence loss costs no second pass of the text tower.
    """
    texts = list(texts)
    video_rows = torch.from_numpy(video)
    if not with_sentences or not texts:
        text = torch.from_numpy(embed_texts(model, texts))
        return ValFeatures(video_rows, text, text_ids_from_texts(texts))
    model.eval()
    text_rows, sentence_rows, owners, flat = [], [], [], []
    for start in range(0, len(texts), TEXT_CHUNK):
        chunk = texts[start : start + TEXT_CHUNK]
        with text_threads(model, len(texts)):
            sentences, owner = model.text.sentence_features(chunk)
        text_rows.append(F.normalize(mean_by_owner(sentences, owner, len(chunk)), dim=-1))
        sentence_rows.append(F.normalize(sentences, dim=-1))
        owners.append(owner + start)
        flat += model.text.read_sentences(chunk)[0]
    return ValFeatures(
        video_rows,
        torch.cat(text_rows).float().cpu(),
        text_ids_from_texts(texts),
        torch.cat(sentence_rows).float().cpu(),
        torch.cat(owners).cpu(),
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
            "the val split has %s, fewer than one training batch of %d: no "
            "batch-matched val loss is logged (the Loss chart draws training loss alone)",
            counted(n_val, "study"),
            batch,
        )
