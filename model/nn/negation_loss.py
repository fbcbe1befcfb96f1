"""Negation loss: each study must prefer its own report sentence over a contradiction of it.

For sentence occurrence s of study b (``owner[s] = b``) and its rule-made contradiction s~
(``model.negation.contradict``: "No LV hypertrophy." <-> "LV hypertrophy."), the pair logit is
``scale * <video_b, sentence_s - contradiction_s>`` and the loss is the mean over every sentence of
``softplus(-logit)``: a two-way softmax between the sentence and its contradiction, target the
sentence (NegCLIP's hard negatives, restricted to the study they contradict so no other study is
pushed away from a statement that may be true of it).

Zero-shot scoring is exactly such a two-way choice ("LV hypertrophy" vs "No LV hypertrophy"), so
this teaches the text side the contrast the prompts rely on, which the contrastive losses alone
barely see: a report's "No X." competes only with other reports' sentences, never with "X.".

Under DDP the per-sentence logits of every rank are gathered in rank order before the mean, so
the loss equals the single-process loss on the same global batch.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from model.nn.loss import rank_and_world_size
from model.nn.sentence_loss import gather_ragged


def negation_logits(
    video_features: torch.Tensor,
    sentence_features: torch.Tensor,
    contradiction_features: torch.Tensor,
    logit_scale: torch.Tensor,
    owner: torch.Tensor,
) -> torch.Tensor:
    """``video [B, D]``, ``sentences [S, D]``, ``contradictions [S, D]``, ``owner [S]`` -> ``[S]``:
    how much more study ``owner[s]`` matches sentence s than its contradiction (scaled)."""
    own_video = video_features[owner]  # [S, D]
    difference = sentence_features - contradiction_features
    return logit_scale * (own_video * difference).sum(dim=-1)


class NegationLoss(nn.Module):
    """``(video [B, D], sentences [S, D], contradictions [S, D], scale [], owner [S]) -> []``.

    Features unit-norm; ``scale`` is the multiplier ``exp(logit_scale)``.
    """

    def __init__(self, gather_with_grad: bool = True) -> None:
        super().__init__()
        self.gather_with_grad = gather_with_grad

    def forward(
        self,
        video_features: torch.Tensor,
        sentence_features: torch.Tensor,
        contradiction_features: torch.Tensor,
        logit_scale: torch.Tensor,
        owner: torch.Tensor,
    ) -> torch.Tensor:
        if not sentence_features.shape == contradiction_features.shape:
            raise ValueError("every sentence needs exactly one contradiction")
        if sentence_features.shape[0] != owner.shape[0]:
            raise ValueError("sentences and owner must have the same length")
        owner = owner.to(device=video_features.device, dtype=torch.long)
        logits = negation_logits(
            video_features, sentence_features, contradiction_features, logit_scale, owner
        )
        rank, world_size = rank_and_world_size()
        all_logits = gather_ragged(logits[:, None], rank, world_size, self.gather_with_grad)
        return F.softplus(-all_logits).mean()
