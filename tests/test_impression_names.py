"""Name parts in impressions: a surname alone goes where the text names a person with it (after
a title, before an age or a possessive), a surname that is a clinical word never wipes that word,
Cyrillic names go in Latin letters and Latin ones in Cyrillic, and links to a PACS viewer go."""

from __future__ import annotations

import re
from pathlib import Path

import pytest

from model.data.report_scrub import deidentify_report, other_patients_scrubber
from model.data.reports import scrub_text
from sample_data import phrasebook


def other(text: str, identifiers: set[str]) -> str:
    return other_patients_scrubber(identifiers)(text)


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("Mr Smith's LV is dilated.", "Mr [removed]'s LV is dilated."),
        ("Smith, 54, presents with chest pain.", "[removed], 54, presents with chest pain."),
        ("Compare Dr. J. Smith's study.", "Compare Dr. J. [removed]'s study."),
        ("Smith, aged 54 years, LV normal.", "[removed], aged 54 years, LV normal."),
        ("SMITH, 54-year-old male.", "[removed], 54-year-old male."),
        # no context naming a person: another patient's lone surname is a word like any other
        ("Smith normal. Smithson's LV. The smith's forge.", None),
    ],
)
def test_another_patients_surname_alone_goes_where_the_text_names_a_person(
    text: str, scrubbed: str | None
) -> None:
    assert other(text, {"SMITH^JOHN", "PID0001"}) == (scrubbed or text)
    assert "Smith" not in scrub_text(text, ["SMITH^JOHN"]).replace("Smithson", "")


CLINICAL_TEXT = (
    "Regional wall motion abnormality of the inferior wall. Heart size normal. Mitral valve "
    "normal; no mitral regurgitation. Wall thickness 9 mm. Heart wall thinning. Young patient "
    "with a long history. Moderate MR. Wall motion normal."
)


@pytest.mark.parametrize(
    "name", ["WALL^JOHN", "HEART^MARY", "MITRAL^ANNA", "HEART^WALL", "WALL^HEART", "YOUNG^LONG"]
)
def test_a_surname_that_is_a_clinical_word_never_wipes_that_word(name: str) -> None:
    """Patient Wall, Heart or Mitral: "wall motion", "Heart size", "Mitral valve" stay, for the
    study's own patient and for another of the ingest; the name goes where it names a person."""
    assert scrub_text(CLINICAL_TEXT, [name, "PID0002"]) == CLINICAL_TEXT
    assert other(CLINICAL_TEXT, {name, "PID0002"}) == CLINICAL_TEXT
    family, given = (part.title() for part in name.split("^"))
    named = f"Mr {family}, 54, presents. {given} {family} seen. {family}'s LV."
    for scrubbed in (scrub_text(named, [name]), other(named, {name})):
        assert scrubbed.startswith("Mr [removed], 54, presents. [removed] [removed] seen."), (
            scrubbed
        )


def test_the_demo_impressions_keep_their_words_whatever_the_patient_is_called() -> None:
    """Each word of the demo reader's impressions as a patient's surname leaves them whole."""
    text = " ".join(
        [
            *phrasebook.lv_wall_normal(9),
            *phrasebook.lv_hypertrophied(15, True),
            *phrasebook.lv_dilated("mildly", 62),
            *phrasebook.lv_impaired("moderately", 35),
            *phrasebook.lv_borderline(52),
            *phrasebook.lv_normal_function(60),
            *phrasebook.rv_statements(True, True, ("mildly", "moderately"), 180, 40),
            *phrasebook.lge_absent(),
            *phrasebook.lge_infarct(True, "inferior wall", "RCA", "ischaemic"),
            *phrasebook.lge_non_ischaemic("mid-wall", True, "non-ischaemic"),
            *phrasebook.effusion_present(5),
            *phrasebook.effusion_trivial(),
        ]
    )
    words = {word.upper() for word in re.findall(r"[A-Za-z]{3,}", text)}
    for word in sorted(words):
        assert scrub_text(text, [f"{word}^MARY"]) == text, word
        assert other(text, {f"{word}^MARY"}) == text, word


