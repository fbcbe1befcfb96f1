"""On-the-fly transforms of stored study videos for training and embedding.

Re-picking frames when a preset asks for another frame count than stored (cine cyclically, LGE
slices evenly), and anatomy-respecting augmentation: small in-plane rotation, scale and shift and
intensity jitter (contrast and brightness), one draw per view applied to all its frames. Never a
flip: left-right and up-down orientation carry anatomy (septum side, apex direction). Costs are kept
small per item for the training loader: one ``grid_sample`` over the present views (frames as
channels) and one in-place multiply-add that also zeroes masked frames.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F


def frame_indices(counts: np.ndarray, stored: int, frames: int) -> tuple[np.ndarray, np.ndarray]:
    """(index ``[V, T]`` into the stored time axis, frame_mask bool ``[V, T]``).

    A view with all ``stored`` frames (cine) is re-sampled cyclically; fewer frames (LGE slices,
    single images) keep their first ``frames`` slices, or an even pick when there are more.
    """
    index = np.zeros((len(counts), frames), dtype=np.int64)
    mask = np.zeros((len(counts), frames), dtype=bool)
    for view, count in enumerate(counts):
        if count <= 0:
            continue
        if count >= stored:
            index[view] = np.arange(frames) * stored // frames
            mask[view] = True
        elif count <= frames:
            index[view, :count] = np.arange(count)
            mask[view, :count] = True
        else:
            index[view] = np.round(np.linspace(0, count - 1, frames)).astype(np.int64)
            mask[view] = True
    return index, mask


@dataclass(frozen=True)
class AugmentConfig:
    """Ranges of the random transforms (uniform draws)."""

    max_rotation_deg: float = 10.0
    scale: tuple[float, float] = (0.92, 1.08)
    max_shift: float = 0.05  # fraction of the image side
    gain: tuple[float, float] = (0.85, 1.15)
    bias: tuple[float, float] = (-0.05, 0.05)


def affine_thetas(rng: np.random.Generator, views: int, config: AugmentConfig) -> torch.Tensor:
    """float32 ``[views, 2, 3]`` output->input affine matrices for ``F.affine_grid``.

    Rotation and isotropic scale only (determinant > 0), so no mirror image can arise.
    """
    angle = np.deg2rad(rng.uniform(-config.max_rotation_deg, config.max_rotation_deg, views))
    scale = rng.uniform(*config.scale, views)
    shift = rng.uniform(-config.max_shift, config.max_shift, (views, 2)) * 2.0
    cos, sin = np.cos(angle) / scale, np.sin(angle) / scale
    theta = np.stack(
        [np.stack([cos, -sin, shift[:, 0]], axis=1), np.stack([sin, cos, shift[:, 1]], axis=1)],
        axis=1,
    )
    return torch.from_numpy(theta.astype(np.float32))


def move_views(
    video: torch.Tensor, rng: np.random.Generator, config: AugmentConfig
) -> torch.Tensor:
    """float32 ``[V, T, S, S]`` -> the same shape, each view rotated / scaled / shifted at random.

    Frames are the channels of one ``grid_sample`` per view, so all frames of a view move together.
    """
    views, frames, height, width = video.shape
    theta = affine_thetas(rng, views, config)
    grid = F.affine_grid(theta, [views, frames, height, width], align_corners=False)
    return F.grid_sample(video, grid, mode="bilinear", padding_mode="zeros", align_corners=False)


def augment_video(
    video: torch.Tensor, frame_mask: torch.Tensor, rng: np.random.Generator, config: AugmentConfig
) -> torch.Tensor:
    """float32 ``[V, T, S, S]`` in [0, 1] -> augmented, with frames outside ``frame_mask``
    (bool ``[V, T]``) set to zero. Per view: one geometric draw, one contrast / brightness draw.
    """
    present = frame_mask.any(dim=1).nonzero().squeeze(1)
    if len(present) == 0:
        return video
    if len(present) == len(video):
        video = move_views(video, rng, config)
    else:
        moved = move_views(video.index_select(0, present), rng, config)
        video = torch.zeros_like(video).index_copy_(0, present, moved)
    views = video.shape[0]
    gain = torch.from_numpy(rng.uniform(*config.gain, (views, 1)).astype(np.float32))
    bias = torch.from_numpy(rng.uniform(*config.bias, (views, 1)).astype(np.float32))
    weight = frame_mask.to(torch.float32)
    video.mul_((gain * weight)[:, :, None, None]).add_((bias * weight)[:, :, None, None])
    return video.clamp_(0.0, 1.0)
