"""The ACDC NIfTI layout as users hold it: the release's nesting, mixed sources, damaged values."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
import pytest
from dicom_factory import write_study

from model.data.ingest import ingest

INFO = "ED: 1\nES: 5\nGroup: {group}\nHeight: 180.0\nNbFrame: 10\nWeight: 80.0\n"
PIXEL_MM = 1.5


def release_image(volume: np.ndarray) -> nib.Nifti1Image:
    """``volume`` with the header the ACDC release has: an unscaled LPS sform, a scaled qform."""
    header = nib.Nifti1Header()
    header.set_data_shape(volume.shape)
    header.set_qform(np.diag([-PIXEL_MM, -PIXEL_MM, 10.0, 1.0]), code=1)
    header.set_sform(np.diag([-1.0, -1.0, 1.0, 1.0]), code=1)
    return nib.Nifti1Image(volume, None, header)


def write_case(
    parent: Path, number: int, group: str | None = "DCM", volume: np.ndarray | None = None
) -> Path:
    """An ACDC case folder as the release ships it: the 4-D cine, ED/ES frames, ground truth."""
    case = parent / f"patient{number:03d}"
    case.mkdir(parents=True)
    if volume is None:
        volume = np.zeros((40, 36, 6, 10), np.float32)  # X, Y, slices, phases
        volume[10:30, 8:28] = np.linspace(100, 400, 10)
    nib.save(release_image(volume), case / f"{case.name}_4d.nii.gz")
    for frame in (1, 5):
        phase = volume[..., frame - 1]
        nib.save(release_image(phase), case / f"{case.name}_frame{frame:02d}.nii.gz")
        mask = (phase > 0).astype(np.uint8)
        nib.save(release_image(mask), case / f"{case.name}_frame{frame:02d}_gt.nii.gz")
    if group is not None:
        (case / "Info.cfg").write_text(INFO.format(group=group))
    return case


def _report(out: Path) -> pd.DataFrame:
    return pd.read_csv(out / "ingest_report.csv", keep_default_na=False)


def test_the_release_folder_with_its_database_nesting_ingests(tmp_path: Path) -> None:
    """ACDC/database/{training,testing}/patientNNN: the folder a user unpacks and points at."""
    database = tmp_path / "ACDC" / "database"
    write_case(database / "training", 1, "DCM")
    write_case(database / "testing", 101, "hcm")
    out = tmp_path / "dataset"
    summary = ingest(tmp_path / "ACDC", out, site="acdc")
    assert summary.studies_written == 2 and summary.files_skipped == 0
    labels = pd.read_csv(out / "acdc_labels.csv").set_index("accession_number")
    assert labels.loc["patient001", "nicm"] == 1 and labels.loc["patient101", "hcm"] == 1


def test_dicom_beside_acdc_cases_is_ingested_too(tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_case(src, 1, "NOR")
    write_study(src / "dicom")
    out = tmp_path / "dataset"
    summary = ingest(src, out)
    studies = pd.read_parquet(out / "studies.parquet")
    assert summary.studies_written == 2
    assert sorted(studies["source"]) == ["dicom", "nifti"]
    assert set(pd.read_csv(out / "linkage.csv")["accession_number"]) == {"patient001", "ACC0001"}


def test_nan_voxels_are_background_and_reported(tmp_path: Path) -> None:
    volume = np.zeros((40, 36, 6, 10), np.float32)
    volume[10:30, 8:28] = np.linspace(100, 400, 10)
    volume[:4] = np.nan  # a resampling tool's outside-the-field marker
    write_case(tmp_path / "src", 1, volume=volume)
    out = tmp_path / "dataset"
    assert ingest(tmp_path / "src", out).studies_written == 1
    study_id = pd.read_csv(out / "linkage.csv")["study_id"][0]
    video = np.load(out / "tensors" / f"{study_id}.npy")
    assert video[:3].reshape(3, -1).max(axis=1).tolist() == [255, 255, 255]
    warnings = _report(out).query("level == 'warning'")["reason"].tolist()
    assert any("not a number" in reason for reason in warnings)


def test_a_case_without_a_valid_pixel_spacing_is_rejected(tmp_path: Path) -> None:
    case = write_case(tmp_path / "src", 1)
    image = nib.load(case / "patient001_4d.nii.gz")
    image.header["pixdim"][1:3] = np.nan
    nib.save(nib.Nifti1Image(np.asarray(image.dataobj), None, image.header), image.get_filename())
    out = tmp_path / "dataset"
    assert ingest(tmp_path / "src", out).studies_written == 0
    reasons = _report(out).query("level == 'rejected'")["reason"].tolist()
    assert reasons == ["patient001_4d.nii.gz has no valid pixel spacing"]


def test_a_case_without_a_diagnosis_label_says_why_in_the_report(tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_case(src, 1, group=None)
    write_case(src, 2, group="Athlete")
    out = tmp_path / "dataset"
    assert ingest(src, out).studies_written == 2
    warnings = _report(out).query("level == 'warning'").set_index("path")["reason"]
    assert "Info.cfg" in warnings["patient001"] and "no diagnosis label" in warnings["patient001"]
    assert "Athlete" in warnings["patient002"]


def test_a_volume_with_an_empty_dimension_is_rejected_with_its_shape(tmp_path: Path) -> None:
    src = tmp_path / "acdc"
    write_case(src, 1)
    write_case(src, 2, volume=np.zeros((40, 36, 0, 10), np.float32))  # no slices
    summary = ingest(src, tmp_path / "dataset")
    assert summary.studies_written == 1
    report = _report(tmp_path / "dataset")
    rejected = report[report["level"] == "rejected"]["reason"].tolist()
    assert rejected == ["patient002_4d.nii.gz has an empty dimension (shape (40, 36, 0, 10))"]


def _marked_volume() -> np.ndarray:
    """A cine whose block narrows base -> apex, with a marker at low x, low y of every slice."""
    volume = np.zeros((40, 36, 6, 10), np.float32)
    for level in range(volume.shape[2]):
        volume[10:30, 8 : 28 - 2 * level, level] = np.linspace(100, 400, 10)
    volume[11:15, 9:13] = 1000.0
    return volume


def _tensor(out: Path, case: str) -> np.ndarray:
    links = pd.read_csv(out / "linkage.csv").set_index("accession_number")
    return np.load(out / "tensors" / f"{links.loc[case, 'study_id']}.npy")


def test_the_release_layout_is_read_as_stored(tmp_path: Path) -> None:
    """ACDC's own cases keep their voxel order: x to the right, y downward, marker top-left."""
    write_case(tmp_path / "src", 1, volume=_marked_volume())
    out = tmp_path / "dataset"
    assert ingest(tmp_path / "src", out).studies_written == 1
    mid = _tensor(out, "patient001")[1, 0].astype(float)
    quarter = mid.shape[0] // 2
    assert mid[:quarter, :quarter].sum() > mid[quarter:, quarter:].sum()
    assert not _report(out)["reason"].str.contains("orientation").any()


