"""The default video tower: per-view space-time encoding, then fusion across the views present.

``video [B, V, T, H, W] -> [B, D]``:

1. every valid frame of every present view -> stem (+ the frame's embedded intensity histogram,
   with ``intensity_bins``) -> spatial attention over its token grid;
2. tokens pooled to a ``temporal_grid`` and attended over time *within their own view*
   (absent frames masked), plus learned frame-time embeddings;
3. one token per view (+ its embedded intensity curve over time, with ``intensity_curve``), plus
   a learned view-type embedding (which slot it came from);
4. fusion attention across the views with missing views masked out, plus a study token that is
   always present, so a study with no views gives a finite (constant) embedding.

Missing views and absent frames are never computed: their pixels cannot influence the output.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from model.nn.blocks import (
    IntensityCurve,
    LearnedEmbedding,
    ProjectionHead,
    TransformerBlock,
    build_intensity,
    build_stem,
    masked_mean,
)
from model.nn.config import VideoTowerConfig
from model.nn.video_inputs import check_video_inputs


class FrameEncoder(nn.Module):
    """Stem (+ intensity histogram) + spatial attention per frame.

    ``frames [F, H, W] -> tokens [F, grid*grid, C]``.
    """

    def __init__(self, cfg: VideoTowerConfig) -> None:
        super().__init__()
        self.stem = build_stem(cfg.stem, cfg.patch_size, cfg.width)
        self.position = LearnedEmbedding(cfg.grid * cfg.grid, cfg.width)
        self.intensity = build_intensity(cfg.intensity_bins, cfg.width)
        self.blocks = nn.ModuleList(
            TransformerBlock(cfg.width, cfg.heads, cfg.mlp_ratio, cfg.dropout)
            for _ in range(cfg.spatial_depth)
        )

    def forward(self, frames: torch.Tensor, histograms: torch.Tensor | None = None) -> torch.Tensor:
        """``frames [F, H, W]`` (+ their ``histograms`` if already computed) -> ``[F, g², C]``."""
        tokens = self.stem(frames) + self.position()
        if self.intensity is not None:
            tokens = tokens + self.intensity(frames, histograms).unsqueeze(1)
        for block in self.blocks:
            tokens = block(tokens)
        return tokens

    def histograms(self, frames: torch.Tensor) -> torch.Tensor:
        """``frames [F, H, W]`` -> log intensity histograms ``[F, 2 * bins]`` (no gradient)."""
        if self.intensity is None:
            raise ValueError("the frame encoder was built without intensity_bins")
        return self.intensity.features(frames)


def build_curve(cfg: VideoTowerConfig) -> IntensityCurve | None:
    """The per-view ``IntensityCurve`` when ``cfg.intensity_curve``, else None."""
    return IntensityCurve(2 * cfg.intensity_bins, cfg.width) if cfg.intensity_curve else None


class ViewFusion(nn.Module):
    """Fuse per-view tokens into one study vector: ``[B, V, C], view_mask [B, V] -> [B, C]``.

    Adds a view-type embedding per slot, prepends an always-present study token and runs
    ``depth`` attention blocks with missing views masked as keys. The output is the study token
    plus the masked mean of the present view tokens (zeros when no view is present).
    """

    def __init__(self, views: int, width: int, heads: int, mlp_ratio: float, depth: int,
                 dropout: float = 0.0) -> None:  # fmt: skip
        super().__init__()
        self.view_type = LearnedEmbedding(views, width)
        self.study_token = nn.Parameter(torch.zeros(1, 1, width))
        self.blocks = nn.ModuleList(
            TransformerBlock(width, heads, mlp_ratio, dropout) for _ in range(depth)
        )

    def forward(self, view_tokens: torch.Tensor, view_mask: torch.Tensor) -> torch.Tensor:
        batch, views, _ = view_tokens.shape
        x = view_tokens + self.view_type(views)
        x = torch.cat([self.study_token.expand(batch, -1, -1), x], dim=1)
        always = torch.ones(batch, 1, dtype=torch.bool, device=view_mask.device)
        key_mask = torch.cat([always, view_mask], dim=1)
        for block in self.blocks:
            x = block(x, key_mask)
        return x[:, 0] + masked_mean(x[:, 1:], view_mask, dim=1)


class MultiviewVideoTower(nn.Module):
    """Spatial -> temporal-within-view -> view embeddings -> masked fusion -> ``[B, D]``."""

    def __init__(self, cfg: VideoTowerConfig, embed_dim: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.frame_encoder = FrameEncoder(cfg)
        self.temporal_grid = cfg.temporal_grid or cfg.grid
        self.time = LearnedEmbedding(cfg.frames, cfg.width)
        self.temporal_blocks = nn.ModuleList(
            TransformerBlock(cfg.width, cfg.heads, cfg.mlp_ratio, cfg.dropout)
            for _ in range(cfg.temporal_depth)
        )
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
        clips = video[view_mask]  # [P, T, H, W], present views only
        clip_frames = frame_mask[view_mask]  # [P, T]
        view_tokens = video.new_zeros(batch, views, self.cfg.width)
        if clips.shape[0]:
            view_tokens[view_mask] = self.encode_clips(clips, clip_frames)
        return self.head(self.fusion(view_tokens, view_mask))

    def encode_clips(self, clips: torch.Tensor, clip_frames: torch.Tensor) -> torch.Tensor:
        """``clips [P, T, H, W]``, ``clip_frames [P, T]`` -> one token per view ``[P, C]``."""
        count, frames = clips.shape[:2]
        present = clips[clip_frames]  # [F, H, W]
        histograms = self.frame_encoder.histograms(present) if self.curve is not None else None
        encoded = self.pool_cells(self.frame_encoder(present, histograms))  # [F, g, C]
        tokens = encoded.new_zeros(count, frames, *encoded.shape[1:])
        tokens[clip_frames] = encoded  # [P, T, g, C], absent frames stay zero
        cells = tokens.shape[2]
        sequences = rearrange(tokens, "p t g c -> (p g) t c") + self.time(frames)
        key_mask = clip_frames.repeat_interleave(cells, dim=0)  # [(P g), T]
        for block in self.temporal_blocks:
            sequences = block(sequences, key_mask)
        per_cell = masked_mean(sequences, key_mask, dim=1)  # [(P g), C]
        view_tokens = rearrange(per_cell, "(p g) c -> p g c", p=count).mean(dim=1)
        if histograms is None:
            return view_tokens
        curves = histograms.new_zeros(count, frames, histograms.shape[-1])
        curves[clip_frames] = histograms  # [P, T, K], absent frames masked in the curve
        return view_tokens + self.curve(curves, clip_frames)

    def pool_cells(self, tokens: torch.Tensor) -> torch.Tensor:
        """Average the token grid down to ``temporal_grid``: ``[F, grid², C] -> [F, g², C]``."""
        grid = self.cfg.grid
        if self.temporal_grid == grid:
            return tokens
        maps = rearrange(tokens, "f (gh gw) c -> f c gh gw", gh=grid)
        maps = F.adaptive_avg_pool2d(maps, self.temporal_grid)
        return rearrange(maps, "f c gh gw -> f (gh gw) c")
