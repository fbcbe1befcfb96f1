"""``ingest --labels``: a labels CSV checked first and kept beside the dataset."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from dicom_factory import StudySpec, write_study
from pydicom.uid import generate_uid

from model.cli import main
from model.data.ingest import ingest
from model.errors import DataError


@pytest.fixture()
def source(tmp_path: Path) -> Path:
    """Two studies, accession numbers ACC0001 and ACC0002."""
    src = tmp_path / "src"
    write_study(src, StudySpec())
    write_study(src, StudySpec(accession="ACC0002", patient_id="PID0002", study_uid=generate_uid()))
    return src


def test_labels_given_to_ingest_are_kept_beside_the_dataset(
    source: Path, tmp_path: Path, caplog
) -> None:
    out = tmp_path / "dataset"
    first = tmp_path / "labels.csv"
    first.write_text("accession_number,lge,nicm\nACC0001,1,0\nACC0002, ,1\nOTHER,0,0\n")
    with caplog.at_level("INFO"):
        ingest(source, out, labels=first)
    assert "labels: 2 of 2 studies written have a row" in caplog.text
    stored = pd.read_csv(out / "labels.csv", dtype=str, keep_default_na=False)
    assert stored.set_index("accession_number").to_dict("index") == {
        "ACC0001": {"lge": "1", "nicm": "0"},
        "ACC0002": {"lge": "", "nicm": "1"},  # blank stays unknown
        "OTHER": {"lge": "0", "nicm": "0"},
    }
    # a later ingest's labels replace rows of the same accession and add new columns as unknown
    later = tmp_path / "later.csv"
    later.write_text("accession_number,lge,pericardial_effusion\nACC0001,0,1\n")
    ingest(source, out, labels=later)
    stored = pd.read_csv(out / "labels.csv", dtype=str, keep_default_na=False)
    rows = stored.set_index("accession_number").to_dict("index")
    assert rows["ACC0001"] == {"lge": "0", "nicm": "", "pericardial_effusion": "1"}
    assert rows["ACC0002"] == {"lge": "", "nicm": "1", "pericardial_effusion": ""}


def test_the_labels_log_line_names_the_file_not_a_patient_named_folder(
    source: Path, tmp_path: Path, caplog
) -> None:
    """A patient's export carries its own labels file in a folder named after the patient; the
    log line (the dashboard shows it in the job's log) names the file only."""
    labels = tmp_path / "DOE^JANE_PID0001" / "labels.csv"
    labels.parent.mkdir()
    labels.write_text("accession_number,lge\nACC0001,1\n")
    with caplog.at_level("INFO"):
        ingest(source, tmp_path / "dataset", labels=labels)
    assert "labels: 1 of 2 studies written have a row in labels.csv" in caplog.text
    assert "DOE" not in caplog.text and "PID0001" not in caplog.text


def test_a_bad_labels_file_stops_ingest_before_anything_is_written(
    source: Path, tmp_path: Path
) -> None:
    labels = tmp_path / "labels.csv"
    labels.write_text("accession_number,lge\nACC0001,yes\n")
    out = tmp_path / "dataset"
    with pytest.raises(DataError, match="value 'yes' is not 1, 0 or blank"):
        ingest(source, out, labels=labels)
    assert not out.exists()
    rc = main(["ingest", str(source), "--out", str(out), "--labels", str(tmp_path / "none.csv")])
    assert rc != 0 and not out.exists()


def test_an_accession_number_on_two_studies_is_a_warning_naming_the_other_study(
    tmp_path: Path, caplog
) -> None:
    """A PACS export where two studies (two patients: a registration error) carry one accession
    number: both get its report and labels, and the report says so without the number itself."""
    src = tmp_path / "src"
    write_study(src / "a", StudySpec(accession="ACC0007", patient_id="PID0001"))
    write_study(src / "b", StudySpec(accession="ACC0007", patient_id="PID0002"))
    write_study(src / "c", StudySpec(accession="ACC0008", patient_id="PID0003"))
    reports = tmp_path / "reports.csv"
    reports.write_text(
        "accession_number,report\nACC0007,IMPRESSION: Dilated LV.\nACC0008,IMPRESSION: Normal.\n"
    )
    with caplog.at_level("WARNING"):
        ingest(src, tmp_path / "dataset", reports=reports)
    report = pd.read_csv(tmp_path / "dataset" / "ingest_report.csv", keep_default_na=False)
    shared = report[report["reason"].str.contains("also on study")]
    linkage = pd.read_csv(tmp_path / "dataset" / "linkage.csv", dtype=str)
    twice = set(linkage.loc[linkage["accession_number"] == "ACC0007", "study_id"])
    assert set(shared["study_id"]) == twice and len(twice) == 2
    for row in shared.itertuples():
        assert (twice - {row.study_id}).pop() in row.reason
    assert not report["reason"].str.contains("ACC0007").any()
    assert "1 AccessionNumber is on more than one study" in caplog.text


def test_an_ingest_with_reports_ends_with_the_train_command(
    source: Path, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    reports = tmp_path / "reports.csv"
    reports.write_text("accession_number,report\nACC0002,IMPRESSION: Normal study.\n")
    out = tmp_path / "my dataset"
    with caplog.at_level("INFO"):
        assert main(["ingest", str(source), "--out", str(out), "--reports", str(reports)]) == 0
    assert f"train on it: python -m model train --data '{out}' --out RUN_FOLDER" in caplog.text
    caplog.clear()
    with caplog.at_level("INFO"):  # no reports: nothing to train on, no such line
        assert main(["ingest", str(source), "--out", str(tmp_path / "plain")]) == 0
    assert "train on it" not in caplog.text


def test_a_spreadsheet_save_of_the_labels_is_stored_as_the_plain_csv(
    source: Path, tmp_path: Path
) -> None:
    """Excel's "Unicode Text" (UTF-16, tabs), a header typed with capitals and spaces: ingest keeps
    the values read, under the names every command reads, in the one plain format."""
    out, given = tmp_path / "dataset", tmp_path / "labels.txt"
    given.write_text("Accession Number \tlge\r\nACC0001\t0\r\nACC0002\t1\r\n\t\r\n", "utf-16")
    ingest(source, out, labels=given)
    stored = pd.read_csv(out / "labels.csv", dtype=str, keep_default_na=False)
    assert stored.to_dict("records") == [
        {"accession_number": "ACC0001", "lge": "0"},
        {"accession_number": "ACC0002", "lge": "1"},
    ]


def test_accession_numbers_without_their_leading_zeros_are_named_by_ingest(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    src = tmp_path / "src"
    write_study(src, StudySpec(accession="000123"))
    given = tmp_path / "labels.csv"
    given.write_text("accession_number,lge\n123,1\n")
    with caplog.at_level("WARNING"):
        ingest(src, tmp_path / "dataset", labels=given)
    assert "no study written has a row in labels.csv" in caplog.text
    assert "'123' is the dataset's '000123' without its leading zeros" in caplog.text
