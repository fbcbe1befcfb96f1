"""Patient identifiers scrubbed from what leaves ingest (studies.parquet, ingest_report.csv):
names in every way exports write them (family or given name first, with or without a separator,
each representation of a DICOM name), while the same letters inside ordinary words and numbers
are kept; accession numbers and other patient IDs naming folders; patients known only from
files ingest skips."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from dicom_factory import StudySpec, base_dataset, write_image, write_study
from pydicom.uid import generate_uid

from dashboard.zip_import import extract_zip
from model.data.ingest import ingest
from model.data.report_scrub import REASON_CHARS, deidentify_report
from model.data.reports import scrub_text

SPELLINGS = ["王小明", "小明王", "王_小明", "王 小明", "小明 王", "王.小明", "王-小明", "王^小明"]


def test_a_cjk_name_with_a_one_character_family_name_is_scrubbed_in_any_spelling() -> None:
    rows = [{"path": f"/export/{spelling}/IM1", "reason": "x"} for spelling in SPELLINGS]
    rows.append({"path": "/export/王/IM1", "reason": "x"})
    out = deidentify_report(rows, Path("/export"), {"王^小明"})
    assert not any("王" in row["path"] or "小明" in row["path"] for row in out[:-1]), out
    assert out[-1]["path"] == "王/IM1"  # a lone character is an ordinary word
    impression = scrub_text(f"{' / '.join(SPELLINGS)}. 王 is a family name.", ["王^小明"])
    assert "王" not in impression.split(".")[0] and "小明" not in impression
    assert impression.endswith(". 王 is a family name.")


def test_a_short_latin_name_is_scrubbed_written_out_but_not_inside_words() -> None:
    """Two-letter parts are not scrubbed alone, the name written out is; a name part inside
    a clinical word (Mark in Markedly, Ann in Annular, Lina in Linear) stays."""
    identifiers = ["Li^Na", "Mark^Allen", "Ann^Lee"]
    text = "Li Na, Na Li and Doe. Markedly dilated LV; linear mid-wall LGE; annular dilatation."
    assert scrub_text(text, identifiers) == (
        "[removed] [removed], [removed] [removed] and Doe. Markedly dilated LV; linear mid-wall "
        "LGE; annular dilatation."
    )
    rows = [{"path": f"/export/{name}/IM1", "reason": ""} for name in ("Li_Na", "Na.Li", "NaLi")]
    out = deidentify_report(rows, Path("/export"), {"Li^Na"})
    assert [row["path"] for row in out] == [
        "[removed]_[removed]/IM1",
        "[removed].[removed]/IM1",
        "[removed]/IM1",
    ]


def test_each_representation_of_a_dicom_name_is_scrubbed() -> None:
    """Japanese exports write Yamada^Taro=山田^太郎=やまだ^たろう: the ideographic name joined
    is as identifying as the alphabetic one."""
    name = "Yamada^Taro=山田^太郎=やまだ^たろう"
    rows = [
        {"path": f"/export/{spelling}/IM1", "reason": ""} for spelling in ("山田太郎", "TaroYamada")
    ]
    assert [row["path"] for row in deidentify_report(rows, Path("/export"), {name})] == [
        "[removed]/IM1",
        "[removed]/IM1",
    ]
    assert scrub_text("山田太郎: normal. やまだたろう.", [name]) == "[removed]: normal. [removed]."


def test_an_export_folder_named_after_a_chinese_patient_leaves_no_name(tmp_path: Path) -> None:
    name = "Wang^Xiaoming=王^小明"
    spec = StudySpec(series={"4ch": "CINE_4CH"}, charset="ISO_IR 192", patient_name=name)
    folder = write_study(tmp_path / "src" / "王_小明", spec)
    (folder / "notes.txt").write_text("not dicom")
    reports = tmp_path / "reports.csv"
    text = "IMPRESSION: 小明 王: dilated LV. Xiaoming Wang seen."
    pd.DataFrame({"accession_number": ["ACC0001"], "report": [text]}).to_csv(reports, index=False)
    out = tmp_path / "dataset"
    ingest(tmp_path / "src", out, reports=reports, frames=4, size=16)
    impression = pd.read_parquet(out / "studies.parquet").impression.iloc[0]
    assert impression == "[removed] [removed]: dilated LV. [removed] [removed] seen."
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes()
            assert "王".encode() not in data and "小明".encode() not in data, path


def test_a_chinese_name_inside_a_longer_folder_name_leaves_no_trace(tmp_path: Path) -> None:
    """CJK text has no word boundaries: exports write ``患者王小明`` (patient Wang Xiaoming),
    ``王_小明心脏MRI`` or ``李雷_20250101``, the name inside a longer run of characters."""
    src = tmp_path / "src"
    for name, folder in (
        ("Wang^Xiaoming=王^小明", "患者王小明"),
        ("Li^Lei=李^雷", "李雷_20250101"),
    ):
        spec = StudySpec(
            series={"4ch": "CINE_4CH"},
            charset="ISO_IR 192",
            patient_name=name,
            patient_id=f"PID{len(folder)}",
            accession=f"ACC{len(folder)}",
        )
        (write_study(src / folder, spec) / "notes.txt").write_text("not dicom")
    (src / "王_小明心脏MRI").mkdir()
    (src / "王_小明心脏MRI" / "notes.txt").write_text("not dicom")
    out = tmp_path / "dataset"
    ingest(src, out, frames=4, size=16)
    report = pd.read_csv(out / "ingest_report.csv", dtype=str, keep_default_na=False)
    assert sorted(report["path"]) == [
        "[removed]_20250101/[removed]/notes.txt",
        "[removed]_[removed]心脏MRI/notes.txt",
        "患者[removed]/[removed]/notes.txt",
    ]
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes().decode("utf-8", errors="replace")
            assert not [part for part in ("王", "小明", "李", "雷") if part in data], path
    # a name part inside a Latin word stays (Mark in Markedly), as in an impression
    rows = [{"path": "/export/Markedly_dilated/IM1", "reason": ""}]
    assert deidentify_report(rows, Path("/export"), {"Mark^Allen"})[0]["path"] == (
        "Markedly_dilated/IM1"
    )


def test_a_name_written_against_a_number_in_a_folder_name_is_scrubbed(tmp_path: Path) -> None:
    """``DOEJANE19700101`` (name and birth date) or ``PID0001DOE``: one word of letters and
    digits, where the impression scrub already finds the name and the number."""
    src = tmp_path / "src"
    study = write_study(src / "DOEJANE19700101", StudySpec(series={"4ch": "CINE_4CH"}))
    for folder in (study, src / "PID0001Doe", src / "Markedly1"):
        folder.mkdir(exist_ok=True)
        (folder / "notes.txt").write_text("not dicom")
    out = tmp_path / "dataset"
    ingest(src, out, frames=4, size=16)
    report = pd.read_csv(out / "ingest_report.csv", dtype=str, keep_default_na=False)
    assert sorted(report["path"]) == [
        "Markedly1/notes.txt",
        "[removed][removed]/[removed]/notes.txt",
        "[removed][removed]/notes.txt",
    ]
    identifiers = ["Doe^Jane", "PID0001", "19700101"]
    assert scrub_text("DOEJANE19700101 PID0001Doe Markedly1", identifiers) == (
        "[removed][removed] [removed][removed] Markedly1"
    )


def test_a_short_numeric_patient_id_leaves_the_measurements_alone() -> None:
    """Research exports number their patients 1, 2, 21...: such an ID is no word to scrub, and
    a longer one is scrubbed as a whole number, never out of a longer one."""
    text = "LVEF 41%, LVEDV 210 ml, wall 21 mm. Case 4021 seen; 4021."
    assert scrub_text(text, ["1", "21", "ANON^1"]) == text
    assert scrub_text(text, ["4021", "402"]) == (
        "LVEF 41%, LVEDV 210 ml, wall 21 mm. Case [removed] seen; [removed]."
    )


def test_accession_numbers_and_other_patient_ids_in_folder_names_are_scrubbed(
    tmp_path: Path,
) -> None:
    """Exports name study folders after the accession number (kept in linkage.csv alone) or an
    older MRN the header lists in OtherPatientIDs; a reader may type that MRN too."""
    spec = StudySpec(series={"4ch": "CINE_4CH"}, other_patient_ids=["MRN7777", "OLD4242"])
    folder = write_study(tmp_path / "src" / "MRN7777", spec)  # .../MRN7777/ACC0001/
    (folder / "notes.txt").write_text("not dicom")
    (folder.parent / "OLD4242.txt").write_text("not dicom")
    reports = tmp_path / "reports.csv"
    text = "IMPRESSION: Dilated LV (old MRN OLD4242)."
    pd.DataFrame({"accession_number": ["ACC0001"], "report": [text]}).to_csv(reports, index=False)
    out = tmp_path / "dataset"
    ingest(tmp_path / "src", out, reports=reports, frames=4, size=16)
    report = pd.read_csv(out / "ingest_report.csv", dtype=str, keep_default_na=False)
    assert sorted(report["path"]) == ["[removed]/[removed].txt", "[removed]/[removed]/notes.txt"]
    impression = pd.read_parquet(out / "studies.parquet").impression.iloc[0]
    assert impression == "Dilated LV (old MRN [removed])."
    assert pd.read_csv(out / "linkage.csv").accession_number.tolist() == ["ACC0001"]
    for path in out.rglob("*"):
        if path.is_file() and path.name != "linkage.csv":
            data = path.read_bytes()
            assert not [v for v in (b"ACC0001", b"MRN7777", b"OLD4242") if v in data], path


def test_a_patient_whose_files_are_all_skipped_is_scrubbed_from_their_folder(
    tmp_path: Path,
) -> None:
    """A PACS export holds other modalities too: a CT, skipped as not MR, still tells whose
    folder it lies in (the patient has no MR study to name them)."""
    write_study(tmp_path / "src" / "Doe_Jane", StudySpec(series={"4ch": "CINE_4CH"}))
    other = StudySpec(patient_name="Smith^John", patient_id="PID0099", study_uid=generate_uid())
    ds = base_dataset(other, generate_uid(), "CT chest", 2)
    ds.Modality = "CT"
    write_image(
        ds,
        np.zeros((other.rows, other.cols)),
        tmp_path / "src" / "Smith_John" / "PID0099" / "CT1.dcm",
    )
    out = tmp_path / "dataset"
    ingest(tmp_path / "src", out, frames=4, size=16)
    report = pd.read_csv(out / "ingest_report.csv", dtype=str, keep_default_na=False)
    assert report[["path", "reason"]].values.tolist() == [
        ["[removed]_[removed]/[removed]/CT1.dcm", "modality CT is not MR"]
    ]


class _WindowsZipName(zipfile.ZipInfo):
    """An entry named in a Windows code page without the zip's UTF-8 flag, as Windows'
    built-in zip writes names in a Chinese or Japanese locale."""

    raw_name = b""

    def _encodeFilenameFlags(self):  # noqa: N802 - zipfile's own hook
        return self.raw_name, self.flag_bits & ~0x800


@pytest.mark.parametrize(("code_page", "name"), [("gbk", "王^小明"), ("cp932", "山田^太郎")])
def test_a_name_a_windows_zip_wrote_in_its_code_page_leaves_no_trace(
    tmp_path: Path, code_page: str, name: str
) -> None:
    """Python reads such a name as cp437 (``王_小明`` arrives as ``═⌡_╨í├≈``): no letters to scrub
    word by word, and the name's bytes can be read back from it."""
    spec = StudySpec(series={"4ch": "CINE_4CH"}, charset="ISO_IR 192", patient_name=name)
    folder = write_study(tmp_path / "src" / "study", spec)
    (folder / "notes.txt").write_text("not dicom")
    written = name.replace("^", "_").encode(code_page)
    upload = io.BytesIO()
    with zipfile.ZipFile(upload, "w") as archive:
        for file in sorted(folder.rglob("*")):
            if file.is_file():
                info = _WindowsZipName(file.name)
                info.raw_name = written + b"/" + str(file.relative_to(folder)).encode()
                archive.writestr(info, file.read_bytes())
    upload.seek(0)
    extract_zip(upload, tmp_path / "import")
    misread = written.decode("cp437")
    assert (tmp_path / "import" / misread).is_dir()  # the name as the import stored it
    ingest(tmp_path / "import", tmp_path / "dataset", frames=4, size=16)
    report = (tmp_path / "dataset" / "ingest_report.csv").read_text(encoding="utf-8")
    assert "notes.txt" in report
    for part in misread.split("_"):
        assert part not in report, report


