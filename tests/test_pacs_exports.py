"""Files as real PACS exports write them, beyond the synthetic generator's: a Part 10 file whose
file meta names no transfer syntax."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicom_factory import StudySpec, base_dataset, write_image
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.uid import generate_uid

from model.data.dicom_read import read_headers, read_pixels

ROWS, COLS = 40, 32  # big enough for the JPEG 2000 encoder


def _pattern() -> np.ndarray:
    return (np.arange(ROWS * COLS).reshape(ROWS, COLS) * 7 % 251).astype(np.uint16)


def _classic(tmp_path: Path, **tags) -> tuple[Path, Dataset]:
    spec = StudySpec(rows=ROWS, cols=COLS, spacing=1.25)
    ds = base_dataset(spec, generate_uid(), "CINE_SAX", 3)
    ds.InstanceNumber, ds.TriggerTime = 4, 120.5
    ds.ImagePositionPatient, ds.ImageOrientationPatient = [1, 2, 3], [1, 0, 0, 0, 1, 0]
    for key, value in tags.items():
        setattr(ds, key, value)
    path = tmp_path / "a.dcm"
    write_image(ds, _pattern(), path)
    return path, pydicom.dcmread(path)


@pytest.mark.parametrize("meta", [False, True], ids=["no file meta", "meta without syntax"])
def test_a_part10_file_whose_meta_names_no_transfer_syntax_is_read(
    tmp_path: Path, meta: bool
) -> None:
    """Some exporters write the preamble and DICM but no file meta, or file meta without its
    TransferSyntaxUID: pydicom reads the header but refused to decode the pixels, and every
    series of such an export was rejected ("pixel decode failed")."""
    path, ds = _classic(tmp_path)
    body = DicomBytesIO()
    body.is_little_endian, body.is_implicit_VR = True, False
    if meta:
        file_meta = FileMetaDataset()
        file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
        file_meta.MediaStorageSOPInstanceUID = ds.SOPInstanceUID
        write_file_meta_info(body, file_meta, enforce_standard=False)
    write_dataset(body, ds)
    path.write_bytes(b"\0" * 128 + b"DICM" + body.getvalue())
    (header,) = read_headers(path)
    assert header.trigger_time == 120.5
    np.testing.assert_array_equal(read_pixels(path, header.layout)[0], _pattern())
    np.testing.assert_array_equal(read_pixels(path)[0], _pattern())