def test_a_cyrillic_name_goes_from_latin_text_and_a_latin_name_from_cyrillic_text() -> None:
    cyrillic = "Иванов^Иван"
    assert scrub_text("Mr Ivanov, 54: LV normal. Ivan Ivanov seen.", [cyrillic]) == (
        "Mr [removed], 54: LV normal. [removed] [removed] seen."
    )
    assert scrub_text("Herr Iwanow: LV normal.", [cyrillic]) == "Herr [removed]: LV normal."
    assert scrub_text("Иванов И.: LV normal.", ["IVANOV^IVAN"]) == "[removed] И.: LV normal."
    assert scrub_text("Юрий Жуков.", ["ZHUKOV^YURIY"]) == "[removed] [removed]."
    assert scrub_text("Григорій Петренко.", ["PETRENKO^HRYHORII"]) == "[removed] [removed]."
    assert other("Compare Ivan Ivanov; Mr Ivanov, 60,", {cyrillic}) == (
        "Compare [removed] [removed]; Mr [removed], 60,"
    )
    assert other("Compare Иван Иванов.", {"IVANOV^IVAN"}) == "Compare [removed] [removed]."
    rows = [{"path": "/export/Ivanov_Ivan/IM1", "reason": "", "series": ""}]
    assert deidentify_report(rows, Path("/export"), {cyrillic})[0]["path"] == (
        "[removed]_[removed]/IM1"
    )


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        (
            "See http://pacs.hospital.org/viewer?acc=A123&pid=99001. LV normal.",
            "See [removed]. LV normal.",
        ),
        ("Images: https://pacs/wado?studyUID=1.2.3 (prior).", "Images: [removed] (prior)."),
        ("Viewer pacs01.stmarys.nhs.uk/app?mrn=4471, LV.", "Viewer [removed], LV."),
        ("Ask www.hospital.example or radiology@stmarys.org", "Ask [removed] or [removed]"),
        ("Server 10.2.3.4:8080/view?id=7 down.", "Server [removed] down."),
        ("Host pacs.stmarys.local today.", "Host [removed] today."),
    ],
)
def test_links_in_an_impression_are_removed(text: str, scrubbed: str) -> None:
    assert scrub_text(text, ["DOE^JANE"]) == scrubbed


def test_measurements_and_abbreviations_are_not_links() -> None:
    text = "LVEF 55.5%, 1.5 T, LV/RV 1.2, i.e. normal; e.g. no LGE. Normal.Mild MR. 3.0.1 v."
    assert scrub_text(text, ["DOE^JANE"]) == text


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("MR SMITH SEEN. DR. JONES REPORTED.", "MR [removed] SEEN. DR. [removed] REPORTED."),
        ("COMPARE MRS J. SMITH; DR A. B. WALL.", "COMPARE MRS J. [removed]; DR A. B. [removed]."),
        ("Seen by DR Jones.", "Seen by DR [removed]."),
        # the same capitals as clinical abbreviations: MR (mitral regurgitation), MS, DR
        ("MR SEVERE. MR MODERATE, ECCENTRIC JET. MILD MR. WALL MOTION NORMAL.", None),
        ("MS MILD. DR IMPAIRED (GRADE 2). MR WALL THICKENING. MR young patient.", None),
        ("MR BROWN SEEN.", None),  # a name no header gives: no scrub can know it
    ],
)
def test_a_title_in_capitals_names_a_person_only_with_a_known_name(
    text: str, scrubbed: str | None
) -> None:
    """MR is a title and mitral regurgitation: after it, a known name part goes (another
    patient's, or a clinical-word surname after initials), a clinical word stays, for the own
    patient (WALL, YOUNG) and another one alike."""
    names = {"SMITH^JOHN", "JONES^ANN", "WALL^PETER", "YOUNG^MARY", "SEVERE^ANN"}
    assert other(text, names) == (scrubbed or text)
    for name in ("WALL^PETER", "YOUNG^MARY", "SEVERE^ANN"):
        initials = name == "WALL^PETER"  # DR A. B. WALL: initials make a clinical word a name
        own = text.replace("A. B. WALL", "A. B. [removed]") if initials else text
        assert scrub_text(text, [name]) == own, name


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        (
            "Compared with Wall's prior study, LV normal.",
            "Compared with [removed]'s prior study, LV normal.",
        ),
        ("LV normal, as on Heart's last scan.", "LV normal, as on [removed]'s last scan."),
        # the word at a sentence's start, in lower case or in capitals: no name
        ("Wall's thickness is normal. Heart's size normal. The wall's motion.", None),
        ("IMPRESSION: Wall's motion normal. LV: WALL'S MOTION NORMAL.", None),
    ],
)
def test_a_clinical_word_surname_as_a_possessive_goes_only_written_as_a_name(
    text: str, scrubbed: str | None
) -> None:
    """Patient Wall or Heart: ``Wall's`` inside a sentence, capitalised, is the patient (a
    word there is lower case); at a sentence's start or in capitals it reads as the word, and
    a scrubbed clinical word would change the text the model trains on."""
    for name in ("WALL^JOHN", "HEART^MARY"):
        expected = scrubbed if scrubbed and name[:4].title() in text else None
        assert scrub_text(text, [name]) == (expected or text), name
        assert other(text, {name}) == (expected or text), name
