"""One 3-D beating heart as implicit surfaces in patient (LPS, mm) coordinates.

The LV is a prolate half-ellipsoid truncated at the mitral (base) plane: endocardial radius
``b(theta, t)`` and length ``a(t)``, with an epicardial shell whose ring area is conserved, so
the wall thickens as the cavity empties. The base plane descends toward the apex in systole. The RV
is a crescent (an ellipsoid beside the septum minus the LV), the atria sit above the valve planes
and the aortic root leaves the LV anteroseptally. Every structure is returned as an approximate
signed distance (mm, negative inside) so the renderer gets partial volume at its edges.

Heart coordinates: ``u`` along the long axis from the ED base centre toward the apex, ``xs`` toward
the septum/RV, ``xa`` toward the anterior wall; angle theta = atan2(xa, xs) (0 septum, 90 anterior,
180 lateral, -90 inferior).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sample_data.diagnoses import StudyParameters
from sample_data.motion import CardiacCycle

# Territory centre and half-width, degrees of theta.
TERRITORY_ANGLES: dict[str, tuple[float, float]] = {
    "LAD": (55.0, 75.0),
    "LCx": (170.0, 60.0),
    "RCA": (-65.0, 60.0),
    "septum": (5.0, 60.0),
    "inferolateral": (-140.0, 55.0),
}
AORTIC_ANGLE = math.radians(60.0)  # LVOT direction; the 3-chamber plane contains it
RV_OFFSET = 0.35  # RV ellipsoid centre, as a fraction of the LV outer radius toward the septum
_THETA = np.linspace(-np.pi, np.pi, 96, endpoint=False)


@dataclass(frozen=True)
class HeartFrame:
    """Heart coordinate frame in LPS mm: ED LV base centre and three orthonormal unit vectors."""

    origin: np.ndarray  # [3]
    axis: np.ndarray  # [3] base -> apex, about (1, -1, -1)/sqrt(3)
    septal: np.ndarray  # [3] toward the septum and RV
    anterior: np.ndarray  # [3]

    def to_heart(self, points: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """LPS points [..., 3] -> (u, xs, xa), each [...]."""
        rel = points - self.origin
        return rel @ self.axis, rel @ self.septal, rel @ self.anterior


def make_frame(rng: np.random.Generator) -> HeartFrame:
    """Long axis (1, -1, -1)/sqrt(3) tilted by a few degrees; table position jitter."""
    axis = np.array([1.0, -1.0, -1.0]) / math.sqrt(3.0) + rng.normal(0.0, 0.08, 3)
    axis /= np.linalg.norm(axis)
    toward_rv = np.array([-1.0, -1.0, 0.0]) + rng.normal(0.0, 0.1, 3)
    septal = toward_rv - (toward_rv @ axis) * axis
    septal /= np.linalg.norm(septal)
    anterior = np.cross(septal, axis)
    origin = np.array([0.0, 0.0, 0.0]) + rng.normal(0.0, 8.0, 3)
    return HeartFrame(origin=origin, axis=axis, septal=septal, anterior=anterior)


def territory_weight(cos_t: np.ndarray, sin_t: np.ndarray, territory: str) -> np.ndarray:
    """Smooth 0..1 membership of the angle (given as cos/sin arrays) in a named territory."""
    if territory not in TERRITORY_ANGLES:
        return np.ones_like(cos_t) if territory == "global" else np.zeros_like(cos_t)
    centre, half_width = (math.radians(v) for v in TERRITORY_ANGLES[territory])
    cos_diff = cos_t * math.cos(centre) + sin_t * math.sin(centre)
    ramp = np.clip((cos_diff - math.cos(half_width)) / (1.0 - math.cos(half_width)) * 1.8, 0, 1)
    return ramp * ramp * (3.0 - 2.0 * ramp)


@dataclass(frozen=True)
class HeartShape:
    """Per-phase shape scalars (arrays [T]) plus the fixed ED geometry of one study."""

    params: StudyParameters
    frame: HeartFrame
    b0: float  # ED endocardial radius, mm
    a_ed: float  # ED cavity length, mm
    lv_length: np.ndarray  # [T] a(t)
    endo_shrink: np.ndarray  # [T] inward endocardial motion of normally moving wall, mm
    apex_wall: np.ndarray  # [T] apical wall thickness, mm
    mitral_descent: np.ndarray  # [T]
    tricuspid_descent: np.ndarray  # [T]
    rv_offset: float  # RV ellipsoid centre distance from the LV axis toward the septum, mm
    rv_radii: np.ndarray  # [T, 3] RV cavity semi-axes (long, septal, anterior), mm
    rv_wall: np.ndarray  # [T]
    la_radius: np.ndarray  # [T]
    ra_radius: np.ndarray  # [T]


def _wall_ed(p: StudyParameters, cos_t: np.ndarray, sin_t: np.ndarray) -> np.ndarray:
    """End-diastolic LV wall thickness by angle (septal hypertrophy, infarct thinning)."""
    wall = p.wall_mm + p.septal_extra_mm * territory_weight(cos_t, sin_t, "septum")
    if p.wma_territory and p.lge_pattern == "transmural":
        wall = wall - 0.4 * p.lge_depth * p.wall_mm * territory_weight(
            cos_t, sin_t, p.lge_territory
        )
    return wall


def _motion_weight(p: StudyParameters, cos_t: np.ndarray, sin_t: np.ndarray) -> np.ndarray:
    """Relative endocardial excursion by angle: 1 normal, 0 akinetic."""
    if not p.wma_territory:
        return np.ones_like(cos_t)
    return 1.0 - p.wma_severity * territory_weight(cos_t, sin_t, p.wma_territory)


def build_shape(p: StudyParameters, cycle: CardiacCycle, frame: HeartFrame) -> HeartShape:
    """Solve the per-phase geometry so the cavity volume equals the cycle's LV volume."""
    cos_t, sin_t = np.cos(_THETA), np.sin(_THETA)
    b0 = p.lv_edd_mm / 2.0
    a_ed = p.lv_length_mm
    lv_length = a_ed - cycle.mitral_descent_mm
    # Cavity volume of a half-ellipsoid with angle-dependent radius: 2/3 pi a mean(b(theta)^2).
    target = 3.0 * cycle.lv_volume_ml * 1000.0 / (2.0 * math.pi * lv_length)
    motion = _motion_weight(p, cos_t, sin_t)
    m1, m2 = motion.mean(), (motion * motion).mean()
    disc = np.maximum(b0 * b0 * m1 * m1 - m2 * (b0 * b0 - target), 0.0)
    endo_shrink = (b0 * m1 - np.sqrt(disc)) / m2
    wall_ed = _wall_ed(p, cos_t, sin_t)
    ring_ed = (b0 + wall_ed) ** 2 - b0 * b0
    b_t = b0 - endo_shrink[:, None] * motion[None, :]
    wall_t = np.sqrt(b_t * b_t + ring_ed[None, :] * a_ed / lv_length[:, None]) - b_t
    apex_wall = 0.8 * p.wall_mm * wall_t.mean(axis=1) / wall_ed.mean()
    rv_long_ed = 0.85 * a_ed
    rv_long = rv_long_ed - cycle.tricuspid_descent_mm
    lv_outer = b0 + p.wall_mm
    # Crescent cross-section area that gives the RV volume as 2/3 * length * area.
    area = 3.0 * cycle.rv_volume_ml * 1000.0 / (2.0 * rv_long)
    depth = _rv_depth_for_area(area, lv_outer, b0)
    rv_radii = np.stack([rv_long, *_rv_radii(depth, lv_outer)], axis=1)
    sphere = 3.0 / (4.0 * math.pi) * 1000.0
    return HeartShape(
        params=p,
        frame=frame,
        b0=b0,
        a_ed=a_ed,
        lv_length=lv_length,
        endo_shrink=endo_shrink,
        apex_wall=apex_wall,
        mitral_descent=cycle.mitral_descent_mm,
        tricuspid_descent=cycle.tricuspid_descent_mm,
        rv_offset=RV_OFFSET * lv_outer,
        rv_radii=rv_radii,
        rv_wall=p.rv_wall_mm * (1.0 + 0.4 * (1.0 - cycle.rv_fill)),
        la_radius=np.cbrt(cycle.la_volume_ml * sphere),
        ra_radius=np.cbrt(cycle.ra_volume_ml * sphere),
    )


