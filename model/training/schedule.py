"""Optimiser and learning-rate schedule: AdamW with linear warmup then cosine decay.

Parameter groups: the pretrained text layers at ``train.text_lr`` (they move slower), everything
else at ``train.lr``, each split into decayed matrices and undecayed vectors/scalars (biases,
norms, the logit scale), as in CLIP. The schedule is a
``LambdaLR`` over optimiser steps, so its state resumes exactly from a checkpoint.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from model.nn.config import TrainConfig


def parameter_groups(model: nn.Module, cfg: TrainConfig) -> list[dict]:
    """Trainable parameters by part (``CMRClip.trainable_parameter_groups``) x (decay | no decay).

    The pretrained text layers get ``text_lr``; the video tower, the new text projection and the
    logit scale get ``lr``. Matrices decay; vectors and scalars do not.
    """
    out = []
    for part, params in model.trainable_parameter_groups().items():
        for decay in (True, False):
            chosen = [p for p in params if p.requires_grad and (p.ndim >= 2) == decay]
            if chosen:
                out.append(
                    {
                        "params": chosen,
                        "lr": cfg.text_lr if part == "text_layers" else cfg.lr,
                        "weight_decay": cfg.weight_decay if decay else 0.0,
                        "name": f"{part}-{'decay' if decay else 'no_decay'}",
                    }
                )
    return out


def build_optimizer(model: nn.Module, cfg: TrainConfig) -> torch.optim.AdamW:
    """AdamW (betas 0.9/0.98, eps 1e-6, as in CLIP) over the model's trainable parameters."""
    return torch.optim.AdamW(parameter_groups(model, cfg), betas=(0.9, 0.98), eps=1e-6)


def warmup_steps_for(cfg: TrainConfig, total_steps: int) -> int:
    """``warmup_steps`` if set, else ``warmup_fraction`` of the run; never more than a third."""
    steps = cfg.warmup_steps or round(cfg.warmup_fraction * total_steps)
    return int(min(steps, max(total_steps // 3, 1)))


def warmup_cosine_factor(step: int, warmup_steps: int, total_steps: int, min_ratio: float) -> float:
    """LR multiplier at ``step``: linear ramp over ``warmup_steps``, then cosine to ``min_ratio``."""
    if warmup_steps > 0 and step < warmup_steps:
        return (step + 1) / warmup_steps
    decay_steps = max(total_steps - warmup_steps, 1)
    progress = min(max(step - warmup_steps, 0) / decay_steps, 1.0)
    cosine = 0.5 * (1.0 + math.cos(math.pi * progress))
    return min_ratio + (1.0 - min_ratio) * cosine


class WarmupCosine:
    """The LR multiplier as a callable whose ``total_steps`` a time-budgeted run fixes late.

    The warmup length is set once (from the planned run), so fixing ``total_steps`` after an
    early epoch leaves every step already taken with the factor it had.
    """

    def __init__(self, warmup_steps: int, total_steps: int, min_ratio: float) -> None:
        self.warmup_steps, self.total_steps, self.min_ratio = warmup_steps, total_steps, min_ratio

    def __call__(self, step: int) -> float:
        return warmup_cosine_factor(step, self.warmup_steps, self.total_steps, self.min_ratio)


def build_scheduler(
    optimizer: torch.optim.Optimizer, cfg: TrainConfig, total_steps: int
) -> torch.optim.lr_scheduler.LambdaLR:
    """Per-step warmup + cosine schedule over ``total_steps`` optimiser steps."""
    factor = WarmupCosine(warmup_steps_for(cfg, total_steps), total_steps, cfg.min_lr_ratio)
    return torch.optim.lr_scheduler.LambdaLR(optimizer, factor)


def set_total_steps(scheduler: torch.optim.lr_scheduler.LambdaLR, total_steps: int) -> None:
    """Make the cosine end at ``total_steps`` (warmup unchanged); applies from the next step."""
    for factor in scheduler.lr_lambdas:
        factor.total_steps = total_steps
