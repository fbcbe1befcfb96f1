"""Video towers (timm-style): every kind and preset builds tiny, shapes, gradients, masking."""

from __future__ import annotations

import re
from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from bench.activations import saved_bytes
from model.errors import UserError
from model.nn.blocks import IntensityCurve, IntensityHistogram, set_grad_checkpointing
from model.nn.clip_model import build_video_tower
from model.nn.config import VideoTowerConfig
from model.nn.presets import load_preset
from model.nn.stems import PIXEL_MEAN, PIXEL_STD, ConvStem, LinearPatchEmbed
from model.nn.video_inputs import first_valid_frame

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


@pytest.mark.parametrize("in_frames", [1, 2])
@pytest.mark.parametrize(
    ("stem_kind", "patch_size"), [("conv", 8), ("conv", 16), ("conv", 32), ("linear", 8)]
)
def test_stems_equal_their_strided_convolution_reference(
    stem_kind: str, patch_size: int, in_frames: int
) -> None:
    """The stems run their convolutions as matmuls over quadtree-ordered patches of raw pixels
    (centring folded into the first layer); same numbers as ``F.conv2d`` on centred pixels, with
    a tubelet's frames as input channels, for one, two and three 2x2 stages."""
    torch.manual_seed(0)
    stem_type = ConvStem if stem_kind == "conv" else LinearPatchEmbed
    stem = stem_type(patch_size, 32, in_frames)
    frames = torch.rand(3, in_frames, 64, 64)
    x = (frames - PIXEL_MEAN) / PIXEL_STD
    if in_frames == 1:
        frames = frames.squeeze(1)  # single frames enter as [N, H, W]
    for layer in stem.layers if stem_kind == "conv" else [stem.proj]:
        is_conv = isinstance(layer, torch.nn.Conv2d)
        x = F.conv2d(x, layer.weight, layer.bias, stride=layer.stride) if is_conv else layer(x)
    reference = x.flatten(2).transpose(1, 2)  # [N, grid*grid, C], row-major grid
    torch.testing.assert_close(stem(frames), reference, atol=1e-5, rtol=1e-5)


def test_intensity_histogram_counts_pixel_shares() -> None:
    histogram = IntensityHistogram(bins=5, width=8)
    frames = torch.zeros(2, 8, 8)
    frames[1, 2:6, 2:6] = 1.0  # a bright square filling the central half
    shares = histogram.histogram(frames)
    assert torch.allclose(shares.sum(dim=1), torch.ones(2))
    assert shares[0].tolist() == [1.0, 0.0, 0.0, 0.0, 0.0]
    assert shares[1, -1].item() == pytest.approx(16 / 64)
    # halfway between two centres, a pixel counts half to each
    assert histogram.histogram(torch.full((1, 4, 4), 0.125))[0, :2].tolist() == [0.5, 0.5]


def triangular_kernel_shares(frames: torch.Tensor, bins: int) -> torch.Tensor:
    """Plain reference: ``[N, h, w]`` -> ``[N, bins]``, each pixel's weight per centre."""
    centres, spacing = torch.linspace(0.0, 1.0, bins), 1.0 / (bins - 1)
    pixels = frames.flatten(1)
    return torch.stack(
        [(1.0 - (pixels - c).abs() / spacing).clamp_min(0.0).mean(dim=1) for c in centres], dim=1
    )


def test_intensity_histogram_matches_the_triangular_kernel_reference() -> None:
    bins = 7
    frames = torch.rand(5, 12, 12, generator=torch.Generator().manual_seed(3))
    frames[0, 0, :3] = torch.tensor([0.0, 1.0, 0.5])  # both edges and an exact centre
    reference = triangular_kernel_shares(frames, bins)
    histogram = IntensityHistogram(bins=bins, width=4)
    torch.testing.assert_close(histogram.histogram(frames), reference, atol=1e-6, rtol=0.0)
    # features: the same kernel over the whole frame and its central half (rows 3:9, cols 3:9)
    centre_reference = triangular_kernel_shares(frames[:, 3:9, 3:9], bins)
    expected = torch.log(torch.cat([reference, centre_reference], dim=1) + 1e-3)
    torch.testing.assert_close(histogram.features(frames), expected, atol=1e-5, rtol=0.0)


