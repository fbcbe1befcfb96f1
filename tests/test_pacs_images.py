"""Single images as real PACS exports hold them, beyond the synthetic generator's: one image
under two files or two images under one SOPInstanceUID, colour MR images, and the JPEG Lossless
and JPEG-LS transfer syntaxes archives send."""

from __future__ import annotations

import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
from dicom_factory import EnhancedSpec, StudySpec, write_enhanced, write_study
from jpeg_lossless import encode
from pydicom.encaps import encapsulate
from pydicom.pixels import convert_color_space
from pydicom.pixels.decoders.base import get_decoder
from pydicom.uid import JPEGLossless, JPEGLosslessSV1, JPEGLSNearLossless, RLELossless
from test_dicom_read import _classic, _pattern

from model.data.dicom_read import DicomReadError, read_headers, read_pixels
from model.data.ingest import ingest


def _report(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "ingest_report.csv", dtype=str, keep_default_na=False)


def _views(out: Path) -> str:
    return pd.read_parquet(out / "studies.parquet").iloc[0].views


@pytest.mark.parametrize("recode", [False, True], ids=["byte copy", "re-encoded copy"])
def test_an_image_exported_twice_is_read_once_with_one_line(
    tmp_path: Path, recode: bool, caplog: pytest.LogCaptureFixture
) -> None:
    """A copy (the same bytes, or the same image in another transfer syntax) keeps the first,
    and one line names the file it copies: a multi-frame copy gave one line per frame."""
    src = tmp_path / "src"
    spec = StudySpec(series={"4ch": "CINE_4CH"})
    folder = write_study(src, spec)
    write_enhanced(folder / "enhanced.dcm", spec, EnhancedSpec(), "CINE_SAX", 30)
    copy = folder / "enhanced_copy.dcm"
    shutil.copy(folder / "enhanced.dcm", copy)
    if recode:
        ds = pydicom.dcmread(copy)
        uid = ds.SOPInstanceUID
        ds.compress(RLELossless, ds.pixel_array)  # which gives it a new SOPInstanceUID
        ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = uid
        ds.save_as(copy, enforce_file_format=True)
    out = tmp_path / "out"
    ingest(src, out, frames=4, size=16)
    report = _report(out)
    assert report[["path", "level", "reason"]].values.tolist() == [
        [
            "[removed]/enhanced_copy.dcm",
            "skipped",
            "duplicate instance of [removed]/enhanced.dcm (same SOPInstanceUID and image): "
            "the first copy kept",
        ]
    ]
    assert _views(out) == "sax_base,sax_mid,sax_apex,4ch"
    assert [r.getMessage() for r in caplog.records if "copy images" in r.getMessage()] == [
        "1 file(s) copy images already read (same SOPInstanceUID); the first copies kept, each "
        "copy named in ingest_report.csv"
    ]


def test_two_different_images_under_one_uid_are_both_read(tmp_path: Path) -> None:
    """An exporter that gave two phases one SOPInstanceUID: the second was skipped as a
    duplicate, its slice came up a phase short and filled no view. Both are read, and a
    warning names the clash."""
    src = tmp_path / "src"
    folder = write_study(src, StudySpec(series={"sax": "CINE_SAX"}))
    first, second = sorted(folder.glob("002_*.dcm"))[6:8]  # slice 2, phases 1 and 2
    ds = pydicom.dcmread(second)
    ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = pydicom.dcmread(
        first
    ).SOPInstanceUID
    ds.save_as(second, enforce_file_format=True)
    out = tmp_path / "out"
    ingest(src, out, frames=4, size=16)
    report = _report(out)
    assert report[["path", "level", "reason"]].values.tolist() == [
        [
            f"[removed]/{second.name}",
            "warning",
            f"shares its SOPInstanceUID with a different image, [removed]/{first.name}: both read "
            "(an exporter's UID clash)",
        ]
    ]
    assert _views(out) == "sax_base,sax_mid,sax_apex"


