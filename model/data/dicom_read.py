"""Reading one DICOM file: header records per image frame, then the pixels on demand.

``read_headers(path)`` parses a file without loading its pixel data (large elements are deferred)
and returns one ``SliceHeader`` per frame: classic MR images give one, enhanced multi-frame MR
gives one per frame with its own position, trigger time, temporal index, inversion time and
stack. ``read_pixels`` decodes the frames as float32 ``[F, rows, cols]`` with the modality
rescale applied (per frame for enhanced MR's pixel value transformation). Data sets
stored without the Part 10 header (no preamble, as older archives keep them) are read too. Every
failure is a ``DicomReadError`` whose message is the reason written to the ingest report.

Hostile files are bounded before decoding: files above ``MAX_FILE_BYTES`` and declared images
above ``MAX_PIXEL_BYTES`` are refused and large elements are deferred while reading headers;
``model.data.time_limit`` stops a file or study that takes too long.
"""

from __future__ import annotations

import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pydicom

from model.data.deid import other_identifiers, patient_identifiers
from model.data.derived_images import refuse_colour, refuse_derived_pictures
from model.data.dicom_frames import (
    frame_geometry,
    frame_inversion_time,
    frame_rescale,
    frame_stack,
    frame_stack_position,
    frame_timing,
)
from model.data.dicom_open import DicomReadError, decode_pixels, open_data_set
from model.data.dicom_tags import TopLevel

log = logging.getLogger(__name__)

# pydicom's warnings about invalid values quote the values (patient names, IDs) and would carry
# them into ingest logs and job logs: nothing is validated while reading, and pydicom's own
# logger stays quiet below errors. Bad files still fail with a DicomReadError reason.
pydicom.config.settings.reading_validation_mode = pydicom.config.IGNORE
logging.getLogger("pydicom").setLevel(logging.ERROR)

MAX_PIXEL_BYTES = 1024**3
_DEFER_BYTES = 4096
_PIXEL_TAG = 0x7FE00010
_PER_FRAME_TAG = 0x52009230  # PerFrameFunctionalGroupsSequence
_SHARED_TAG = 0x52009229  # SharedFunctionalGroupsSequence
_DIRECTORY_RECORDS_TAG = 0x00041220  # DirectoryRecordSequence: only a DICOMDIR has it


@dataclass
class SliceHeader:
    """What ingest needs from one image frame (identifiers stay inside ingest)."""

    path: str
    frame: int
    study_uid: str
    series_uid: str
    sop_uid: str
    series_number: int
    series_description: str
    accession: str
    patient_id: str
    patient_name: str
    birth_date: str
    study_date: str
    patient_age: str
    sex: str
    manufacturer: str
    scanner: str
    field_strength: float
    rows: int
    cols: int
    pixel_spacing: tuple[float, float] | None
    position: tuple[float, float, float] | None
    orientation: tuple[float, ...] | None
    trigger_time: float | None
    temporal_index: int | None
    instance_number: int | None
    inversion_time: float | None
    layout: PixelLayout | None = None
    stack: str = ""  # StackID of a multi-stack enhanced image; "" when the file holds one stack
    stack_position: int | None = None  # InStackPositionNumber of an enhanced image's frame
    other_identifiers: tuple[str, ...] = ()  # OtherPatientIDs, OtherPatientNames, staff names
    cardiac_images: int | None = None  # CardiacNumberOfImages: the phases of one cycle


@dataclass(frozen=True)
class PixelLayout:
    """Where and how a file's frames are stored; ``offset`` set when they can be read raw."""

    frames: int
    rows: int
    cols: int
    # modality rescale: one (slope, intercept) for every frame, or one per frame (enhanced MR)
    slopes: tuple[float, ...] = (1.0,)
    intercepts: tuple[float, ...] = (0.0,)
    # MONOCHROME1 (low values shown bright): the largest storable value, the one each frame is
    # inverted from, so every file of a series inverts alike whatever its own brightest pixel
    monochrome1_ceiling: float | None = None
    dtype: str | None = None  # numpy dtype of raw (uncompressed, single-sample) pixels
    offset: int | None = None  # byte offset of the raw pixel data in the file
    stored_bits: int = 0  # raw unsigned pixels: the low bits that hold the image (0 = all)


