"""Tiny synthetic DICOM studies written with pydicom, for ingest tests.

Every cine image shows a disc of radius ``disc_radius_mm(phase)`` millimetres centred in the
image (bright on a dim background), so phase order and physical size survive ingest and can be
checked. Geometry follows docs/ARCHITECTURE.md: LV long axis (1, -1, -1)/sqrt(3) in LPS.
``write_enhanced`` writes the same images as one Enhanced MR (multi-frame) file, its attributes
in the functional groups where current Philips, Siemens XA and GE exports keep them.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.sequence import Sequence
from pydicom.uid import (
    EnhancedMRImageStorage,
    ExplicitVRLittleEndian,
    MRImageStorage,
    generate_uid,
)

AXIS = np.array([1.0, -1.0, -1.0]) / np.sqrt(3.0)
_U = np.cross(AXIS, [0.0, 0.0, 1.0])
_U /= np.linalg.norm(_U)
_V = np.cross(AXIS, _U)
PLANES = {
    "sax": (_U, _V),
    "4ch": (AXIS, _U),
    "2ch": (AXIS, _V),
    "3ch": (AXIS, (_U + _V) / np.sqrt(2)),
}


def disc_radius_mm(phase: int, phases: int, base_mm: float = 30.0) -> float:
    """Cavity radius at ``phase``: largest at phase 0 (end-diastole), smallest mid-cycle."""
    return base_mm * (1.0 - 0.4 * np.sin(np.pi * phase / phases))


@dataclass
class StudySpec:
    """What to write; defaults give a small valid internal-style study."""

    accession: str = "ACC0001"
    patient_id: str = "PID0001"
    patient_name: str = "Doe^Jane"
    birth_date: str = "19700101"
    study_date: str = "20240102"
    rows: int = 48
    cols: int = 40
    spacing: float = 6.0
    phases: int = 6
    sax_slices: int = 3
    series: dict[str, str] = field(
        default_factory=lambda: {
            "sax": "CINE_SAX",
            "4ch": "CINE_4CH",
            "2ch": "CINE_2CH",
            "lge_sax": "LGE_PSIR_SAX",
        }
    )
    # further (view, description) series written after ``series``: a view may repeat here
    # (a repeated acquisition, or a non-cine series a scanner writes in that plane)
    extra_series: list[tuple[str, str]] = field(default_factory=list)
    one_series_per_sax_slice: bool = False
    trigger_times: bool = True
    cardiac_number_of_images: bool = True  # CardiacNumberOfImages on each cine image
    charset: str = ""  # SpecificCharacterSet the names and descriptions are written in
    other_patient_ids: list[str] = field(default_factory=list)  # OtherPatientIDs, if any
    # the staff a header names, by keyword (ReferringPhysicianName, OperatorsName, ...): PN values
    staff: dict[str, str] = field(default_factory=dict)
    study_uid: str = field(default_factory=generate_uid)


@dataclass
class EnhancedSpec:
    """One Enhanced MR file: its stacks (plane, slice offsets mm; StackID 1, 2, ...), phases, and
    where each attribute sits (per-frame or shared functional groups). One phase writes LGE
    images (a disc of value 300 + 100 * slice), more write cine images as ``write_study`` does."""

    stacks: list[tuple[str, list[float]]] = field(
        default_factory=lambda: [("sax", [-20.0, 0.0, 20.0])]
    )
    phases: int = 4
    phase_major: bool = False  # frames stored phase by phase (every slice of phase 0 first)
    trigger_delays: bool = True  # CardiacSynchronizationSequence > NominalCardiacTriggerDelayTime
    # InversionTimes: "" none, "per_frame" / "shared" in MRModifierSequence, "timing" in the
    # shared MRTimingAndRelatedParametersSequence
    inversion: str = ""
    # PixelValueTransformationSequence (slope, intercept): one per frame, or one shared
    rescale: list[tuple[float, float]] | None = None
    shared_rescale: tuple[float, float] | None = None
    spacing_per_frame: bool = False  # PixelMeasuresSequence per frame instead of shared
    stack_ids: bool = True  # FrameContentSequence > StackID and InStackPositionNumber
    plane_positions: bool = True  # PlanePositionSequence > ImagePositionPatient per frame

    def frames(self) -> list[tuple[int, int, int]]:
        """(stack, slice, phase) of each frame in storage order."""
        order = []
        for stack, (_, offsets) in enumerate(self.stacks):
            pairs = [(s, p) for s in range(len(offsets)) for p in range(self.phases)]
            if self.phase_major:
                pairs.sort(key=lambda pair: (pair[1], pair[0]))
            order += [(stack, s, p) for s, p in pairs]
        return order


def enhanced_image(spec: StudySpec, enhanced: EnhancedSpec, frame: tuple[int, int, int]):
    """The image (rescaled values) ``write_enhanced`` stores for ``frame`` (stack, slice, phase)."""
    stack, index, phase = frame
    offset = enhanced.stacks[stack][1][index]
    if enhanced.phases == 1:
        return _image(spec, 20.0, value=300.0 + 100 * index)
    return _image(spec, disc_radius_mm(phase, enhanced.phases) * (1 - offset / 200.0))


def _item(sequence: str, **values) -> Dataset:
    """A functional-group item holding one item of ``sequence`` with ``values``."""
    inner = Dataset()
    for keyword, value in values.items():
        setattr(inner, keyword, value)
    outer = Dataset()
    setattr(outer, sequence, Sequence([inner]))
    return outer


def _merge(*items: Dataset) -> Dataset:
    merged = Dataset()
    for item in items:
        merged.update(item)
    return merged


def _enhanced_frame(spec: StudySpec, enhanced: EnhancedSpec, frame: tuple[int, int, int]):
    """The per-frame functional group item of ``frame``."""
    stack, index, phase = frame
    plane, offsets = enhanced.stacks[stack]
    placed = Dataset()
    _place(placed, spec, plane, offsets[index])
    content = _item(
        "FrameContentSequence",
        TemporalPositionIndex=phase + 1,
        DimensionIndexValues=[stack + 1, index + 1, phase + 1],
    )
    if enhanced.stack_ids:
        content.FrameContentSequence[0].StackID = str(stack + 1)
        content.FrameContentSequence[0].InStackPositionNumber = index + 1
    items = [
        content,
        _item("PlaneOrientationSequence", ImageOrientationPatient=placed.ImageOrientationPatient),
    ]
    if enhanced.plane_positions:
        items.append(
            _item("PlanePositionSequence", ImagePositionPatient=placed.ImagePositionPatient)
        )
    if enhanced.trigger_delays:
        delay = round(phase * 900.0 / enhanced.phases, 2)
        items.append(_item("CardiacSynchronizationSequence", NominalCardiacTriggerDelayTime=delay))
    if enhanced.inversion == "per_frame":
        items.append(_item("MRModifierSequence", InversionRecovery="YES", InversionTimes=[300.0]))
    if enhanced.rescale:
        items.append(_rescale(*enhanced.rescale[enhanced.frames().index(frame)]))
    if enhanced.spacing_per_frame:
        items.append(_item("PixelMeasuresSequence", PixelSpacing=[spec.spacing, spec.spacing]))
    return _merge(*items)


def _rescale(slope: float, intercept: float) -> Dataset:
    return _item(
        "PixelValueTransformationSequence",
        RescaleSlope=slope,
        RescaleIntercept=intercept,
        RescaleType="US",
    )


def _enhanced_shared(spec: StudySpec, enhanced: EnhancedSpec) -> Dataset:
    items = []
    if not enhanced.spacing_per_frame:
        items.append(_item("PixelMeasuresSequence", PixelSpacing=[spec.spacing, spec.spacing]))
    if enhanced.inversion == "shared":
        items.append(_item("MRModifierSequence", InversionRecovery="YES", InversionTimes=[300.0]))
    if enhanced.inversion == "timing":
        items.append(_item("MRTimingAndRelatedParametersSequence", InversionTimes=[300.0]))
    if enhanced.shared_rescale:
        items.append(_rescale(*enhanced.shared_rescale))
    return _merge(*items)


def write_enhanced(
    path: Path, spec: StudySpec, enhanced: EnhancedSpec, description: str, number: int
) -> Path:
    """One Enhanced MR Image Storage file at ``path``: no geometry, timing or rescale at the top
    level, all of it in the functional groups; stored values = (image - intercept) / slope."""
    ds = base_dataset(spec, generate_uid(), description, number)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = EnhancedMRImageStorage
    del ds.PixelSpacing
    frames = enhanced.frames()
    ds.NumberOfFrames, ds.InstanceNumber = len(frames), 1
    ds.SharedFunctionalGroupsSequence = Sequence([_enhanced_shared(spec, enhanced)])
    ds.PerFrameFunctionalGroupsSequence = Sequence(
        [_enhanced_frame(spec, enhanced, frame) for frame in frames]
    )
    stored = []
    for index, frame in enumerate(frames):
        slope, intercept = (
            enhanced.rescale[index] if enhanced.rescale else enhanced.shared_rescale or (1.0, 0.0)
        )
        image = enhanced_image(spec, enhanced, frame).astype(np.float64)
        stored.append(np.round((image - intercept) / slope))
    write_image(ds, np.stack(stored), path)
    return path


def _image(spec: StudySpec, radius_mm: float, value: float = 800.0) -> np.ndarray:
    yy, xx = np.mgrid[: spec.rows, : spec.cols].astype(np.float64)
    yy = (yy - (spec.rows - 1) / 2) * spec.spacing
    xx = (xx - (spec.cols - 1) / 2) * spec.spacing
    return np.where(np.hypot(yy, xx) < radius_mm, value, 100.0).astype(np.uint16)


def base_dataset(spec: StudySpec, series_uid: str, description: str, number: int) -> Dataset:
    """Header shared by every image of a series (classic MR Image Storage, explicit VR LE)."""
    ds = Dataset()
    if spec.charset:
        ds.SpecificCharacterSet = spec.charset
    ds.file_meta = FileMetaDataset()
    ds.file_meta.MediaStorageSOPClassUID = MRImageStorage
    ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
    ds.SOPClassUID = MRImageStorage
    ds.Modality = "MR"
    ds.PatientName, ds.PatientID, ds.PatientBirthDate = (
        spec.patient_name,
        spec.patient_id,
        spec.birth_date,
    )
    ds.PatientSex, ds.StudyDate, ds.AccessionNumber = "F", spec.study_date, spec.accession
    if spec.other_patient_ids:
        ds.OtherPatientIDs = spec.other_patient_ids
    for keyword, value in spec.staff.items():
        setattr(ds, keyword, value)
    ds.InstitutionName = "Fake General Hospital"
    ds.Manufacturer, ds.ManufacturerModelName, ds.MagneticFieldStrength = "SIEMENS", "Avanto", 1.5
    ds.StudyInstanceUID, ds.SeriesInstanceUID = spec.study_uid, series_uid
    ds.SeriesDescription, ds.SeriesNumber = description, number
    ds.Rows, ds.Columns = spec.rows, spec.cols
    ds.PixelSpacing = [spec.spacing, spec.spacing]
    ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
    ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 12, 11, 0
    return ds


def _place(ds: Dataset, spec: StudySpec, plane: str, offset_mm: float) -> None:
    u, v = PLANES[plane]
    normal = np.cross(u, v)
    centre = offset_mm * normal
    corner = (
        centre - u * (spec.cols - 1) / 2 * spec.spacing - v * (spec.rows - 1) / 2 * spec.spacing
    )
    ds.ImageOrientationPatient = [round(float(x), 6) for x in (*u, *v)]
    ds.ImagePositionPatient = [round(float(x), 4) for x in corner]


def write_image(ds: Dataset, pixels: np.ndarray, path: Path) -> None:
    ds.SOPInstanceUID = generate_uid()
    ds.file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
    ds.PixelData = pixels.astype(np.uint16).tobytes()
    path.parent.mkdir(parents=True, exist_ok=True)
    ds.save_as(path, enforce_file_format=True)


def _cine(
    spec: StudySpec, folder: Path, plane: str, description: str, number: int, offsets: list[float]
) -> None:
    series_uid = generate_uid()
    instance = 0
    for offset in offsets:
        for phase in range(spec.phases):
            ds = base_dataset(spec, series_uid, description, number)
            _place(ds, spec, plane, offset)
            instance += 1
            ds.InstanceNumber = instance
            if spec.trigger_times:
                ds.TriggerTime = round(phase * 900.0 / spec.phases, 2)
            if spec.cardiac_number_of_images:
                ds.CardiacNumberOfImages = spec.phases
            pixels = _image(spec, disc_radius_mm(phase, spec.phases) * (1 - offset / 200.0))
            write_image(ds, pixels, folder / f"{number:03d}_{instance:04d}.dcm")


def write_study(root: Path, spec: StudySpec | None = None) -> Path:
    """Write one study under ``root/<accession>/``; returns that folder."""
    spec = spec or StudySpec()
    folder = root / spec.accession
    offsets = [float(v) for v in np.linspace(-30.0, 30.0, spec.sax_slices)]
    number = 1
    for view, description in [*spec.series.items(), *spec.extra_series]:
        number += 1
        if view == "sax" and spec.one_series_per_sax_slice:
            for offset in offsets:
                _cine(spec, folder, "sax", description, number, [offset])
                number += 1
        elif view in PLANES:
            _cine(spec, folder, view, description, number, offsets if view == "sax" else [0.0])
        elif view.startswith("lge_"):
            _lge(
                spec, folder, view[4:], description, number, offsets if view == "lge_sax" else [0.0]
            )
    return folder


def _lge(
    spec: StudySpec, folder: Path, plane: str, description: str, number: int, offsets: list[float]
) -> None:
    series_uid = generate_uid()
    for index, offset in enumerate(offsets):
        ds = base_dataset(spec, series_uid, description, number)
        _place(ds, spec, plane, offset)
        ds.InstanceNumber, ds.InversionTime = index + 1, 300.0
        write_image(
            ds,
            _image(spec, 20.0, value=300.0 + 100 * index),
            folder / f"{number:03d}_{index:04d}.dcm",
        )
