"""The ACDC NIfTI layout as users hold it: the release's nesting, mixed sources, damaged values."""

from __future__ import annotations

from pathlib import Path

import nibabel as nib
import numpy as np
import pandas as pd

from model.data.ingest import ingest
from tests.dicom_factory import write_study

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