def _raw_layout(
    top: TopLevel, raw: object, declared: int, path: Path
) -> tuple[str | None, int | None]:
    """(dtype, offset) of uncompressed pixels, (None, None) when pydicom must decode them."""
    syntax = top.dataset.file_meta.get("TransferSyntaxUID")
    if syntax is not None and not syntax.is_transfer_syntax:
        raise DicomReadError(
            f"unknown transfer syntax {str(syntax)[:64]} (a vendor's private encoding?): "
            "export the study in a standard one"
        )
    if syntax is None or syntax.is_compressed or syntax.is_deflated:
        return None, None
    length = getattr(raw, "length", None)
    if length is None:
        length = len(getattr(raw, "value", b"") or b"")
    tell = getattr(raw, "value_tell", None)
    if length < declared or (tell is not None and tell + declared > os.path.getsize(path)):
        raise DicomReadError("truncated pixel data")
    bits = top.unsigned_short("BitsAllocated") or 0
    stored = top.unsigned_short("BitsStored") or bits
    signed = top.unsigned_short("PixelRepresentation") == 1
    if (
        tell is None
        or (top.unsigned_short("SamplesPerPixel") or 1) != 1
        or (signed and stored < bits)
    ):
        return None, None
    order = "<" if syntax.is_little_endian else ">"
    return f"{order}{'i' if signed else 'u'}{bits // 8}", int(tell)


def _check_pixels(top: TopLevel, path: Path) -> PixelLayout:
    """Validate the pixel description; raises on missing / huge / truncated pixel data."""
    if not top.has(_PIXEL_TAG):
        raise DicomReadError("no pixel data")
    rows, cols = top.unsigned_short("Rows") or 0, top.unsigned_short("Columns") or 0
    frames = int(top.number("NumberOfFrames") or 1)
    samples = top.unsigned_short("SamplesPerPixel") or 1
    bits = top.unsigned_short("BitsAllocated") or 0
    if rows <= 0 or cols <= 0 or bits not in (8, 16, 32) or frames <= 0:
        raise DicomReadError(f"invalid image description ({rows}x{cols}, {bits} bits)")
    declared = rows * cols * frames * samples * bits // 8
    if declared > MAX_PIXEL_BYTES:
        raise DicomReadError(f"declared image size too large ({declared / 1e9:.1f} GB)")
    raw = top.dataset.get_item(_PIXEL_TAG, keep_deferred=True)
    dtype, offset = _raw_layout(top, raw, declared, path)
    stored = top.unsigned_short("BitsStored") or bits
    signed = top.unsigned_short("PixelRepresentation") == 1
    ceiling = float((1 << (stored - 1 if signed else stored)) - 1)
    monochrome1 = top.text("PhotometricInterpretation") == "MONOCHROME1"
    rescales = [frame_rescale(top, i) for i in (range(frames) if _enhanced(top, frames) else [-1])]
    slopes, intercepts = zip(*(rescales if len(set(rescales)) > 1 else rescales[:1]), strict=True)
    return PixelLayout(
        frames=frames,
        rows=rows,
        cols=cols,
        slopes=slopes,
        intercepts=intercepts,
        monochrome1_ceiling=ceiling if monochrome1 else None,
        dtype=dtype,
        offset=offset,
        stored_bits=stored if dtype is not None and "u" in dtype and 0 < stored < bits else 0,
    )


def read_headers(path: str | Path) -> list[SliceHeader]:
    """One ``SliceHeader`` per frame of ``path``; raises ``DicomReadError`` with the reason."""
    path = Path(path)
    top = TopLevel(open_data_set(path, defer_size=_DEFER_BYTES))
    try:
        return _frame_headers(top, path)
    except DicomReadError as err:
        err.identifiers = patient_identifiers(top)  # scrubbed from the report's path
        raise


def _frame_headers(top: TopLevel, path: Path) -> list[SliceHeader]:
    """``read_headers`` of a file whose data set was read."""
    modality = top.text("Modality").upper()
    if modality and modality != "MR":
        raise DicomReadError(f"modality {modality} is not MR")
    if top.has(_DIRECTORY_RECORDS_TAG):
        raise DicomReadError("DICOMDIR: the export's index, not an image (its images are read)")
    refuse_derived_pictures(top)
    if not top.text("StudyInstanceUID") or not top.text("SeriesInstanceUID"):
        # pydicom stops quietly where a file cut short (an interrupted copy) ends mid-header
        cut = "" if top.has(_PIXEL_TAG) else " and no pixel data: a truncated file?"
        raise DicomReadError(f"missing StudyInstanceUID or SeriesInstanceUID{cut}")
    layout = _check_pixels(top, path)
    refuse_colour(top, path)
    common = _common_fields(top, str(path))
    enhanced = _enhanced(top, layout.frames)
    groups = range(layout.frames) if enhanced else [-1]
    stacks = [frame_stack(top, index) for index in groups]
    several_stacks = len(set(stacks)) > 1
    headers = []
    for index in range(layout.frames):
        frame = index if layout.frames > 1 else -1
        group = index if enhanced else -1
        spacing, position, orientation = frame_geometry(top, group)
        trigger, temporal = frame_timing(top, group)
        headers.append(
            SliceHeader(
                **common,
                frame=frame,
                pixel_spacing=spacing,
                position=position,
                orientation=orientation,
                trigger_time=trigger,
                temporal_index=temporal,
                inversion_time=frame_inversion_time(top, group),
                layout=layout,
                stack=stacks[index] if several_stacks else "",
                stack_position=frame_stack_position(top, group),
            )
        )
    return headers


