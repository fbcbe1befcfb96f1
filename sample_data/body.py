"""The thorax around the heart: torso with chest wall fat and muscle, lungs, liver, spine and the
descending aorta, as approximate signed distances (mm, negative inside) in LPS coordinates.

The body does not move with the cardiac cycle (breath-hold imaging), so every field is [H, W].
Positions are relative to the heart frame origin with per-study jitter in body habitus.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sample_data.anatomy import HeartFrame

BODY_LAYERS: tuple[str, ...] = (
    "subcutaneous_fat",
    "chest_wall",
    "left_lung",
    "right_lung",
    "liver",
    "spine",
    "descending_aorta",
)


@dataclass(frozen=True)
class BodyShape:
    """Ellipsoid centres (offsets from the heart origin, LPS mm) and semi-axes of the thorax."""

    torso_centre: np.ndarray  # [3]
    torso_radii: np.ndarray  # [2] left-right, anterior-posterior (an elliptic cylinder along S)
    fat_mm: float
    organs: dict[str, tuple[np.ndarray, np.ndarray]]  # name -> (centre [3], radii [3])


def make_body(rng: np.random.Generator) -> BodyShape:
    """Thorax with jittered habitus (torso size, subcutaneous fat, organ positions)."""
    size = rng.uniform(0.9, 1.12)

    def jitter(centre: list[float], radii: list[float]) -> tuple[np.ndarray, np.ndarray]:
        return np.array(centre) + rng.normal(0.0, 4.0, 3), np.array(radii) * size

    organs = {
        "left_lung": jitter([78.0, 30.0, 30.0], [58.0, 72.0, 110.0]),
        "right_lung": jitter([-88.0, 30.0, 40.0], [62.0, 76.0, 110.0]),
        "liver": jitter([-55.0, 15.0, -125.0], [115.0, 95.0, 75.0]),
        "spine": jitter([-8.0, 88.0, 0.0], [19.0, 19.0, 400.0]),
        "descending_aorta": jitter([18.0, 55.0, 0.0], [11.0, 11.0, 400.0]),
    }
    return BodyShape(
        torso_centre=np.array([-20.0, 35.0, 0.0]) + rng.normal(0.0, 5.0, 3),
        torso_radii=np.array([165.0, 118.0]) * size,
        fat_mm=rng.uniform(8.0, 25.0),
        organs=organs,
    )


def _ellipse_distance(x: np.ndarray, y: np.ndarray, rx: float, ry: float) -> np.ndarray:
    level = x * x / (rx * rx) + y * y / (ry * ry) - 1.0
    grad = 2.0 * np.sqrt(x * x / rx**4 + y * y / ry**4) + 1e-6
    return level / grad


def body_fields(body: BodyShape, frame: HeartFrame, points: np.ndarray) -> dict[str, np.ndarray]:
    """Signed distance [H, W] of each BODY_LAYERS structure at LPS ``points`` [H, W, 3]."""
    rel = (points - frame.origin).astype(np.float32)
    x, y, z = rel[..., 0], rel[..., 1], rel[..., 2]
    tx, ty = x - float(body.torso_centre[0]), y - float(body.torso_centre[1])
    rx, ry = (float(r) for r in body.torso_radii)
    fields = {
        "subcutaneous_fat": _ellipse_distance(tx, ty, rx, ry),
        "chest_wall": _ellipse_distance(tx, ty, rx - body.fat_mm, ry - body.fat_mm),
    }
    for name, (centre, radii) in body.organs.items():
        dx, dy, dz = (c - float(o) for c, o in zip((x, y, z), centre, strict=True))
        ix, iy, iz = (float(1.0 / r**2) for r in radii)
        level = dx * dx * ix + dy * dy * iy + dz * dz * iz - 1.0
        grad = 2.0 * np.sqrt(dx * dx * (ix * ix) + dy * dy * (iy * iy) + dz * dz * (iz * iz))
        fields[name] = level / (grad + 1e-6)
    return fields