def _reoriented(image: nib.Nifti1Image, how: str) -> nib.Nifti1Image:
    """The same acquisition saved in another voxel order, with the affine that says so."""
    orders = {
        "ras_flip": [[0, -1], [1, -1], [2, 1]],  # LPS vs RAS: x and y reversed
        "x_flip": [[0, -1], [1, 1], [2, 1]],
        "swapped_xy": [[1, 1], [0, 1], [2, 1]],
        "slices_reversed": [[0, 1], [1, 1], [2, -1]],
    }
    if how == "canonical":
        return nib.as_closest_canonical(image)
    return image.as_reoriented(np.array(orders[how]))


@pytest.mark.parametrize(
    "how", ["canonical", "ras_flip", "x_flip", "swapped_xy", "slices_reversed"]
)
def test_a_case_stored_in_another_voxel_order_gives_the_same_tensor(
    tmp_path: Path, how: str
) -> None:
    volume = _marked_volume()
    src = tmp_path / "src"
    write_case(src, 1, volume=volume)
    other = write_case(src, 2, volume=volume)
    consistent = nib.Nifti1Image(volume, np.diag([-PIXEL_MM, -PIXEL_MM, 10.0, 1.0]))
    nib.save(_reoriented(consistent, how), other / "patient002_4d.nii.gz")
    out = tmp_path / "dataset"
    assert ingest(src, out).studies_written == 2
    np.testing.assert_array_equal(_tensor(out, "patient002"), _tensor(out, "patient001"))
    studies = pd.read_parquet(out / "studies.parquet")
    assert studies["matrix"].nunique() == 1 and studies["pixel_spacing_mm"].nunique() == 1


