"""Ingest of small factory-made DICOM studies: outputs, idempotence, append, de-identification,
bad input reported per file or series (never a traceback), locking and settings checks."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import numpy as np
import pandas as pd
import pydicom
import pytest
from dicom_factory import StudySpec, base_dataset, write_image, write_study
from pydicom.uid import generate_uid

from model.cli import main
from model.data.ingest import ingest
from model.data.store import LOCK_FILE
from model.errors import DataError, UserError
from model.file_lock import FileLock
from model.schema import VIEW_SLOTS

PHI = ["Doe^Jane", "Doe", "PID0001", "19700101", "Fake General Hospital"]


def _report(path: Path) -> pd.DataFrame:
    return pd.read_csv(path / "ingest_report.csv", dtype=str, keep_default_na=False)


def _two_studies(src: Path) -> Path:
    write_study(src, StudySpec())
    write_study(
        src,
        StudySpec(
            accession="ACC0002",
            patient_id="PID0002",
            spacing=4.0,
            rows=64,
            cols=64,
            one_series_per_sax_slice=True,
            study_uid=generate_uid(),
        ),
    )
    return src


@pytest.fixture()
def source(tmp_path: Path) -> Path:
    return _two_studies(tmp_path / "src dir ünïcode")


@pytest.fixture(scope="module")
def ingested(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """One dataset ingested from two studies (6 mm and 4 mm pixels) with a report for ACC0001."""
    root = tmp_path_factory.mktemp("ingested")
    src = _two_studies(root / "src dir ünïcode")
    reports = root / "reports.csv"
    text = "Patient: Jane Doe MRN PID0001\nFINDINGS:\nBig LV.\nIMPRESSION:\n1. Dilated LV\n2. Seen by Doe.\n"
    pd.DataFrame({"accession_number": ["ACC0001"], "report": [text]}).to_csv(reports, index=False)
    summary = ingest(src, root / "dataset", reports=reports, site="external")
    assert summary.studies_written == 2 and summary.files_skipped == 0
    return root / "dataset"


def test_ingest_writes_the_documented_dataset(ingested: Path) -> None:
    out = ingested
    for name in ("studies.parquet", "linkage.csv", "ingest_report.csv", "dataset.json"):
        assert (out / name).is_file(), name
    studies = pd.read_parquet(out / "studies.parquet")
    assert set(studies["site"]) == {"external"}
    assert set(studies["split"]) <= {"train", "val", "test"}
    for _, row in studies.iterrows():
        video = np.load(out / "tensors" / f"{row.study_id}.npy")
        assert video.shape == (len(VIEW_SLOTS), 16, 64, 64) and video.dtype == np.uint8
        assert list(row.view_frames) == [16, 16, 16, 16, 16, 0, 3, 0, 0]
        assert row.views == "sax_base,sax_mid,sax_apex,4ch,2ch,lge_sax"
        assert not video[5].any() and not video[6, 3:].any() and video[6, :3].any()
    linkage = pd.read_csv(out / "linkage.csv")
    study_of = dict(zip(linkage.accession_number, linkage.study_id, strict=True))
    impressions = studies.set_index("study_id")["impression"]
    assert impressions[study_of["ACC0001"]] == "Dilated LV. Seen by [removed]."
    assert impressions[study_of["ACC0002"]] == ""
    assert studies["age_band"].tolist() == ["50-59", "50-59"]


def test_no_phi_in_any_output(ingested: Path) -> None:
    for path in ingested.rglob("*"):
        if path.is_file() and path.name != "linkage.csv":
            data = path.read_bytes()
            for value in PHI:
                assert value.encode() not in data, (value, path.name)
    assert b"ACC0001" not in (ingested / "studies.parquet").read_bytes()


def test_series_named_after_the_patient_leave_no_phi_in_the_report(tmp_path: Path) -> None:
    """Technologists sometimes type the patient into a SeriesDescription; the report's series
    column is scrubbed like its reasons."""
    spec = StudySpec(series={"sax": "CINE_SAX"})
    folder = write_study(tmp_path / "src", spec)
    ds = base_dataset(spec, generate_uid(), "Doe Jane scout PID0001", 40)
    ds.ImageOrientationPatient, ds.ImagePositionPatient = [1, 0, 0, 0, 1, 0], [0, 0, 0]
    write_image(ds, np.zeros((spec.rows, spec.cols)), folder / "scout.dcm")
    out = tmp_path / "dataset"
    ingest(tmp_path / "src", out, frames=4, size=16)
    rejected = _report(out).query("level == 'rejected'")
    assert rejected["series"].tolist() == ["40 [removed] [removed] scout [removed]"]
    data = (out / "ingest_report.csv").read_bytes()
    assert not [value for value in PHI if value.lower().encode() in data.lower()]


def test_a_name_in_a_cyrillic_character_set_is_scrubbed(tmp_path: Path) -> None:
    """ISO_IR 144 headers: the report's and the export folder's spelling of the name go."""
    name = "Иванов^Пётр"
    spec = StudySpec(series={"4ch": "CINE_4CH"}, charset="ISO_IR 144", patient_name=name)
    write_study(tmp_path / "src" / "Иванов Пётр", spec)
    (tmp_path / "src" / "Иванов Пётр" / "notes.txt").write_text("not dicom")
    reports = tmp_path / "reports.csv"
    text = "IMPRESSION: Иванов Пётр: dilated LV."
    pd.DataFrame({"accession_number": ["ACC0001"], "report": [text]}).to_csv(reports, index=False)
    out = tmp_path / "dataset"
    ingest(tmp_path / "src", out, reports=reports, frames=4, size=16)
    impression = pd.read_parquet(out / "studies.parquet").impression.iloc[0]
    assert impression == "[removed] [removed]: dilated LV."
    for path in out.rglob("*"):
        if path.is_file():
            assert not {"Иванов", "Пётр"} & set(path.read_text(errors="ignore").split()), path


def test_studies_without_a_matching_report_are_named(tmp_path: Path, caplog) -> None:
    """With --reports, a study whose accession is missing from the CSV, absent from its headers,
    or whose report has no impression gets a warning line (training leaves it out)."""
    src, reports = tmp_path / "src", tmp_path / "reports.csv"
    for number, accession in enumerate(("ACC0001", "ACC0002", "", "ACC0004")):
        spec = StudySpec(accession=accession, patient_id=f"PID{number}", series={"4ch": "CINE"})
        write_study(src / str(number), spec)
    texts = {"ACC0001": "IMPRESSION: Normal LV.", "ACC0004": "FINDINGS: LV normal.", "X9": ""}
    pd.DataFrame({"accession_number": list(texts), "report": list(texts.values())}).to_csv(
        reports, index=False
    )
    out = tmp_path / "dataset"
    summary = ingest(src, out, reports=reports, frames=4, size=16)
    assert summary.studies_written == 4 and summary.warnings == 3
    warnings = _report(out).query("level == 'warning'")
    linkage = pd.read_csv(out / "linkage.csv", dtype=str, keep_default_na=False)
    accession_of = dict(zip(linkage.study_id, linkage.accession_number, strict=True))
    reasons = dict(zip(warnings.study_id.map(accession_of), warnings.reason, strict=True))
    assert set(reasons) == {"ACC0002", "", "ACC0004"}
    assert "no report for its AccessionNumber" in reasons["ACC0002"]
    assert "no AccessionNumber" in reasons[""] and "no IMPRESSION" in reasons["ACC0004"]
    assert "3 of 4 studies written have no report impression" in caplog.text


def test_reports_and_labels_kept_beside_the_images_are_not_reported_as_skipped(
    tmp_path: Path,
) -> None:
    """An export copied whole (a zip imported from the dashboard) holds its reports and labels
    CSV beside the images: given to ingest, they are its inputs, not files it skipped."""
    src = tmp_path / "export"
    write_study(src / "images", StudySpec(accession="ACC0001", series={"4ch": "CINE"}))
    reports, labels = src / "reports.csv", src / "labels.csv"
    reports.write_text("accession_number,report\nACC0001,IMPRESSION: Normal LV.\n")
    labels.write_text("accession_number,lge\nACC0001,0\n")
    (src / "notes.csv").write_text("a stray file\n")
    out = tmp_path / "dataset"
    summary = ingest(src, out, reports=reports, labels=labels, frames=4, size=16)
    assert summary.studies_written == 1
    assert _report(out)["path"].tolist() == ["notes.csv"]  # the stray file is still named


def test_phase_order_and_millimetres_survive(ingested: Path) -> None:
    """The factory disc shrinks mid-cycle; 6 mm and 4 mm spacing must give the same disc in mm."""
    areas = []
    for study_id in pd.read_parquet(ingested / "studies.parquet")["study_id"]:
        mid = np.load(ingested / "tensors" / f"{study_id}.npy")[1].astype(float)
        bright = (mid > 127).sum(axis=(1, 2))
        assert bright[0] > bright[8] and bright[0] >= bright.max() - 4  # end-diastole first
        areas.append(bright[0] * (224 / 64) ** 2)
    assert abs(areas[0] - areas[1]) / max(areas) < 0.12
    assert abs(areas[0] - np.pi * 30.0**2) / (np.pi * 30.0**2) < 0.15


def test_rerun_is_idempotent_and_other_folder_appends(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "dataset"
    first = ingest(source, out)
    before = pd.read_parquet(out / "studies.parquet")
    again = ingest(source, out)
    after = pd.read_parquet(out / "studies.parquet")
    assert sorted(first.study_ids) == sorted(again.study_ids)
    pd.testing.assert_frame_equal(
        before.sort_values("study_id").reset_index(drop=True),
        after.sort_values("study_id").reset_index(drop=True),
    )
    assert len(pd.read_csv(out / "linkage.csv")) == 2
    other = tmp_path / "other"
    write_study(other, StudySpec(accession="ACC0003", patient_id="PID0003"))
    summary = ingest(other, out)
    assert summary.studies_written == 1 and summary.studies_total == 3
    assert len(set(pd.read_parquet(out / "studies.parquet")["study_id"])) == 3


def test_bad_files_are_reported_not_raised(source: Path, tmp_path: Path) -> None:
    (source / "notes.txt").write_text("not dicom")
    (source / "empty sub").mkdir()
    good = next(source.rglob("*.dcm"))
    shutil.copy(good, source / "duplicate copy.dcm")
    truncated = source / "truncated.dcm"
    truncated.write_bytes(good.read_bytes()[:-200])
    ct = pydicom.dcmread(good)
    ct.Modality = "CT"
    ct.SOPInstanceUID = generate_uid()
    ct.save_as(source / "ct.dcm")
    out = tmp_path / "dataset"
    summary = ingest(source, out)
    report = _report(out)
    reasons = " | ".join(report["reason"])
    for expected in (
        "not a DICOM",
        "empty folder",
        "duplicate instance",
        "truncated",
        "modality CT",
    ):
        assert expected in reasons, expected
    assert summary.studies_written == 2 and summary.files_skipped >= 4


def test_bad_series_are_rejected_and_good_views_kept(tmp_path: Path) -> None:
    src = tmp_path / "src"
    spec = StudySpec(trigger_times=False)
    folder = write_study(src, spec)
    # a 4CH series whose second image has another matrix size
    files = sorted(
        p for p in folder.glob("*.dcm") if pydicom.dcmread(p).SeriesDescription == "CINE_4CH"
    )
    odd = pydicom.dcmread(files[1])
    odd.Rows, odd.Columns = 8, 8
    odd.PixelData = np.zeros((8, 8), np.uint16).tobytes()
    odd.save_as(files[1])
    # an unknown series (localizer) and one with no PixelSpacing
    for description, drop_spacing in (("LOCALIZER", False), ("CINE_3CH", True)):
        ds = base_dataset(spec, generate_uid(), description, 40)
        ds.ImageOrientationPatient, ds.ImagePositionPatient = [1, 0, 0, 0, 1, 0], [0, 0, 0]
        if drop_spacing:
            del ds.PixelSpacing
        write_image(ds, np.zeros((spec.rows, spec.cols)), folder / f"{description}.dcm")
    out = tmp_path / "dataset"
    ingest(src, out)
    report = _report(out)
    reasons = " | ".join(report["reason"])
    assert "mixed matrix sizes" in reasons and "unknown view" in reasons
    assert "missing PixelSpacing" in reasons and "missing TriggerTime" in reasons
    row = pd.read_parquet(out / "studies.parquet").iloc[0]
    assert row.views == "sax_base,sax_mid,sax_apex,2ch,lge_sax"


@pytest.mark.parametrize("spacing", [0.001, 50.0])
def test_an_implausible_pixel_spacing_rejects_the_series(tmp_path: Path, spacing: float) -> None:
    """A header in the wrong unit would be resampled into a meaningless field of view."""
    src = tmp_path / "src"
    folder = write_study(src, StudySpec())
    for path in folder.glob("*.dcm"):
        ds = pydicom.dcmread(path)
        if ds.SeriesDescription == "CINE_4CH":
            ds.PixelSpacing = [spacing, spacing]
            ds.save_as(path)
    out = tmp_path / "dataset"
    assert ingest(src, out).studies_written == 1
    rejected = _report(out).query("level == 'rejected'")
    assert rejected["series"].str.contains("CINE_4CH").all() and len(rejected) == 1
    assert f"pixel spacing {spacing:g} x {spacing:g} mm is outside" in rejected["reason"].iloc[0]
    assert "4ch" not in pd.read_parquet(out / "studies.parquet").iloc[0].views.split(",")


def test_a_sax_slice_an_image_short_leaves_the_other_levels(tmp_path: Path) -> None:
    """Of 3 slices, the one an export left an image short fills no view (its phases would be
    misaligned); the other two keep their own levels. It rejected the whole stack."""
    src = tmp_path / "src"
    folder = write_study(src, StudySpec(series={"sax": "CINE_SAX", "4ch": "CINE_4CH"}))
    sax = sorted(
        p for p in folder.glob("*.dcm") if pydicom.dcmread(p).SeriesDescription == "CINE_SAX"
    )
    sax[-1].unlink()  # the last phase of the slice at +30 mm: the apex (slice 3)
    out = tmp_path / "dataset"
    ingest(src, out)
    report = _report(out)
    assert "rejected" not in set(report["level"])
    assert (
        report["reason"]
        .str.endswith(
            "left out, their phase count not the 6 of the others "
            "(an image missing from the export?): slice 3 (5 phases)"
        )
        .any()
    )
    assert pd.read_parquet(out / "studies.parquet").iloc[0].views == "sax_base,sax_mid,4ch"


def test_a_cine_stack_with_no_phase_count_most_slices_share_is_rejected(tmp_path: Path) -> None:
    """Slices are left out as the minority an export dropped images from: where no phase count
    is shared by more than half of the slices there is no complete stack, and the series is
    rejected as before."""
    src = tmp_path / "src"
    spec = StudySpec(sax_slices=4, series={"sax": "CINE_SAX", "4ch": "CINE_4CH"})
    folder = write_study(src, spec)
    sax = sorted(folder.glob("002_*.dcm"))  # 4 slices x 6 phases
    for index in (0, 6):  # one phase of each of two slices
        sax[index].unlink()
    out = tmp_path / "dataset"
    ingest(src, out)
    [reason] = _report(out).query("level == 'rejected'")["reason"]
    assert reason == (
        "inconsistent phase counts across slices: [5, 6] "
        "(no count shared by more than half of the 4 slices)"
    )
    assert pd.read_parquet(out / "studies.parquet").iloc[0].views == "4ch"


def test_perfusion_and_stir_series_stay_out_of_the_cine_and_lge_views(tmp_path: Path) -> None:
    """A clinical protocol holds short-axis perfusion dynamics, T2* echoes and T2-STIR images
    (with an InversionTime) beside cine and LGE: none of them is pooled into a view."""
    src = tmp_path / "src"
    extra = [("sax", "SA_PERFUSION_REST"), ("sax", "T2*_SAX"), ("lge_sax", "T2_STIR_SAX")]
    spec = StudySpec(series={"sax": "CINE_SAX", "lge_sax": "LGE_PSIR_SAX"}, extra_series=extra)
    write_study(src, spec)
    out = tmp_path / "dataset"
    ingest(src, out)
    row = pd.read_parquet(out / "studies.parquet").iloc[0]
    assert row.views == "sax_base,sax_mid,sax_apex,lge_sax"
    assert row.view_frames[VIEW_SLOTS.index("lge_sax")] == 3  # the LGE stack's own slices
    rejected = _report(out).query("level == 'rejected'")
    assert sorted(rejected["series"].str.split(" ").str[1]) == [
        "SA_PERFUSION_REST",
        "T2*_SAX",
        "T2_STIR_SAX",
    ]
    assert rejected["reason"].str.contains("is not a cine or LGE series").all()


def test_a_repeated_sax_stack_is_named_in_the_report(tmp_path: Path) -> None:
    src = tmp_path / "src"
    spec = StudySpec(series={"sax": "CINE_SAX"}, extra_series=[("sax", "CINE_SAX")])
    write_study(src, spec)
    out = tmp_path / "dataset"
    ingest(src, out, frames=4, size=16)
    warnings = _report(out).query("level == 'warning'")
    assert warnings[["series", "reason"]].values.tolist() == [
        [
            "2 CINE_SAX",
            "3 sax slice position(s) acquired again in series 3; kept series 3 there (the newest)",
        ]
    ]


def test_view_map_overrides_descriptions(tmp_path: Path) -> None:
    src = tmp_path / "src"
    write_study(src, StudySpec(series={"sax": "KURZACHSE", "4ch": "VIERKAMMER", "2ch": "CINE_2CH"}))
    view_map = tmp_path / "views.yaml"
    view_map.write_text("'kurzachse*': sax\n'vierkammer': 4ch\n'cine_2ch': ignore\n")
    out = tmp_path / "dataset"
    ingest(src, out, view_map=view_map)
    assert pd.read_parquet(out / "studies.parquet").iloc[0].views == "sax_base,sax_mid,sax_apex,4ch"
    bad = tmp_path / "bad.yaml"
    bad.write_text("'x': nowhere\n")
    with pytest.raises(DataError, match="nowhere"):
        ingest(src, out, view_map=bad)


def test_cli_one_line_errors_and_settings_guard(
    source: Path, tmp_path: Path, capsys, caplog
) -> None:
    out = tmp_path / "dataset"
    assert main(["ingest", str(tmp_path / "missing"), "--out", str(out)]) == 2
    empty = tmp_path / "empty"
    empty.mkdir()
    assert main(["ingest", str(empty), "--out", str(tmp_path / "d2")]) == 2
    assert main(["ingest", str(source), "--out", str(out), "--workers", "2"]) == 0
    assert main(["ingest", str(source), "--out", str(out), "--size", "32"]) == 2
    assert json.loads((out / "dataset.json").read_text())["size"] == 64
    settings = json.loads((out / "dataset.json").read_text())
    (out / "dataset.json").write_text(json.dumps({**settings, "format_version": 1}))
    before = (out / "studies.parquet").read_bytes()
    assert main(["ingest", str(source), "--out", str(out)]) == 2  # older layout: never mixed
    assert "written by ingest format 1" in caplog.text
    assert (out / "studies.parquet").read_bytes() == before
    assert "Traceback" not in capsys.readouterr().err


def test_an_ingest_that_finds_no_study_leaves_no_dataset_behind(tmp_path: Path, caplog) -> None:
    """Nothing usable: the report says why, but no studies table marks the folder as a dataset
    (the dashboard would list it, refuse to reuse its name, and fail to open it)."""
    junk = tmp_path / "DOE^JANE_PID0001"  # an export named after its patient
    junk.mkdir()
    (junk / "DICOMDIR.txt").write_text("not an image")
    out = tmp_path / "dataset"
    assert main(["ingest", str(junk), "--out", str(out)]) == 2
    assert "no usable study found in the source folder" in caplog.text
    assert "DOE" not in caplog.text  # the dashboard shows this line in the job's log
    assert "not a DICOM file" in " ".join(_report(out)["reason"])
    assert not (out / "studies.parquet").exists()
    source = _two_studies(tmp_path / "src")
    assert ingest(source, out).studies_written == 2
    assert len(pd.read_parquet(out / "studies.parquet")) == 2


def test_lock_blocks_a_second_ingest(source: Path, tmp_path: Path) -> None:
    out = tmp_path / "dataset"
    held = FileLock(out / LOCK_FILE, lambda holder: holder)
    with held, pytest.raises(UserError, match=r"another ingest \(pid \d+"):
        ingest(source, out)
    assert not (out / "studies.parquet").exists()
    assert ingest(source, out).studies_written == 2


def test_a_lock_file_naming_a_live_process_does_not_block(source: Path, tmp_path: Path) -> None:
    """A crashed ingest's lock file may name a pid the system has since reused (here: our own
    parent); only a lock a live ingest holds blocks."""
    out = tmp_path / "dataset"
    out.mkdir()
    (out / LOCK_FILE).write_text(str(os.getppid()))
    assert ingest(source, out).studies_written == 2


def test_interrupted_ingest_keeps_previous_tables(
    source: Path, tmp_path: Path, monkeypatch
) -> None:
    out = tmp_path / "dataset"
    ingest(source, out)
    before = (out / "studies.parquet").read_bytes()
    other = tmp_path / "other"
    write_study(other, StudySpec(accession="ACC0009", patient_id="PID0009"))

    def crash(*args, **kwargs):
        raise KeyboardInterrupt

    monkeypatch.setattr("model.data.ingest.merge_tables", crash)
    with pytest.raises(KeyboardInterrupt):
        ingest(other, out)
    assert (out / "studies.parquet").read_bytes() == before
    monkeypatch.undo()
    assert ingest(other, out).studies_total == 3
