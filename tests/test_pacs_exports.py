"""Files as real PACS exports write them, beyond the synthetic generator's: a Part 10 file whose
file meta names no transfer syntax, secondary captures and colour-coded images among a study's
MR images, and compressed files read where no decoder for their syntax is installed."""

from __future__ import annotations

import os
import re
import unicodedata
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
from dicom_factory import StudySpec, base_dataset, write_image, write_study
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.filebase import DicomBytesIO
from pydicom.filewriter import write_dataset, write_file_meta_info
from pydicom.pixels.decoders.base import get_decoder
from pydicom.uid import JPEG2000Lossless, SecondaryCaptureImageStorage, generate_uid
from test_dicom_read import COLS, ROWS, _pattern
from test_dicom_read import _classic as _classic_image

from model.data.dicom_read import DicomReadError, read_headers, read_pixels
from model.data.ingest import ingest
from model.data.series import build_series, pooled_locations, select_sax_levels


def _classic(tmp_path: Path, **tags) -> tuple[Path, Dataset]:
    """``test_dicom_read``'s classic MR image, read back with the file meta it was written with."""
    path, _ = _classic_image(tmp_path, **tags)
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


def test_a_secondary_capture_of_a_cine_is_not_read_as_one(tmp_path: Path) -> None:
    """A viewer's screenshot saved into the study keeps its modality, description and geometry;
    read as an image it took the place of the short-axis slice it showed."""
    path, ds = _classic(tmp_path)
    ds.SOPClassUID = ds.file_meta.MediaStorageSOPClassUID = SecondaryCaptureImageStorage
    ds.SamplesPerPixel, ds.PhotometricInterpretation, ds.PlanarConfiguration = 3, "RGB", 0
    ds.BitsAllocated, ds.BitsStored, ds.HighBit = 8, 8, 7
    ds.PixelData = np.zeros((ROWS, COLS, 3), np.uint8).tobytes()
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(DicomReadError, match="secondary capture"):
        read_headers(path)


def test_a_palette_colour_map_is_not_read_as_an_image(tmp_path: Path) -> None:
    """A colour-coded map stores palette indices, not signal."""
    path, ds = _classic(tmp_path)
    ds.PhotometricInterpretation = "PALETTE COLOR"
    ds.save_as(path, enforce_file_format=True)
    with pytest.raises(DicomReadError, match="palette colour image"):
        read_headers(path)


