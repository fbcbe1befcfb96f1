"""One voxel layout for every NIfTI case, read from its affine: the one the ACDC release has.

Converters store the same acquisition in different voxel orders: nibabel's ``as_closest_canonical``
writes RAS, ITK-based tools LPS, others swap the in-plane axes, each with an affine that says so.
Read in stored order those cases come out flipped or turned relative to each other, and training
never flips left-right to make up for it. Each case is therefore brought, by whole-voxel flips
and axis swaps (``nibabel.orientations``; no resampling), to the axis directions of the ACDC
release's affine: x toward L, y toward P, slices toward S (slice index base -> apex in ACDC). The
ACDC cases themselves are read exactly as stored.

A header with no usable orientation (no qform or sform code, or only singular or non-finite
ones) is read as stored and the case gets a warning.

An oblique affine (a converter that keeps the scanner's geometry, as dcm2niix does, writes a
short-axis stack tilted off the patient axes) is read in the nearest axis order too, with a
warning saying how far it is tilted; but its slice axis stays the stack's (the thickest voxel
side, else the third axis): past 45 degrees of tilt the nearest order would take an in-plane
axis for the slices and read the stack cut across, a long-axis-like reformat, as short axis.
"""

from __future__ import annotations

from dataclasses import dataclass

import nibabel as nib
import numpy as np
from nibabel.orientations import apply_orientation, axcodes2ornt, io_orientation, ornt_transform

ACDC_AXES = ("L", "P", "S")
_ACDC_ORNT = axcodes2ornt(ACDC_AXES)
AS_STORED = np.array([[0.0, 1.0], [1.0, 1.0], [2.0, 1.0]])
# an axis further than this from every patient axis makes the affine oblique (said in a warning)
OBLIQUE_DEG = 1.0
# a voxel side this many times the other two is the slice thickness (the stack's slice axis)
SLICE_ZOOM_RATIO = 1.5


@dataclass(frozen=True)
class VolumeLayout:
    """How stored voxels map to the ACDC layout, and the shape and zooms in that layout."""

    transform: np.ndarray  # nibabel orientation [3, 2]: stored axis -> (ACDC axis, flip)
    shape: tuple[int, ...]  # X, Y, slices, phases in the ACDC layout
    zooms: tuple[float, float, float]  # mm along X, Y, slices in the ACDC layout
    warning: str = ""  # why the stored order was kept, when the header could not say


def _spatial_orientation(affine: np.ndarray | None) -> np.ndarray | None:
    """``io_orientation`` of a 4x4 affine; None when it is missing, not finite or singular."""
    if affine is None or not np.all(np.isfinite(affine)):
        return None
    if np.linalg.matrix_rank(affine[:3, :3]) < 3:
        return None
    ornt = io_orientation(affine)
    return None if np.isnan(ornt).any() else ornt


def _stored_orientation(header: nib.Nifti1Header) -> tuple[np.ndarray | None, str]:
    """The orientation the header gives (sform, else qform), or None and why there is none; for
    an oblique affine, the nearest order with the stack's slice axis kept, and a warning."""
    sform, sform_code = header.get_sform(coded=True)
    qform, qform_code = header.get_qform(coded=True)
    if not sform_code and not qform_code:
        return None, "the header gives no orientation (qform and sform codes are 0)"
    for affine in (sform, qform):
        ornt = _spatial_orientation(affine)
        if ornt is not None:
            return _oblique(affine, ornt, header.get_zooms()[:3])  # type: ignore[arg-type]
    return None, "the header's orientation affine is singular or not finite"


def _oblique(
    affine: np.ndarray, nearest: np.ndarray, zooms: tuple[float, ...]
) -> tuple[np.ndarray, str]:
    """``nearest`` (``io_orientation``) and no warning for an axis-aligned affine; for an oblique
    one, the nearest order that keeps the stack's slice axis on the slices, and a warning."""
    directions = affine[:3, :3] / np.linalg.norm(affine[:3, :3], axis=0)
    tilt = float(np.degrees(np.arccos(np.clip(np.abs(directions).max(axis=0).min(), 0, 1))))
    if tilt <= OBLIQUE_DEG:
        return nearest, ""
    slices = _slice_axis(zooms)
    in_plane = [axis for axis in range(3) if axis != slices]
    first, second = in_plane
    straight = abs(directions[0, first]) + abs(directions[1, second])
    crossed = abs(directions[1, first]) + abs(directions[0, second])
    worlds = (0, 1) if straight >= crossed else (1, 0)
    ornt = np.zeros((3, 2))
    for axis, world in ((slices, 2), (first, worlds[0]), (second, worlds[1])):
        ornt[axis] = (world, -1.0 if directions[world, axis] < 0 else 1.0)
    kept = "" if np.array_equal(ornt, nearest) else " (the nearest would have cut across them)"
    warning = (
        f"the affine is oblique, tilted up to {tilt:.0f} degrees off the patient axes: voxels "
        f"read in the nearest axis order, slices along its axis {slices + 1}{kept}"
    )
    return ornt, warning


def _slice_axis(zooms: tuple[float, ...]) -> int:
    """The stored axis of the slices: the one whose voxel side is ``SLICE_ZOOM_RATIO`` times
    both others (the slice thickness), else the third (the ACDC layout's)."""
    for axis in range(3):
        others = [float(zooms[other]) for other in range(3) if other != axis]
        if float(zooms[axis]) >= SLICE_ZOOM_RATIO * max(others):
            return axis
    return 2


def volume_layout(image: nib.Nifti1Image) -> VolumeLayout:
    """The ACDC layout of a 4-D image (X, Y, slices, phases) from its header."""
    shape = tuple(int(v) for v in image.shape)
    zooms = tuple(float(v) for v in image.header.get_zooms()[:3])
    stored, why = _stored_orientation(image.header)
    transform = AS_STORED if stored is None else ornt_transform(stored, _ACDC_ORNT)
    oriented_shape, oriented_zooms = list(shape), [0.0, 0.0, 0.0]
    for axis, (target, _) in enumerate(transform):
        oriented_shape[int(target)] = shape[axis]
        oriented_zooms[int(target)] = zooms[axis]
    warning = why if stored is not None else ""
    if why and stored is None:
        warning = f"{why}; voxels read in stored order, which may be flipped"
    x_mm, y_mm, slice_mm = oriented_zooms
    return VolumeLayout(transform, tuple(oriented_shape), (x_mm, y_mm, slice_mm), warning)


def read_slice(image: nib.Nifti1Image, layout: VolumeLayout, index: int) -> np.ndarray:
    """float32 ``[X, Y, phases]`` of slice ``index`` (0 = base) in the ACDC layout.

    Only that slice is read from disk: its stored axis and index come from ``layout.transform``.
    """
    stored_axis = int(np.flatnonzero(layout.transform[:, 0] == 2)[0])
    if layout.transform[stored_axis, 1] < 0:
        index = layout.shape[2] - 1 - index
    slicer: list[slice] = [slice(None)] * 4
    slicer[stored_axis] = slice(index, index + 1)
    slab = np.asarray(image.dataobj[tuple(slicer)], dtype=np.float32)
    return apply_orientation(slab, layout.transform)[:, :, 0, :]