def _common_fields(top: TopLevel, path: str) -> dict:
    number = top.number("InstanceNumber")
    series_number = top.number("SeriesNumber")
    cardiac_images = top.number("CardiacNumberOfImages")
    return {
        "path": path,
        "study_uid": top.text("StudyInstanceUID"),
        "series_uid": top.text("SeriesInstanceUID"),
        "sop_uid": top.text("SOPInstanceUID") or path,
        "series_number": int(series_number) if series_number is not None else 0,
        "series_description": top.text("SeriesDescription") or top.text("ProtocolName"),
        "accession": top.text("AccessionNumber"),
        "patient_id": top.text("PatientID"),
        "patient_name": top.text("PatientName"),
        "other_identifiers": other_identifiers(top),
        "birth_date": top.text("PatientBirthDate"),
        "study_date": top.text("StudyDate"),
        "patient_age": top.text("PatientAge"),
        "sex": top.text("PatientSex").upper(),
        "manufacturer": top.text("Manufacturer"),
        "scanner": top.text("ManufacturerModelName"),
        "field_strength": top.number("MagneticFieldStrength") or 0.0,
        "rows": top.unsigned_short("Rows") or 0,
        "cols": top.unsigned_short("Columns") or 0,
        "instance_number": int(number) if number is not None else None,
        "cardiac_images": int(cardiac_images) if 1 < (cardiac_images or 0) < 10_000 else None,
    }


def _enhanced(top: TopLevel, frames: int) -> bool:
    """Whether frames keep their attributes in functional groups: multi-frame images, and
    enhanced images of one frame (a single-slice LGE view)."""
    return frames > 1 or top.has(_PER_FRAME_TAG) or top.has(_SHARED_TAG)


def _finish(image: np.ndarray, layout: PixelLayout) -> np.ndarray:
    image = image.astype(np.float32, copy=False).reshape(layout.frames, layout.rows, layout.cols)
    if layout.monochrome1_ceiling is not None:
        image = np.float32(layout.monochrome1_ceiling) - image
    if layout.slopes == (1.0,) and layout.intercepts == (0.0,):  # most files: nothing to do
        return image
    slopes = np.asarray(layout.slopes, dtype=np.float32).reshape(-1, 1, 1)
    intercepts = np.asarray(layout.intercepts, dtype=np.float32).reshape(-1, 1, 1)
    return image * slopes + intercepts


def read_pixels(path: str | Path, layout: PixelLayout | None = None) -> np.ndarray:
    """float32 ``[F, rows, cols]``: every frame of ``path``, rescaled, MONOCHROME2 polarity.

    With a ``layout`` from ``read_headers`` that located raw pixels, they are read directly;
    otherwise pydicom decodes them (compressed transfer syntaxes through the pylibjpeg plugins).
    """
    if layout is not None and layout.offset is not None and layout.dtype is not None:
        count = layout.frames * layout.rows * layout.cols
        try:
            raw = np.fromfile(path, dtype=layout.dtype, count=count, offset=layout.offset)
        except OSError as err:
            raise DicomReadError(f"unreadable file: {err}") from err
        if raw.size != count:
            raise DicomReadError("truncated pixel data")
        if layout.stored_bits:  # bits above BitsStored may hold overlays; not part of the image
            raw &= raw.dtype.type((1 << layout.stored_bits) - 1)
        return _finish(raw, layout)
    path = Path(path)
    ds = open_data_set(path)
    top = TopLevel(ds)
    layout = _check_pixels(top, path)
    pixels = decode_pixels(ds)
    if (top.unsigned_short("SamplesPerPixel") or 1) > 1:
        pixels = pixels.mean(axis=-1)
    return _finish(pixels, layout)