def test_cumulative_intensity_features_are_the_shares_at_or_above_each_centre() -> None:
    bins = 6
    frames = torch.rand(4, 12, 12, generator=torch.Generator().manual_seed(5))
    plain = IntensityHistogram(bins=bins, width=4)
    cumulative = IntensityHistogram(bins=bins, width=4, cumulative=True)
    shares = (plain.features(frames).exp() - 1e-3).reshape(4, 2, bins)
    expected = torch.stack(
        [shares[..., b:].sum(dim=-1) for b in range(bins)], dim=-1
    )  # [N, 2, bins]: whole frame and central half, each summed from its own centre upwards
    at_or_above = (cumulative.features(frames).exp() - 1e-3).reshape(4, 2, bins)
    torch.testing.assert_close(at_or_above, expected, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(at_or_above[..., 0], torch.ones(4, 2))  # every pixel is >= 0
    assert (at_or_above.diff(dim=-1) <= 1e-6).all()  # never rises with the threshold


def test_cumulative_features_grow_with_the_bright_area() -> None:
    histogram = IntensityHistogram(bins=5, width=4, cumulative=True)
    frames = torch.full((2, 8, 8), 0.1)
    frames[0, 3:5, 3:5] = 0.9  # a small bright blood pool
    frames[1, 2:6, 2:6] = 0.9  # a larger one
    small, large = (histogram.features(frames).exp() - 1e-3)[:, 5:]  # the central half
    assert large[-2] > small[-2] > 0.0  # share >= 0.75: 16 / 16 against 4 / 16 pixels near 0.9
    assert small[0] == pytest.approx(1.0) and large[0] == pytest.approx(1.0)


def test_intensity_histogram_separates_brightness_and_is_trainable() -> None:
    torch.manual_seed(0)
    histogram = IntensityHistogram(bins=8, width=16)
    dark, bright = torch.rand(1, 16, 16) * 0.3, 0.7 + torch.rand(1, 16, 16) * 0.3
    out = histogram(torch.cat([dark, bright]))
    assert out.shape == (2, 16) and torch.isfinite(out).all()
    assert not torch.allclose(out[0], out[1])
    out.sum().backward()
    assert histogram.proj.weight.grad is not None and histogram.proj.weight.grad.abs().sum() > 0


@pytest.mark.parametrize("kind", KINDS)
def test_intensity_bins_off_builds_no_histogram(kind: str) -> None:
    tower = tiny_tower(kind, intensity_bins=0, intensity_curve=False, intensity_cumulative=False)
    assert not any(isinstance(m, IntensityHistogram) for m in tower.modules())
    video, view_mask, frame_mask = batch()
    assert torch.isfinite(tower(video, view_mask, frame_mask)).all()


def test_intensity_bins_of_one_is_a_user_error() -> None:
    with pytest.raises(UserError, match="intensity_bins"):
        replace(TINY, intensity_bins=1).validate()


def test_intensity_curve_is_max_min_mean_over_present_frames() -> None:
    curve = IntensityCurve(features=2, width=6)
    with torch.no_grad():
        curve.proj.weight.copy_(torch.eye(6))
        curve.proj.bias.zero_()
    histograms = torch.tensor(
        [[[1.0, -1.0], [3.0, 0.0], [99.0, 99.0]], [[5.0, 6.0], [7.0, 8.0], [0.0, 0.0]]]
    )
    frame_mask = torch.tensor([[True, True, False], [False, False, False]])
    out = curve(histograms, frame_mask)
    assert out[0].tolist() == [3.0, 0.0, 1.0, -1.0, 2.0, -0.5]  # frame 2 (99s) is absent
    assert out[1].tolist() == [0.0] * 6  # no present frame: zeros, not infinities


@pytest.mark.parametrize("kind", ["multiview", "static"])
def test_intensity_curve_reads_every_frame_in_multiview_one_still_in_static(kind: str) -> None:
    video, view_mask, frame_mask = batch()
    tower = tiny_tower(kind)
    seen: list[tuple[torch.Tensor, torch.Tensor]] = []
    tower.curve.register_forward_hook(lambda _module, args, _out: seen.append(args))
    with torch.no_grad():
        tower(video, view_mask, frame_mask)
        brighter = video.clone()
        brighter[:, 0, 1] = 1.0  # view 0, frame 1: present in every study
        tower(brighter, view_mask, frame_mask)
    (before, mask), (after, _) = seen
    if kind == "static":  # one frame per present view, always present; frame 1 unseen
        assert before.shape[1] == 1 and bool(mask.all())
        torch.testing.assert_close(after, before)
    else:  # every frame, absent ones masked; frame 1's brightness reaches the curve
        assert torch.equal(mask, frame_mask[view_mask])
        assert (after[:, 1] - before[:, 1]).abs().amax() > 0.1
        torch.testing.assert_close(after[:, 0], before[:, 0])


@pytest.mark.parametrize("kind", ["multiview", "static"])
def test_intensity_curve_off_builds_no_curve(kind: str) -> None:
    tower = tiny_tower(kind, intensity_curve=False)
    assert not any(isinstance(m, IntensityCurve) for m in tower.modules())
    assert torch.isfinite(tower(*batch())).all()


def test_cumulative_intensity_without_bins_is_a_user_error() -> None:
    with pytest.raises(UserError, match="intensity_cumulative needs"):
        replace(TINY, intensity_bins=0, intensity_curve=False, intensity_cumulative=True).validate()


def test_intensity_curve_without_bins_is_a_user_error() -> None:
    with pytest.raises(UserError, match="intensity_curve needs"):
        replace(TINY, intensity_bins=0).validate()


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