def _rv_radii(depth: np.ndarray, lv_outer: float) -> tuple[np.ndarray, np.ndarray]:
    """RV ellipsoid (septal, anterior) semi-axes for a free-wall distance ``depth`` from the LV."""
    septal = (1.0 - RV_OFFSET) * lv_outer + depth
    return septal, 1.2 * lv_outer + 0.6 * depth


def _rv_depth_for_area(area: np.ndarray, lv_outer: float, b0: float) -> np.ndarray:
    """RV depth [T] (mm) whose crescent (RV ellipse minus LV disc) has ``area`` [T] (mm^2).

    Tabulates the crescent area on a coarse grid for candidate depths, then interpolates.
    """
    xs_line = np.linspace(-0.5 * b0, 2.5 * lv_outer + 60.0, 48)
    xa_line = np.linspace(-3.0 * lv_outer - 40.0, 3.0 * lv_outer + 40.0, 64)
    cell = (xs_line[1] - xs_line[0]) * (xa_line[1] - xa_line[0])
    xs, xa = np.meshgrid(xs_line, xa_line)
    outside_lv = xs * xs + xa * xa > lv_outer * lv_outer
    depths = np.linspace(1.0, 90.0, 60)
    septal, anterior = _rv_radii(depths, lv_outer)
    inside = ((xs - RV_OFFSET * lv_outer) / septal[:, None, None]) ** 2 + (
        xa / anterior[:, None, None]
    ) ** 2 <= 1.0
    areas = (inside & outside_lv).sum(axis=(1, 2)) * cell
    return np.interp(area, np.maximum.accumulate(areas), depths)


