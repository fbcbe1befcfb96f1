"""Small named parts the video towers are built from.

Shapes use ``N`` for a flattened batch of sequences, ``L`` for sequence length and ``C`` for the
token width. Boolean masks are ``True`` for tokens that are present (may be attended to).
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from einops import rearrange
from torch import nn
from torch.utils.checkpoint import checkpoint


class IntensityHistogram(nn.Module):
    """A frame's intensity distribution, embedded: ``frames [N, H, W] -> [N, C]``.

    Soft (triangular-kernel) histograms of the pixel values over ``bins`` centres in [0, 1], one
    of the whole frame and one of its central half (where the heart sits), log-scaled and mapped
    linearly to the token width. Patch tokens pass through per-token LayerNorms and averaging, so
    a global statistic such as "how much of the image is bright" (enhancing scar on LGE, fluid
    around the heart on cine) is hard for them to keep; this hands it to the tower directly.
    The histogram itself has no parameters and no gradient (it depends on the input only).
    With ``cumulative`` each feature is the share at or above its centre instead (a survival
    curve: the area of the frame at least that bright).
    """

    def __init__(self, bins: int, width: int, cumulative: bool = False) -> None:
        super().__init__()
        self.bins = bins
        self.cumulative = cumulative
        self.proj = nn.Linear(2 * bins, width)

    def forward(self, frames: torch.Tensor, features: torch.Tensor | None = None) -> torch.Tensor:
        """``frames [N, H, W]`` in [0, 1] -> ``[N, C]`` (``features`` reuses ``self.features``)."""
        return self.proj(self.features(frames) if features is None else features)

    @torch.no_grad()
    def features(self, frames: torch.Tensor) -> torch.Tensor:
        """``frames [N, H, W]`` -> log shares ``[N, 2 * bins]`` (whole frame, central half).

        Each pixel's bin and share are worked out once and summed twice, over the whole frame and
        over its central half.
        """
        lower, upper_share = self.kernel_weights(frames)
        height, width = frames.shape[-2:]
        rows = slice(height // 4, height - height // 4)
        cols = slice(width // 4, width - width // 4)
        whole = self.accumulate(lower, upper_share)
        middle = self.accumulate(lower[:, rows, cols], upper_share[:, rows, cols])
        if self.cumulative:
            whole, middle = at_or_above(whole), at_or_above(middle)
        return torch.log(torch.cat([whole, middle], dim=1) + 1e-3)

    def histogram(self, frames: torch.Tensor) -> torch.Tensor:
        """``[N, h, w] -> [N, bins]``: share of pixels near each centre (rows sum to 1)."""
        return self.accumulate(*self.kernel_weights(frames))

    def kernel_weights(self, frames: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """``frames [N, h, w]`` -> each pixel's lower centre (long) and upper share, ``[N, h, w]``.

        A pixel at ``position = value * (bins - 1)`` counts ``1 - frac`` to the centre below and
        ``frac`` to the one above (the triangular kernel). The floor is taken in floating point,
        so the share needs no integer-to-float pass over the pixels.
        """
        position = frames.clamp(0.0, 1.0).mul_(self.bins - 1)
        lower = position.floor().clamp_max_(self.bins - 2)
        return lower.long(), position.sub_(lower)

    def accumulate(self, lower: torch.Tensor, upper_share: torch.Tensor) -> torch.Tensor:
        """Sum the kernel over each frame's pixels: two ``[N, h, w]`` -> shares ``[N, bins]``.

        Centre b receives count(lower = b) - sum(frac | lower = b) + sum(frac | lower = b - 1),
        which takes two scatters over the pixels and no per-pixel ``1 - frac``.
        """
        lower, upper_share = lower.flatten(1), upper_share.flatten(1)
        counts = upper_share.new_zeros(len(lower), self.bins)
        counts.scatter_add_(1, lower, upper_share.new_ones(()).expand_as(upper_share))
        upper = upper_share.new_zeros(len(lower), self.bins).scatter_add_(1, lower, upper_share)
        shares = counts - upper
        shares[:, 1:] += upper[:, :-1]
        return shares / lower.shape[1]


def at_or_above(shares: torch.Tensor) -> torch.Tensor:
    """Histogram shares ``[..., bins]`` -> share at or above each centre ``[..., bins]``."""
    return shares.flip(-1).cumsum(-1).flip(-1)


def build_intensity(bins: int, width: int, cumulative: bool = False) -> IntensityHistogram | None:
    """``IntensityHistogram(bins, width, cumulative)``, or None when ``bins`` is 0 (off)."""
    return IntensityHistogram(bins, width, cumulative) if bins else None


class IntensityCurve(nn.Module):
    """How a view's intensity distribution changes over its frames, embedded.

    ``histograms [P, T, K]`` (``IntensityHistogram.features`` of each frame), ``frame_mask
    [P, T]`` -> ``[P, C]``: the masked maximum, minimum and mean over time of every log-histogram
    bin, mapped linearly to the token width. On a cine view the bright-blood bins swing between
    end-diastole and end-systole (their log range tracks the ejection fraction); on an LGE stack
    the maximum picks the slice with the most enhancement. A view with one frame gives max = min
    = mean; a view with no present frame gives zeros in, so only the bias out.
    """

    def __init__(self, features: int, width: int) -> None:
        super().__init__()
        self.proj = nn.Linear(3 * features, width)

    def forward(self, histograms: torch.Tensor, frame_mask: torch.Tensor) -> torch.Tensor:
        present = frame_mask.unsqueeze(-1)  # [P, T, 1]
        any_frame = present.any(dim=1)  # [P, 1]
        high = histograms.masked_fill(~present, float("-inf")).amax(dim=1)
        low = histograms.masked_fill(~present, float("inf")).amin(dim=1)
        summary = torch.cat(
            [
                torch.where(any_frame, high, 0.0),
                torch.where(any_frame, low, 0.0),
                masked_mean(histograms, frame_mask, dim=1),
            ],
            dim=-1,
        )
        return self.proj(summary)


class Mlp(nn.Module):
    """Transformer feed-forward: ``[..., C] -> [..., C]`` through ``mlp_ratio * C`` hidden units."""

    def __init__(self, width: int, mlp_ratio: float, dropout: float = 0.0) -> None:
        super().__init__()
        hidden = int(width * mlp_ratio)
        self.fc1 = nn.Linear(width, hidden)
        self.fc2 = nn.Linear(hidden, width)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.fc2(self.dropout(F.gelu(self.fc1(x)))))


class MaskedSelfAttention(nn.Module):
    """Multi-head self-attention with a key padding mask: ``[N, L, C] -> [N, L, C]``.

    ``key_mask [N, L]`` (True = present). A sequence whose keys are all absent attends to all of
    them instead of producing NaN; callers drop such sequences from any pooling.
    """

    def __init__(self, width: int, heads: int, dropout: float = 0.0) -> None:
        super().__init__()
        self.heads = heads
        self.qkv = nn.Linear(width, 3 * width)
        self.proj = nn.Linear(width, width)
        self.dropout = dropout

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None = None) -> torch.Tensor:
        q, k, v = rearrange(self.qkv(x), "n l (three h d) -> three n h l d", three=3, h=self.heads)
        attn_mask = None
        if key_mask is not None:
            key_mask = key_mask | ~key_mask.any(dim=1, keepdim=True)
            attn_mask = rearrange(key_mask, "n l -> n 1 1 l")
        dropout = self.dropout if self.training else 0.0
        out = F.scaled_dot_product_attention(q, k, v, attn_mask=attn_mask, dropout_p=dropout)
        return self.proj(rearrange(out, "n h l d -> n l (h d)"))


class TransformerBlock(nn.Module):
    """Pre-norm transformer block: attention + MLP, both residual. ``[N, L, C] -> [N, L, C]``."""

    def __init__(self, width: int, heads: int, mlp_ratio: float, dropout: float = 0.0) -> None:
        super().__init__()
        self.norm1 = nn.LayerNorm(width)
        self.attn = MaskedSelfAttention(width, heads, dropout)
        self.norm2 = nn.LayerNorm(width)
        self.mlp = Mlp(width, mlp_ratio, dropout)

    def forward(self, x: torch.Tensor, key_mask: torch.Tensor | None = None) -> torch.Tensor:
        x = x + self.attn(self.norm1(x), key_mask)
        return x + self.mlp(self.norm2(x))


class BlockStack(nn.ModuleList):
    """Blocks applied in order: ``x [N, L, C]`` (+ the same extra arguments to each) -> ``[N, L, C]``.

    With ``grad_checkpointing`` on, a block run with gradients keeps only its input for the
    backward pass and recomputes the rest there (``torch.utils.checkpoint``, dropout replayed
    with the same random numbers): about a third more compute for a fraction of the activation
    memory. Parameter names are those of a plain ``nn.ModuleList``.
    """

    grad_checkpointing: bool = False

    def forward(self, x: torch.Tensor, *args: torch.Tensor | None) -> torch.Tensor:
        for block in self:
            if self.grad_checkpointing and torch.is_grad_enabled():
                x = checkpoint(block, x, *args, use_reentrant=False)
            else:
                x = block(x, *args)
        return x


def set_grad_checkpointing(module: nn.Module, enable: bool = True) -> None:
    """Switch gradient checkpointing on or off in every ``BlockStack`` inside ``module``."""
    for stack in module.modules():
        if isinstance(stack, BlockStack):
            stack.grad_checkpointing = enable


class LearnedEmbedding(nn.Module):
    """A table of ``count`` learned vectors added by index (positions, frames, view types).

    ``forward(count_used) -> [count_used, C]``: the first ``count_used`` rows.
    """

    def __init__(self, count: int, width: int) -> None:
        super().__init__()
        self.table = nn.Parameter(torch.randn(count, width) * 0.02)

    def forward(self, count_used: int | None = None) -> torch.Tensor:
        if count_used is None:
            return self.table
        if count_used > self.table.shape[0]:
            raise ValueError(f"needs {count_used} embeddings, table has {self.table.shape[0]}")
        return self.table[:count_used]


class ProjectionHead(nn.Module):
    """Final norm + bias-free linear map into the shared space: ``[B, C] -> [B, D]``."""

    def __init__(self, width: int, embed_dim: int) -> None:
        super().__init__()
        self.norm = nn.LayerNorm(width)
        self.proj = nn.Linear(width, embed_dim, bias=False)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.proj(self.norm(x))


def masked_mean(x: torch.Tensor, mask: torch.Tensor, dim: int) -> torch.Tensor:
    """Mean of ``x`` over ``dim`` counting only ``mask`` entries; all-absent gives zeros.

    ``x [..., L, ...]`` with ``mask`` broadcastable to ``x`` without its trailing channel axis.
    """
    weights = mask.to(x.dtype).unsqueeze(-1)
    total = (x * weights).sum(dim=dim)
    count = weights.sum(dim=dim).clamp_min(1.0)
    return total / count