def _colour(tmp_path: Path, rgb: np.ndarray, photometric: str, **tags) -> Path:
    """``test_dicom_read``'s MR image stored as 8-bit colour (``rgb`` [rows, cols, 3])."""
    path, ds = _classic(tmp_path, "colour.dcm", **tags)
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, photometric, 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    rgb = rgb.astype(np.uint8)
    stored = rgb if photometric == "RGB" else convert_color_space(rgb, "RGB", photometric)
    ds.PixelData = stored.astype(np.uint8).tobytes()
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.mark.parametrize("photometric", ["RGB", "YBR_FULL"])
def test_a_colour_mr_image_is_refused_unless_its_channels_are_equal(
    tmp_path: Path, photometric: str
) -> None:
    """A colour image in a cine series is a screenshot with coloured annotations or a
    colour-coded map: it was averaged to grey and read as a phase. One whose three channels
    are equal is a grey image stored as colour, and is read as that grey."""
    grey = np.repeat(_pattern()[..., None], 3, axis=-1)
    path = _colour(tmp_path, grey, photometric)
    (header,) = read_headers(path)
    np.testing.assert_allclose(read_pixels(path, header.layout)[0], _pattern(), atol=1)
    marked = grey.copy()
    marked[4:8, 4:20] = (255, 40, 40)  # a red measurement label
    path = _colour(tmp_path, marked, photometric)
    with pytest.raises(DicomReadError) as caught:
        read_headers(path)
    assert str(caught.value) == (
        f"colour image ({photometric}) with differing channels: a screenshot or colour-coded "
        "map, not an MR acquisition"
    )


def test_a_colour_image_in_a_study_is_one_skipped_line(tmp_path: Path) -> None:
    """In an ingest the colour image is one skipped file with its reason; the study is kept."""
    src = tmp_path / "src"
    spec = StudySpec(series={"4ch": "CINE_4CH"})
    folder = write_study(src, spec)
    marked = np.repeat(_pattern()[..., None], 3, axis=-1)
    marked[4:8, 4:20] = (255, 40, 40)
    _colour(folder, marked, "RGB", StudyInstanceUID=spec.study_uid)
    out = tmp_path / "out"
    ingest(src, out, frames=4, size=16)
    assert _report(out)[["path", "level"]].values.tolist() == [["[removed]/colour.dcm", "skipped"]]
    assert _views(out) == "4ch"


def _jpeg_lossless(tmp_path: Path, syntax: str, image: np.ndarray) -> Path:
    path, ds = _classic(tmp_path)
    ds.file_meta.TransferSyntaxUID = syntax
    ds.BitsStored, ds.HighBit = 12, 11
    ds.PixelData = encapsulate([encode(image, precision=12)])
    ds.save_as(path, enforce_file_format=True)
    return path


@pytest.mark.parametrize("syntax", [JPEGLosslessSV1, JPEGLossless], ids=[".70", ".57"])
def test_jpeg_lossless_decodes_with_the_runtime_plugin(tmp_path: Path, syntax: str) -> None:
    """PACS archives send JPEG Lossless (1.2.840.10008.1.2.4.70, and .57); the run-time
    requirements decode it through pylibjpeg-libjpeg. No installed package encodes it, so the
    test's own encoder writes the stream (``jpeg_lossless.py``), 12 bits over the full range."""
    image = (np.arange(40 * 32).reshape(40, 32) * 37 % 4096).astype(np.uint16)
    path = _jpeg_lossless(tmp_path, syntax, image)
    (header,) = read_headers(path)
    assert header.layout.offset is None  # decoded by pydicom's plugin, not read raw
    np.testing.assert_array_equal(read_pixels(path, header.layout)[0], image)


def test_jpeg_ls_near_lossless_decodes_within_its_error(tmp_path: Path) -> None:
    """JPEG-LS near-lossless (lossless is in test_dicom_read): each pixel within the error bound
    it was encoded with (pyjpegls encodes for the test)."""
    path, ds = _classic(tmp_path)
    ds.compress(JPEGLSNearLossless, _pattern(), jls_error=2)
    ds.save_as(path, enforce_file_format=True)
    decoded = read_pixels(path)[0]
    assert np.abs(decoded - _pattern().astype(np.float32)).max() <= 2


def test_a_missing_jpeg_lossless_decoder_names_every_package_that_would_decode_it(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where neither pylibjpeg-libjpeg nor GDCM is installed, the reason says to install one."""
    image = np.zeros((40, 32), np.uint16)
    path = _jpeg_lossless(tmp_path, JPEGLosslessSV1, image)
    (header,) = read_headers(path)
    decoder = get_decoder(JPEGLosslessSV1)
    monkeypatch.setattr(decoder, "_available", {})
    missing = {"pylibjpeg": ("pylibjpeg>=2.0", "pylibjpeg-libjpeg>=2.1"), "gdcm": ("gdcm>=3.0",)}
    monkeypatch.setattr(decoder, "_unavailable", missing)
    with pytest.raises(DicomReadError) as caught:
        read_pixels(path, header.layout)
    assert str(caught.value) == (
        f"no decoder installed for {JPEGLosslessSV1.name}: install pylibjpeg>=2.0 and "
        "pylibjpeg-libjpeg>=2.1; or gdcm>=3.0"
    )