def lge_extent_percent(p: StudyParameters) -> float:
    """Share of LV myocardium enhanced (approximate, by angle and depth), percent."""
    if p.lge_pattern == "none":
        return 0.0
    weight = territory_weight(np.cos(_THETA), np.sin(_THETA), p.lge_territory)
    return float(100.0 * weight.mean() * min(p.lge_depth, 1.0))


def ellipsoid_distance(u: np.ndarray, r: np.ndarray, a, b) -> np.ndarray:
    """Approximate signed distance (mm) to a half-ellipsoid ``u >= 0`` with semi-axes a (u), b (r).

    All arguments broadcast (e.g. [T, 1, 1] against [H, W]); result has the broadcast shape.
    """
    inv_a2, inv_b2 = 1.0 / (a * a), 1.0 / (b * b)
    level = u * u * inv_a2 + r * r * inv_b2 - 1.0
    grad = 2.0 * np.sqrt(u * u * inv_a2 * inv_a2 + r * r * inv_b2 * inv_b2) + 1e-6
    return np.maximum(level / grad, -u)


def _ellipsoid3_distance(x, y, z, rx, ry, rz) -> np.ndarray:
    """Approximate signed distance (mm) to a full ellipsoid centred at 0; arguments broadcast."""
    ix, iy, iz = 1.0 / (rx * rx), 1.0 / (ry * ry), 1.0 / (rz * rz)
    level = x * x * ix + y * y * iy + z * z * iz - 1.0
    grad = 2.0 * np.sqrt(x * x * ix * ix + y * y * iy * iy + z * z * iz * iz) + 1e-6
    return level / grad


@dataclass(frozen=True)
class HeartFields:
    """Signed distances (mm, negative inside), every array [T, H, W] for T rendered phases."""

    lv_cavity: np.ndarray
    lv_epicardium: np.ndarray
    rv_cavity: np.ndarray
    rv_epicardium: np.ndarray
    left_atrium: np.ndarray
    right_atrium: np.ndarray
    aorta: np.ndarray
    pericardium: np.ndarray  # distance to the outer surface of both ventricles
    enhancement: np.ndarray  # 0..1 LGE fraction inside the LV myocardium


