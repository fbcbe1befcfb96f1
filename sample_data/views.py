"""Imaging planes: where each view cuts the 3-D heart, as the scanner would plan it.

Views are planned from a slightly wrong estimate of the heart's axes (planning error), rotated
in-plane by a few degrees, and rendered with a small breath-hold misregistration that the DICOM
geometry does not record. Short-axis planes are perpendicular to the (planned) long axis; the
4-chamber plane contains the septal direction, the 2-chamber plane the anterior direction and the
3-chamber plane the LV outflow tract.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from sample_data.anatomy import AORTIC_ANGLE, HeartFrame
from sample_data.sites import LAX_CINE_SLOTS, SAX_CINE_SLOTS, SiteProfile

SAX_CINE_LEVELS: dict[str, float] = {"sax_base": 0.22, "sax_mid": 0.5, "sax_apex": 0.78}
LGE_LAX_SLOTS: tuple[str, ...] = ("lge_4ch", "lge_2ch")


@dataclass(frozen=True)
class ViewPlane:
    """One image plane. ``row_dir`` runs along a row (left to right), ``col_dir`` down a column."""

    slot: str  # model/schema.py VIEW_SLOTS name
    slice_index: int  # position in the slot's stack (lge_sax), else 0
    centre: np.ndarray  # [3] planned image centre, LPS mm
    row_dir: np.ndarray  # [3]
    col_dir: np.ndarray  # [3]
    rows: int
    cols: int
    spacing_mm: float
    shift: np.ndarray  # [3] misregistration applied when rendering only

    @property
    def is_lge(self) -> bool:
        return self.slot.startswith("lge")

    @property
    def normal(self) -> np.ndarray:
        return np.cross(self.row_dir, self.col_dir)

    def position(self) -> np.ndarray:
        """ImagePositionPatient: centre of the first (top-left) pixel."""
        return (
            self.centre
            - 0.5 * (self.cols - 1) * self.spacing_mm * self.row_dir
            - 0.5 * (self.rows - 1) * self.spacing_mm * self.col_dir
        )

    def pixel_points(self) -> np.ndarray:
        """LPS positions [rows, cols, 3] of the pixel centres where the anatomy really is."""
        j = np.arange(self.cols, dtype=np.float64) * self.spacing_mm
        i = np.arange(self.rows, dtype=np.float64) * self.spacing_mm
        origin = self.position() + self.shift
        return origin + i[:, None, None] * self.col_dir + j[None, :, None] * self.row_dir


def _unit(v: np.ndarray) -> np.ndarray:
    return v / np.linalg.norm(v)


def _planned_frame(frame: HeartFrame, rng: np.random.Generator) -> HeartFrame:
    """The operator's estimate of the heart axes: a few degrees off the truth."""
    axis = _unit(frame.axis + rng.normal(0.0, 0.035, 3))
    septal = _unit(frame.septal - (frame.septal @ axis) * axis)
    return HeartFrame(
        origin=frame.origin, axis=axis, septal=septal, anterior=np.cross(septal, axis)
    )


def _rotate(row: np.ndarray, col: np.ndarray, angle: float) -> tuple[np.ndarray, np.ndarray]:
    c, s = math.cos(angle), math.sin(angle)
    return c * row + s * col, -s * row + c * col


def plan_views(
    frame: HeartFrame, lv_length_mm: float, site: SiteProfile, rng: np.random.Generator
) -> list[ViewPlane]:
    """Every plane of one study: 3 SAX cine, 3 long-axis cine, the LGE SAX stack, 2 LGE LAX."""
    planned = _planned_frame(frame, rng)
    ax, sep, ant = planned.axis, planned.septal, planned.anterior
    outflow = math.cos(AORTIC_ANGLE) * sep + math.sin(AORTIC_ANGLE) * ant

    def plane(slot: str, index: int, centre: np.ndarray, row: np.ndarray, col: np.ndarray):
        row, col = _rotate(row, col, math.radians(rng.uniform(-12.0, 12.0)))
        shift = rng.normal(0.0, 1.5) * np.cross(row, col) + rng.normal(0.0, 1.0, 3) * 0.5
        return ViewPlane(
            slot, index, centre, row, col, site.rows, site.cols, site.pixel_spacing_mm, shift
        )

    def sax(slot: str, index: int, level: float) -> ViewPlane:
        centre = planned.origin + ax * (level * lv_length_mm) + sep * 8.0
        return plane(slot, index, centre, -sep, -ant)

    def lax(slot: str, in_plane: np.ndarray) -> ViewPlane:
        centre = planned.origin + ax * (0.3 * lv_length_mm) + in_plane * 6.0
        if site.lax_apex_right:
            return plane(slot, 0, centre, ax, -in_plane)
        return plane(slot, 0, centre, -in_plane, -ax)

    lax_dirs = {"4ch": sep, "2ch": ant, "3ch": outflow}
    views = [sax(slot, 0, SAX_CINE_LEVELS[slot]) for slot in SAX_CINE_SLOTS]
    views += [lax(slot, lax_dirs[slot]) for slot in LAX_CINE_SLOTS]
    levels = np.linspace(0.12, 0.86, site.lge_sax_slices)
    views += [sax("lge_sax", k, float(level)) for k, level in enumerate(levels)]
    views += [lax(slot, lax_dirs[slot.removeprefix("lge_")]) for slot in LGE_LAX_SLOTS]
    return views
