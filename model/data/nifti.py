"""ACDC-style NIfTI cases: ``patientNNN/patientNNN_4d.nii.gz`` + ``Info.cfg`` -> short-axis views.

The 4-D volume is ``X x Y x slices x phases`` with spacing in the header; slices run base -> apex
(ACDC convention). Cases stored in another voxel order are brought to the ACDC release's from
their affine first (model/data/nifti_orientation.py). Base / mid / apex slices fill the three SAX
cine slots; there is no long axis, LGE or report. ``Group`` from Info.cfg maps to a one-hot diagnosis for evaluation only (written to
``acdc_labels.csv`` keyed like an accession number, never into studies.parquet).
"""

from __future__ import annotations

import logging
from pathlib import Path

import nibabel as nib
import numpy as np

from model.data.nifti_orientation import VolumeLayout, read_slice, volume_layout
from model.data.resample import (
    GridConfig,
    field_mask,
    implausible_spacing,
    resample_cycle,
    resample_fov,
    to_uint8,
)
from model.data.study import Problem, StudyTensor
from model.errors import DataError
from model.schema import DIAGNOSES, SAX_LEVELS, VIEW_SLOTS

log = logging.getLogger(__name__)

GROUP_TO_DIAGNOSIS = {"DCM": "nicm", "HCM": "hcm", "MINF": "icm", "NOR": "normal", "RV": "rv"}
MAX_VOXELS = 400_000_000
_4D_SUFFIXES = ("_4d.nii", "_4d.nii.gz")


def split_acdc_files(files: list[str]) -> tuple[list[Path], list[str]]:
    """(ACDC case folders, the files outside them) among ``files``, at any depth.

    A case folder is one holding a ``*_4d.nii`` or ``*_4d.nii.gz``; everything else in it (the
    ED/ES frames, their ``_gt`` masks, Info.cfg) belongs to the case. The other files are left for
    the DICOM scan, so a source folder may hold both kinds.
    """
    cases = sorted({Path(f).parent for f in files if f.lower().endswith(_4D_SUFFIXES)})
    folders = {str(case) for case in cases}
    return cases, [f for f in files if str(Path(f).parent) not in folders]


def read_info(path: Path) -> dict[str, str]:
    """``Key: value`` lines of Info.cfg (``ED``, ``ES``, ``Group``, ``Height``, ``Weight``, ...)."""
    if not path.is_file():
        return {}
    info = {}
    for line in path.read_text(encoding="utf-8", errors="replace").splitlines():
        key, sep, value = line.partition(":")
        if sep:
            info[key.strip()] = value.strip()
    return info


def diagnosis_labels(group: str) -> dict[str, int]:
    """One-hot diagnosis columns for an ACDC ``Group``; empty when the group is unknown."""
    diagnosis = GROUP_TO_DIAGNOSIS.get(group.strip().upper())
    return {name: int(name == diagnosis) for name in DIAGNOSES} if diagnosis else {}


def _load_volume(folder: Path) -> tuple[nib.Nifti1Image, VolumeLayout]:
    """The 4-D image and its ACDC layout; DataError when it cannot be used."""
    files = sorted(f for f in folder.iterdir() if f.name.lower().endswith(_4D_SUFFIXES))
    try:
        image = nib.load(files[0])
    except Exception as err:  # nibabel raises several types for damaged files
        raise DataError(f"{files[0].name} cannot be read as NIfTI: {err}") from err
    shape = tuple(int(v) for v in image.shape)
    if len(shape) != 4:
        raise DataError(f"{files[0].name} is not a 4-D (X, Y, slices, phases) volume: {shape}")
    if min(shape) < 1:
        raise DataError(f"{files[0].name} has an empty dimension (shape {shape})")
    if int(np.prod(shape)) > MAX_VOXELS:
        raise DataError(f"{files[0].name} is too large ({shape})")
    layout = volume_layout(image)
    zooms = layout.zooms[:2]
    if not all(np.isfinite(zooms)) or min(zooms) <= 0:
        raise DataError(f"{files[0].name} has no valid pixel spacing")
    implausible = implausible_spacing(zooms)
    if implausible:
        raise DataError(f"{files[0].name}: {implausible}")
    return image, layout


def _read_cine(
    image: nib.Nifti1Image, layout: VolumeLayout, folder: Path, index: int
) -> tuple[np.ndarray, int]:
    """float32 ``[P, rows=Y, cols=X]`` of slice ``index`` and how many voxels were not finite.

    Voxels that are not finite (NaN marks "outside the field" for some conversion tools) become
    0, background; left in, one would turn the whole view black through the resampling.
    """
    try:
        cine = read_slice(image, layout, index)  # [X, Y, P]
    except Exception as err:  # truncated gzip, bad data type, ...
        raise DataError(f"{folder.name}: image data cannot be decoded: {err}") from err
    finite = np.isfinite(cine)
    bad = int(cine.size - np.count_nonzero(finite))
    if bad:
        cine = np.where(finite, cine, np.float32(0.0))
    return np.transpose(cine, (2, 1, 0)), bad


def _case_labels(folder: Path, problems: list[Problem]) -> dict[str, int]:
    """Diagnosis labels from Info.cfg's ``Group``; a warning in ``problems`` when there are none."""
    info_path = folder / "Info.cfg"
    group = read_info(info_path).get("Group", "")
    labels = diagnosis_labels(group)
    if labels:
        return labels
    if group:
        why = f"Group {group!r} is not one of {', '.join(GROUP_TO_DIAGNOSIS)}"
    else:
        why = "Info.cfg has no Group line" if info_path.is_file() else "no Info.cfg"
    problems.append((str(folder), "", "warning", f"no diagnosis label: {why}"))
    log.warning("%s: no diagnosis label: %s", folder.name, why)
    return labels


def build_acdc_case(folder: Path, grid: GridConfig) -> tuple[StudyTensor, dict[str, int]]:
    """One ACDC case -> (study tensor uint8 [V, T, S, S] with the SAX slots, diagnosis labels)."""
    image, layout = _load_volume(folder)
    shape = layout.shape
    _, _, slices, phases = shape
    spacing = (layout.zooms[1], layout.zooms[0])  # rows follow Y, columns follow X
    video = np.zeros((len(VIEW_SLOTS), grid.frames, grid.size, grid.size), dtype=np.uint8)
    frames = [0] * len(VIEW_SLOTS)
    chosen = {slot: int(round(frac * (slices - 1))) for slot, frac in SAX_LEVELS.items()}
    if slices == 1:
        chosen = {"sax_mid": 0}
    valid = field_mask((shape[1], shape[0]), spacing, grid)
    problems: list[Problem] = []
    if layout.warning:
        problems.append((str(folder), "", "warning", layout.warning))
    not_finite = 0
    for slot, index in chosen.items():
        cine, bad = _read_cine(image, layout, folder, index)
        not_finite += bad
        resampled = resample_cycle(resample_fov(cine, spacing, grid), grid.frames)
        slot_index = VIEW_SLOTS.index(slot)
        video[slot_index] = to_uint8(resampled, np.broadcast_to(valid, resampled.shape))
        frames[slot_index] = grid.frames
    if not_finite:
        reason = f"{not_finite} voxels of the slices used are not a number; taken as background"
        problems.append((str(folder), "", "warning", reason))
    labels = _case_labels(folder, problems)
    tensor = StudyTensor(
        video=video,
        view_frames=frames,
        cine_phases=phases,
        pixel_spacing_mm=float(spacing[0]),
        matrix=f"{shape[1]}x{shape[0]}",
        problems=problems,
    )
    return tensor, labels