@pytest.mark.parametrize(
    ("sform", "code", "why"),
    [
        (np.diag([0.0, 0.0, 0.0, 1.0]), 1, "singular or not finite"),
        (np.full((4, 4), np.nan), 1, "singular or not finite"),
        (None, 0, "no orientation"),
    ],
)
def test_a_case_whose_affine_cannot_be_used_is_read_as_stored_with_a_warning(
    tmp_path: Path, sform: np.ndarray | None, code: int, why: str
) -> None:
    volume = _marked_volume()
    src = tmp_path / "src"
    write_case(src, 1, volume=volume)
    other = write_case(src, 2, volume=volume)
    image = release_image(volume)
    image.header.set_sform(sform, code=code)
    image.header.set_qform(None, code=0)
    image.header.set_zooms((PIXEL_MM, PIXEL_MM, 10.0, 1.0))
    nib.save(image, other / "patient002_4d.nii.gz")
    out = tmp_path / "dataset"
    assert ingest(src, out).studies_written == 2
    np.testing.assert_array_equal(_tensor(out, "patient002"), _tensor(out, "patient001"))
    warnings = _report(out).query("level == 'warning'").set_index("path")["reason"]
    assert why in warnings[other.name] and "stored order" in warnings[other.name]


@pytest.mark.parametrize("zoom", [0.001, 50.0])
def test_a_case_with_an_implausible_pixel_spacing_is_rejected(tmp_path: Path, zoom: float) -> None:
    case = write_case(tmp_path / "src", 1)
    image = nib.load(case / "patient001_4d.nii.gz")
    image.header.set_zooms((zoom, zoom, 10.0, 1.0))
    nib.save(nib.Nifti1Image(np.asarray(image.dataobj), None, image.header), image.get_filename())
    out = tmp_path / "dataset"
    assert ingest(tmp_path / "src", out).studies_written == 0
    (reason,) = _report(out).query("level == 'rejected'")["reason"].tolist()
    assert f"pixel spacing {zoom:g} x {zoom:g} mm is outside" in reason


def _tilted(degrees: float) -> np.ndarray:
    """The release's voxel axes (x toward L, y toward P, 10 mm slices toward S) turned
    ``degrees`` about the anterior-posterior axis, as a converter keeping the scanner's
    oblique geometry writes a short-axis stack."""
    angle = np.radians(degrees)
    turn = np.array(
        [[np.cos(angle), 0, np.sin(angle)], [0, 1, 0], [-np.sin(angle), 0, np.cos(angle)]]
    )
    affine = np.eye(4)
    affine[:3, :3] = turn @ np.diag([-PIXEL_MM, -PIXEL_MM, 10.0])
    return affine


@pytest.mark.parametrize(
    ("degrees", "slices_first"),
    [(30.0, False), (50.0, False), (50.0, True)],
    ids=["nearest order kept", "past 45 degrees", "past 45 degrees, slices stored first"],
)
def test_an_oblique_short_axis_case_is_read_in_the_nearest_order_and_said(
    tmp_path: Path, degrees: float, slices_first: bool
) -> None:
    """A tilted affine was read in the nearest axis order without a word; tilted past 45
    degrees, that order took an in-plane axis for the slices and read the stack cut across
    (6 x 36 'slices' of 10 x 1.5 mm) as short axis. Its slices stay the stack's (its thickest
    voxel side, wherever stored), and one line says it was oblique."""
    volume = _marked_volume()
    src = tmp_path / "src"
    write_case(src, 1, volume=volume)
    other = write_case(src, 2, volume=volume)
    image = nib.Nifti1Image(volume, _tilted(degrees))
    if slices_first:  # the same voxels and geometry, the slice axis stored first
        order = [2, 0, 1]
        stored = np.ascontiguousarray(volume.transpose(*order, 3))
        image = nib.Nifti1Image(stored, _tilted(degrees)[:, [*order, 3]])
    nib.save(image, other / "patient002_4d.nii.gz")
    out = tmp_path / "dataset"
    assert ingest(src, out).studies_written == 2
    np.testing.assert_array_equal(_tensor(out, "patient002"), _tensor(out, "patient001"))
    warnings = _report(out).query("level == 'warning'").set_index("path")["reason"]
    assert warnings[other.name].startswith("the affine is oblique, tilted up to ")
    assert f"slices along its axis {1 if slices_first else 3}" in warnings[other.name]
    assert pd.read_parquet(out / "studies.parquet")["matrix"].tolist() == ["36x40", "36x40"]
