"""The ACDC NIfTI layout as users hold it: the release's nesting, mixed sources, damaged values."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd
from dicom_factory import write_study

from model.data.ingest import ingest

INFO = "ED: 1\nES: 5\nGroup: {group}\nHeight: 180.0\nNbFrame: 10\nWeight: 80.0\n"


def write_case(
    parent: Path, number: int, group: str | None = "DCM", volume: np.ndarray | None = None
) -> Path:
    """An ACDC case folder as the release ships it: the 4-D cine, ED/ES frames, ground truth."""
    case = parent / f"patient{number:03d}"
    case.mkdir(parents=True)
    if volume is None:
        volume = np.zeros((40, 36, 6, 10), np.float32)  # X, Y, slices, phases
        volume[10:30, 8:28] = np.linspace(100, 400, 10)
    affine = np.diag([1.5, 1.5, 10.0, 1.0])
    nib.save(nib.Nifti1Image(volume, affine), case / f"{case.name}_4d.nii.gz")
    for frame in (1, 5):
        phase = volume[..., frame - 1]
        nib.save(nib.Nifti1Image(phase, affine), case / f"{case.name}_frame{frame:02d}.nii.gz")
        mask = (phase > 0).astype(np.uint8)
        nib.save(nib.Nifti1Image(mask, affine), case / f"{case.name}_frame{frame:02d}_gt.nii.gz")
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
