"""A numeric patient ID written without its leading zeros (``000123456`` as ``123456``: a
spreadsheet or a folder-naming script read it as a number) is scrubbed in that spelling too,
from ``MIN_UNPADDED_DIGITS`` digits; an impression's ordinary numbers stay."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
from dicom_factory import StudySpec, write_study

from model.data.deid import MIN_UNPADDED_DIGITS, unpadded_spellings
from model.data.ingest import ingest
from model.data.report_scrub import deidentify_report, other_patients_scrubber
from model.data.reports import scrub_text

MEASURES = "LVEF 55 %, QRS 120 ms, LVEDV 180 ml at 1.5 T in 2024; scar 12345; ref 1234567."


def test_an_id_without_its_leading_zeros_is_scrubbed_and_measurements_stay() -> None:
    text = f"MRN 123456 (also 0123456, 000123456). {MEASURES}"
    expected = f"MRN [removed] (also [removed], [removed]). {MEASURES}"
    assert scrub_text(text, ["000123456"]) == expected
    assert other_patients_scrubber({"000123456"})(text) == expected


def test_a_stripped_id_shorter_than_the_minimum_is_not_scrubbed_alone() -> None:
    """``000000042`` written as ``42`` would take every 42 out of every impression."""
    assert MIN_UNPADDED_DIGITS == 6
    assert unpadded_spellings("000012345") == set()
    assert unpadded_spellings("00123456") == {"123456", "0123456"}
    assert unpadded_spellings("PID0001") == unpadded_spellings("123456") == set()
    text = "LVEF 42 %, wall 12345 mm. ID 000000042 and 000012345."
    assert scrub_text(text, ["000000042", "000012345"]) == (
        "LVEF 42 %, wall 12345 mm. ID [removed] and [removed]."
    )


def test_an_id_without_its_leading_zeros_is_scrubbed_from_report_paths() -> None:
    rows = [
        {"path": "/export/123456/IM1", "reason": "patient 0123456: unreadable"},
        {"path": "/export/DOE123456_MR/IM2", "reason": "x"},
        {"path": "/export/1234567/IM3", "reason": "LVEF 55 %"},
    ]
    out = deidentify_report(rows, Path("/export"), {"000123456"})
    assert [(row["path"], row["reason"]) for row in out] == [
        ("[removed]/IM1", "patient [removed]: unreadable"),
        ("DOE[removed]_MR/IM2", "x"),
        ("1234567/IM3", "LVEF 55 %"),
    ]


def test_an_ingest_scrubs_the_unpadded_id_from_folders_and_impressions(tmp_path: Path) -> None:
    spec = StudySpec(patient_id="000123456", series={"4ch": "CINE_4CH"})
    folder = write_study(tmp_path / "src" / "123456", spec)  # .../123456/ACC0001/
    (folder / "notes.txt").write_text("not dicom")
    reports = tmp_path / "reports.csv"
    text = f"IMPRESSION: Dilated LV (MRN 123456). {MEASURES}"
    pd.DataFrame({"accession_number": ["ACC0001"], "report": [text]}).to_csv(reports, index=False)
    out = tmp_path / "dataset"
    ingest(tmp_path / "src", out, reports=reports, frames=4, size=16)
    report = pd.read_csv(out / "ingest_report.csv", dtype=str, keep_default_na=False)
    assert report["path"].tolist() == ["[removed]/[removed]/notes.txt"]
    impression = pd.read_parquet(out / "studies.parquet").impression.iloc[0]
    assert impression == f"Dilated LV (MRN [removed]). {MEASURES}"
