"""Resampling to the dataset grid: fixed physical field of view, fixed frame count, uint8 range.

Sizes in the product are judged in millimetres, so every image is resampled from its native
``PixelSpacing`` onto a ``size x size`` grid covering ``fov_mm x fov_mm`` around the image centre
(zero outside the acquired field). Cine phases are resampled cyclically over one cardiac cycle to
``frames`` phases. Intensities are mapped to uint8 by robust percentiles per view.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

LOW_PERCENTILE = 1.0
HIGH_PERCENTILE = 99.5
PERCENTILE_SAMPLES = 32_768
# In-plane pixel spacing (mm) a cardiac MR image can have; clinical cine and LGE are about 0.5-5.
# Outside it the header is wrong (centimetres or metres written as mm, a placeholder 1e-3 ...) and
# the field of view resampled from it would be meaningless, so such a series is rejected.
PLAUSIBLE_SPACING_MM = (0.2, 10.0)


@dataclass(frozen=True)
class GridConfig:
    """Target grid of the dataset tensors (recorded in dataset.json)."""

    frames: int = 16
    size: int = 64
    fov_mm: float = 224.0

    @property
    def spacing_mm(self) -> float:
        return self.fov_mm / self.size


def implausible_spacing(spacing: tuple[float, ...]) -> str:
    """Why ``spacing`` (row, col mm) cannot be a cardiac MR image's; empty when it can."""
    low, high = PLAUSIBLE_SPACING_MM
    if all(low <= value <= high for value in spacing):
        return ""
    shown = " x ".join(f"{value:g}" for value in spacing)
    return (
        f"pixel spacing {shown} mm is outside the {low:g}-{high:g} mm a cardiac MR image has; "
        "the header is likely wrong, so the images are not resampled"
    )


def _axis_weights(length: int, step: float, size: int) -> np.ndarray:
    """float32 ``[size, length]`` tent-filter weights from ``length`` native pixels to ``size``.

    Output ``j`` is centred ``(j - (size - 1) / 2) * step`` native pixels from the image centre; the
    tent widens to ``step`` pixels when downsampling (anti-aliasing). Outside the image: zeros.
    """
    centres = (length - 1) / 2.0 + (np.arange(size) - (size - 1) / 2.0) * step
    support = max(1.0, step)
    distance = np.abs(np.arange(length)[None, :] - centres[:, None]) / support
    weights = np.maximum(0.0, 1.0 - distance)
    total = weights.sum(axis=1, keepdims=True)
    inside = (centres >= -0.5) & (centres <= length - 0.5)
    weights = np.where(inside[:, None] & (total > 0), weights / np.maximum(total, 1e-12), 0.0)
    return weights.astype(np.float32)


def resample_fov(images: np.ndarray, spacing: tuple[float, float], grid: GridConfig) -> np.ndarray:
    """float32 ``[F, rows, cols]`` at ``spacing`` (row, col) mm -> float32 ``[F, size, size]``.

    Separable: ``out[f] = W_rows @ images[f] @ W_cols.T`` with tent weights (``_axis_weights``), so
    the output covers ``fov_mm`` around the image centre whatever the native spacing.
    """
    _, rows, cols = images.shape
    row_weights = _axis_weights(rows, grid.spacing_mm / spacing[0], grid.size)
    col_weights = _axis_weights(cols, grid.spacing_mm / spacing[1], grid.size)
    across = np.matmul(images.astype(np.float32, copy=False), col_weights.T)  # [F, rows, S]
    return np.matmul(row_weights, across)  # [F, S, S]


def resample_cycle(phases: np.ndarray, frames: int, cycle: int = 0) -> np.ndarray:
    """``[P, H, W]`` phases over one cycle -> ``[frames, H, W]`` by cyclic linear interpolation.

    ``cycle`` > P: the phases are the first P of a ``cycle``-phase cycle whose end an export
    cut off; they keep their place in it, and the missing end is bridged linearly from the last
    phase back to the first (the next cycle's), so end-systole falls where it does in a whole
    cycle instead of late."""
    count = phases.shape[0]
    length = max(cycle, count)
    if count == frames == length:
        return phases
    position = np.arange(frames, dtype=np.float64) * length / frames
    lower = np.minimum(np.floor(position).astype(int), count - 1)
    upper_at = np.where(lower + 1 < count, lower + 1, length)  # the first phase again at length
    weight = ((position - lower) / (upper_at - lower)).astype(np.float32)[:, None, None]
    upper = np.where(upper_at < count, upper_at, 0)
    return (1.0 - weight) * phases[lower] + weight * phases[upper]


def pick_evenly(count: int, limit: int) -> np.ndarray:
    """Indices of at most ``limit`` items spread evenly over ``count`` (ends included)."""
    if count <= limit:
        return np.arange(count)
    return np.round(np.linspace(0, count - 1, limit)).astype(int)


def to_uint8(values: np.ndarray, valid: np.ndarray | None = None) -> np.ndarray:
    """Map ``values`` to uint8 so the 1st..99.5th percentile of the acquired pixels spans 0..255.

    ``valid`` (bool, same shape) marks acquired pixels; padding outside the field is ignored for
    the percentiles and stays 0. They are taken over at most ``PERCENTILE_SAMPLES`` evenly
    strided acquired pixels (every 2nd of a 16-frame 64 x 64 view): half the cost of the partial
    sort, for output grey levels that move by less than one level on average.
    """
    sample = values[valid] if valid is not None else values.ravel()
    if sample.size == 0:
        return np.zeros(values.shape, dtype=np.uint8)
    if sample.size > PERCENTILE_SAMPLES:
        sample = sample[:: -(-sample.size // PERCENTILE_SAMPLES)]
    low, high = np.percentile(sample, [LOW_PERCENTILE, HIGH_PERCENTILE])
    scaled = values.astype(np.float32) - np.float32(low)
    scaled *= np.float32(255.0 / max(float(high - low), 1e-6))
    np.clip(scaled, 0.0, 255.0, out=scaled)
    if valid is not None:
        np.multiply(scaled, valid, out=scaled)
    return np.rint(scaled, out=scaled).astype(np.uint8)


def field_mask(
    shape: tuple[int, int], spacing: tuple[float, float], grid: GridConfig
) -> np.ndarray:
    """bool ``[size, size]``: output pixels that fall inside the acquired ``shape`` image."""
    rows, cols = shape
    offsets = np.arange(grid.size, dtype=np.float64) - (grid.size - 1) / 2.0
    row_coords = (rows - 1) / 2.0 + offsets * grid.spacing_mm / spacing[0]
    col_coords = (cols - 1) / 2.0 + offsets * grid.spacing_mm / spacing[1]
    inside_rows = (row_coords >= -0.5) & (row_coords <= rows - 0.5)
    inside_cols = (col_coords >= -0.5) & (col_coords <= cols - 0.5)
    return inside_rows[:, None] & inside_cols[None, :]
