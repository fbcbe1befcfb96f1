"""DICOM content of one study: which series exist, their tags, and one file per image.

Series layout per site: the internal site writes the SAX cine as one multi-slice series, the
external site one series per slice ("FIESTA SA 1" ... apex first). Each long-axis cine is one
series; LGE is one SAX stack series and one single-image series per long-axis view, all with
InversionTime. Patient tags carry the fake PHI that ingest must strip.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from sample_data.dicom_writer import MR_IMAGE_STORAGE, SeriesTemplate, uid_from, write_file
from sample_data.patients import PatientIdentity
from sample_data.render import MAX_STORED
from sample_data.sites import SiteProfile
from sample_data.views import ViewPlane


@dataclass(frozen=True)
class StudyHeader:
    """Study-level values shared by every file of one study."""

    uid_key: tuple[object, ...]  # (seed, site, index): every UID derives from it
    accession: str
    study_date: dt.date
    study_time: str
    patient: PatientIdentity
    age: int
    referrer_dicom: str
    heart_rate_bpm: float
    weight_kg: float
    height_m: float

    @property
    def study_uid(self) -> str:
        return uid_from(*self.uid_key, "study")


@dataclass(frozen=True)
class SeriesImages:
    """One series to write: its description, planes, and stored pixels per plane [T, H, W]."""

    number: int
    description: str
    views: list[ViewPlane]
    pixels: list[np.ndarray]  # per view, uint16 [T, H, W] (T = 1 for LGE)
    trigger_ms: np.ndarray  # [T]
    inversion_ms: float | None


def _patient_tags(head: StudyHeader) -> dict:
    """The planted PHI and demographics (ingest must keep every one of them out of its outputs)."""
    return {
        "AccessionNumber": head.accession,
        "ReferringPhysicianName": head.referrer_dicom,
        "PatientName": head.patient.dicom_name,
        "PatientID": head.patient.patient_id,
        "PatientBirthDate": head.patient.birth_date.strftime("%Y%m%d"),
        "PatientSex": head.patient.sex,
        "PatientAge": f"{head.age:03d}Y",
        "PatientSize": round(head.height_m, 2),
        "PatientWeight": round(head.weight_kg, 1),
        "PatientAddress": head.patient.address,
    }


def _acquisition_tags(site: SiteProfile, head: StudyHeader, series: SeriesImages) -> dict:
    """Scanner, sequence and timing tags of one series (LGE: inversion recovery, one phase)."""
    lge = series.inversion_ms is not None
    phases = series.pixels[0].shape[0]
    return {
        "Manufacturer": site.manufacturer,
        "InstitutionName": site.institution,
        "StationName": site.station_name,
        "ManufacturerModelName": site.model_name,
        "ScanningSequence": ["IR", "GR"] if lge else "GR",
        "SequenceVariant": ["SK", "SP"] if lge else "SS",
        "MRAcquisitionType": "2D",
        "SliceThickness": site.slice_thickness_mm,
        "RepetitionTime": site.repetition_time_ms * (2.0 if lge else 1.0),
        "EchoTime": site.echo_time_ms,
        "InversionTime": series.inversion_ms,
        "MagneticFieldStrength": site.field_strength_t,
        "FlipAngle": 25.0 if lge else site.flip_angle_deg,
        "HeartRate": int(round(head.heart_rate_bpm)),
        "CardiacNumberOfImages": 1 if lge else phases,
        "NumberOfTemporalPositions": None if lge else phases,
        "PatientPosition": "HFS",
    }


def _image_tags(site: SiteProfile, series: SeriesImages) -> dict:
    """Geometry and pixel-format tags shared by every image of one series."""
    first = series.views[0]
    lge = series.inversion_ms is not None
    return {
        "ImageOrientationPatient": [*np.round(first.row_dir, 6), *np.round(first.col_dir, 6)],
        "SamplesPerPixel": 1,
        "PhotometricInterpretation": "MONOCHROME2",
        "Rows": first.rows,
        "Columns": first.cols,
        "PixelSpacing": [first.spacing_mm, first.spacing_mm],
        "BitsAllocated": 16,
        "BitsStored": 12,
        "HighBit": 11,
        "PixelRepresentation": 0,
        "WindowCenter": int(0.55 * site.intensity_scale * (0.6 if lge else 1.0)),
        "WindowWidth": int(min(1.2 * site.intensity_scale, MAX_STORED)),
        "RescaleIntercept": 0,
        "RescaleSlope": 1,
    }


def _static_tags(site: SiteProfile, head: StudyHeader, series: SeriesImages) -> dict:
    """Every tag that is the same on all images of one series."""
    date = head.study_date.strftime("%Y%m%d")
    return {
        "SpecificCharacterSet": "ISO_IR 100",
        "ImageType": ["ORIGINAL", "PRIMARY", "M", "ND"],
        "SOPClassUID": MR_IMAGE_STORAGE,
        "StudyDate": date,
        "SeriesDate": date,
        "StudyTime": head.study_time,
        "Modality": "MR",
        "StudyDescription": "CARDIAC MRI WITH CONTRAST",
        "SeriesDescription": series.description,
        "ProtocolName": series.description,
        "StudyInstanceUID": head.study_uid,
        "SeriesInstanceUID": uid_from(*head.uid_key, "series", series.number),
        "StudyID": "1",
        "SeriesNumber": series.number,
        "AcquisitionNumber": 1,
        "FrameOfReferenceUID": uid_from(*head.uid_key, "frame"),
        **_patient_tags(head),
        **_acquisition_tags(site, head, series),
        **_image_tags(site, series),
    }


VARYING_LGE = ("SOPInstanceUID", "TriggerTime", "InstanceNumber", "ImagePositionPatient",
               "SliceLocation")  # fmt: skip
VARYING_CINE = (*VARYING_LGE, "TemporalPositionIdentifier")


def write_series(
    folder: Path, site: SiteProfile, head: StudyHeader, series: SeriesImages
) -> tuple[int, int]:
    """Write every image of ``series`` into ``folder``; returns (files, bytes)."""
    folder.mkdir(parents=True, exist_ok=True)
    lge = series.inversion_ms is not None
    template = SeriesTemplate(
        _static_tags(site, head, series), VARYING_LGE if lge else VARYING_CINE
    )
    files = size = 0
    instance = 0
    for view, pixels in zip(series.views, series.pixels, strict=True):
        position = view.position()
        location = float(view.centre @ view.normal)
        for phase in range(pixels.shape[0]):
            instance += 1
            values = {
                "SOPInstanceUID": uid_from(*head.uid_key, "image", series.number, instance),
                "TriggerTime": round(float(series.trigger_ms[phase]), 1),
                "InstanceNumber": instance,
                "ImagePositionPatient": [round(float(v), 4) for v in position],
                "TemporalPositionIdentifier": phase + 1,
                "SliceLocation": round(location, 4),
            }
            data = template.image_bytes(values, pixels[phase])
            write_file(folder / f"{instance:04d}.dcm", data)
            files += 1
            size += len(data)
    return files, size
