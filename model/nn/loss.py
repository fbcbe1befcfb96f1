"""Symmetric InfoNCE (CLIP loss) with multi-positive targets and DDP feature gathering.

Identical impressions inside a batch are positives, not negatives: with ``text_ids [B]`` every
pair (i, j) with ``text_ids[i] == text_ids[j]`` is a positive and the target row of i spreads
evenly over its positives (soft targets). Without ids the targets are the identity, as in CLIP.

Under DDP the features of every rank are gathered (``gather_with_grad`` keeps gradients through
``torch.distributed.nn.functional.all_gather``; otherwise the local slice is re-inserted so the
local gradient flows). ``local_loss`` scores only this rank's rows against all columns, as in
open_clip; the global form scores the full matrix on every rank.
"""

from __future__ import annotations

import hashlib
from typing import Any

import torch
import torch.distributed as dist
import torch.nn.functional as F
from torch import nn

from model.errors import UserError


def text_ids_from_texts(texts: list[str], device: torch.device | None = None) -> torch.Tensor:
    """Stable 63-bit ids of the texts (equal strings -> equal ids, on every rank): ``[B]`` int64."""
    ids = [
        int.from_bytes(hashlib.blake2b(text.encode("utf-8"), digest_size=8).digest(), "big") >> 1
        for text in texts
    ]
    return torch.tensor(ids, dtype=torch.long, device=device)


def check_scale(logit_scale: torch.Tensor) -> None:
    """``UserError`` for the log-scale parameter itself where a loss needs the multiplier.

    ``model.logit_scale`` (about 2.7 at the start) would train at the wrong temperature
    without a word; the multiplier is ``model.scale()`` or the third item ``forward`` returns.
    """
    if isinstance(logit_scale, nn.Parameter):
        raise UserError(
            "the loss takes the scale exp(logit_scale): pass model.scale() (or the scale "
            "model(...) returns), not the log-scale parameter model.logit_scale"
        )


def positive_targets(row_ids: torch.Tensor, column_ids: torch.Tensor) -> torch.Tensor:
    """Soft targets ``[R, C]``: row r spreads 1 evenly over the columns with its id."""
    same = (row_ids[:, None] == column_ids[None, :]).to(torch.float32)
    return same / same.sum(dim=1, keepdim=True).clamp_min(1.0)


def soft_cross_entropy(logits: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    """Mean over rows of ``-sum_j targets[r, j] * log_softmax(logits)[r, j]``: ``[R, C] -> []``."""
    logits = logits.to(torch.promote_types(logits.dtype, torch.float32))  # bf16/fp16 -> fp32
    return -(targets.to(logits.dtype) * F.log_softmax(logits, dim=1)).sum(dim=1).mean()


def rank_and_world_size() -> tuple[int, int]:
    """(rank, world_size); (0, 1) outside an initialised process group."""
    if dist.is_available() and dist.is_initialized():
        return dist.get_rank(), dist.get_world_size()
    return 0, 1


class _AllGatherWithGrad(torch.autograd.Function):
    """``[B, D]`` of every rank -> ``[world_size * B, D]``; the backward sums every rank's gradient
    of the gathered batch and hands each rank its own slice (what open_clip's gather_with_grad
    gets from ``torch.distributed.nn.all_gather``, deprecated from torch 2.14)."""

    @staticmethod
    def forward(ctx: Any, features: torch.Tensor) -> torch.Tensor:
        gathered = [torch.empty_like(features) for _ in range(dist.get_world_size())]
        dist.all_gather(gathered, features.contiguous())
        return torch.cat(gathered, dim=0)

    @staticmethod
    def backward(ctx: Any, grad: torch.Tensor) -> torch.Tensor:
        grad = grad.contiguous()
        dist.all_reduce(grad)  # gloo has no reduce_scatter
        return grad.chunk(dist.get_world_size(), dim=0)[dist.get_rank()]


def gather_features(
    features: torch.Tensor, rank: int, world_size: int, with_grad: bool
) -> torch.Tensor:
    """Concatenate ``features [B, D]`` of every rank -> ``[world_size * B, D]`` in rank order."""
    if world_size == 1:
        return features
    if with_grad:
        return _AllGatherWithGrad.apply(features)
    gathered = [torch.zeros_like(features) for _ in range(world_size)]
    dist.all_gather(gathered, features.detach())
    gathered[rank] = features  # the local slice keeps its gradient
    return torch.cat(gathered, dim=0)


def gather_ids(ids: torch.Tensor, world_size: int) -> torch.Tensor:
    """Concatenate ``ids [B]`` of every rank (no gradient) -> ``[world_size * B]``."""
    if world_size == 1:
        return ids
    gathered = [torch.zeros_like(ids) for _ in range(world_size)]
    dist.all_gather(gathered, ids)
    return torch.cat(gathered, dim=0)


class ClipLoss(nn.Module):
    """Symmetric InfoNCE: ``(video [B, D], text [B, D], scale [], text_ids [B] | None) -> []``.

    ``scale`` is the multiplier itself (``exp(logit_scale)``, as ``CMRClip.forward`` returns).
    Features are expected unit-norm. The loss is the mean of the video->text and text->video
    soft cross-entropies. ``distributed=False`` scores this process's features alone even inside
    a process group (a loss one rank computes by itself must not wait for the others).
    """

    def __init__(
        self, local_loss: bool = False, gather_with_grad: bool = False, distributed: bool = True
    ) -> None:
        super().__init__()
        self.local_loss = local_loss
        self.gather_with_grad = gather_with_grad
        self.distributed = distributed

    def forward(
        self,
        video_features: torch.Tensor,
        text_features: torch.Tensor,
        logit_scale: torch.Tensor,
        text_ids: torch.Tensor | None = None,
    ) -> torch.Tensor:
        if video_features.shape != text_features.shape or video_features.ndim != 2:
            raise ValueError(
                f"features must both be [B, D], got {tuple(video_features.shape)} "
                f"and {tuple(text_features.shape)}"
            )
        check_scale(logit_scale)
        batch = video_features.shape[0]
        rank, world_size = rank_and_world_size() if self.distributed else (0, 1)
        if text_ids is None:
            text_ids = torch.arange(batch, device=video_features.device) + rank * batch
        elif text_ids.shape != (batch,):
            raise ValueError(f"text_ids must be [{batch}], got {tuple(text_ids.shape)}")
        text_ids = text_ids.to(device=video_features.device, dtype=torch.long)
        all_video = gather_features(video_features, rank, world_size, self.gather_with_grad)
        all_text = gather_features(text_features, rank, world_size, self.gather_with_grad)
        all_ids = gather_ids(text_ids, world_size)
        if self.local_loss:
            logits_video = logit_scale * video_features @ all_text.T  # [B, world * B]
            logits_text = logit_scale * text_features @ all_video.T
            targets = positive_targets(text_ids, all_ids)
            return 0.5 * (
                soft_cross_entropy(logits_video, targets) + soft_cross_entropy(logits_text, targets)
            )
        logits_video = logit_scale * all_video @ all_text.T  # [world * B, world * B]
        targets = positive_targets(all_ids, all_ids)
        return 0.5 * (
            soft_cross_entropy(logits_video, targets) + soft_cross_entropy(logits_video.T, targets)
        )
