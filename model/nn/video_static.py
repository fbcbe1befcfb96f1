"""Static baseline tower: one frame per view, no time axis.

``video [B, V, T, H, W] -> [B, D]`` using only each view's first present frame (the first cine
phase, the first LGE slice). Same stem, spatial attention, intensity curve (over its one frame,
so max = min = mean) and masked view fusion as ``multiview``, so the pair isolates what motion
adds (e.g. ejection fraction is invisible in a single frame). ``temporal_depth`` and
``temporal_grid`` are ignored.
"""

from __future__ import annotations

import torch
from torch import nn

from model.nn.blocks import ProjectionHead
from model.nn.config import VideoTowerConfig
from model.nn.video_inputs import check_video_inputs, first_valid_frame
from model.nn.video_multiview import FrameEncoder, ViewFusion, build_curve


class StaticVideoTower(nn.Module):
    """First present frame per view -> spatial encoder -> view fusion -> ``[B, D]``."""

    def __init__(self, cfg: VideoTowerConfig, embed_dim: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.frame_encoder = FrameEncoder(cfg)
        self.fusion = ViewFusion(
            cfg.views, cfg.width, cfg.heads, cfg.mlp_ratio, cfg.fusion_depth, cfg.dropout
        )
        self.curve = build_curve(cfg)
        self.head = ProjectionHead(cfg.width, embed_dim)

    def forward(
        self,
        video: torch.Tensor,
        view_mask: torch.Tensor | None,
        frame_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        """``video [B, V, T, H, W]`` in [0, 1], ``view_mask [B, V]``, ``frame_mask [B, V, T]``
        (bool, True = present; None = all) -> study embedding ``[B, D]`` (not normalised)."""
        view_mask, frame_mask = check_video_inputs(self.cfg, video, view_mask, frame_mask)
        batch, views = video.shape[:2]
        stills = first_valid_frame(video, frame_mask)[view_mask]  # [P, H, W]
        view_tokens = video.new_zeros(batch, views, self.cfg.width)
        if stills.shape[0]:
            view_tokens[view_mask] = self.encode_stills(stills)
        return self.head(self.fusion(view_tokens, view_mask))

    def encode_stills(self, stills: torch.Tensor) -> torch.Tensor:
        """``stills [P, H, W]`` -> one token per view ``[P, C]`` (a one-frame intensity curve)."""
        histograms = self.frame_encoder.histograms(stills) if self.curve is not None else None
        tokens = self.frame_encoder(stills, histograms).mean(dim=1)
        if histograms is None:
            return tokens
        one_frame = torch.ones(stills.shape[0], 1, dtype=torch.bool, device=stills.device)
        return tokens + self.curve(histograms.unsqueeze(1), one_frame)  # [P, 1, K] -> [P, C]
