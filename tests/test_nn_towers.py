"""Video towers (timm-style): every kind and preset builds tiny, shapes, gradients, masking."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
import torch

from bench.activations import saved_bytes
from model.errors import UserError
from model.nn.blocks import set_grad_checkpointing
from model.nn.clip_model import build_video_tower
from model.nn.presets import load_preset
from model.nn.video_inputs import first_valid_frame
from tests.tiny_towers import EMBED, KINDS, TINY, VARIANTS, batch, kind_of, tiny_tower


@pytest.mark.parametrize("kind", KINDS)
def test_forward_shape_and_finite(kind: str) -> None:
    out = tiny_tower(kind)(*batch())
    assert out.shape == (3, EMBED)
    assert torch.isfinite(out).all()


@pytest.mark.parametrize("kind", KINDS)
def test_every_trainable_parameter_gets_a_gradient(kind: str) -> None:
    tower = tiny_tower(kind).train()
    tower(*batch()).square().sum().backward()
    missing = [
        name
        for name, p in tower.named_parameters()
        if p.requires_grad and (p.grad is None or not p.grad.abs().sum() > 0)
    ]
    assert missing == []


@pytest.mark.parametrize("kind", KINDS)
def test_missing_view_pixels_change_nothing(kind: str) -> None:
    tower = tiny_tower(kind)
    video, view_mask, frame_mask = batch()
    with torch.no_grad():
        before = tower(video, view_mask, frame_mask)
        altered = video.clone()
        altered[~view_mask] = torch.rand_like(altered[~view_mask])  # masked-out views
        altered[~frame_mask] = 1.0  # absent frames of present views
        after = tower(altered, view_mask, frame_mask)
    torch.testing.assert_close(after, before, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize("kind", KINDS)
def test_present_view_pixels_do_change_the_output(kind: str) -> None:
    tower = tiny_tower(kind)
    video, view_mask, frame_mask = batch()
    with torch.no_grad():
        before = tower(video, view_mask, frame_mask)
        video[:, 0, 0] = torch.rand_like(video[:, 0, 0])  # view 0, frame 0: present everywhere
        after = tower(video, view_mask, frame_mask)
    assert (after - before).abs().amax(dim=1).min() > 1e-4


@pytest.mark.parametrize("kind", KINDS)
def test_study_with_every_view_missing_is_finite(kind: str) -> None:
    tower = tiny_tower(kind).train()
    video, _, frame_mask = batch(2)
    view_mask = torch.zeros(2, TINY.views, dtype=torch.bool)
    view_mask[1, 0] = True
    out = tower(video, view_mask, frame_mask)
    assert torch.isfinite(out).all()
    out.sum().backward()
    assert all(torch.isfinite(p.grad).all() for p in tower.parameters() if p.grad is not None)


@pytest.mark.parametrize("kind", KINDS)
def test_study_output_does_not_depend_on_its_batch(kind: str) -> None:
    tower = tiny_tower(kind)
    video, view_mask, frame_mask = batch()
    with torch.no_grad():
        together = tower(video, view_mask, frame_mask)
        alone = tower(video[1:2], view_mask[1:2], frame_mask[1:2])
    torch.testing.assert_close(alone[0], together[1], rtol=1e-4, atol=1e-5)


def test_fewer_frames_than_the_tower_accepts() -> None:
    video, view_mask, frame_mask = batch()
    out = tiny_tower("multiview")(video[:, :, :2], view_mask, frame_mask[:, :, :2])
    assert out.shape == (3, EMBED)


@pytest.mark.parametrize("frames", [1, 3])
def test_tubelets_pad_a_short_clip_with_absent_frames(frames: int) -> None:
    video, view_mask, frame_mask = batch()
    tower = tiny_tower("multiview-tubelet")
    out = tower(video[:, :, :frames], view_mask, frame_mask[:, :, :frames])
    assert out.shape == (3, EMBED) and torch.isfinite(out).all()


def spatial_input_shape(tower: torch.nn.Module, *inputs: torch.Tensor) -> torch.Size:
    """Shape of what the tower's frame encoder (stem + spatial blocks) receives."""
    seen: list[torch.Size] = []
    hook = tower.frame_encoder.register_forward_pre_hook(lambda _m, a: seen.append(a[0].shape))
    with torch.no_grad():
        tower(*inputs)
    hook.remove()
    return seen[0]


