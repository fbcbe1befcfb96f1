"""Single images as real PACS exports hold them, beyond the synthetic generator's: colour MR
images."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dicom_factory import StudySpec, write_study
from pydicom.pixels import convert_color_space
from test_dicom_read import _classic, _pattern

from model.data.dicom_read import DicomReadError, read_headers, read_pixels
from model.data.ingest import ingest


def _report(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "ingest_report.csv", dtype=str, keep_default_na=False)


def _views(out: Path) -> str:
    return pd.read_parquet(out / "studies.parquet").iloc[0].views


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
