"""Images that share a SOPInstanceUID (and frame): the same image exported twice, or an
exporter's UID clash between two different images.

A UID names one image, so a second file under one usually is a copy (an export copied into the
source twice, or the study exported again in another transfer syntax): the first is kept and
the copy skipped, one line naming the file it copies. Two different images under one UID (other
geometry, timing or pixels) must not replace each other silently: both are read, with a warning.
Telling them apart reads the files only on such a clash: equal bytes, else equal geometry and
timing and equal decoded pixels.
"""

from __future__ import annotations

import filecmp

import numpy as np

from model.data.dicom_read import DicomReadError, SliceHeader, read_pixels
from model.data.time_limit import FILE_SECONDS, TimeLimitExceeded, time_limit


def _placement(header: SliceHeader) -> tuple:
    """What places an image in its study: a copy has the same."""
    return (
        header.study_uid,
        header.series_uid,
        header.rows,
        header.cols,
        header.position,
        header.orientation,
        header.trigger_time,
        header.temporal_index,
        header.inversion_time,
    )


class DuplicateCheck:
    """Verdicts on the headers seen again under one (SOPInstanceUID, frame), cached per pair of
    files (a multi-frame copy is compared once, not once a frame)."""

    def __init__(self) -> None:
        self._files: dict[tuple[str, str], dict[int, bool] | str] = {}

    def verdict(self, first: SliceHeader, again: SliceHeader) -> tuple[str, str]:
        """(level, reason) of the ingest-report line on ``again``: ``skipped`` for a copy of
        ``first`` (``again`` is then left out), ``warning`` for a different image (both read)."""
        same = self._same(first, again)
        if isinstance(same, str):
            return "skipped", (
                f"duplicate instance (the SOPInstanceUID of {first.path}), not compared "
                f"({same}): the first copy kept"
            )
        if same:
            return "skipped", (
                f"duplicate instance of {first.path} (same SOPInstanceUID and image): "
                "the first copy kept"
            )
        return "warning", (
            f"shares its SOPInstanceUID with a different image, {first.path}: both read "
            "(an exporter's UID clash)"
        )

    def _same(self, first: SliceHeader, again: SliceHeader) -> bool | str:
        """Whether ``again`` is a copy of ``first``, or why that could not be told."""
        if _placement(first) != _placement(again):
            return False
        key = (first.path, again.path)
        if key not in self._files:
            self._files[key] = _compare_files(first, again)
        frames = self._files[key]
        return frames if isinstance(frames, str) else frames.get(max(again.frame, 0), False)


def _compare_files(first: SliceHeader, again: SliceHeader) -> dict[int, bool] | str:
    """Frame -> whether two files hold the same pixels there (every frame when their bytes are
    equal), or why they could not be decoded to tell."""
    frames = first.layout.frames if first.layout else 1
    try:
        if filecmp.cmp(first.path, again.path, shallow=False):
            return dict.fromkeys(range(frames), True)
        with time_limit(FILE_SECONDS, "comparing two files under one SOPInstanceUID"):
            one = read_pixels(first.path, first.layout)
            other = read_pixels(again.path, again.layout)
    except (OSError, DicomReadError, TimeLimitExceeded) as err:
        return str(err)
    if one.shape != other.shape:
        return {}
    return {index: bool(np.array_equal(one[index], other[index])) for index in range(len(one))}
