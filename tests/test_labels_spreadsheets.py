"""Labels files as a coordinator's spreadsheet saves them (Excel, LibreOffice, a REDCap export):
each is read right by the one reader every command and the import share, or refused in one line
naming the file, the row or column, and what to do; never read wrong."""

from __future__ import annotations

import logging
from pathlib import Path
from types import SimpleNamespace

import numpy as np
import pandas as pd
import pytest

from model.errors import DataError
from model.evaluation.inputs import load_site
from model.labels import check_labels_header, labels_by_study, read_labels_csv

GOOD = "accession_number,lv_dysfunction,hcm\nA1,1,0\nA2,0,\n"


def write(tmp_path: Path, data: bytes) -> Path:
    path = tmp_path / "labels.csv"
    path.write_bytes(data)
    return path


def as_records(labels: pd.DataFrame) -> dict[str, list[float]]:
    return {key: [float(v) for v in row] for key, row in labels.iterrows()}


@pytest.mark.parametrize(
    "data",
    [
        GOOD.encode("utf-16"),  # Excel "Unicode Text" (with its byte-order mark) ...
        GOOD.replace(",", "\t").encode("utf-16"),  # ... which puts tabs between cells
        GOOD.replace(",", ";").encode(),  # a European locale's CSV
        GOOD.replace(",", "\t").encode(),
        GOOD.replace(",", ";").replace(";1;0", ";1,0;0,0").encode(),  # decimal commas
        GOOD.replace("\n", "\r\n").encode("utf-8-sig"),
        # the header as typed: any case, a trailing space the spreadsheet does not show
        GOOD.replace("accession_number,", "Accession_Number ,").encode(),
        GOOD.replace("accession_number,", "Accession Number,").encode(),
        # the schema's names as a report or a spreadsheet shows them: read as the keys
        GOOD.replace("lv_dysfunction,hcm", "LV dysfunction,HCM ").encode(),
        GOOD.replace("lv_dysfunction,hcm", "LV-Dysfunction,hcm").encode(),
        # pandas' to_csv index: a column without a name, its row numbers 0 and 1 no label
        b",accession_number,lv_dysfunction,hcm\n0,A1,1,0\n1,A2,0,\n",
        b"Unnamed: 0,accession_number,lv_dysfunction,hcm\n0,A1,1,0\n1,A2,0,\n",
        # rows Excel leaves blank at the end, and a trailing empty cell
        (GOOD + ",,\n,,\n").replace("A1,1,0\n", "A1,1,0,\n").encode(),
        # Excel's "sep=" hint as the first line: skipped, and the delimiter it names used
        ("sep=;\n" + GOOD.replace(",", ";").replace(";1;0", ";1,0;0,0")).encode(),
        ("sep=,\r\n" + GOOD.replace("\n", "\r\n")).encode("utf-8-sig"),
        ("sep=\t\n" + GOOD.replace(",", "\t")).encode("utf-16"),
        ('"SEP=\\t"\n' + GOOD.replace(",", "\t")).encode(),
    ],
)
def test_a_spreadsheet_save_reads_the_same_values(tmp_path: Path, data: bytes) -> None:
    path = write(tmp_path, data)
    check_labels_header(path)
    labels = read_labels_csv(path)
    assert list(labels.columns) == ["lv_dysfunction", "hcm"]
    assert labels.index.name == "accession_number" and list(labels.index) == ["A1", "A2"]
    assert labels.loc["A1"].tolist() == [1.0, 0.0]
    assert labels.loc["A2", "lv_dysfunction"] == 0.0 and np.isnan(labels.loc["A2", "hcm"])


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        # a row longer than the header: read by pandas with A1 as an index, '1' the accession
        (b"accession_number,lge,hcm\nA1,1,0,1\n", "row 1 after the header has more cells"),
        (b"accession_number,lge\nA1,1\n,1\n", "row 2 after the header: no accession number"),
        (b"accession_number,lge\n1.23E+11,1\n", "'1.23E\\+11' is in scientific notation"),
        (b"accession_number,lge\nA1,1\nA2,0\nA1,0\n", "'A1' appears twice \\(rows 1 and 3"),
        (b"accession_number,lge,lge \nA1,1,0\n", "column 'lge' appears twice"),
        (b"accession_number,HCM,hcm\nA1,1,0\n", "column 'hcm' appears twice"),
        # a label column whose name was left out: not dropped without a word
        (b"accession_number,lge,\nA1,1,0\nA2,0,0\n", "column 3 has no name in the header row"),
        (b"accession_number,lge\nA1,-\n", "value '-' is not 1, 0 or blank: write 1 \\(present"),
        (b"accession_number,lge\nA1,Yes\n", "value 'Yes' is not 1, 0 or blank: write 1"),
        (b"accession_number,diagnosis\nA1,hcm\n", "needs one 1/0 column per name"),
        # bytes no spreadsheet saves as text: refused, not read as Windows-1252
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR", "save it as 'CSV UTF-8"),
        ("accession_number,caf\xe9\nA1,1\n".encode() + b"\xe9,1\n", "not UTF-8 text"),  # mixed
        ("accession_number,caf\xe9\nA1,1\n".encode()[:-7], "not UTF-8 text"),  # cut short
    ],
)
def test_a_spreadsheet_mistake_is_refused_saying_what_to_do(
    tmp_path: Path, data: bytes, problem: str
) -> None:
    with pytest.raises(DataError, match=problem) as raised:
        read_labels_csv(write(tmp_path, data))
    assert "labels.csv" in str(raised.value) and "\n" not in str(raised.value)