def test_tubelets_halve_the_spatial_encoder_inputs() -> None:
    """The point of tubelets: the stem and spatial blocks run once per pair of frames."""
    video, view_mask, frame_mask = batch()
    rows = {
        variant: spatial_input_shape(tiny_tower(variant), video, view_mask, frame_mask)
        for variant in ("multiview", "multiview-tubelet")
    }
    pairs = frame_mask[view_mask].reshape(-1, TINY.frames // 2, 2).any(dim=-1)
    assert rows["multiview"][0] == int(frame_mask[view_mask].sum())
    assert rows["multiview-tubelet"] == (int(pairs.sum()), 2, 32, 32)


def test_tubelet_outside_one_to_frames_is_a_user_error() -> None:
    for tubelet in (0, TINY.frames + 1):
        with pytest.raises(UserError, match="tubelet"):
            replace(TINY, tubelet=tubelet).validate()


def test_static_tower_ignores_motion() -> None:
    tower = tiny_tower("static")
    video, view_mask, frame_mask = batch()
    with torch.no_grad():
        before = tower(video, view_mask, frame_mask)
        video[:, :, 1:] = torch.rand_like(video[:, :, 1:])
        after = tower(video, view_mask, frame_mask)
    torch.testing.assert_close(after, before)


def test_still_stream_reads_only_the_first_present_frame_of_each_view() -> None:
    """The appearance stream sees one frame per view; later frames reach the output only
    through the motion stream."""
    tower = tiny_tower("multiview-still")
    video, view_mask, frame_mask = batch()
    frame_mask[:, :, 0] = True  # frame 0 is the first present frame of every view
    later = video.clone()
    later[:, :, 1:] = torch.rand_like(later[:, :, 1:])  # every frame after the first
    with torch.no_grad():
        before = tower.encode_stills(first_valid_frame(video, frame_mask)[view_mask])
        after = tower.encode_stills(first_valid_frame(later, frame_mask)[view_mask])
        changed = tower(later, view_mask, frame_mask) - tower(video, view_mask, frame_mask)
    assert before.shape == (int(view_mask.sum()), TINY.width)
    torch.testing.assert_close(after, before)
    assert changed.abs().max() > 1e-4  # the motion stream still sees the later frames


def test_still_stream_is_off_unless_asked() -> None:
    assert tiny_tower("multiview-tubelet").still_encoder is None
    assert tiny_tower("multiview-still").still_encoder is not None


def test_first_valid_frame_picks_the_first_present_frame() -> None:
    video = torch.arange(4.0).view(1, 1, 4, 1, 1).expand(1, 2, 4, 2, 2).clone()
    frame_mask = torch.tensor([[[False, False, True, True], [False, False, False, False]]])
    picked = first_valid_frame(video, frame_mask)
    assert picked.shape == (1, 2, 2, 2)
    assert picked[0, 0].eq(2.0).all() and picked[0, 1].eq(0.0).all()


@pytest.mark.parametrize(
    ("shape", "message"),
    [
        ((2, 9, 4, 32), "shape [B, V, T, H, W]"),
        ((2, 8, 4, 32, 32), "8 view slots"),
        ((2, 9, 5, 32, 32), "at most 4"),
        ((2, 9, 4, 16, 16), "16x16"),
    ],
)
def test_bad_video_shapes_are_user_errors(shape: tuple[int, ...], message: str) -> None:
    with pytest.raises(UserError, match=re.escape(message)):
        tiny_tower("multiview")(torch.rand(shape), None, None)


def test_bad_masks_and_dtypes_are_user_errors() -> None:
    tower = tiny_tower("flat")
    video = torch.rand(2, 9, 4, 32, 32)
    with pytest.raises(UserError, match="view_mask must have shape"):
        tower(video, torch.ones(2, 8, dtype=torch.bool), None)
    with pytest.raises(UserError, match="frame_mask must have shape"):
        tower(video, None, torch.ones(2, 9, 3, dtype=torch.bool))
    with pytest.raises(UserError, match="float tensor"):
        tower((video * 255).to(torch.uint8), None, None)


@pytest.mark.parametrize("name", ["cpu-small", "gpu-base", "paper"])
@pytest.mark.parametrize("kind", KINDS)
def test_every_preset_builds_tiny_for_every_kind(name: str, kind: str) -> None:
    video_cfg = load_preset(name).model.video
    patch = 16 if video_cfg.patch_size >= 16 else video_cfg.patch_size
    tiny = replace(
        video_cfg,
        **VARIANTS[kind],
        kind=kind_of(kind),
        image_size=2 * patch,
        frames=3,
        width=16,
        heads=2,
        spatial_depth=min(video_cfg.spatial_depth, 1),
        temporal_depth=min(video_cfg.temporal_depth, 1),
        fusion_depth=min(video_cfg.fusion_depth, 1),
        temporal_grid=min(video_cfg.temporal_grid, 2),
    )
    tower = build_video_tower(tiny, 8)
    out = tower(torch.rand(1, tiny.views, 3, tiny.image_size, tiny.image_size), None, None)
    assert out.shape == (1, 8) and torch.isfinite(out).all()


def checkpointed_pass(
    tower: torch.nn.Module, enable: bool
) -> tuple[torch.Tensor, dict[str, torch.Tensor], int]:
    """Output, gradients and bytes saved for backward of one training pass on ``batch()``."""
    set_grad_checkpointing(tower, enable)
    tower.zero_grad()
    torch.manual_seed(1)  # the same dropout masks for every pass
    outputs: list[torch.Tensor] = []
    saved = saved_bytes(lambda: outputs.append(tower(*batch())))
    outputs[0].square().sum().backward()
    grads = {name: p.grad.clone() for name, p in tower.named_parameters() if p.grad is not None}
    return outputs[0], grads, saved


@pytest.mark.parametrize("kind", KINDS)
def test_grad_checkpointing_keeps_outputs_and_gradients_and_saves_less(kind: str) -> None:
    tower = tiny_tower(kind, dropout=0.1).train()
    plain, plain_grads, plain_saved = checkpointed_pass(tower, enable=False)
    checked, checked_grads, checked_saved = checkpointed_pass(tower, enable=True)
    torch.testing.assert_close(checked, plain)
    assert checked_grads.keys() == plain_grads.keys() and plain_grads
    for name, grad in plain_grads.items():
        torch.testing.assert_close(checked_grads[name], grad, rtol=1e-4, atol=1e-6, msg=name)
    assert checked_saved < 0.8 * plain_saved
