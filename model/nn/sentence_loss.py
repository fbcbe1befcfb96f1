"""Sentence-level InfoNCE: each study against the individual sentences of every report in the batch.

A report's mean embedding is dominated by its commonest statements, so a rarer finding ("No LGE."
vs "Subendocardial LGE ...") barely moves the study-level loss. Here every sentence is its own
column: ``video [B, D]`` against ``sentences [S, D]`` (every sentence occurrence, in batch order,
``owner [S]`` = index of its study) with multi-positive soft targets. Study b and sentence column s
are a positive pair when b's report contains the text of s (``sentence_ids`` are text hashes, so a
sentence shared by many reports, like "No pericardial effusion.", is a positive for all of them).
The loss is the mean of study->sentence and sentence->study soft cross-entropies.

Under DDP, studies and sentences of every rank are gathered in rank order (sentence counts differ
between ranks, so they are padded for the collective), which makes the loss equal to the
single-process loss on the same global batch.
"""

from __future__ import annotations

import torch
import torch.distributed as dist
from torch import nn

from model.nn.loss import (
    check_scale,
    gather_features,
    gather_ids,
    rank_and_world_size,
    soft_cross_entropy,
)


def sentence_targets(owner: torch.Tensor, sentence_ids: torch.Tensor, studies: int) -> torch.Tensor:
    """Positive mask ``[B, S]``: study b contains the text of sentence column s (every study
    owns at least one sentence, so every row has a positive)."""
    same_text = (sentence_ids[:, None] == sentence_ids[None, :]).to(torch.float32)  # [S, S]
    per_study = torch.zeros(studies, same_text.shape[1], device=same_text.device)
    return per_study.index_add_(0, owner, same_text) > 0


def gather_ragged(
    rows: torch.Tensor, rank: int, world_size: int, with_grad: bool
) -> torch.Tensor:  # fmt: skip
    """Concatenate ``rows [n_r, ...]`` of every rank (``n_r`` may differ) in rank order."""
    if world_size == 1:
        return rows
    count = torch.tensor([rows.shape[0]], device=rows.device)
    counts = [torch.zeros_like(count) for _ in range(world_size)]
    dist.all_gather(counts, count)
    sizes = [int(c.item()) for c in counts]
    padding = rows.new_zeros(max(sizes) - rows.shape[0], *rows.shape[1:])
    padded = torch.cat([rows, padding], dim=0)
    if rows.is_floating_point():
        gathered = gather_features(padded, rank, world_size, with_grad)
    else:
        gathered = gather_ids(padded, world_size)
    chunks = gathered.split(max(sizes), dim=0)
    return torch.cat([chunk[:size] for chunk, size in zip(chunks, sizes, strict=True)], dim=0)


class SentenceLoss(nn.Module):
    """``(video [B, D], sentences [S, D], scale [], owner [S], sentence_ids [S]) -> []``.

    Features unit-norm; ``scale`` is the multiplier ``exp(logit_scale)``. With ``gather_with_grad``
    gradients flow through the gathered features of other ranks (as in ``ClipLoss``).
    ``distributed=False`` scores this process's features alone even inside a process group (the
    validation loss rank 0 computes by itself must not wait for the others, as ``ClipLoss``).
    """

    def __init__(self, gather_with_grad: bool = False, distributed: bool = True) -> None:
        super().__init__()
        self.gather_with_grad = gather_with_grad
        self.distributed = distributed

    def forward(
        self,
        video_features: torch.Tensor,
        sentence_features: torch.Tensor,
        logit_scale: torch.Tensor,
        owner: torch.Tensor,
        sentence_ids: torch.Tensor,
    ) -> torch.Tensor:
        check_scale(logit_scale)
        batch = video_features.shape[0]
        if sentence_features.shape[0] != owner.shape[0] or owner.shape != sentence_ids.shape:
            raise ValueError("sentences, owner and sentence_ids must have the same length")
        rank, world_size = rank_and_world_size() if self.distributed else (0, 1)
        device = video_features.device
        owner = owner.to(device=device, dtype=torch.long) + rank * batch
        sentence_ids = sentence_ids.to(device=device, dtype=torch.long)
        all_video = gather_features(video_features, rank, world_size, self.gather_with_grad)
        all_sentences = gather_ragged(sentence_features, rank, world_size, self.gather_with_grad)
        all_owner = gather_ragged(owner, rank, world_size, False)
        all_ids = gather_ragged(sentence_ids, rank, world_size, False)
        logits = logit_scale * all_video @ all_sentences.T  # [B_all, S_all]
        positive = sentence_targets(all_owner, all_ids, all_video.shape[0]).to(logits.dtype)
        to_sentences = positive / positive.sum(dim=1, keepdim=True).clamp_min(1.0)
        to_studies = positive.T / positive.T.sum(dim=1, keepdim=True).clamp_min(1.0)
        return 0.5 * (
            soft_cross_entropy(logits, to_sentences) + soft_cross_entropy(logits.T, to_studies)
        )
