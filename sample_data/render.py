"""Render a view plane of the phantom: bSSFP-like cine or inversion-recovery LGE, plus label masks.

Tissues are composited back to front; each layer covers a pixel by the fraction
``clip(0.5 - distance / pixel_spacing, 0, 1)`` of its signed distance, which is the partial volume
of a smooth edge inside the pixel. Then a smooth coil bias field, 3 T off-resonance banding (cine
only), Rician noise and the site's intensity scale are applied. All phases of a view are rendered
at once as [T, H, W] arrays.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sample_data.anatomy import HeartShape, heart_fields
from sample_data.body import BodyShape, body_fields
from sample_data.sites import SiteProfile
from sample_data.views import ViewPlane

MASK_LABELS: dict[str, int] = {
    "background": 0,
    "lv_cavity": 1,
    "lv_myocardium": 2,
    "rv_cavity": 3,
    "rv_myocardium": 4,
    "left_atrium": 5,
    "right_atrium": 6,
    "aorta": 7,
    "pericardial_effusion": 8,
    "lge_scar": 9,
}
MAX_STORED = 4095  # 12 bits stored

# (cine bSSFP, LGE) signal relative to the cine blood pool.
SIGNALS: dict[str, tuple[float, float]] = {
    "subcutaneous_fat": (0.85, 0.55),
    "chest_wall": (0.30, 0.12),
    "left_lung": (0.06, 0.04),
    "right_lung": (0.06, 0.04),
    "liver": (0.38, 0.28),
    "spine": (0.30, 0.20),
    "descending_aorta": (0.95, 0.55),
    "epicardial_fat": (0.85, 0.55),
    "pericardial_effusion": (0.90, 0.22),
    "blood": (1.00, 0.55),
    "myocardium": (0.28, 0.05),
    "scar": (0.28, 1.00),
}


@dataclass(frozen=True)
class Acquisition:
    """Per-study scanner state shared by all views: gain, coil bias and B0 banding pattern."""

    gain: float
    bias_strength: float
    bias_direction: np.ndarray  # [3] unit
    band_wavevector: np.ndarray  # [3] cycles per mm of the off-resonance phase
    band_offset: float


def make_acquisition(rng: np.random.Generator) -> Acquisition:
    direction = np.array([0.0, -1.0, 0.0]) + rng.normal(0.0, 0.4, 3)
    wave = rng.normal(0.0, 1.0, 3)
    return Acquisition(
        gain=rng.uniform(0.8, 1.2),
        bias_strength=rng.uniform(0.15, 0.45),
        bias_direction=direction / np.linalg.norm(direction),
        band_wavevector=wave / np.linalg.norm(wave) / rng.uniform(70.0, 110.0),
        band_offset=rng.uniform(0.0, 1.0),
    )


def _coverage(distance: np.ndarray, spacing: float) -> np.ndarray:
    return np.clip(0.5 - distance * (1.0 / spacing), 0.0, 1.0)


def render_view(
    shape: HeartShape,
    body: BodyShape,
    view: ViewPlane,
    points: np.ndarray,
    phases: np.ndarray,
) -> tuple[np.ndarray, np.ndarray]:
    """Noise-free signal float32 [T, H, W] (blood = 1 on cine) and label mask uint8 [T, H, W].

    ``points``: LPS pixel centres [H, W, 3] of ``view`` (``view.pixel_points()``).
    """
    p = shape.params
    lge = 1 if view.is_lge else 0
    spacing = view.spacing_mm
    image = np.zeros(points.shape[:2], dtype=np.float32)
    for name, distance in body_fields(body, shape.frame, points).items():
        image += _coverage(distance, spacing) * (SIGNALS[name][lge] - image)
    image = np.broadcast_to(image, (len(phases), *image.shape)).copy()
    mask = np.zeros(image.shape, dtype=np.uint8)
    heart = heart_fields(shape, points, phases)
    blood = SIGNALS["blood"][lge]
    myocardium = SIGNALS["myocardium"][lge]
    if lge and p.poor_nulling:
        blood, myocardium = 0.3, 0.38
    fat_mm = 2.5 + p.effusion_mm
    lv_myocardium = myocardium + heart.enhancement * (SIGNALS["scar"][lge] - myocardium)
    layers = [
        (heart.pericardium - fat_mm, SIGNALS["epicardial_fat"][lge], None),
        (
            heart.pericardium - p.effusion_mm,
            SIGNALS["pericardial_effusion"][lge],
            "pericardial_effusion",
        ),
        (heart.left_atrium, blood, "left_atrium"),
        (heart.right_atrium, blood, "right_atrium"),
        (heart.aorta, blood, "aorta"),
        (heart.rv_epicardium, myocardium, "rv_myocardium"),
        (heart.rv_cavity, blood, "rv_cavity"),
        (heart.lv_epicardium, lv_myocardium, "lv_myocardium"),
        (heart.lv_cavity, blood, "lv_cavity"),
    ]
    for distance, signal, label in layers:
        if label == "pericardial_effusion" and p.effusion_mm < 0.5:
            continue
        image += _coverage(distance, spacing) * (signal - image)
        if label is not None:
            mask[distance <= 0.0] = MASK_LABELS[label]
    if lge:
        scar = (mask == MASK_LABELS["lv_myocardium"]) & (heart.enhancement >= 0.5)
        mask[scar] = MASK_LABELS["lge_scar"]
    return image, mask


def acquire(
    signal: np.ndarray,
    view: ViewPlane,
    points: np.ndarray,
    origin: np.ndarray,
    acquisition: Acquisition,
    site: SiteProfile,
    rng: np.random.Generator,
) -> np.ndarray:
    """Scanner effects on a noise-free signal [T, H, W] -> stored uint16 [T, H, W]."""
    rel = (points - origin).astype(np.float32)
    bias = np.exp(
        rel @ (acquisition.bias_strength / 100.0 * acquisition.bias_direction).astype(np.float32)
    )
    image = signal * bias[None]
    if site.banding and not view.is_lge:
        phase = rel @ acquisition.band_wavevector.astype(np.float32) + acquisition.band_offset
        band = np.cos(2.0 * math.pi * phase) > 0.985
        image = image * np.where(band, 0.35, 1.0).astype(np.float32)[None]
    sigma = site.noise_sigma * (1.5 if view.is_lge else 1.0)
    real = image + rng.standard_normal(image.shape, dtype=np.float32) * sigma
    imag = rng.standard_normal(image.shape, dtype=np.float32) * sigma
    magnitude = np.sqrt(real * real + imag * imag)
    stored = magnitude * (site.intensity_scale * acquisition.gain)
    return np.clip(np.rint(stored), 0, MAX_STORED).astype(np.uint16)
