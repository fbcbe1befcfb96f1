"""Colour science for the legibility tests: how far apart two colours look (CIEDE2000) to
someone with normal vision or a red-green colour vision deficiency, and WCAG contrast ratios.

Deficiencies are simulated with the full-severity matrices of Machado, Oliveira and Fernandes
(2009), applied to linear sRGB; colour differences are CIEDE2000 (Sharma, Wu and Dalal 2005) in
CIELAB under D65.
"""

from __future__ import annotations

import itertools
from collections.abc import Sequence

import numpy as np
from matplotlib.colors import to_rgb

VISIONS = {
    "normal": np.eye(3),
    "deuteranopia": np.array(
        [[0.367322, 0.860646, -0.227968], [0.280085, 0.672501, 0.047413],
         [-0.011820, 0.042940, 0.968881]]
    ),
    "protanopia": np.array(
        [[0.152286, 1.052583, -0.204868], [0.114503, 0.786281, 0.099216],
         [-0.003882, -0.048116, 1.051998]]
    ),
}  # fmt: skip
_SRGB_TO_XYZ = np.array(
    [[0.4124, 0.3576, 0.1805], [0.2126, 0.7152, 0.0722], [0.0193, 0.1192, 0.9505]]
)
_WHITE = np.array([0.95047, 1.0, 1.08883])


def _rgb(colour: str) -> np.ndarray:
    """sRGB in 0-1 of a matplotlib colour name or hex, or a CSS ``rgb(r, g, b)`` (plotly's)."""
    if colour.startswith("rgb("):
        return np.array([float(part) for part in colour[4:-1].split(",")]) / 255
    return np.array(to_rgb(colour))


def _linear(rgb: np.ndarray) -> np.ndarray:
    return np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)


def _lab(colour: str, vision: str) -> np.ndarray:
    linear = np.clip(VISIONS[vision] @ _linear(_rgb(colour)), 0.0, 1.0)
    xyz = _SRGB_TO_XYZ @ linear / _WHITE
    f = np.where(xyz > (6 / 29) ** 3, np.cbrt(xyz), xyz / (3 * (6 / 29) ** 2) + 4 / 29)
    return np.array([116 * f[1] - 16, 500 * (f[0] - f[1]), 200 * (f[1] - f[2])])


def _hue(b: float, a: float) -> float:
    return float(np.degrees(np.arctan2(b, a)) % 360) if a or b else 0.0


def ciede2000(first: np.ndarray, second: np.ndarray) -> float:
    """CIEDE2000 difference of two CIELAB colours (about 2 is just noticeable)."""
    (l1, a1, b1), (l2, a2, b2) = first, second
    chroma = (np.hypot(a1, b1) + np.hypot(a2, b2)) / 2
    g = 0.5 * (1 - np.sqrt(chroma**7 / (chroma**7 + 25**7)))
    a1, a2 = (1 + g) * a1, (1 + g) * a2
    c1, c2 = np.hypot(a1, b1), np.hypot(a2, b2)
    h1, h2 = _hue(b1, a1), _hue(b2, a2)
    turn = 0.0 if c1 * c2 == 0 else (h2 - h1 + 180) % 360 - 180
    big_h = 2 * np.sqrt(c1 * c2) * np.sin(np.radians(turn / 2))
    mean_l, mean_c = (l1 + l2) / 2, (c1 + c2) / 2
    mean_h = h1 + h2 if c1 * c2 == 0 else (h1 + turn / 2) % 360
    t = (
        1 - 0.17 * np.cos(np.radians(mean_h - 30)) + 0.24 * np.cos(np.radians(2 * mean_h))
        + 0.32 * np.cos(np.radians(3 * mean_h + 6)) - 0.20 * np.cos(np.radians(4 * mean_h - 63))
    )  # fmt: skip
    s_l = 1 + 0.015 * (mean_l - 50) ** 2 / np.sqrt(20 + (mean_l - 50) ** 2)
    s_c, s_h = 1 + 0.045 * mean_c, 1 + 0.015 * mean_c * t
    rotation = (
        -2
        * np.sqrt(mean_c**7 / (mean_c**7 + 25**7))
        * np.sin(np.radians(60 * np.exp(-(((mean_h - 275) / 25) ** 2))))
    )
    dl, dc, dh = (l2 - l1) / s_l, (c2 - c1) / s_c, big_h / s_h
    return float(np.sqrt(dl**2 + dc**2 + dh**2 + rotation * dc * dh))


def seen_difference(first: str, second: str, vision: str) -> float:
    """CIEDE2000 between two colours as someone with ``vision`` (a ``VISIONS`` key) sees them."""
    return ciede2000(_lab(first, vision), _lab(second, vision))


def closest_pair(colours: Sequence[str]) -> tuple[float, str, str, str]:
    """(smallest difference, vision, colour, colour) over every pair and every vision."""
    return min(
        (seen_difference(a, b, vision), vision, a, b)
        for a, b in itertools.combinations(colours, 2)
        for vision in VISIONS
    )


def contrast_ratio(first: str, second: str) -> float:
    """WCAG 2 contrast ratio of two opaque colours (1 to 21)."""
    luminance = [
        float(np.array([0.2126, 0.7152, 0.0722]) @ _linear(_rgb(c))) for c in (first, second)
    ]
    return (max(luminance) + 0.05) / (min(luminance) + 0.05)
