"""Video tower parts: the stems against their convolution reference, and the intensity
features (histograms, cumulative shares, the curve over frames)."""

from __future__ import annotations

from dataclasses import replace

import pytest
import torch
import torch.nn.functional as F

from model.errors import UserError
from model.nn.blocks import IntensityCurve, IntensityHistogram
from model.nn.stems import PIXEL_MEAN, PIXEL_STD, ConvStem, LinearPatchEmbed
from tests.tiny_towers import KINDS, TINY, batch, tiny_tower


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
