"""Reading single DICOM files: transfer syntaxes, enhanced multi-frame, and every bad-file reason."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pydicom
import pytest
from dicom_factory import StudySpec, base_dataset, write_image
from pydicom.dataset import Dataset
from pydicom.encaps import encapsulate
from pydicom.filebase import DicomBytesIO
from pydicom.fileset import FileSet
from pydicom.sequence import Sequence
from pydicom.uid import (
    EnhancedMRImageStorage,
    ExplicitVRBigEndian,
    ImplicitVRLittleEndian,
    JPEG2000Lossless,
    JPEGBaseline8Bit,
    JPEGLSLossless,
    RLELossless,
    generate_uid,
)

from model.data.dicom_read import DicomReadError, read_headers, read_pixels

ROWS, COLS = 40, 32  # big enough for the JPEG 2000 encoder


def _pattern(rows: int = ROWS, cols: int = COLS) -> np.ndarray:
    return (np.arange(rows * cols).reshape(rows, cols) * 7 % 251).astype(np.uint16)


def _classic(tmp_path: Path, name: str = "a.dcm", **tags) -> tuple[Path, Dataset]:
    spec = StudySpec(rows=ROWS, cols=COLS, spacing=1.25)
    ds = base_dataset(spec, generate_uid(), "CINE_SAX", 3)
    ds.InstanceNumber, ds.TriggerTime = 4, 120.5
    ds.ImagePositionPatient, ds.ImageOrientationPatient = [1, 2, 3], [1, 0, 0, 0, 1, 0]
    for key, value in tags.items():
        setattr(ds, key, value)
    path = tmp_path / name
    write_image(ds, _pattern(), path)
    return path, ds


def test_classic_header_and_pixels(tmp_path: Path) -> None:
    path, _ = _classic(tmp_path, RescaleSlope=2.0, RescaleIntercept=-5.0)
    (header,) = read_headers(path)
    assert header.frame == -1 and header.rows == ROWS and header.cols == COLS
    assert header.pixel_spacing == (1.25, 1.25) and header.position == (1.0, 2.0, 3.0)
    assert header.trigger_time == 120.5 and header.instance_number == 4
    assert header.series_description == "CINE_SAX" and header.accession == "ACC0001"
    pixels = read_pixels(path)
    assert pixels.shape == (1, ROWS, COLS) and pixels.dtype == np.float32
    np.testing.assert_allclose(pixels[0], _pattern() * 2.0 - 5.0)


COMPRESSED = (RLELossless, JPEG2000Lossless, JPEGLSLossless)  # JPEG-LS encoded by pyjpegls


@pytest.mark.parametrize("syntax", [ExplicitVRBigEndian, ImplicitVRLittleEndian, *COMPRESSED])
def test_transfer_syntaxes_decode_to_the_same_pixels(tmp_path: Path, syntax: str) -> None:
    path, ds = _classic(tmp_path)
    ds = pydicom.dcmread(path)
    if syntax in COMPRESSED:
        ds.compress(syntax, _pattern())
    else:
        ds.file_meta.TransferSyntaxUID = syntax
        ds.PixelData = (
            _pattern().astype(">u2" if syntax == ExplicitVRBigEndian else "<u2").tobytes()
        )
    out = tmp_path / "converted.dcm"
    pydicom.dcmwrite(
        out,
        ds,
        force_encoding=True,
        little_endian=syntax != ExplicitVRBigEndian,
        implicit_vr=syntax == ImplicitVRLittleEndian,
    )
    (header,) = read_headers(out)
    np.testing.assert_array_equal(read_pixels(out)[0], _pattern())
    np.testing.assert_array_equal(read_pixels(out, header.layout)[0], _pattern())
    assert (header.layout.offset is None) == (syntax in COMPRESSED)


def test_bits_above_bits_stored_are_ignored(tmp_path: Path) -> None:
    """12 of 16 bits stored: older scanners keep overlay planes in the unused high bits, which
    are not part of the image (pydicom masks them; the raw fast path must too)."""
    path, ds = _classic(tmp_path)
    overlay = np.zeros((ROWS, COLS), dtype=np.uint16)
    overlay[5:9, :] = 1 << 13  # a burnt-in overlay line in bit 13
    ds.PixelData = (_pattern() | overlay).tobytes()
    ds.save_as(path, enforce_file_format=True)
    (header,) = read_headers(path)
    assert header.layout.offset is not None  # still read raw, not through pydicom
    np.testing.assert_array_equal(read_pixels(path, header.layout)[0], _pattern())
    np.testing.assert_array_equal(read_pixels(path)[0], _pattern())


def test_monochrome1_files_of_a_series_invert_alike(tmp_path: Path) -> None:
    """MONOCHROME1 shows low values bright. Each cine phase is its own file: inverting each from
    its own brightest pixel shifted every phase by a different amount (a flickering cine)."""
    phases = []
    for index, hot in enumerate((4095, 3000)):  # one phase holds a brighter stray pixel
        stored = 4000 - _pattern()
        stored[0, 0] = hot
        path, ds = _classic(tmp_path, f"phase{index}.dcm", PhotometricInterpretation="MONOCHROME1")
        ds.PixelData = stored.astype(np.uint16).tobytes()
        ds.save_as(path, enforce_file_format=True)
        (header,) = read_headers(path)
        phases.append((read_pixels(path, header.layout)[0], read_pixels(path)[0]))
    for raw_read, decoded in phases:
        np.testing.assert_array_equal(raw_read, decoded)
    first, second = phases[0][0], phases[1][0]
    np.testing.assert_array_equal(first[1:], second[1:])  # the same tissue reads the same
    assert (
        first[5, 5] > first[0, 0]
        and np.corrcoef(first[1:].ravel(), _pattern()[1:].ravel())[0, 1] > 0.99
    )


def test_jpeg_baseline_decodes(tmp_path: Path) -> None:
    from PIL import Image

    image = np.full((16, 16), 90, dtype=np.uint8)
    image[4:12, 4:12] = 200
    buffer = io.BytesIO()
    Image.fromarray(image).save(buffer, format="JPEG", quality=95)
    path, ds = _classic(tmp_path)
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = JPEGBaseline8Bit
    ds.Rows = ds.Columns = 16
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelData = encapsulate([buffer.getvalue()])
    ds.save_as(path, enforce_file_format=True)
    decoded = read_pixels(path)[0]
    assert abs(float(decoded[8, 8]) - 200) < 8 and abs(float(decoded[0, 0]) - 90) < 8


def _enhanced(tmp_path: Path, frames: int) -> Path:
    """Enhanced MR: spacing in the shared groups, position and trigger delay per frame."""
    path, ds = _classic(tmp_path)
    ds = pydicom.dcmread(path)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = EnhancedMRImageStorage
    ds.NumberOfFrames = frames
    del ds.TriggerTime, ds.ImagePositionPatient, ds.PixelSpacing
    shared = Dataset()
    measures = Dataset()
    measures.PixelSpacing = [0.8, 0.8]
    shared.PixelMeasuresSequence = Sequence([measures])
    ds.SharedFunctionalGroupsSequence = Sequence([shared])
    per_frame = []
    for index in range(frames):
        item, position, timing = Dataset(), Dataset(), Dataset()
        position.ImagePositionPatient = [0.0, 0.0, float(index)]
        timing.NominalCardiacTriggerDelayTime = 300.0 - 100 * index
        item.PlanePositionSequence = Sequence([position])
        item.CardiacSynchronizationSequence = Sequence([timing])
        per_frame.append(item)
    ds.PerFrameFunctionalGroupsSequence = Sequence(per_frame)
    ds.PixelData = np.stack([_pattern() + i for i in range(frames)]).astype(np.uint16).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.mark.parametrize("frames", [3, 80])
def test_enhanced_multiframe_gives_one_header_per_frame(tmp_path: Path, frames: int) -> None:
    """80 frames make the per-frame groups large enough to be deferred while reading headers."""
    path = _enhanced(tmp_path, frames)
    deferred = pydicom.dcmread(path, defer_size=4096).get_item(
        "PerFrameFunctionalGroupsSequence", keep_deferred=True
    )
    assert (deferred.value is None) == (frames > 3)
    headers = read_headers(path)
    assert [h.frame for h in headers] == list(range(frames))
    assert [h.trigger_time for h in headers] == [300.0 - 100 * i for i in range(frames)]
    assert headers[2].position == (0.0, 0.0, 2.0) and headers[0].pixel_spacing == (0.8, 0.8)
    assert headers[-1].position == (0.0, 0.0, float(frames - 1))
    pixels = read_pixels(path)
    assert pixels.shape == (frames, ROWS, COLS)
    np.testing.assert_array_equal(pixels[2], _pattern() + 2)


def test_enhanced_image_of_one_frame_keeps_its_geometry(tmp_path: Path) -> None:
    """A single-slice enhanced MR image (one LGE view) keeps spacing and position in its
    functional groups like any enhanced image."""
    (header,) = read_headers(_enhanced(tmp_path, 1))
    assert header.frame == -1 and header.pixel_spacing == (0.8, 0.8)
    assert header.position == (0.0, 0.0, 0.0) and header.trigger_time == 300.0


@pytest.mark.parametrize(
    ("charset", "name", "description"),
    [
        ("ISO_IR 144", "Иванов^Пётр", "Кино SAX"),
        ("GB18030", "王^小明", "CINE 短轴"),
        ("\\ISO 2022 IR 87", "山田^太郎", "CINE 短軸"),
        ("ISO_IR 100", "Müller^Jürgen", "Kurzachse Ü"),
        ("ISO_IR 192", "Иванов^Пётр", "Kurzachse Ü"),
    ],
)
def test_names_and_descriptions_are_read_in_the_files_character_set(
    tmp_path: Path, charset: str, name: str, description: str
) -> None:
    """A name read in the wrong character set is not the one a report or a folder spells, so
    it was never scrubbed from them."""
    spec = StudySpec(rows=ROWS, cols=COLS, charset=charset, patient_name=name)
    ds = base_dataset(spec, generate_uid(), description, 3)
    path = tmp_path / "a.dcm"
    write_image(ds, _pattern(), path)
    (header,) = read_headers(path)
    assert (header.patient_name, header.series_description) == (name, description)


def test_data_set_without_the_part10_header_is_read(tmp_path: Path) -> None:
    """Older archives store bare data sets (no preamble, no file meta: implicit VR little
    endian); they are DICOM and read like any other file."""
    path, ds = _classic(tmp_path)
    bare = DicomBytesIO()
    bare.is_little_endian, bare.is_implicit_VR = True, True
    pydicom.filewriter.write_dataset(bare, pydicom.dcmread(path))
    path.write_bytes(bare.getvalue())
    (header,) = read_headers(path)
    assert header.trigger_time == 120.5 and header.pixel_spacing == (1.25, 1.25)
    np.testing.assert_array_equal(read_pixels(path, header.layout)[0], _pattern())
    np.testing.assert_array_equal(read_pixels(path)[0], _pattern())


def test_not_dicom_and_empty_files(tmp_path: Path) -> None:
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    empty = tmp_path / "empty.dcm"
    empty.write_bytes(b"")
    with pytest.raises(DicomReadError, match="not a DICOM"):
        read_headers(text)
    with pytest.raises(DicomReadError, match="empty file"):
        read_headers(empty)


def test_dicomdir_is_named_as_the_export_index(tmp_path: Path) -> None:
    """CD and PACS exports carry a DICOMDIR beside the images: the report says what it is."""
    _, ds = _classic(tmp_path)
    ds.StudyTime, ds.StudyID = "101010", "1"
    export = FileSet()
    export.add(ds)
    export.write(tmp_path / "export")
    with pytest.raises(DicomReadError, match="DICOMDIR"):
        read_headers(tmp_path / "export" / "DICOMDIR")


def test_truncated_file_is_reported(tmp_path: Path) -> None:
    path, _ = _classic(tmp_path)
    data = path.read_bytes()
    path.write_bytes(data[: len(data) - 100])
    with pytest.raises(DicomReadError, match="truncated"):
        read_headers(path)
    path.write_bytes(data[:300])
    with pytest.raises(DicomReadError):
        read_headers(path)


def test_missing_pixels_and_wrong_modality(tmp_path: Path) -> None:
    path, ds = _classic(tmp_path)
    ds = pydicom.dcmread(path)
    del ds.PixelData
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(DicomReadError, match="no pixel data"):
        read_headers(path)
    ct, _ = _classic(tmp_path, "ct.dcm", Modality="CT")
    with pytest.raises(DicomReadError, match="modality CT is not MR"):
        read_headers(ct)


def test_huge_declared_size_is_refused_before_decoding(tmp_path: Path) -> None:
    path, _ = _classic(tmp_path)
    ds = pydicom.dcmread(path)
    ds.Rows = ds.Columns = 60000
    ds.NumberOfFrames = 400
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(DicomReadError, match="too large"):
        read_headers(path)
    with pytest.raises(DicomReadError, match="too large"):
        read_pixels(path)


def test_corrupt_compressed_stream_is_a_reason(tmp_path: Path) -> None:
    path, _ = _classic(tmp_path)
    ds = pydicom.dcmread(path)
    ds.compress(RLELossless, _pattern())
    ds.PixelData = encapsulate([b"\x00" * 64])
    ds.save_as(path, enforce_file_format=True)
    read_headers(path)
    with pytest.raises(DicomReadError, match="pixel decode failed"):
        read_pixels(path)


def test_a_private_transfer_syntax_is_named(tmp_path: Path) -> None:
    """Old GE exports use a private syntax (1.2.840.113619.5.2) no decoder reads."""
    path, _ = _classic(tmp_path)
    ds = pydicom.dcmread(path)
    ds.file_meta.TransferSyntaxUID = "1.2.840.113619.5.2"
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(DicomReadError, match=r"unknown transfer syntax 1\.2\.840\.113619\.5\.2"):
        read_headers(path)


def test_unreadable_file_is_a_reason(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    path, _ = _classic(tmp_path)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr("model.data.dicom_read.pydicom.dcmread", refuse)
    with pytest.raises(DicomReadError, match="permission denied"):
        read_headers(path)


def test_jpeg_ls_decodes_with_the_runtime_plugin(tmp_path: Path) -> None:
    """The run-time requirements decode JPEG-LS through pylibjpeg-libjpeg (pyjpegls only encodes
    for tests)."""
    from pydicom.pixels import pixel_array

    path, _ = _classic(tmp_path)
    ds = pydicom.dcmread(path)
    ds.compress(JPEGLSLossless, _pattern())
    ds.save_as(path, enforce_file_format=True)
    decoded = pixel_array(pydicom.dcmread(path), decoding_plugin="pylibjpeg")
    np.testing.assert_array_equal(decoded, _pattern())
