"""Input contract shared by every video tower: shapes, masks and clear errors for bad input.

A batch is ``video [B, V, T, H, W]`` float in [0, 1], ``view_mask [B, V]`` and
``frame_mask [B, V, T]`` (bool, True = present). ``V`` is the number of view slots
(``model.schema.VIEW_SLOTS``), ``T`` at most the tower's ``frames``.
"""

from __future__ import annotations

import torch

from model.errors import UserError
from model.nn.config import VideoTowerConfig

VALUE_TOLERANCE = 0.01  # rounding and resampling may step this far out of [0, 1]


def check_video_inputs(
    cfg: VideoTowerConfig,
    video: torch.Tensor,
    view_mask: torch.Tensor | None,
    frame_mask: torch.Tensor | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Validate a batch against ``cfg`` and return ``(view_mask [B, V], frame_mask [B, V, T])``.

    Missing masks mean "everything present". The returned frame mask is also False for every
    frame of a missing view, and a view without any present frame counts as missing.
    Raises ``UserError`` naming the mismatch.
    """
    if video.ndim != 5:
        raise UserError(f"video must have shape [B, V, T, H, W], got {tuple(video.shape)}")
    if not video.is_floating_point():
        raise UserError(f"video must be a float tensor in [0, 1], got dtype {video.dtype}")
    batch, views, frames, height, width = video.shape
    if views != cfg.views:
        raise UserError(f"video has {views} view slots, the tower expects {cfg.views}")
    if frames > cfg.frames:
        raise UserError(f"video has {frames} frames, the tower accepts at most {cfg.frames}")
    if (height, width) != (cfg.image_size, cfg.image_size):
        raise UserError(
            f"video frames are {height}x{width}, the tower expects "
            f"{cfg.image_size}x{cfg.image_size}"
        )
    if view_mask is None:
        view_mask = torch.ones(batch, views, dtype=torch.bool, device=video.device)
    if frame_mask is None:
        frame_mask = torch.ones(batch, views, frames, dtype=torch.bool, device=video.device)
    if tuple(view_mask.shape) != (batch, views):
        raise UserError(f"view_mask must have shape {(batch, views)}, got {tuple(view_mask.shape)}")
    if tuple(frame_mask.shape) != (batch, views, frames):
        raise UserError(
            f"frame_mask must have shape {(batch, views, frames)}, got {tuple(frame_mask.shape)}"
        )
    view_mask = view_mask.to(device=video.device, dtype=torch.bool)
    frame_mask = frame_mask.to(device=video.device, dtype=torch.bool) & view_mask.unsqueeze(-1)
    return frame_mask.any(dim=2), frame_mask


def check_video_values(video: torch.Tensor, every: int = 1) -> None:
    """``UserError`` unless every ``every``-th value of a float ``video`` lies in [0, 1] (NaN
    included).

    Frames scaled 0-255, or standardised (z-scores), would otherwise embed without a word, far
    from where the same study embeds. One reduction (and, on a GPU, one wait for it); a stride
    (training's batches) still finds such frames at a fraction of the cost.
    """
    if not video.is_floating_point() or video.numel() == 0:
        return
    values = video.detach().reshape(-1)[::every]
    low, high = (float(value) for value in torch.aminmax(values))
    if not (low >= -VALUE_TOLERANCE and high <= 1.0 + VALUE_TOLERANCE):
        raise UserError(
            f"video values must be in [0, 1], got min {low:.4g} and max {high:.4g} "
            "(divide 8-bit frames by 255)"
        )


def first_valid_frame(video: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
    """Pick each view's first present frame: ``[B, V, T, H, W], [B, V, T] -> [B, V, H, W]``.

    Views with no present frame get frame 0 (they are masked downstream anyway).
    """
    index = frame_mask.to(torch.int8).argmax(dim=2)  # first True, or 0 when none
    batch, views = index.shape
    picker = index.view(batch, views, 1, 1, 1).expand(-1, -1, 1, *video.shape[3:])
    return video.gather(2, picker).squeeze(2)
