"""The default video tower: per-view space-time encoding, then fusion across the views present.

``video [B, V, T, H, W] -> [B, D]``:

1. every valid frame (or ``tubelet`` of consecutive frames) of every present view -> stem (+ the
   embedded intensity histogram, with ``intensity_bins``) -> spatial attention over its grid;
2. tokens pooled to a ``temporal_grid`` and attended over time *within their own view*
   (absent frames masked), plus learned time-step embeddings;
3. one token per view (+ its embedded intensity curve over time, with ``intensity_curve``; + its
   first present frame encoded alone, with ``still_frame``), plus a learned view-type embedding
   (which slot it came from);
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
from model.nn.video_inputs import check_video_inputs, first_valid_frame


class FrameEncoder(nn.Module):
    """Stem (+ intensity histogram) + spatial attention per frame, or per tubelet of
    ``in_frames`` consecutive frames.

    ``frames [F, H, W]`` or ``[F, in_frames, H, W] -> tokens [F, grid*grid, C]``.
    """

    def __init__(self, cfg: VideoTowerConfig, in_frames: int = 1) -> None:
        super().__init__()
        self.stem = build_stem(cfg.stem, cfg.patch_size, cfg.width, in_frames)
        self.position = LearnedEmbedding(cfg.grid * cfg.grid, cfg.width)
        self.intensity = build_intensity(cfg.intensity_bins, cfg.width, cfg.intensity_cumulative)
        self.blocks = nn.ModuleList(
            TransformerBlock(cfg.width, cfg.heads, cfg.mlp_ratio, cfg.dropout)
            for _ in range(cfg.spatial_depth)
        )

    def forward(self, frames: torch.Tensor, histograms: torch.Tensor | None = None) -> torch.Tensor:
        """``frames [F, (k,) H, W]`` (+ their ``histograms``, required for tubelets) ->
        ``[F, g², C]``."""
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
        self.frame_encoder = FrameEncoder(cfg, in_frames=cfg.tubelet)
        self.temporal_grid = cfg.temporal_grid or cfg.grid
        self.time = LearnedEmbedding(cfg.time_steps, cfg.width)
        self.temporal_blocks = nn.ModuleList(
            TransformerBlock(cfg.width, cfg.heads, cfg.mlp_ratio, cfg.dropout)
            for _ in range(cfg.temporal_depth)
        )
        self.fusion = ViewFusion(
            cfg.views, cfg.width, cfg.heads, cfg.mlp_ratio, cfg.fusion_depth, cfg.dropout
        )
        self.curve = build_curve(cfg)
        self.still_encoder = FrameEncoder(cfg) if cfg.still_frame else None
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
        count = clips.shape[0]
        per_frame = self.frame_histograms(clips, clip_frames)  # [P, T, K] or None
        tubes, tube_mask, tube_histograms = self.tubelets(clips, clip_frames, per_frame)
        encoded = self.pool_cells(self.frame_encoder(tubes[tube_mask], tube_histograms))
        steps = tube_mask.shape[1]
        tokens = encoded.new_zeros(count, steps, *encoded.shape[1:])
        tokens[tube_mask] = encoded  # [P, S, g, C], absent time steps stay zero
        cells = tokens.shape[2]
        sequences = rearrange(tokens, "p s g c -> (p g) s c") + self.time(steps)
        key_mask = tube_mask.repeat_interleave(cells, dim=0)  # [(P g), S]
        for block in self.temporal_blocks:
            sequences = block(sequences, key_mask)
        per_cell = masked_mean(sequences, key_mask, dim=1)  # [(P g), C]
        view_tokens = rearrange(per_cell, "(p g) c -> p g c", p=count).mean(dim=1)
        if self.still_encoder is not None:
            view_tokens = view_tokens + self.encode_stills(clips, clip_frames)
        if self.curve is None or per_frame is None:
            return view_tokens
        return view_tokens + self.curve(per_frame, clip_frames)

    def encode_stills(self, clips: torch.Tensor, clip_frames: torch.Tensor) -> torch.Tensor:
        """Appearance stream: each clip's first present frame alone, ``[P, T, H, W] -> [P, C]``."""
        stills = first_valid_frame(clips.unsqueeze(0), clip_frames.unsqueeze(0)).squeeze(0)
        encoder = self.still_encoder
        histograms = encoder.histograms(stills) if encoder.intensity is not None else None
        return encoder(stills, histograms).mean(dim=1)

    def frame_histograms(
        self, clips: torch.Tensor, clip_frames: torch.Tensor
    ) -> torch.Tensor | None:
        """Intensity features of every present frame, ``[P, T, K]`` (zeros where absent), or
        None when the tower has no intensity histogram."""
        if self.frame_encoder.intensity is None:
            return None
        present = self.frame_encoder.histograms(clips[clip_frames])  # [F, K]
        per_frame = present.new_zeros(*clip_frames.shape, present.shape[-1])
        per_frame[clip_frames] = present
        return per_frame

    def tubelets(
        self, clips: torch.Tensor, clip_frames: torch.Tensor, per_frame: torch.Tensor | None
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor | None]:
        """Group ``tubelet`` (k) consecutive frames: ``clips [P, T, H, W]`` ->
        ``tubes [P, S, k, H, W]``, ``tube_mask [P, S]`` (any frame present) and the mean
        histogram of each present tube's present frames ``[F, K]`` (None without histograms).
        ``T`` is padded up to a multiple of k with absent frames, and absent frames inside a
        tube enter as zeros."""
        k = self.cfg.tubelet
        pad = -clips.shape[1] % k
        if pad:
            clips = torch.cat([clips, clips.new_zeros(clips.shape[0], pad, *clips.shape[2:])], 1)
            clip_frames = torch.cat([clip_frames, clip_frames.new_zeros(len(clip_frames), pad)], 1)
            if per_frame is not None:
                per_frame = torch.cat(
                    [per_frame, per_frame.new_zeros(len(per_frame), pad, per_frame.shape[-1])], 1
                )
        if k > 1:
            clips = clips * clip_frames[..., None, None]
        tubes = rearrange(clips, "p (s k) h w -> p s k h w", k=k)
        frame_groups = rearrange(clip_frames, "p (s k) -> p s k", k=k)
        tube_mask = frame_groups.any(dim=-1)
        if per_frame is None:
            return tubes, tube_mask, None
        groups = rearrange(per_frame, "p (s k) f -> p s k f", k=k)
        return tubes, tube_mask, masked_mean(groups, frame_groups, dim=2)[tube_mask]

    def pool_cells(self, tokens: torch.Tensor) -> torch.Tensor:
        """Average the token grid down to ``temporal_grid``: ``[F, grid², C] -> [F, g², C]``."""
        grid = self.cfg.grid
        if self.temporal_grid == grid:
            return tokens
        maps = rearrange(tokens, "f (gh gw) c -> f c gh gw", gh=grid)
        maps = F.adaptive_avg_pool2d(maps, self.temporal_grid)
        return rearrange(maps, "f c gh gw -> f (gh gw) c")
