"""Scrub round 6: a name's particles at its start go with it (``Ar-Rashid``, ``Abu-Bakr``), Arabic
and Hebrew titles name a person as Latin ones do, and names beside initials, after ``Dr.`` with
no space, hyphenated, or written with diacritics the header leaves out."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.data.report_scrub import deidentify_report, other_patients_scrubber
from model.data.reports import scrub_text


def other(text: str, identifiers: set[str]) -> str:
    return other_patients_scrubber(identifiers)(text)


@pytest.mark.parametrize(
    ("name", "text", "scrubbed"),
    [
        (
            "AL-RASHID^KHALID",
            "Mr Ar-Rashid seen. Dr. Ar-Rashid. Ar Rashid; ArRashid; Mr al Rashid.",
            "Mr [removed]-[removed] seen. Dr. [removed]-[removed]. [removed] [removed]; "
            "[removed]; Mr [removed] [removed].",
        ),
        (
            "RASHID^KHALID",
            "Mr Ar-Rashid; Mr Al-Rashid.",
            "Mr [removed]-[removed]; Mr [removed]-[removed].",
        ),
        (
            "NUR AL-DIN^AHMED",
            "Dr. Ad-Din reviewed; Mr Ud-Din.",
            "Dr. [removed]-[removed] reviewed; Mr [removed]-[removed].",
        ),
        (
            "EL-SAYED^AHMED",
            "Mr As-Sayed; Es-Sayed, 54.",
            "Mr [removed]-[removed]; [removed]-[removed], 54.",
        ),
        (
            "BAKR^OMAR",
            "Mr Abu-Bakr; Bin-Bakr; Ibn-Bakr; Bint-Bakr; Abu Bakr.",
            "Mr [removed]-[removed]; [removed]-[removed]; [removed]-[removed]; "
            "[removed]-[removed]; [removed] [removed].",
        ),
        ("BERG^PIET", "Mr van der Berg seen.", "Mr [removed] [removed] [removed] seen."),
    ],
)
def test_a_particle_at_a_names_start_goes_with_the_name(
    name: str, text: str, scrubbed: str
) -> None:
    """``Ar-[removed]`` would tell a name in ``r`` of Arabic origin: the article (also
    assimilated to the sun letter: ``ar``, ``ad``, ``as``), ``Abu``, ``Bin``, ``Ibn``,
    ``Bint``, ``van der`` go with the name, whichever scrub found it (a header without the
    particle, ``RASHID``, finds ``Rashid`` by its Latin spelling first)."""
    assert scrub_text(text, [name, "PID0001"]) == scrubbed


@pytest.mark.parametrize(
    ("name", "text", "scrubbed"),
    [
        (
            "AL-RASHID^KHALID",
            "Mr Ar-Rashid; Dr. Al-Rashid; MR AL-RASHID; Ar-Rashid, 54, LV normal; Ar-Rashid's.",
            "Mr [removed]-[removed]; Dr. [removed]-[removed]; MR [removed]-[removed]; "
            "[removed]-[removed], 54, LV normal; [removed]-[removed]'s.",
        ),
        (
            "AL-SAYED^AHMED",
            "Mr El-Sayed; Mr As-Sayed.",
            "Mr [removed]-[removed]; Mr [removed]-[removed].",
        ),
        ("NUR AL-DIN^AHMED", "Dr. Ad-Din reviewed.", "Dr. [removed]-[removed] reviewed."),
        ("ABU-BAKR^OMAR", "Mr Abu-Bakr; Abu Bakr.", "Mr [removed]-[removed]; Abu Bakr."),
        (
            "O'BRIEN^MARY",
            "Mrs O'Brien; MRS O'BRIEN; O'Brien's.",
            "Mrs [removed]'[removed]; MRS [removed]'[removed]; [removed]'[removed]'s.",
        ),
        (
            "VAN DER BERG^PIET",
            "Mr van der Berg; v.d. Berg.",
            "Mr [removed] [removed] [removed]; v.d. Berg.",
        ),
        (
            "DOE-JONES^JANE",
            "Ms Doe-Jones; Doe-Jones, 54, seen.",
            "Ms [removed]-[removed]; [removed]-[removed], 54, seen.",
        ),
        (
            "AL-RASHID^KHALID",
            "Compare RASHID, Khalid (prior).",
            "Compare [removed], [removed] (prior).",
        ),
    ],
)
def test_another_patients_name_with_particles_goes_whole_where_named(
    name: str, text: str, scrubbed: str
) -> None:
    """After a title, before an age or a possessive the name is read with its particles and
    hyphenated parts; alone (``Abu Bakr.``, ``v.d. Berg``) a lone name part of another patient
    stays, as before; the whole name without its article goes anywhere."""
    assert other(text, {name, "PID0002"}) == scrubbed


def test_particles_before_other_words_or_a_link_stay() -> None:
    """A particle before a word no scrub removed stays (``AL normal``, ``de novo``), and an
    English word spelling an assimilated article stays before anything removed (a link)."""
    text = "AL normal, LA mildly dilated, de novo. Images at http://pacs/x?id=1 as before."
    expected = "AL normal, LA mildly dilated, de novo. Images at [removed] as before."
    assert scrub_text(text, ["AL-RASHID^KHALID"]) == expected
    assert other(text, {"AL-RASHID^KHALID", "LA^DE"}) == text


@pytest.mark.parametrize(
    "text",
    [
        "السيد محمد: LV normal. الدكتور محمد; الدكتورة محمد; د. محمد; د.محمد; للسيد محمد; والدكتور محمد.",
        "الأستاذ محمد; الاستاذ محمد; السيدة محمد; محمد، 54، LV normal.",
        "מר כהן: LV normal. ד\"ר כהן; ד״ר כהן; גב' כהן; גב׳ כהן; גברת כהן; פרופ' כהן; ולמר כהן.",
        "الدكتور Smith reviewed; מר Smith seen.",
    ],
)
def test_arabic_and_hebrew_titles_name_another_patient(text: str) -> None:
    """Another patient's lone name part after an Arabic or Hebrew title (with the proclitics
    joined to it: ``للسيد``, ``ולמר``) goes, as after ``Mr``; Latin names after them too."""
    names = {"محمد^أحمد", "כהן^משה", "SMITH^JOHN", "PID0003"}
    scrubbed = other(text, names)
    assert "محمد" not in scrubbed and "כהן" not in scrubbed and "Smith" not in scrubbed, scrubbed
    assert scrubbed.count("[removed]") == text.count("محمد") + text.count("כהן") + text.count(
        "Smith"
    )


def test_patient_and_european_titles_name_another_patient() -> None:
    """ "patient Smith", "Patient: Smith" (no clinical word: "the patient Wall motion"), and
    French, Italian, Spanish, Dutch and Polish titles (``Pan-systolic`` is no title)."""
    names = {"SMITH^JOHN", "ROSSI^MARIA", "KOWALSKI^JAN", "DUPONT^MARIE", "WALL^PETER"}
    text = (
        "Compared with patient Smith; Patient: Smith; pt Smith. Dott.ssa Rossi; Sig.ra Rossi; "
        "Pan Kowalski; Mlle Dupont; Dhr. Kowalski. Pan-systolic murmur; the patient Wall motion."
    )
    assert other(text, names) == (
        "Compared with patient [removed]; Patient: [removed]; pt [removed]. Dott.ssa [removed]; "
        "Sig.ra [removed]; Pan [removed]; Mlle [removed]; Dhr. [removed]. Pan-systolic murmur; "
        "the patient Wall motion."
    )


def test_a_cyrillic_title_names_another_patient() -> None:
    text = "Compare г-н Петров; д-р Петров; пан Petrov. Петров."
    expected = "Compare г-н [removed]; д-р [removed]; пан [removed]. Петров."
    assert other(text, {"PETROV^IVAN", "PID0006"}) == expected


@pytest.mark.parametrize(
    "text",
    [
        "الدكتور المعالج: LV normal. السيد المريض. د. أحمد غير موجود.",  # the treating doctor
        "ד\"ר תורן: LV normal. מר לב. גב' המטופלת.",  # Dr on duty; Mr heart (no name)
    ],
)
def test_a_word_after_an_arabic_or_hebrew_title_that_is_no_name_stays(text: str) -> None:
    names = {"محمد^خالد", "כהן^משה", "PID0003"}
    assert other(text, names) == text


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("Seen with J. Smith and J.A. Smith.", "Seen with J. [removed] and J.A. [removed]."),
        (
            "Cf. Smith J; Smith, J.; Smith,J. (prior).",
            "Cf. [removed] J; [removed], J.; [removed],J. (prior).",
        ),
        ("Reported by Dr.Smith; DR.SMITH.", "Reported by Dr.[removed]; DR.[removed]."),
        ("COMPARE SMITH J. LV NORMAL.", "COMPARE [removed] J. LV NORMAL."),
    ],
)
def test_another_patients_surname_beside_initials_or_a_title_without_a_space_goes(
    text: str, scrubbed: str
) -> None:
    assert other(text, {"SMITH^JOHN", "PID0004"}) == scrubbed


def test_another_patients_name_goes_without_its_middle_name_or_title() -> None:
    """A header's ``DOE^JANE^MARIE`` (a middle name) or a staff name ``WATSON^JOHN^^DR`` (a
    prefix) is written out as ``Jane Doe``, ``John Watson``; after a title the words up to the
    last one naming the patient go (``Dr Peter Smith``), not those after it (``LV``,
    ``Normal``)."""
    names = {"DOE^JANE^MARIE", "WATSON^JOHN^^DR", "SMITH^JOHN", "PID0007"}
    text = (
        "Compare Jane Doe; Doe, Jane; DOE JANE. Referred by John Watson; Watson, John. "
        "Dr Peter Smith; Dr John Henry Watson; Mr Smith LV normal; Mr John Normal."
    )
    assert other(text, names) == (
        "Compare [removed] [removed]; [removed], [removed]; [removed] [removed]. Referred by "
        "[removed] [removed]; [removed], [removed]. Dr [removed] [removed]; Dr [removed] "
        "[removed] [removed]; Mr [removed] LV normal; Mr [removed] Normal."
    )


def test_a_cjk_name_with_a_title_after_it_goes() -> None:
    """Japanese, Chinese and Korean write the title after the name: another patient's lone
    family name (or a staff name's: ``佐藤先生``) goes before one, and the own patient's family
    name of one character (under 2 characters a part alone is no name) joined to 先生, さん ...;
    an ordinary word before a title stays (值班医生, the doctor on duty; 손님, guest), as a
    one-character name after 患者 does (患者高血压: patient, hypertension)."""
    names = {
        "Wang^Xiaoming=王^小明",
        "Yamada^Taro=山田^太郎",
        "Kim^Minjun=김^민준",
        "SATO=佐藤^一郎",
    }
    text = "王先生、山田様、山田さん、佐藤先生より紹介。민준 씨. 患者山田。值班医生。손님. 患者高血压。"
    scrubbed = (
        "[removed]先生、[removed]様、[removed]さん、[removed]先生より紹介。[removed] 씨. "
        "患者[removed]。值班医生。손님. 患者高血压。"
    )
    assert other(text, names | {"班^一", "손^민", "高^一"}) == scrubbed
    assert scrub_text("王先生: 心功能正常。王小明。", ["Wang^Xiaoming=王^小明"]) == (
        "[removed]先生: 心功能正常。[removed]。"
    )


def test_a_name_the_header_writes_without_diacritics_goes_written_with_them() -> None:
    """A PACS writes ``MUELLER^ZOE`` or ``LOPEZ^JOSE`` in ASCII; the reader types ``Müller``,
    ``Zoë``, ``José López``."""
    text = "Frau Müller; MÜLLER, Zoë: LV normal. José López seen. Café."
    expected = "Frau [removed]; [removed], [removed]: LV normal. [removed] [removed] seen. Café."
    assert scrub_text(text, ["MUELLER^ZOE", "LOPEZ^JOSE"]) == expected
    assert other("Compare Zoë Müller; Sr. López.", {"MUELLER^ZOE", "LOPEZ^JOSE"}) == (
        "Compare [removed] [removed]; Sr. [removed]."
    )
    rows = [{"path": "/export/Müller_Zoë/IM1", "reason": "", "series": "José"}]
    scrubbed = deidentify_report(rows, Path("/export"), {"MUELLER^ZOE", "LOPEZ^JOSE"})[0]
    assert (scrubbed["path"], scrubbed["series"]) == ("[removed]_[removed]/IM1", "[removed]")


def test_clinical_words_beside_initials_titles_and_particles_stay() -> None:
    """MR is mitral regurgitation, ``Trace`` no spelling of ``Tracy``, ``Mark`` in ``Marked``,
    a grade's letter no initial, an abbreviation (MR, MI) no initials: nothing here names
    patients Mark, Tracy, Teddy, Wall, Trace or Post (``trace`` and ``post`` are words of
    reports: such a surname goes only where the text names a person with it)."""
    text = (
        "Marked LV dilatation, trace MR. Today's LGE: RV normal. Mark the apex. TRACE TR. "
        "Grade A. Wall motion normal; type B. Trace MR; LV, RV. MR. WALL MOTION NORMAL. "
        "Al Normal; de Mark. Post MI, Trace TR, Trace AR."
    )
    names = {"MARK^JOHN", "TRACY^ANN", "TEDDY^BEN", "WALL^PETER", "TRACE^AL", "POST^ANN"}
    assert other(text, names) == text
    # "Grade A" and "Grade" spell ``Gray Doe`` (grVdV): another patient's name goes whole only
    assert other(text + " Gray Doe seen.", {"DOE^GRAY"}) == text + " [removed] [removed] seen."
    for name in ("WALL^PETER", "TRACE^AL", "POST^ANN"):
        assert scrub_text(text, [name]) == text, name
    assert scrub_text("Mrs Trace seen; post-contrast LGE.", ["TRACE^AL", "POST^ANN"]) == (
        "Mrs [removed] seen; post-contrast LGE."
    )