def test_accession_numbers_that_lost_their_leading_zeros_are_named(tmp_path: Path) -> None:
    linkage = pd.DataFrame({"study_id": ["s1", "s2"], "accession_number": ["000123", "000124"]})
    path = write(tmp_path, b"accession_number,lge\n123,1\n124,0\n")
    with pytest.raises(DataError, match="'123' is the dataset's '000123' without its leading"):
        labels_by_study(path, linkage)


def test_evaluate_says_the_accession_numbers_lost_their_leading_zeros(tmp_path: Path) -> None:
    """``evaluate`` goes on without labels when none match (retrieval still runs); its problem
    line says why when Excel dropped the zeros."""
    studies = pd.DataFrame(
        {"study_id": ["s1", "s2"], "split": ["test"] * 2, "patient_key": ["p1", "p2"]}
    )
    linkage = studies[["study_id"]].assign(accession_number=["000123", "000124"])
    dataset = SimpleNamespace(studies=studies, root=tmp_path, linkage=lambda: linkage)
    labels = read_labels_csv(write(tmp_path, b"accession_number,lge\n123,1\n124,0\n"))
    site = load_site(dataset, "internal", True, labels)
    assert site.n_labelled == 0
    assert "'123' is the dataset's '000123' without its leading zeros" in site.problems[0]


@pytest.mark.parametrize("check_header_first", [True, False])
def test_a_windows_1252_save_reads_and_the_log_says_so_once(
    tmp_path: Path, caplog: pytest.LogCaptureFixture, check_header_first: bool
) -> None:
    """Excel's "CSV (Comma delimited)" on Western Windows writes "é", "–", "µ" in Windows-1252:
    read, and the log names the encoding assumed once however often the file is read."""
    text = "accession_number,LV dysfunction,Sévère – µ\nA1,1,0\nA2,0,\n"
    path = write(tmp_path, text.encode("cp1252"))
    with caplog.at_level(logging.INFO):
        if check_header_first:
            check_labels_header(path)
        labels = read_labels_csv(path)
        read_labels_csv(path)
    assert list(labels.columns) == ["lv_dysfunction", "Sévère – µ"]
    assert as_records(labels)["A1"] == [1.0, 0.0]
    said = [r.getMessage() for r in caplog.records if "Windows-1252" in r.getMessage()]
    assert len(said) == 1 and str(path) in said[0], said


