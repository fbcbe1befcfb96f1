"""An impression naming another patient of the same ingest keeps neither that patient's full
name nor their IDs, accession number or birth date (only its own patient's were scrubbed)."""

from __future__ import annotations

import json
from pathlib import Path

import pandas as pd
import pydicom

from model.data.ingest import ingest
from model.data.report_scrub import other_patients_scrubber
from sample_data.generate import generate


def test_other_patients_full_names_and_ids_are_removed_but_not_their_single_name_parts() -> None:
    scrub = other_patients_scrubber({"DOE^JANE", "MRN-4471", "19700101", "A123456"})
    text = "Compare Jane Doe (MRN-4471, A123456, born 01.01.1970). Doe, Jane: see prior. A doe."
    assert scrub(text) == (
        "Compare [removed] [removed] ([removed]-[removed], [removed], born [removed]). "
        "[removed], [removed]: see prior. A doe."
    )
    assert scrub("Mild wall thickening.") == "Mild wall thickening."


def test_an_impression_naming_another_patient_of_the_ingest_keeps_no_identifier(
    tmp_path: Path,
) -> None:
    raw = tmp_path / "raw"
    generate(raw, studies=2, site="internal", seed=5)
    first, second = sorted((raw / "dicom").iterdir())
    header = pydicom.dcmread(next(second.rglob("*.dcm")), stop_before_pixels=True)
    other = {
        "name": str(header.PatientName),
        "id": str(header.PatientID),
        "accession": str(header.AccessionNumber),
    }
    family, given = other["name"].split("^")
    accession = str(pydicom.dcmread(next(first.rglob("*.dcm"))).AccessionNumber)
    reports = pd.read_csv(raw / "reports.csv", dtype=str, keep_default_na=False)
    mention = f"Compare {given} {family}, MRN {other['id']}, exam {other['accession']}.\n"
    row = reports["accession_number"] == accession
    reports.loc[row, "report"] = reports.loc[row, "report"].str.replace(
        "IMPRESSION:\n", f"IMPRESSION:\n{mention}"
    )
    reports.to_csv(raw / "reports.csv", index=False)

    dataset = tmp_path / "ds"
    ingest(raw / "dicom", dataset, reports=raw / "reports.csv")
    impressions = " ".join(pd.read_parquet(dataset / "studies.parquet")["impression"])
    assert "Compare [removed] [removed], MRN [removed], exam [removed]." in impressions
    planted = json.loads((raw / "phi.json").read_text())["studies"][other["accession"]]
    for value in [*other.values(), *planted[1:2]]:  # the full name as a report writes it
        assert value.lower() not in impressions.lower(), value
