"""Names in the scripts hospitals write them in leave ingest nowhere: a DICOM name's ideographic
and phonetic groups (Japanese, Korean, Chinese character sets) in whatever kana the report types
them, the staff a header names (referring, performing, reading physicians, operators), and
Hebrew or Arabic names written with vowel points, direction marks or presentation forms."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
from dicom_factory import StudySpec, write_study
from phi_scan import captured_logs

from model.data.ingest import ingest
from model.data.report_scrub import deidentify_report, other_patients_scrubber
from model.data.reports import scrub_text
from model.data.transliteration import READINGS, latin_readings

YAMADA = "Yamada^Tarou=山田^太郎=ﾔﾏﾀﾞ^ﾀﾛｳ"  # phonetic group in half-width katakana (IR 13)


def test_a_phonetic_name_is_scrubbed_in_every_kana() -> None:
    """The header's ``ﾔﾏﾀﾞ^ﾀﾛｳ`` is the report's ``ヤマダ タロウ`` or ``やまだたろう``; CJK
    text has no word boundaries, so the name goes inside longer runs (``様``: Mr/Ms)."""
    text = "ヤマダ タロウ様。やまだたろう様。ﾔﾏﾀﾞ ﾀﾛｳ様 左室正常。山田太郎様。タロウ。"
    scrubbed = "[removed] [removed]様。[removed]様。[removed] [removed]様 左室正常。[removed]様。"
    assert scrub_text(text, [YAMADA]) == scrubbed + "[removed]。"
    # another patient's name goes whole (a lone given name is a word like any other)
    assert other_patients_scrubber({YAMADA})(text) == scrubbed + "タロウ。"
    hiragana = "Yamada^Tarou=山田^太郎=やまだ^たろう"
    assert scrub_text("ﾔﾏﾀﾞ ﾀﾛｳ、ヤマダ。", [hiragana]) == "[removed] [removed]、[removed]。"


@pytest.mark.parametrize(
    ("charset", "patient", "staff", "impression", "scrubbed"),
    [
        (
            "ISO 2022 IR 13\\ISO 2022 IR 87",
            YAMADA,
            ("Sato^Hanako=佐藤^花子=ｻﾄｳ^ﾊﾅｺ", "Suzuki^Ichiro=鈴木^一郎=ｽｽﾞｷ^ｲﾁﾛｳ"),
            "山田太郎様 (ヤマダ タロウ): 左室駆出率55%。紹介医 佐藤花子先生、担当 スズキ.",
            "[removed]様 ([removed] [removed]): 左室駆出率55%。紹介医 [removed]先生、担当 [removed].",
        ),
        (
            "\\ISO 2022 IR 149",
            "Hong^Gildong=洪^吉洞=홍^길동",
            ("Kim^Minsu=金^敏洙=김^민수", "Park^Jiyeon=朴^知延=박^지연"),
            "홍길동님 (洪吉洞): 좌심실 구혈률 55%. 의뢰의 김민수 선생님, 검사 박지연.",
            "[removed]님 ([removed]): 좌심실 구혈률 55%. 의뢰의 [removed] 선생님, 검사 [removed].",
        ),
        (
            "GB18030",
            "Wang^Xiaoming=王^小明",
            ("Li^Na=李^娜", "Zhang^Wei=张^伟"),
            "患者王小明，左心室射血分数55%。主治医师李娜，技师张伟。Dr Zhang.",
            "患者[removed]，左心室射血分数55%。主治医师[removed]，技师[removed]。Dr [removed].",
        ),
    ],
)
def test_names_in_cjk_character_sets_leave_ingest_nowhere(
    tmp_path: Path,
    charset: str,
    patient: str,
    staff: tuple[str, str],
    impression: str,
    scrubbed: str,
) -> None:
    """The patient's and the staff's names (every group of each) read in the file's character
    set are scrubbed from the impression in its own script, and no file ingest writes, nor any
    log line, holds a part of them."""
    referring, operator = staff
    spec = StudySpec(
        series={"4ch": "CINE_4CH"},
        charset=charset,
        patient_name=patient,
        staff={
            "ReferringPhysicianName": referring,
            "PerformingPhysicianName": operator,
            "NameOfPhysiciansReadingStudy": referring,
            "OperatorsName": operator,
        },
    )
    write_study(tmp_path / "src" / "study", spec)
    reports = tmp_path / "reports.csv"
    pd.DataFrame({"accession_number": ["ACC0001"], "report": [f"IMPRESSION: {impression}"]}).to_csv(
        reports, index=False
    )
    out = tmp_path / "dataset"
    with captured_logs() as logs:
        ingest(tmp_path / "src", out, reports=reports, frames=4, size=16)
    assert pd.read_parquet(out / "studies.parquet").impression.iloc[0] == scrubbed
    parts = {
        part
        for name in (patient, *staff)
        for group in name.split("=")
        for part in group.split("^")
        if len(part) > 2 or not part.isascii()
    }
    parts -= {"洪", "金", "朴", "王", "李", "张", "伟", "娜", "김", "박", "홍"}  # single characters
    for path in out.rglob("*"):
        if path.is_file():
            data = path.read_bytes().decode("utf-8", errors="replace").lower()
            assert not [part for part in parts if part.lower() in data], path
    assert not [part for part in parts for line in logs if part.lower() in line.lower()]


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("המטופל דָּוִד כֹּהֵן, LV תקין.", "המטופל [removed] [removed], LV תקין."),
        ("המטופל \u200fדוד\u200f \u200fכהן\u200f.", "המטופל [removed] [removed]."),
        ("المريض أحمد حــدّاد: LV طبيعي.", "المريض [removed] [removed]: LV طبيعي."),
        ("المريض احمد ﺣﺪاد.", "المريض [removed] [removed]."),
    ],
)
def test_a_hebrew_or_arabic_name_is_found_under_points_marks_and_forms(
    text: str, scrubbed: str
) -> None:
    """Vowel points, a shadda, a tatweel, direction marks or presentation forms (text copied
    from a PDF) between a name's letters hid it; the words around it keep their marks."""
    names = ["Cohen^David=כהן^דוד", "Haddad^Ahmad=حداد^أحمد"]
    for scrub in (lambda text: scrub_text(text, names), other_patients_scrubber(set(names))):
        assert scrub(text).replace("\u200f", "") == scrubbed  # a mark may stay beside [removed]
    pointed = "שָׁלוֹם, הַלֵּב תָּקִין. قلبٌ سليمٌ."  # no name: every mark stays
    assert scrub_text(pointed, names) == pointed


