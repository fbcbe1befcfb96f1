"""Tiny video towers and a batch with missing views and frames, shared by the tower tests."""

from __future__ import annotations

from dataclasses import replace

import torch

from model.nn.clip_model import build_video_tower
from model.nn.config import VideoTowerConfig

# Tower variants the kind-generic tests run on: the kind (the name's first word) + overrides.
VARIANTS: dict[str, dict[str, object]] = {
    "multiview": {},
    "multiview-tubelet": {"tubelet": 2},
    "multiview-still": {"tubelet": 2, "still_frame": True},
    "multiview-cumulative": {
        "intensity_bins": 4,
        "intensity_curve": True,
        "intensity_cumulative": True,
    },
    "flat": {},
    "static": {},
}
KINDS = tuple(VARIANTS)
EMBED = 24
TINY = VideoTowerConfig(
    image_size=32,
    patch_size=8,
    frames=4,
    width=32,
    heads=2,
    spatial_depth=1,
    temporal_depth=1,
    fusion_depth=1,
    mlp_ratio=2.0,
    temporal_grid=2,
    intensity_bins=4,
    intensity_curve=True,
)


def kind_of(variant: str) -> str:
    """``"multiview-tubelet"`` -> ``"multiview"``."""
    return variant.split("-")[0]


def tiny_tower(variant: str, **overrides: object) -> torch.nn.Module:
    torch.manual_seed(0)
    settings = {**VARIANTS[variant], **overrides}
    tower = build_video_tower(replace(TINY, kind=kind_of(variant), **settings), EMBED)
    return tower.eval()


def batch(size: int = 3, seed: int = 0) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``video [B, 9, 4, 32, 32]``, masks with a missing view, single-frame views, short views."""
    generator = torch.Generator().manual_seed(seed)
    video = torch.rand(size, TINY.views, TINY.frames, 32, 32, generator=generator)
    view_mask = torch.ones(size, TINY.views, dtype=torch.bool)
    view_mask[0, 2] = False
    view_mask[1, 5:] = False
    frame_mask = torch.ones(size, TINY.views, TINY.frames, dtype=torch.bool)
    frame_mask[:, 7:, 1:] = False  # LGE long-axis: one image each
    frame_mask[-1, 0, 2:] = False  # a short cine
    return video, view_mask, frame_mask
