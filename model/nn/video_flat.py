"""The published design (CMR-CLIP, TimeSformer-style): every view on one long frame strip.

``video [B, V, T, H, W] -> [B, D]``: the ``V * T`` frames are concatenated into one sequence,
each frame is cut into linear patches, and each block runs *divided* space-time attention --
temporal attention across the whole strip at each patch position, then spatial attention within
each frame, then an MLP. Frames of missing views and absent frames are masked as keys and left
out of the final mean, so their pixels do not reach the output; unlike ``multiview`` they are
still computed (the strip has a fixed length), which is what makes this design slower.
"""

from __future__ import annotations

import torch
from einops import rearrange
from torch import nn

from model.nn.blocks import (
    BlockStack,
    LearnedEmbedding,
    MaskedSelfAttention,
    Mlp,
    ProjectionHead,
    build_intensity,
    masked_mean,
)
from model.nn.config import VideoTowerConfig
from model.nn.stems import build_stem
from model.nn.video_inputs import check_video_inputs


class DividedSpaceTimeBlock(nn.Module):
    """Temporal attention, spatial attention, MLP (pre-norm, residual).

    ``tokens [B, S, G, C]`` (S strip frames, G patches per frame), ``strip_mask [B, S]``
    -> ``[B, S, G, C]``.
    """

    def __init__(self, width: int, heads: int, mlp_ratio: float, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm_time = nn.LayerNorm(width)
        self.attn_time = MaskedSelfAttention(width, heads, dropout)
        self.norm_space = nn.LayerNorm(width)
        self.attn_space = MaskedSelfAttention(width, heads, dropout)
        self.norm_mlp = nn.LayerNorm(width)
        self.mlp = Mlp(width, mlp_ratio, dropout)

    def forward(self, tokens: torch.Tensor, strip_mask: torch.Tensor) -> torch.Tensor:
        batch, strip, cells, _ = tokens.shape
        along_time = rearrange(tokens, "b s g c -> (b g) s c")
        time_mask = strip_mask.repeat_interleave(cells, dim=0)  # [(B G), S]
        along_time = along_time + self.attn_time(self.norm_time(along_time), time_mask)
        within_frame = rearrange(along_time, "(b g) s c -> (b s) g c", b=batch)
        within_frame = within_frame + self.attn_space(self.norm_space(within_frame))
        within_frame = within_frame + self.mlp(self.norm_mlp(within_frame))
        return rearrange(within_frame, "(b s) g c -> b s g c", b=batch)


class FlatVideoTower(nn.Module):
    """Views concatenated into one strip -> divided space-time blocks -> masked mean -> ``[B, D]``.

    Uses ``spatial_depth + temporal_depth`` divided blocks and a learned position per strip frame
    (``views * frames`` of them); there is no view-type embedding, as in the published model.
    """

    def __init__(self, cfg: VideoTowerConfig, embed_dim: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.patch_embed = build_stem("linear", cfg.patch_size, cfg.width)
        self.position = LearnedEmbedding(cfg.grid * cfg.grid, cfg.width)
        self.intensity = build_intensity(cfg.intensity_bins, cfg.width, cfg.intensity_cumulative)
        self.strip_position = LearnedEmbedding(cfg.views * cfg.frames, cfg.width)
        self.blocks = BlockStack(
            DividedSpaceTimeBlock(cfg.width, cfg.heads, cfg.mlp_ratio, cfg.dropout)
            for _ in range(max(1, cfg.spatial_depth + cfg.temporal_depth))
        )
        self.head = ProjectionHead(cfg.width, embed_dim)

    def forward(
        self,
        video: torch.Tensor,
        view_mask: torch.Tensor | None,
        frame_mask: torch.Tensor | None,
    ) -> torch.Tensor:
        """``video [B, V, T, H, W]`` in [0, 1], ``view_mask [B, V]``, ``frame_mask [B, V, T]``
        (bool, True = present; None = all) -> study embedding ``[B, D]`` (not normalised)."""
        _, frame_mask = check_video_inputs(self.cfg, video, view_mask, frame_mask)
        batch, views, frames = video.shape[:3]
        strip = rearrange(video, "b v t h w -> (b v t) h w")
        tokens = self.patch_embed(strip) + self.position()  # [(B V T), G, C]
        if self.intensity is not None:
            tokens = tokens + self.intensity(strip).unsqueeze(1)
        positions = self.strip_position().view(self.cfg.views, self.cfg.frames, -1)
        positions = rearrange(positions[:views, :frames], "v t c -> (v t) 1 c")
        tokens = rearrange(tokens, "(b s) g c -> b s g c", b=batch) + positions
        strip_mask = rearrange(frame_mask, "b v t -> b (v t)")
        tokens = self.blocks(tokens, strip_mask)
        per_frame = tokens.mean(dim=2)  # [B, S, C]
        return self.head(masked_mean(per_frame, strip_mask, dim=1))
