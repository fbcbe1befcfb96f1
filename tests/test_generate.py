"""Generator output: layout, determinism across workers, resume, DICOM tags, labels, PHI."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest

import sample_data.generate as generate_module
from model.cli import main as cli_main
from model.errors import UserError
from model.schema import DIAGNOSES, FINDINGS
from sample_data.generate import generate
from sample_data.sites import INTERNAL, series_descriptions

AXIS = np.array([1.0, -1.0, -1.0]) / np.sqrt(3.0)
REQUIRED_TAGS = (
    "Modality", "Manufacturer", "MagneticFieldStrength", "StudyInstanceUID", "SeriesInstanceUID",
    "SOPInstanceUID", "SOPClassUID", "AccessionNumber", "PatientName", "PatientID",
    "PatientBirthDate", "PatientSex", "PatientAge", "PatientAddress", "InstitutionName",
    "ReferringPhysicianName", "SeriesDescription", "TriggerTime", "CardiacNumberOfImages",
    "InstanceNumber", "ImagePositionPatient", "ImageOrientationPatient", "PixelSpacing",
    "SliceThickness", "RescaleSlope", "RescaleIntercept", "WindowCenter", "WindowWidth",
)  # fmt: skip


@pytest.fixture(scope="module")
def internal_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "internal"
    generate(out, studies=5, site="internal", seed=11, workers=1)
    return out


@pytest.fixture(scope="module")
def external_run(tmp_path_factory) -> Path:
    out = tmp_path_factory.mktemp("gen") / "external"
    generate(out, studies=2, site="external", seed=11, workers=1)
    return out


def _files(root: Path) -> dict[str, bytes]:
    return {
        str(p.relative_to(root)): p.read_bytes()
        for sub in ("dicom", "masks")
        for p in sorted((root / sub).rglob("*"))
        if p.is_file()
    }


def _series(root: Path) -> dict[str, list[pydicom.Dataset]]:
    by_series: dict[str, list[pydicom.Dataset]] = {}
    for path in sorted((root / "dicom").rglob("*.dcm")):
        ds = pydicom.dcmread(path)
        by_series.setdefault(ds.SeriesInstanceUID, []).append(ds)
    return by_series


def test_layout_and_label_tables(internal_run: Path) -> None:
    for name in ("reports.csv", "labels.csv", "ground_truth.csv", "phi.json"):
        assert (internal_run / name).is_file()
    assert not list(internal_run.parent.glob("*.partial"))
    labels = pd.read_csv(internal_run / "labels.csv", dtype={"accession_number": str})
    assert list(labels.columns) == ["accession_number", *FINDINGS, *DIAGNOSES]
    assert set(np.unique(labels[list(FINDINGS) + list(DIAGNOSES)].to_numpy())) <= {0, 1}
    assert (labels[list(DIAGNOSES)].sum(axis=1) == 1).all()
    reports = pd.read_csv(internal_run / "reports.csv", dtype={"accession_number": str})
    assert list(reports.columns) == ["accession_number", "report"]
    assert reports.accession_number.tolist() == labels.accession_number.tolist()
    assert len(list((internal_run / "masks").glob("*.npz"))) == 5
    assert len(list((internal_run / "dicom").iterdir())) == 5


def test_same_seed_same_bytes_whatever_the_workers(internal_run: Path, tmp_path: Path) -> None:
    out = tmp_path / "two_workers"
    generate(out, studies=3, site="internal", seed=11, workers=2)
    reference = _files(internal_run)
    produced = _files(out)
    assert produced and all(reference[name] == data for name, data in produced.items())
    ours = pd.read_csv(out / "reports.csv", dtype=str)
    theirs = pd.read_csv(internal_run / "reports.csv", dtype=str).head(3)
    pd.testing.assert_frame_equal(ours, theirs)


def test_other_seed_differs(internal_run: Path, tmp_path: Path) -> None:
    generate(tmp_path / "other", studies=1, site="internal", seed=12)
    other = pd.read_csv(tmp_path / "other" / "reports.csv", dtype=str)
    assert other.report[0] != pd.read_csv(internal_run / "reports.csv", dtype=str).report[0]


def test_interrupted_run_is_not_complete_and_resumes(
    internal_run: Path, tmp_path: Path, monkeypatch
) -> None:
    real = generate_module.make_study

    def stop_at_second(request):
        if request.index == 1:
            raise KeyboardInterrupt
        return real(request)

    monkeypatch.setattr(generate_module, "make_study", stop_at_second)
    out = tmp_path / "resumed"
    with pytest.raises(KeyboardInterrupt):
        generate(out, studies=2, site="internal", seed=11)
    assert not out.exists() and (tmp_path / "resumed.partial").is_dir()
    monkeypatch.setattr(generate_module, "make_study", real)
    generate(out, studies=2, site="internal", seed=11)
    reference = _files(internal_run)
    assert all(reference[name] == data for name, data in _files(out).items())
    assert not (tmp_path / "resumed.partial").exists()


def test_dicom_tags_and_geometry(internal_run: Path) -> None:
    series = _series(internal_run)
    descriptions = set()
    for datasets in series.values():
        first = datasets[0]
        descriptions.add(first.SeriesDescription)
        for tag in REQUIRED_TAGS:
            assert tag in first, f"{tag} missing from {first.SeriesDescription}"
        assert first.Modality == "MR" and first.Manufacturer == INTERNAL.manufacturer
        assert first.pixel_array.shape == (INTERNAL.rows, INTERNAL.cols)
        if first.SeriesDescription.startswith("LGE"):
            assert all(float(ds.InversionTime) > 0 for ds in datasets)
        else:
            assert int(first.CardiacNumberOfImages) == INTERNAL.cine_phases
    assert descriptions <= set(series_descriptions(INTERNAL))
    study_sax = [d for d in series.values() if d[0].SeriesDescription == "CINE_SAX"][0]
    assert len(study_sax) == 3 * INTERNAL.cine_phases
    study_sax.sort(key=lambda ds: int(ds.InstanceNumber))
    depth = [
        float(np.asarray(ds.ImagePositionPatient, float) @ AXIS)
        for ds in study_sax[:: INTERNAL.cine_phases]
    ]
    assert depth == sorted(depth), "SAX base -> apex must increase along (1,-1,-1)/sqrt(3)"
    trigger = [float(ds.TriggerTime) for ds in study_sax[: INTERNAL.cine_phases]]
    assert trigger == sorted(trigger) and trigger[0] == 0.0


def test_external_site_differs(internal_run: Path, external_run: Path) -> None:
    internal = next(iter(_series(internal_run).values()))[0]
    external_series = _series(external_run)
    external = next(iter(external_series.values()))[0]
    assert float(external.MagneticFieldStrength) != float(internal.MagneticFieldStrength)
    assert list(map(float, external.PixelSpacing)) != list(map(float, internal.PixelSpacing))
    assert (external.Rows, external.Columns) != (internal.Rows, internal.Columns)
    names = {d[0].SeriesDescription for d in external_series.values()}
    assert {"FIESTA SA 1", "FIESTA SA 2", "FIESTA SA 3", "MDE SA", "FIESTA LVOT"} <= names
    cine = [d for d in external_series.values() if d[0].SeriesDescription == "FIESTA 4CH"][0]
    assert int(cine[0].CardiacNumberOfImages) == len(cine) != INTERNAL.cine_phases


def test_findings_follow_parameters(internal_run: Path, external_run: Path) -> None:
    for run in (internal_run, external_run):
        truth = pd.read_csv(run / "ground_truth.csv", dtype={"accession_number": str})
        labels = pd.read_csv(run / "labels.csv", dtype={"accession_number": str})
        expected = pd.DataFrame({
            "lv_dysfunction": truth.lv_ef < 50,
            "lv_dilation": truth.lv_edd_mm >= 58,
            "lv_hypertrophy": truth.max_wall_mm >= 13,
            "rv_dilation": truth.rv_edv_ml >= 190,
            "rv_dysfunction": truth.rv_ef < 45,
            "lge": truth.lge_pattern != "none",
            "pericardial_effusion": truth.effusion_mm >= 5,
        }).astype(int)  # fmt: skip
        pd.testing.assert_frame_equal(labels[list(FINDINGS)], expected, check_dtype=False)
        diagnosis = labels[list(DIAGNOSES)].idxmax(axis=1)
        assert diagnosis.tolist() == truth.diagnosis.tolist()


def test_phi_json_lists_every_planted_value(internal_run: Path) -> None:
    phi = json.loads((internal_run / "phi.json").read_text())
    values = set(phi["values"])
    for datasets in _series(internal_run).values():
        ds = datasets[0]
        for tag in ("PatientName", "PatientID", "PatientBirthDate", "PatientAddress",
                    "ReferringPhysicianName"):  # fmt: skip
            assert str(ds.data_element(tag).value) in values
    reports = pd.read_csv(internal_run / "reports.csv", dtype=str)
    for accession, report in zip(reports.accession_number, reports.report, strict=True):
        header = report.split("FINDINGS:")[0]
        assert sum(v in header for v in phi["studies"][accession]) >= 3


def test_masks_match_images(internal_run: Path) -> None:
    path = sorted((internal_run / "masks").glob("*.npz"))[0]
    with np.load(path) as masks:
        assert masks["sax_mid"].shape == (INTERNAL.cine_phases, INTERNAL.rows, INTERNAL.cols)
        assert masks["lge_sax"].shape == (INTERNAL.lge_sax_slices, INTERNAL.rows, INTERNAL.cols)
        assert masks["lge_4ch"].shape == (1, INTERNAL.rows, INTERNAL.cols)
        assert list(masks["label_names"][:3]) == ["background", "lv_cavity", "lv_myocardium"]
        assert (masks["4ch"] == 1).any() and (masks["4ch"] == 3).any()


def test_bad_input_is_a_user_error(internal_run: Path, tmp_path: Path, capsys) -> None:
    with pytest.raises(UserError, match="already exists"):
        generate(internal_run, studies=1, site="internal", seed=1)
    with pytest.raises(UserError, match="at least 1"):
        generate(tmp_path / "x", studies=0, site="internal", seed=1)
    with pytest.raises(UserError, match="unknown site"):
        generate(tmp_path / "x", studies=1, site="mars", seed=1)
    code = cli_main(["generate", "--out", str(internal_run), "--studies", "1", "--seed", "1"])
    assert code == 2


def test_missing_views_and_progress_file(tmp_path: Path, monkeypatch) -> None:
    progress = tmp_path / "progress.json"
    monkeypatch.setenv("CMR_PROGRESS_FILE", str(progress))
    out = tmp_path / "missing"
    generate(out, studies=1, site="external", seed=3, missing_view_rate=1.0)
    missing = pd.read_csv(out / "ground_truth.csv").missing_view[0]
    with np.load(next((out / "masks").glob("*.npz"))) as masks:
        assert missing not in masks.files and len(masks.files) == 9  # 8 slots + label_names
    state = json.loads(progress.read_text())
    assert state["stage"] == "generate" and state["done"] == state["total"] == 1
