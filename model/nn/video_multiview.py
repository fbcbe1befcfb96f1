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

Missing views and time steps without a present frame are never computed, and the pixels of
absent frames cannot influence the output (inside a partly present tubelet they enter as zeros).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

from model.nn.blocks import (
    BlockStack,
    IntensityCurve,
    LearnedEmbedding,
    ProjectionHead,
    TransformerBlock,
    build_intensity,
    masked_mean,
)
from model.nn.config import VideoTowerConfig
from model.nn.stems import build_stem
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
        self.blocks = BlockStack(
            TransformerBlock(cfg.width, cfg.heads, cfg.mlp_ratio, cfg.dropout)
            for _ in range(cfg.spatial_depth)
        )

    def forward(self, frames: torch.Tensor, histograms: torch.Tensor | None = None) -> torch.Tensor:
        """``frames [F, (k,) H, W]`` (+ their ``histograms``, required for tubelets) ->
        ``[F, g², C]``."""
        tokens = self.stem(frames) + self.position()
        if self.intensity is not None:
            tokens = tokens + self.intensity(frames, histograms).unsqueeze(1)
        tokens = self.blocks(tokens)
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
        self.blocks = BlockStack(
            TransformerBlock(width, heads, mlp_ratio, dropout) for _ in range(depth)
        )

    def forward(self, view_tokens: torch.Tensor, view_mask: torch.Tensor) -> torch.Tensor:
        batch, views, _ = view_tokens.shape
        x = view_tokens + self.view_type(views)
        x = torch.cat([self.study_token.expand(batch, -1, -1), x], dim=1)
        always = torch.ones(batch, 1, dtype=torch.bool, device=view_mask.device)
        key_mask = torch.cat([always, view_mask], dim=1)
        x = self.blocks(x, key_mask)
        return x[:, 0] + masked_mean(x[:, 1:], view_mask, dim=1)