def _patient_named_study(src: Path, cut_at: int, quoted: str) -> Path:
    """A study under ``src/<padding>/Smithson_Johanna``, padded so that a message of ``quoted``
    followed by a file's path, cut to ``cut_at`` characters, ends inside the name ("...Smit");
    returns the path of one of its files."""
    padding = "x" * (cut_at - 4 - len(quoted) - len(f"{src}/") - 1)
    write_study(src / padding / "Smithson_Johanna", StudySpec(patient_name="Smithson^Johanna"))
    return sorted((src / padding).rglob("*.dcm"))[0]


def _assert_io_error_reason_scrubbed(src: Path, out: Path) -> None:
    """Ingest ``src``: the report's Input/output error reason holds neither a fragment of the
    patient's name nor the path, and is at most ``REASON_CHARS`` long."""
    ingest(src, out, frames=4, size=16)
    report = pd.read_csv(out / "ingest_report.csv", dtype=str, keep_default_na=False)
    [reason] = report.loc[report["reason"].str.contains("Input/output"), "reason"]
    assert "smit" not in reason.lower() and str(src.parent) not in reason, reason
    assert len(reason) <= REASON_CHARS


def test_a_long_reason_is_cut_only_once_scrubbed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A read error quotes the file's full path; cut to the report's length before scrubbing,
    it ended inside the patient's folder name (``'.../Smit`` of ``Smithson``), a fragment no
    identifier matches, so it stayed in the report."""
    from model.data import scan

    src = tmp_path / "src"
    quoted = "unreadable DICOM: OSError: [Errno 5] Input/output error: '"
    broken = _patient_named_study(src, REASON_CHARS, quoted)
    read = scan.read_headers

    def failing(path: str) -> list:
        if Path(path) == broken:
            raise OSError(5, "Input/output error", path)
        return read(path)

    monkeypatch.setattr(scan, "read_headers", failing)
    _assert_io_error_reason_scrubbed(src, tmp_path / "dataset")


def test_a_long_dicom_read_error_is_cut_only_once_scrubbed(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """pydicom's error quoting a large file's path went through ``short_reason``, which cut it to
    160 characters before the report scrubbed it: a cut inside the patient's folder name left a
    fragment no identifier matches."""
    from model.data import dicom_open

    src = tmp_path / "src"
    broken = _patient_named_study(src, 160, "[Errno 5] Input/output error: '")
    read = dicom_open.pydicom.dcmread

    def failing(source: object, **kwargs: object) -> object:
        if isinstance(source, Path) and source == broken:
            raise OSError(5, "Input/output error", str(source))
        return read(source, **kwargs)

    monkeypatch.setattr(dicom_open, "_BUFFER_BYTES", 0)  # the path itself goes to dcmread
    monkeypatch.setattr(dicom_open.pydicom, "dcmread", failing)
    _assert_io_error_reason_scrubbed(src, tmp_path / "dataset")


def test_an_accession_known_only_from_the_reports_and_labels_is_scrubbed_from_folders(
    tmp_path: Path,
) -> None:
    """An anonymising export may blank AccessionNumber in the headers yet name the study folder
    after it: the reports and labels CSVs given to ingest key their rows by it, so it is as
    identifying there as in a header."""
    folder = write_study(
        tmp_path / "src" / "ACC0042", StudySpec(series={"4ch": "CINE_4CH"}, accession="")
    )
    (folder / "notes.txt").write_text("not dicom")
    (folder / "LAB0077.txt").write_text("not dicom")
    reports, labels = tmp_path / "reports.csv", tmp_path / "labels.csv"
    pd.DataFrame({"accession_number": ["ACC0042"], "report": ["Normal."]}).to_csv(reports)
    pd.DataFrame({"accession_number": ["LAB0077"], "lge": [1]}).to_csv(labels, index=False)
    out = tmp_path / "dataset"
    ingest(tmp_path / "src", out, reports=reports, labels=labels, frames=4, size=16)
    report = pd.read_csv(out / "ingest_report.csv", dtype=str, keep_default_na=False)
    paths = [path for path in report["path"] if path.endswith(".txt")]
    assert sorted(paths) == ["[removed]/[removed].txt", "[removed]/notes.txt"], paths


def test_scrubbing_a_report_line_does_not_grow_with_the_number_of_patients(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """What a scrub looks for was worked out again for every line, over every identifier of
    the ingest: a hospital's export (thousands of patients, as many skipped files) took hours.
    Counted, not timed: the per-character checks of 100 lines cost what those of 10 do."""
    import model.data.report_scrub as report_scrub

    calls = []
    real = report_scrub.UNSPACED

    class Counting:
        pattern = real.pattern

        def match(self, text: str):
            calls.append(1)
            return real.match(text)

    monkeypatch.setattr(report_scrub, "UNSPACED", Counting())
    identifiers = {f"Family{i:04d}^Given{i:04d}" for i in range(300)} | {"王^小明"}

    def checks(lines: int) -> int:
        calls.clear()
        rows = [
            {"path": f"/export/Family{i:04d}_Given{i:04d}/IM1", "reason": "x"} for i in range(lines)
        ]
        out = report_scrub.deidentify_report(rows, Path("/export"), identifiers)
        assert all(row["path"] == "[removed]_[removed]/IM1" for row in out), out[:2]
        return len(calls)

    assert checks(100) == checks(10)
