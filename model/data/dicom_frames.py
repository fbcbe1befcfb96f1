"""Per-frame geometry and timing from classic or enhanced multi-frame MR headers.

Classic images carry ``PixelSpacing``, ``ImagePositionPatient``, ``ImageOrientationPatient`` and
``TriggerTime`` at the top level. Enhanced MR (one file, many frames) carries them in the
per-frame functional groups, falling back to the shared functional groups: plane position and
orientation, pixel measures, cardiac synchronisation (nominal trigger delay), frame content
(temporal position index, stack, position in the stack), MR modifier (inversion times) and pixel value transformation
(rescale slope and intercept).
"""

from __future__ import annotations

from pydicom.dataset import Dataset
from pydicom.multival import MultiValue
from pydicom.sequence import Sequence

from model.data.dicom_tags import TopLevel

Geometry = tuple[
    tuple[float, float] | None, tuple[float, float, float] | None, tuple[float, ...] | None
]
# Where enhanced MR keeps the inversion time: the MR modifier macro (the standard's place), or the
# MR timing macro, where some exports write it.
_INVERSION_TIMES = (
    ("MRModifierSequence", "InversionTimes"),
    ("MRTimingAndRelatedParametersSequence", "InversionTimes"),
    ("MRTimingAndRelatedParametersSequence", "InversionTime"),
)


def _floats(value: object, count: int) -> tuple[float, ...] | None:
    """``count`` floats from a multi-valued element, or None when absent or malformed."""
    if value is None:
        return None
    try:
        numbers = tuple(float(v) for v in value)  # type: ignore[union-attr]
    except (TypeError, ValueError):
        return None
    return numbers if len(numbers) == count else None


def _first_item(group: Dataset | None, keyword: str) -> Dataset | None:
    """The first item of sequence ``keyword`` inside a functional group item, if any."""
    if group is None:
        return None
    seq = group.get(keyword)
    if isinstance(seq, Sequence) and len(seq) > 0:
        return seq[0]
    return None


def _groups(ds: Dataset, frame: int) -> tuple[Dataset | None, Dataset | None]:
    """(per-frame group item for ``frame``, shared group item) of an enhanced image."""
    per_frame = ds.get("PerFrameFunctionalGroupsSequence")
    shared = ds.get("SharedFunctionalGroupsSequence")
    frame_item = per_frame[frame] if per_frame is not None and frame < len(per_frame) else None
    shared_item = shared[0] if shared is not None and len(shared) > 0 else None
    return frame_item, shared_item


def _from_groups(ds: Dataset, frame: int, sequence: str, keyword: str) -> object:
    """Value of ``keyword`` in functional-group ``sequence``: per-frame first, then shared."""
    for group in _groups(ds, frame):
        item = _first_item(group, sequence)
        if item is not None and keyword in item:
            return item.get(keyword)
    return None


def frame_geometry(top: TopLevel, frame: int) -> Geometry:
    """(PixelSpacing (row, col) mm, ImagePositionPatient mm, ImageOrientationPatient 6 cosines).

    ``frame`` is -1 for a classic single-frame image, else the 0-based frame of an enhanced or
    multi-frame one (read from its functional groups, falling back to the top level).
    """
    spacing = _floats(top.numbers("PixelSpacing"), 2)
    position = _floats(top.numbers("ImagePositionPatient"), 3)
    orientation = _floats(top.numbers("ImageOrientationPatient"), 6)
    if frame >= 0:

        def grouped(sequence: str, keyword: str, count: int) -> tuple[float, ...] | None:
            return _floats(_from_groups(top.dataset, frame, sequence, keyword), count)

        spacing = grouped("PixelMeasuresSequence", "PixelSpacing", 2) or spacing
        position = grouped("PlanePositionSequence", "ImagePositionPatient", 3) or position
        orientation = (
            grouped("PlaneOrientationSequence", "ImageOrientationPatient", 6) or orientation
        )
    if spacing is not None and min(spacing) <= 0:
        spacing = None
    return spacing, position, orientation  # type: ignore[return-value]


def frame_inversion_time(top: TopLevel, frame: int) -> float | None:
    """InversionTime (ms) of a frame: the top level's, else the first of the functional groups'
    InversionTimes (MR modifier, or MR timing as some exports write it); None without one."""
    value: object = top.number("InversionTime")
    if frame >= 0 and value is None:
        for sequence, keyword in _INVERSION_TIMES:
            value = _from_groups(top.dataset, frame, sequence, keyword)
            if value not in (None, ""):
                break
    if isinstance(value, list | tuple | MultiValue):
        value = value[0] if len(value) > 0 else None
    try:
        return None if value in (None, "") else float(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def frame_rescale(top: TopLevel, frame: int) -> tuple[float, float]:
    """(RescaleSlope, RescaleIntercept) of a frame: its pixel value transformation (per-frame,
    else shared), else the top level's; (1, 0) without one."""
    slope: object = top.number("RescaleSlope")
    intercept: object = top.number("RescaleIntercept")
    if frame >= 0:
        for group in _groups(top.dataset, frame):
            item = _first_item(group, "PixelValueTransformationSequence")
            if item is not None and "RescaleSlope" in item:
                slope, intercept = item.get("RescaleSlope"), item.get("RescaleIntercept")
                break
    try:
        slope = float(slope) if slope not in (None, "") else 1.0  # type: ignore[arg-type]
        intercept = float(intercept) if intercept not in (None, "") else 0.0  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return 1.0, 0.0
    return (slope or 1.0), intercept


def frame_stack(top: TopLevel, frame: int) -> str:
    """StackID of a frame of an enhanced image (its frame content); "" without one."""
    if frame < 0:
        return ""
    value = _from_groups(top.dataset, frame, "FrameContentSequence", "StackID")
    return str(value).strip() if value is not None else ""


def frame_stack_position(top: TopLevel, frame: int) -> int | None:
    """InStackPositionNumber of a frame of an enhanced image (1, 2, ... along its stack, frames
    of one slice sharing it); None without one."""
    if frame < 0:
        return None
    value = _from_groups(top.dataset, frame, "FrameContentSequence", "InStackPositionNumber")
    try:
        return None if value in (None, "") else int(value)  # type: ignore[arg-type]
    except (TypeError, ValueError):
        return None


def frame_timing(top: TopLevel, frame: int) -> tuple[float | None, int | None]:
    """(trigger time ms, temporal position index) of a frame; None where the header lacks it."""
    trigger: object = top.number("TriggerTime")
    temporal: object = top.number("TemporalPositionIdentifier")
    if frame >= 0:
        nominal = _from_groups(
            top.dataset, frame, "CardiacSynchronizationSequence", "NominalCardiacTriggerDelayTime"
        )
        trigger = nominal if nominal is not None else trigger
        index = _from_groups(top.dataset, frame, "FrameContentSequence", "TemporalPositionIndex")
        temporal = index if index is not None else temporal
        if temporal is None and trigger is None:
            temporal = frame + 1
    try:
        trigger_ms = None if trigger in (None, "") else float(trigger)
    except (TypeError, ValueError):
        trigger_ms = None
    try:
        temporal_index = None if temporal in (None, "") else int(temporal)
    except (TypeError, ValueError):
        temporal_index = None
    return trigger_ms, temporal_index