@pytest.mark.parametrize(
    "placeholder",
    ["UNKNOWN", "NONE^GIVEN", "REFERRING^PHYSICIAN", "SELF", "CARDIOLOGY", "CCU^TEAM"],
)
def test_a_staff_name_that_names_no_one_leaves_the_impression_whole(placeholder: str) -> None:
    """Headers fill a physician's name with ``UNKNOWN``, ``NONE^GIVEN`` or the department:
    scrubbed as names, they would take "aetiology unknown" out of impressions."""
    text = (
        "Aetiology unknown; none given by the referring physician. Self-limiting. LV normal. "
        "Cardiology review by the team; CCU if worse."
    )
    assert scrub_text(text, ["DOE^JANE", placeholder]) == text
    assert other_patients_scrubber({"DOE^JANE", placeholder})(text) == text


@pytest.mark.parametrize(
    ("name", "text", "scrubbed"),
    [
        (
            "ΠΑΠΑΔΟΠΟΥΛΟΣ^ΓΕΩΡΓΙΟΣ",
            "Mr Papadopoulos, 54: LV normal. Georgios Papadopoulos seen. Κος Παπαδόπουλος.",
            "Mr [removed], 54: LV normal. [removed] [removed] seen. Κος [removed].",
        ),
        ("PAPADOPOULOS^GEORGIOS", "Ο ασθενής Παπαδόπουλος Γεώργιος, LV φυσιολογική.", None),
        ("Χρήστος^Ευάγγελος", "Hristos Evangelos; Christos; Evangelos seen.", None),
        ("ΒΑΣΙΛΕΙΟΥ^ΓΙΑΝΝΗΣ", "Mr Vasiliou (Yannis, Yiannis, Giannis) seen.", None),
        ("Λάμπρος^Κωνσταντίνος", "Lampros Konstantinos; Lambros Konstandinos.", None),
        ("ΠΑΠΑΔΟΠΟΥΛΟΣ^ΓΕΩΡΓΙΟΣ", "Herr Papadopulos, Georgios, 54, LV normal.", None),
    ],
)
def test_a_greek_name_goes_from_latin_text_and_a_latin_name_from_greek_text(
    name: str, text: str, scrubbed: str | None
) -> None:
    """Greek hospitals write the DICOM name in Greek and the report in Latin letters or the
    reverse, in ELOT 743 or the spellings in use beside it."""
    result = scrub_text(text, [name])
    if scrubbed:
        assert result == scrubbed
    latin = {word.lower() for word in re.findall(r"[A-Za-z]{4,}", result)}
    assert not latin - {"herr", "normal", "seen", "removed"}, result
    assert not re.findall(r"Παπαδ|Γε[ωώ]ργ", result, re.IGNORECASE), result
    family = name.split("^")[0]
    assert (
        other_patients_scrubber({name})(f"Compare Mr {family.title()}.") == "Compare Mr [removed]."
    )


def test_a_greek_name_in_a_folder_and_greek_words_that_are_no_name() -> None:
    rows = [{"path": "/export/Papadopoulos_Georgios/IM1", "reason": "", "series": ""}]
    greek = "Παπαδόπουλος^Γεώργιος"
    assert deidentify_report(rows, Path("/export"), {greek})[0]["path"] == "[removed]_[removed]/IM1"
    text = "Η καρδιά είναι φυσιολογική. Mild MR. Πάχος τοιχώματος 9 mm."
    assert scrub_text(text, ["PAPADOPOULOS^GEORGIOS", greek]) == text
    assert other_patients_scrubber({"PAPADOPOULOS^GEORGIOS", greek})(text) == text
    words = ["Ευάγγελος", "Παπαδόπουλος", "Γιάννης", "ΧΡΗΣΤΟΣ", "Ταΐρης"]
    assert {len(latin_readings(word)) for word in words} == {READINGS}  # read in step