def test_a_windows_1252_note_cell_is_read_before_it_is_refused(tmp_path: Path) -> None:
    path = write(tmp_path, "accession_number,lge,note\nA1,1,fibrose légère\n".encode("cp1252"))
    with pytest.raises(DataError, match="column 'note': the text in row 1 after the header"):
        read_labels_csv(path)


@pytest.mark.parametrize(
    ("data", "problem"),
    [
        (
            "sep=;\n" + GOOD,
            "says 'sep=;' \\(semicolons between cells\\) but its header row has commas",
        ),
        ("sep=,\n" + GOOD.replace(",", ";"), "says 'sep=,' \\(commas .* has semicolons between"),
        ("sep=\t\n" + GOOD.replace(",", ";"), "says 'sep=\\\\t' \\(tabs .* has semicolons between"),
    ],
)
def test_a_sep_line_naming_another_delimiter_than_the_rows_says_both(
    tmp_path: Path, data: str, problem: str
) -> None:
    """Excel's ``sep=`` first line kept from one save and the rows written by another: the
    message says what the line names and what the rows use, not "save it with commas"."""
    path = write(tmp_path, data.encode())
    for read in (check_labels_header, read_labels_csv):
        with pytest.raises(DataError, match=problem) as raised:
            read(path)
        assert "save it with commas" not in str(raised.value)


PARTLY_RETYPED = b"accession_number,lge\n000123,1\n124,0\n125,1\n000126,0\n"
LINKAGE = pd.DataFrame(
    {
        "study_id": ["s1", "s2", "s3", "s4"],
        "accession_number": ["000123", "000124", "000125", "000126"],
    }
)


def test_rows_that_match_only_with_their_leading_zeros_restored_are_counted(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A column partly typed again after Excel dropped its zeros: the rows that still match are
    used, and the log says how many others match only with their zeros restored."""
    with caplog.at_level(logging.WARNING):
        joined = labels_by_study(write(tmp_path, PARTLY_RETYPED), LINKAGE)
    assert sorted(joined.index) == ["s1", "s4"]
    [said] = [r.getMessage() for r in caplog.records]
    assert "2 rows match no study and are left out" in said
    assert "its '124' is the dataset's '000124'" in said and "labels.csv" in said


def test_evaluate_names_the_rows_that_lost_their_leading_zeros_when_others_match(
    tmp_path: Path,
) -> None:
    studies = pd.DataFrame(
        {"study_id": list(LINKAGE["study_id"]), "split": ["test"] * 4, "patient_key": list("abcd")}
    )
    dataset = SimpleNamespace(studies=studies, root=tmp_path, linkage=lambda: LINKAGE)
    site = load_site(dataset, "internal", True, read_labels_csv(write(tmp_path, PARTLY_RETYPED)))
    assert site.n_labelled == 2
    [problem] = site.problems
    assert problem.startswith("site internal: of the labels file's rows, 2 rows match no study")
    assert "'124' is the dataset's '000124'" in problem


def test_a_labels_file_whose_accession_numbers_all_match_says_nothing_of_zeros(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    data = b"accession_number,lge\n000123,1\n000124,0\n999,1\n"
    with caplog.at_level(logging.WARNING):
        labels_by_study(write(tmp_path, data), LINKAGE)
    assert not caplog.records


def test_ingest_logs_the_rows_that_lost_their_leading_zeros_when_others_match(
    caplog: pytest.LogCaptureFixture,
) -> None:
    from model.data.ingest import _log_labelled

    links = [{"accession_number": number} for number in LINKAGE["accession_number"]]
    rows = [{"accession_number": number} for number in ("000123", "124", "000126")]
    with caplog.at_level(logging.INFO):
        _log_labelled(links, rows, Path("/export/labels.csv"))
    said = " ".join(r.getMessage() for r in caplog.records if r.levelno == logging.WARNING)
    assert (
        "1 row matches no study and is left out" in said
        and "its '124' is the dataset's '000124'" in said
    )