def heart_fields(shape: HeartShape, points: np.ndarray, phases: np.ndarray) -> HeartFields:
    """Evaluate the heart at LPS ``points`` [H, W, 3] for the phase indices ``phases`` [T]."""
    p = shape.params
    u0, xs, xa = (v.astype(np.float32) for v in shape.frame.to_heart(points))
    radius = np.hypot(xs, xa) + 1e-4
    cos_t, sin_t = xs / radius, xa / radius

    def per_phase(values: np.ndarray) -> np.ndarray:
        return values[phases].astype(np.float32)[:, None, None]

    u = u0[None] - per_phase(shape.mitral_descent)
    a = per_phase(shape.lv_length)
    b = shape.b0 - per_phase(shape.endo_shrink) * _motion_weight(p, cos_t, sin_t)[None]
    ring = (shape.b0 + _wall_ed(p, cos_t, sin_t)) ** 2 - shape.b0**2
    b_epi = np.sqrt(b * b + ring[None] * (shape.a_ed / a))
    lv_cavity = ellipsoid_distance(u, radius[None], a, b)
    lv_epi = ellipsoid_distance(u, radius[None], a + per_phase(shape.apex_wall), b_epi)

    u_rv = u0[None] - per_phase(shape.tricuspid_descent)
    xs_rv, xa_rv = xs[None] - shape.rv_offset, xa[None]
    radii = [per_phase(shape.rv_radii[:, k]) for k in range(3)]
    wall = per_phase(shape.rv_wall)
    lateral_cut = -(xs[None] + 0.5 * shape.b0)
    rv_cavity = np.maximum(_ellipsoid3_distance(u_rv, xs_rv, xa_rv, *radii), -u_rv)
    rv_outer = _ellipsoid3_distance(u_rv, xs_rv, xa_rv, *(r + wall for r in radii))
    rv_outer = np.maximum(np.maximum(rv_outer, -u_rv - wall), lateral_cut)
    rv_cavity = np.maximum(rv_cavity, lateral_cut)

    r_la, r_ra = per_phase(shape.la_radius), per_phase(shape.ra_radius)
    la = (
        np.sqrt(
            (u + 0.95 * r_la) ** 2
            + (xs[None] + 0.15 * shape.b0) ** 2
            + (xa[None] + 0.2 * shape.b0) ** 2
        )
        - r_la
    )
    ra_centre_xs = shape.rv_offset + 0.55 * float(shape.rv_radii[0, 1])
    ra = np.sqrt((u_rv + 0.95 * r_ra) ** 2 + (xs[None] - ra_centre_xs) ** 2 + xa[None] ** 2) - r_ra
    return HeartFields(
        lv_cavity=lv_cavity,
        lv_epicardium=lv_epi,
        rv_cavity=rv_cavity,
        rv_epicardium=rv_outer,
        left_atrium=np.maximum(la, u),
        right_atrium=np.maximum(ra, u_rv),
        aorta=_aortic_root(shape, u, xs[None], xa[None]),
        pericardium=np.maximum(np.minimum(lv_epi, rv_outer), -(u + 15.0)),
        enhancement=_enhancement(p, lv_cavity, lv_epi, cos_t, sin_t, u / a),
    )


def _aortic_root(shape: HeartShape, u: np.ndarray, xs: np.ndarray, xa: np.ndarray) -> np.ndarray:
    """Capsule from the anteroseptal LV base up and forward (heart coordinates, moves with base)."""
    cos_a, sin_a = math.cos(AORTIC_ANGLE), math.sin(AORTIC_ANGLE)
    start = np.array([2.0, 0.45 * shape.b0 * cos_a, 0.45 * shape.b0 * sin_a], dtype=np.float32)
    direction = np.array([-1.0, 0.7 * cos_a, 0.7 * sin_a], dtype=np.float32)
    direction /= np.linalg.norm(direction)
    du, ds, da = u - start[0], xs - start[1], xa - start[2]
    along = np.clip(du * direction[0] + ds * direction[1] + da * direction[2], 0.0, 65.0)
    dist = np.sqrt(
        (du - along * direction[0]) ** 2
        + (ds - along * direction[1]) ** 2
        + (da - along * direction[2]) ** 2
    )
    return dist - 12.0


def _soft_step(x: np.ndarray) -> np.ndarray:
    return np.clip(x / 0.15 + 0.5, 0.0, 1.0)


def _enhancement(
    p: StudyParameters,
    lv_cavity: np.ndarray,
    lv_epi: np.ndarray,
    cos_t: np.ndarray,
    sin_t: np.ndarray,
    rel_length: np.ndarray,
) -> np.ndarray:
    """LGE fraction [T, H, W] by pattern: wall depth 0 at the endocardium, 1 at the epicardium."""
    if p.lge_pattern == "none":
        return np.zeros_like(lv_cavity)
    depth = np.clip(lv_cavity / np.maximum(lv_cavity - lv_epi, 1e-3), 0.0, 1.0)
    region = territory_weight(cos_t, sin_t, p.lge_territory)[None]
    if p.lge_territory == "LAD":  # the LAD also supplies the apex
        region = np.maximum(region, np.clip((rel_length - 0.72) / 0.15, 0.0, 1.0))
    if p.lge_pattern == "subepicardial":
        profile = _soft_step(depth - (1.0 - p.lge_depth))
    elif p.lge_pattern == "midwall":
        profile = _soft_step(0.5 * p.lge_depth - np.abs(depth - 0.5))
        region = region * np.clip(0.6 + 0.8 * np.sin(0.12 * rel_length * 100.0 + 2.0 * sin_t), 0, 1)
    else:  # subendocardial, transmural, diffuse_subendocardial
        profile = _soft_step(p.lge_depth - depth)
    return (region * profile).astype(np.float32)