class MultiviewVideoTower(nn.Module):
    """Spatial -> temporal-within-view -> view embeddings -> masked fusion -> ``[B, D]``."""

    def __init__(self, cfg: VideoTowerConfig, embed_dim: int) -> None:
        super().__init__()
        self.cfg = cfg
        self.frame_encoder = FrameEncoder(cfg, in_frames=cfg.tubelet)
        self.temporal_grid = cfg.temporal_grid or cfg.grid
        self.time = LearnedEmbedding(cfg.time_steps, cfg.width)
        self.temporal_blocks = BlockStack(
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
        view_tokens = video.new_zeros(batch, views, self.cfg.width)
        if view_mask.any():
            view_tokens[view_mask] = self.encode_views(video, view_mask, frame_mask)
        return self.head(self.fusion(view_tokens, view_mask))

    def encode_views(
        self, video: torch.Tensor, view_mask: torch.Tensor, frame_mask: torch.Tensor
    ) -> torch.Tensor:
        """``video [B, V, T, H, W]`` + masks -> one token per present view ``[P, C]``.

        The present tubes are gathered from the batch once; everything after works on them.
        """
        tubes, tube_frames, tube_mask = self.tubelets(video, frame_mask)  # [F, k, H, W], [F, k]
        per_frame = self.frame_histograms(tubes, tube_frames)  # [F, k, K] or None
        histograms = None if per_frame is None else masked_mean(per_frame, tube_frames, dim=1)
        encoded = self.pool_cells(self.frame_encoder(tubes, histograms))  # [F, g, C]
        view_tubes = tube_mask[view_mask]  # [P, S]
        view_tokens = self.attend_time(encoded, view_tubes)
        if self.still_encoder is not None:
            view_tokens = view_tokens + self.encode_stills(
                first_valid_frame(video, frame_mask)[view_mask]
            )
        if self.curve is None or per_frame is None:
            return view_tokens
        return view_tokens + self.curve(*spread_over_views(per_frame, tube_frames, view_tubes))

    def attend_time(self, encoded: torch.Tensor, view_tubes: torch.Tensor) -> torch.Tensor:
        """Temporal attention within each view: ``encoded [F, g, C]`` (the present tubes, in
        order), ``view_tubes [P, S]`` (which time steps each view has) -> ``[P, C]``."""
        count, steps = view_tubes.shape
        tokens = encoded.new_zeros(count, steps, *encoded.shape[1:])
        tokens[view_tubes] = encoded  # [P, S, g, C], absent time steps stay zero
        cells = tokens.shape[2]
        sequences = rearrange(tokens, "p s g c -> (p g) s c") + self.time(steps)
        key_mask = view_tubes.repeat_interleave(cells, dim=0)  # [(P g), S]
        sequences = self.temporal_blocks(sequences, key_mask)
        per_cell = masked_mean(sequences, key_mask, dim=1)  # [(P g), C]
        return rearrange(per_cell, "(p g) c -> p g c", p=count).mean(dim=1)

    def encode_stills(self, stills: torch.Tensor) -> torch.Tensor:
        """Appearance stream: each view's first present frame alone, ``[P, H, W] -> [P, C]``."""
        encoder = self.still_encoder
        histograms = encoder.histograms(stills) if encoder.intensity is not None else None
        return encoder(stills, histograms).mean(dim=1)

    def frame_histograms(
        self, tubes: torch.Tensor, tube_frames: torch.Tensor
    ) -> torch.Tensor | None:
        """Intensity features of every frame of the present tubes, ``[F, k, K]`` (a tube's
        absent frames are computed on their zeros and masked by ``tube_frames`` wherever they
        are used), or None when the tower has no intensity histogram."""
        if self.frame_encoder.intensity is None:
            return None
        features = self.frame_encoder.histograms(tubes.flatten(0, 1))  # [F k, K]
        return features.unflatten(0, tube_frames.shape)

    def tubelets(
        self, video: torch.Tensor, frame_mask: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Group ``tubelet`` (k) consecutive frames and gather the present tubes.

        ``video [B, V, T, H, W]``, ``frame_mask [B, V, T]`` -> ``tubes [F, k, H, W]`` (the tubes
        with any present frame, in batch order), ``tube_frames [F, k]`` (which of their frames
        are present) and ``tube_mask [B, V, S]``. ``T`` is padded up to a multiple of k with
        absent frames, and absent frames inside a tube enter as zeros.
        """
        k = self.cfg.tubelet
        pad = -video.shape[2] % k
        if pad:
            video = torch.cat([video, video.new_zeros(*video.shape[:2], pad, *video.shape[3:])], 2)
            frame_mask = torch.cat(
                [frame_mask, frame_mask.new_zeros(*frame_mask.shape[:2], pad)], 2
            )
        frame_groups = rearrange(frame_mask, "b v (s k) -> b v s k", k=k)
        tube_mask = frame_groups.any(dim=-1)
        tubes = rearrange(video, "b v (s k) h w -> b v s k h w", k=k)[tube_mask]
        tube_frames = frame_groups[tube_mask]
        if k > 1 and not bool(tube_frames.all()):
            tubes = tubes * tube_frames[..., None, None]
        return tubes, tube_frames, tube_mask

    def pool_cells(self, tokens: torch.Tensor) -> torch.Tensor:
        """Average the token grid down to ``temporal_grid``: ``[F, grid², C] -> [F, g², C]``."""
        grid = self.cfg.grid
        if self.temporal_grid == grid:
            return tokens
        maps = rearrange(tokens, "f (gh gw) c -> f c gh gw", gh=grid)
        maps = F.adaptive_avg_pool2d(maps, self.temporal_grid)
        return rearrange(maps, "f c gh gw -> f (gh gw) c")


def spread_over_views(
    per_frame: torch.Tensor, tube_frames: torch.Tensor, view_tubes: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor]:
    """Frame features of the present tubes ``[F, k, K]`` (+ ``tube_frames [F, k]``) back onto
    each view's time axis: ``[P, S k, K]`` and the frames' presence ``[P, S k]``."""
    count, steps = view_tubes.shape
    k = tube_frames.shape[1]
    features = per_frame.new_zeros(count, steps, k, per_frame.shape[-1])
    features[view_tubes] = per_frame
    present = tube_frames.new_zeros(count, steps, k)
    present[view_tubes] = tube_frames
    return rearrange(features, "p s k f -> p (s k) f"), rearrange(present, "p s k -> p (s k)")
