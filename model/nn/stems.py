"""Patch stems: frames (or tubelets of k frames) in [0, 1] -> a grid of tokens.

Both stems are convolutions whose kernel equals their stride, run as matmuls over patches
(``F.linear``): the strided-convolution kernels' weight gradient dominated a CPU training step.
The weights keep the ``nn.Conv2d`` layout ``[C_out, C_in, k, k]``, so checkpoints load unchanged.

Two things keep the stem to one pass over the pixels:

- the pixel centring ``(x - PIXEL_MEAN) / PIXEL_STD`` is folded into the first layer's weight and
  bias (the same affine map, applied to 16 weights instead of every pixel);
- the frames are cut into patches once, in *quadtree* order: each token's 2x2 groups of 2x2 groups
  lie next to each other in memory, so every later 2x2 stride-2 stage is a plain matmul over the
  last axes and no intermediate feature map is ever copied (forward or backward).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn

# Input pixels arrive in [0, 1]; the first layer sees them centred.
PIXEL_MEAN = 0.5
PIXEL_STD = 0.25


def quadtree_patches(frames: torch.Tensor, first: int, merges: int) -> torch.Tensor:
    """Cut frames into first-layer patches, ordered for ``merges`` 2x2 stages after it.

    ``frames [N, k, H, W]`` with ``H = W = grid * 2**merges * first`` ->
    ``[N, grid, grid, (2, 2) * merges, k * first * first]``: axes 3–4 are the last stage's 2x2
    group (rows, cols), the next two the stage before it, and so on; the trailing axis is one
    patch flattened as ``(k, first rows, first cols)``. With ``merges = 0`` this is plain ViT
    patchification ``[N, grid, grid, k * first * first]``.
    """
    count, k, height, _ = frames.shape
    grid = height // (first << merges)
    x = frames.reshape(count, k, grid, *[2] * merges, first, grid, *[2] * merges, first)
    rows, cols = 2, 4 + merges  # axis of the grid row / grid column
    pairs = [axis for level in range(merges) for axis in (rows + 1 + level, cols + 1 + level)]
    order = [0, rows, cols, *pairs, 1, rows + 1 + merges, cols + 1 + merges]
    patches = x.permute(order)
    return patches.reshape(*patches.shape[: 3 + 2 * merges], k * first * first)


def centred_patch_linear(patches: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """``conv`` on centred pixels, applied to raw patches ``[..., (k ph pw)]`` -> ``[..., C]``.

    ``W (x - m) / s + b = (W / s) x + (b - m * sum(W / s))``: the same numbers as centring the
    pixels first, without a pass over them.
    """
    weight = rearrange(conv.weight, "o c ph pw -> o (c ph pw)") / PIXEL_STD
    return F.linear(patches, weight, conv.bias - PIXEL_MEAN * weight.sum(dim=1))


def merge_linear(x: torch.Tensor, conv: nn.Conv2d) -> torch.Tensor:
    """A 2x2 stride-2 ``conv`` on quadtree-ordered features: ``[..., 2, 2, C_in] -> [..., C_out]``."""
    weight = rearrange(conv.weight, "o c ph pw -> o (ph pw c)")
    return F.linear(x.flatten(-3), weight, conv.bias)


def as_tubelets(frames: torch.Tensor) -> torch.Tensor:
    """``[N, H, W]`` (single frames) or ``[N, k, H, W]`` (tubelets) -> ``[N, k, H, W]``."""
    return frames.unsqueeze(1) if frames.dim() == 3 else frames


class LinearPatchEmbed(nn.Module):
    """ViT patch embedding: ``[N, H, W]`` or ``[N, k, H, W]`` -> ``[N, (H/p)*(W/p), C]``.

    ``in_frames`` (k) consecutive frames enter as channels (a tubelet; 1 = single frames).
    """

    def __init__(self, patch_size: int, width: int, in_frames: int = 1) -> None:
        super().__init__()
        self.proj = nn.Conv2d(in_frames, width, kernel_size=patch_size, stride=patch_size)

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """``frames [N, (k,) H, W]`` in [0, 1] -> tokens ``[N, grid*grid, C]``."""
        patches = quadtree_patches(as_tubelets(frames), self.proj.kernel_size[0], merges=0)
        return centred_patch_linear(patches, self.proj).flatten(1, 2)


class ConvStem(nn.Module):
    """Patchifying convolution stem (early convolutions help ViTs train), one frame or tubelet
    at a time.

    ``[N, (k,) H, W] -> [N, (H/p)*(W/p), C]`` (``in_frames`` k consecutive frames of a tubelet enter
    as channels, so the first conv sees their motion): a small patchify conv (4x4 for ``p`` >= 8) to
    ``C/4`` channels, then 2x2 stride-2 convs, doubling channels up to ``C``, with GELU between
    them. Same token grid as a ``p`` ViT patch embedding, but each token sees its patch through a
    nonlinear multi-scale pyramid rather than one linear map. No normalisation inside: a per-frame
    norm (GroupNorm) erased the frame's intensity statistics (how much of the myocardium enhances,
    how much fluid is bright), which LGE and effusion depend on; every frame stays independent of
    the rest of the batch.
    """

    def __init__(self, patch_size: int, width: int, in_frames: int = 1) -> None:
        super().__init__()
        merges = 1  # 2x2 stages after the first conv
        while (patch_size >> merges) % 2 == 0 and (patch_size >> (merges + 1)) >= 4:
            merges += 1
        channels = max(8, width // 4)
        first = patch_size >> merges
        layers: list[nn.Module] = [nn.Conv2d(in_frames, channels, kernel_size=first, stride=first)]
        for stage in range(merges):
            out = width if stage == merges - 1 else min(width, channels * 2)
            layers += [nn.GELU(), nn.Conv2d(channels, out, kernel_size=2, stride=2)]
            channels = out
        self.layers = nn.Sequential(*layers)
        self.first, self.merges = first, merges

    def forward(self, frames: torch.Tensor) -> torch.Tensor:
        """``frames [N, (k,) H, W]`` in [0, 1] -> tokens ``[N, grid*grid, C]``."""
        patches = quadtree_patches(as_tubelets(frames), self.first, self.merges)
        first, *rest = self.layers
        x = centred_patch_linear(patches, first)  # [N, g, g, (2, 2) * merges, C/4]
        for layer in rest:
            x = merge_linear(x, layer) if isinstance(layer, nn.Conv2d) else layer(x)
        return x.flatten(1, 2)  # [N, g, g, C] -> [N, g*g, C]


def build_stem(kind: str, patch_size: int, width: int, in_frames: int = 1) -> nn.Module:
    """``"conv"`` -> ``ConvStem``; ``"linear"`` -> ``LinearPatchEmbed``; ``in_frames`` frames
    per input (a tubelet)."""
    stem = ConvStem if kind == "conv" else LinearPatchEmbed
    return stem(patch_size, width, in_frames)
