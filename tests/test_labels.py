"""The one labels reader (model/labels.py): every bad file is a DataError naming the problem, and
a good one joins to studies through the linkage only."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from model.errors import DataError
from model.labels import (
    closest_name,
    join_to_studies,
    labels_by_study,
    read_labels_csv,
    unlabelled,
)

LINKAGE = pd.DataFrame({"study_id": ["s1", "s2", "s3"], "accession_number": ["A1", "A2", "A3"]})


def write(tmp_path: Path, text: str | bytes) -> Path:
    path = tmp_path / "labels.csv"
    if isinstance(text, bytes):
        path.write_bytes(text)
    else:
        path.write_text(text)
    return path


def test_values_parse_to_floats_with_blank_unknown(tmp_path: Path) -> None:
    path = write(tmp_path, "accession_number,lge,normal\n A1 ,1,0.0\nA2, ,1.0\n007,0,\n")
    labels = read_labels_csv(path)
    assert labels.index.tolist() == ["A1", "A2", "007"]  # text, stripped, leading zeros kept
    assert labels["lge"].tolist()[0::2] == [1.0, 0.0] and np.isnan(labels.loc["A2", "lge"])
    assert labels["normal"].dtype == float and np.isnan(labels.loc["007", "normal"])


@pytest.mark.parametrize(
    ("text", "problem"),
    [
        ("id,lge\nA1,1\n", "no 'accession_number' column"),
        # cells split by a character no spreadsheet uses between cells: say what was read
        ("accession_number|lge\nA1|1\n", r"found one column 'accession_number\|lge'"),
        ("accession_number,lge\nA1,yes\n", "column 'lge': value 'yes' is not 1, 0 or blank"),
        ("accession_number,lge\nA1,2\n", "value '2' is not 1, 0 or blank"),
        ("accession_number,lge\nA1,1\nA1,0\n", "accession number 'A1' appears twice"),
        ("", "is not a readable CSV"),
        (b"accession_number,lge\n\xff\xfe,1\n", "is not a readable CSV"),
        ('accession_number,lge\n"A1,1\n', "is not a readable CSV"),
    ],
)
def test_a_bad_file_names_its_problem(tmp_path: Path, text: str | bytes, problem: str) -> None:
    with pytest.raises(DataError, match=problem):
        read_labels_csv(write(tmp_path, text))


def test_a_wrong_file_given_as_labels_quotes_no_patient_data(tmp_path: Path) -> None:
    """A reports file or a patient list given as labels: the error names the column and row,
    never the cell (a report's header, a name, a birth date)."""
    path = tmp_path / "labels.csv"
    cells = ("Patient: Aurelio Blackwood  MRN: 1522418200", "Blackwood", "01.09.80", "1522418200")
    for cell in cells:
        path.write_text(f'accession_number,lge\nA1,1\nA2,"{cell}"\n', encoding="utf-8")
        with pytest.raises(DataError) as raised:
            read_labels_csv(path)
        message = str(raised.value)
        assert cell not in message
        assert "column 'lge': the text in row 2 after the header" in message
    # a patient list without its header row: its first row is read as the header
    path.write_text("Patient: Aurelio Blackwood DOB 01.09.1980\n", encoding="utf-8")
    with pytest.raises(DataError, match="is the header row missing") as raised:
        read_labels_csv(path)
    assert "Blackwood" not in str(raised.value)


def test_a_missing_or_unreadable_file_is_named(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with pytest.raises(DataError, match="missing.csv does not exist"):
        read_labels_csv(tmp_path / "missing.csv")
    path = write(tmp_path, "accession_number,lge\nA1,1\n")

    def refuse(*args: object, **kwargs: object) -> None:
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(Path, "read_bytes", refuse)  # as for a file this user may not read
    with pytest.raises(DataError, match="is not a readable CSV: .*Permission denied"):
        read_labels_csv(path)


def test_rows_join_to_studies_through_the_linkage_only(tmp_path: Path) -> None:
    path = write(tmp_path, "accession_number,lge\nA3,1\nA1,0\nZ9,1\n")
    by_study = labels_by_study(path, LINKAGE)
    assert by_study.index.name == "study_id" and sorted(by_study.index) == ["s1", "s3"]
    assert by_study.loc["s3", "lge"] == 1.0 and by_study.loc["s1", "lge"] == 0.0
    assert "accession_number" not in by_study.columns
    other_site = LINKAGE.assign(accession_number=["B1", "B2", "B3"])
    assert join_to_studies(read_labels_csv(path), other_site).empty
    with pytest.raises(DataError, match="no accession number in .* matches"):
        labels_by_study(path, other_site)


def test_a_spreadsheet_export_with_bom_and_crlf_reads(tmp_path: Path) -> None:
    path = write(tmp_path, b"\xef\xbb\xbfaccession_number,lge\r\nA1,1\r\nA2,0\r\n")
    assert read_labels_csv(path)["lge"].to_dict() == {"A1": 1.0, "A2": 0.0}


def test_a_name_without_its_column_is_paired_with_the_unused_column_it_likely_misspells() -> None:
    """One rule for the Zero-shot page, ``zeroshot`` and the import's "did you mean"."""
    columns = ["lv_dysfunction", "lv_dilation", "lge", "normal"]
    assert unlabelled(["lv_dysfuntion", "lv_dilation", "custom", "LGE"], columns) == [
        ("lv_dysfuntion", "lv_dysfunction"),
        ("custom", None),
        ("LGE", "lge"),  # case aside
    ]
    assert unlabelled(["lv_dilaton", "lv_dilation"], columns) == [("lv_dilaton", None)]  # taken
    assert closest_name("lv_dilaton", columns) == "lv_dilation"
    assert closest_name("sarcoid", columns) is None
