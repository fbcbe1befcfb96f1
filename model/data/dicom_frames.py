"""Per-frame geometry and timing from classic or enhanced multi-frame MR headers.

Classic images carry ``PixelSpacing``, ``ImagePositionPatient``, ``ImageOrientationPatient`` and
``TriggerTime`` at the top level. Enhanced MR (one file, many frames) carries them in the
per-frame functional groups, falling back to the shared functional groups: plane position and
orientation, pixel measures, cardiac synchronisation (nominal trigger delay) and frame content
(temporal position index).
"""

from __future__ import annotations

from pydicom.dataset import Dataset
from pydicom.sequence import Sequence

from model.data.dicom_tags import TopLevel

Geometry = tuple[
    tuple[float, float] | None, tuple[float, float, float] | None, tuple[float, ...] | None
]


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