def test_a_missing_decoder_is_named_with_what_to_install(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Where no JPEG 2000 decoder is installed, pydicom lists the packages that would decode the
    file on lines after its first; the report's reason, its first line alone, named none."""
    path, ds = _classic(tmp_path)
    ds.compress(JPEG2000Lossless, _pattern())
    ds.save_as(path, enforce_file_format=True)
    (header,) = read_headers(path)
    decoder = get_decoder(JPEG2000Lossless)
    monkeypatch.setattr(decoder, "_available", {})
    missing = {"pylibjpeg": ("pylibjpeg>=2.0", "pylibjpeg-openjpeg>=2.0")}
    monkeypatch.setattr(decoder, "_unavailable", missing)
    with pytest.raises(DicomReadError) as caught:
        read_pixels(path, header.layout)
    assert str(caught.value) == (
        "no decoder installed for JPEG 2000 Image Compression (Lossless Only): "
        "install pylibjpeg>=2.0 and pylibjpeg-openjpeg>=2.0"
    )


def test_a_file_cut_short_in_its_header_is_named_truncated(tmp_path: Path) -> None:
    """A copy interrupted inside the header: pydicom reads the elements before the cut without
    complaint, and the reason named only the missing UIDs, as of a file that never had them."""
    path, _ = _classic(tmp_path)
    path.write_bytes(path.read_bytes()[:600])
    with pytest.raises(DicomReadError, match="no pixel data: a truncated file"):
        read_headers(path)


def test_phases_without_any_order_tag_are_not_said_to_be_ordered_by_instance(
    tmp_path: Path,
) -> None:
    """An anonymiser that strips TriggerTime, TemporalPositionIdentifier and InstanceNumber
    leaves the phases in the order of their files' names; the warning said InstanceNumber."""
    spec = StudySpec(rows=ROWS, cols=COLS, spacing=1.25)
    series = generate_uid()
    for name in ("b.dcm", "c.dcm", "a.dcm"):
        ds = base_dataset(spec, series, "CINE_SAX", 3)
        ds.ImagePositionPatient, ds.ImageOrientationPatient = [1, 2, 3], [1, 0, 0, 0, 1, 0]
        for keyword in ("TriggerTime", "TemporalPositionIdentifier", "InstanceNumber"):
            if keyword in ds:
                delattr(ds, keyword)
        write_image(ds, _pattern(), tmp_path / name)
    headers = [h for path in sorted(tmp_path.iterdir()) for h in read_headers(path)]
    stack = build_series(headers)
    assert [Path(h.path).name for h in stack.locations[0].images] == ["a.dcm", "b.dcm", "c.dcm"]
    assert stack.warnings == [
        "missing TriggerTime, no distinct TemporalPositionIdentifier or InstanceNumber: "
        "phases in file order (may be wrong)"
    ]


@pytest.mark.parametrize(
    ("name", "code_page"), [("Müller^Zoë", "cp1252"), ("Wang^Xiaoming=王^小明", "gbk")]
)
def test_a_folder_named_in_a_legacy_code_page_is_ingested_and_scrubbed(
    tmp_path: Path, name: str, code_page: str
) -> None:
    """An old export's folders named after the patient in its code page, not UTF-8: Python lists
    them with surrogate escapes, which no CSV or Parquet file stores, and the whole ingest ended
    in a UnicodeEncodeError as it wrote the report; read in the code page, the name is scrubbed."""
    spec = StudySpec(series={"4ch": "CINE_4CH"}, charset="ISO_IR 192", patient_name=name)
    family, given = name.split("=")[-1].split("^")
    folder_name = os.fsdecode(f"{family}_{given}".encode(code_page))
    folder = write_study(tmp_path / "src" / folder_name, spec)
    (folder / "notes.txt").write_text("not dicom")
    out = tmp_path / "dataset"
    summary = ingest(tmp_path / "src", out, frames=4, size=16)
    assert summary.studies_written == 1
    report = pd.read_csv(out / "ingest_report.csv", dtype=str)
    assert report["path"].tolist() == ["[removed]_[removed]/[removed]/notes.txt"]


@pytest.mark.parametrize("name", ["Müller^Zoë", "Yamada^Daisuke=山田^大輔=ヤマダ^ダイスケ"])
def test_a_folder_name_macos_wrote_decomposed_is_scrubbed(tmp_path: Path, name: str) -> None:
    """A Mac stores and zips file names decomposed (NFD: ``ü`` as ``u`` + a combining diaeresis,
    ``ダ`` as ``タ`` + a voicing mark), the DICOM header composed: the name in the folder's
    spelling matched no identifier and stayed in the report."""
    spec = StudySpec(series={"4ch": "CINE_4CH"}, charset="ISO_IR 192", patient_name=name)
    family, given = name.split("=")[-1].split("^")
    folder = write_study(tmp_path / "src" / unicodedata.normalize("NFD", f"{family}_{given}"), spec)
    (folder / "notes.txt").write_text("not dicom")
    out = tmp_path / "dataset"
    ingest(tmp_path / "src", out, frames=4, size=16)
    report = pd.read_csv(out / "ingest_report.csv", dtype=str)
    assert report["path"].tolist() == ["[removed]_[removed]/[removed]/notes.txt"]


@pytest.mark.parametrize(
    ("name", "folder_name"),
    [("Müller^Zoë", "MULLER_ZOE"), ("Müller^Zoë", "Mueller Zoe"), ("Dvořák^Jiří", "DVORAK^JIRI")],
)
def test_a_folder_named_after_the_patient_in_ascii_is_scrubbed(
    tmp_path: Path, name: str, folder_name: str
) -> None:
    """Exporters write folder names in ASCII, dropping diacritics (or writing German umlauts as
    ue): the header's ``Müller^Zoë`` matched no part of ``MULLER_ZOE``, which stayed whole."""
    spec = StudySpec(series={"4ch": "CINE_4CH"}, charset="ISO_IR 192", patient_name=name)
    folder = write_study(tmp_path / "src" / folder_name, spec)
    (folder / "notes.txt").write_text("not dicom")
    out = tmp_path / "dataset"
    ingest(tmp_path / "src", out, frames=4, size=16)
    [path] = pd.read_csv(out / "ingest_report.csv", dtype=str)["path"]
    assert "[removed]" in path and not {"MULLER", "ZOE", "DVORAK", "JIRI"} & {
        word.upper() for word in re.findall(r"[A-Za-z]+", path)
    }, path


@pytest.mark.parametrize("written", ["18-SEP-1985", "18Sep1985", "Sep 18, 1985"])
def test_a_birth_date_with_its_month_in_words_is_scrubbed_from_folder_names(
    tmp_path: Path, written: str
) -> None:
    """Some exports name a patient's folder with the birth date's month in words, which the
    scrub of dates written in digits did not read."""
    spec = StudySpec(series={"4ch": "CINE_4CH"}, birth_date="19850918")
    folder = write_study(tmp_path / "src" / f"case {written}", spec)
    (folder / "notes.txt").write_text("not dicom")
    out = tmp_path / "dataset"
    ingest(tmp_path / "src", out, frames=4, size=16)
    [path] = pd.read_csv(out / "ingest_report.csv", dtype=str)["path"]
    assert path == "case [removed]/[removed]/notes.txt"


def test_a_sax_slice_an_export_left_a_phase_short_is_left_out_not_the_stack(
    tmp_path: Path,
) -> None:
    """An export that dropped one image of a short-axis cine (one slice a phase short) rejected
    the whole stack ("inconsistent phase counts"), and the study lost all three SAX views: the
    complete slices are kept, and the incomplete one is named in the report."""
    src = tmp_path / "src"
    folder = write_study(src, StudySpec(sax_slices=7, series={"sax": "CINE_SAX"}))
    sax = sorted(folder.glob("002_*.dcm"))  # 7 slices x 6 phases, slice by slice
    assert len(sax) == 42
    sax[3 * 6 + 2].unlink()  # a phase of the middle slice, slice 4 from either end
    headers = [h for path in sorted(folder.glob("002_*.dcm")) for h in read_headers(path)]
    stack = build_series(headers)
    assert [location.complete for location in stack.locations] == [True] * 3 + [False] + [True] * 3
    levels = select_sax_levels(pooled_locations([stack])[0])
    # mid (50 %) falls on the incomplete slice and takes its nearer free complete neighbour
    assert [location for location, _ in levels.values()] == [
        stack.locations[index] for index in (1, 2, 5)
    ]
    out = tmp_path / "dataset"
    assert ingest(src, out).studies_written == 1
    report = pd.read_csv(out / "ingest_report.csv", dtype=str, keep_default_na=False)
    assert "rejected" not in set(report["level"])
    [line] = report.query("reason.str.contains('left out')", engine="python")["reason"]
    assert line.startswith("1 of 7 slices (numbered base to apex) left out") and line.endswith(
        "slice 4 (5 phases)"
    )
    row = pd.read_parquet(out / "studies.parquet").iloc[0]
    assert row.views == "sax_base,sax_mid,sax_apex"
