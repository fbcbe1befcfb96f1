"""Scrub round 4: Arabic and Hebrew names in another Latin spelling, surnames with particles,
Indic and Thai names under vowel signs and joiners, and two-kana names inside longer words."""

from __future__ import annotations

import unicodedata
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
            "ABDULRAHMAN^MOHAMMED",
            "Mr Abd al-Rahman, 54: LV normal. Mohamed seen; Muhammad's wife. Abdel Rahman.",
            "Mr [removed] [removed]-[removed], 54: LV normal. [removed] seen; [removed]'s wife. "
            "[removed] [removed].",
        ),
        ("ABD AL-RAHMAN^MUHAMMAD", "Mr Abdulrahman (Mohammed), LV normal.", None),
        ("HUSSEIN^KHALID", "Husayn, Khaled: LV normal. Hussain, Khalid.", None),
        ("HUSSEIN^ZAID", "Zayd Husayn: LV normal. Mr Hussain.", None),
        ("OMAR^KHALID", "Umar Khalid: LV normal. Mr Khaled.", None),
        ("KOHEN^YITZHAK", "Itzhak Cohen; Yitzchak Kohen. LV normal.", None),
        ("Abd al-Rahman^Yaakov", "Ya'akov Abdelrahman, LV normal.", None),
    ],
)
def test_an_arabic_or_hebrew_name_goes_in_another_latin_spelling(
    name: str, text: str, scrubbed: str | None
) -> None:
    result = scrub_text(text, [name, "PID0001"])
    if scrubbed:
        assert result == scrubbed
    kept = {word for word in result.replace("[removed]", "").split() if word[0].isupper()}
    assert kept <= {"Mr", "LV"}, result


def test_an_english_name_is_no_spelling_and_clinical_words_stay() -> None:
    """``Isaac`` is another name than ``Yitzhak``, ``Joseph`` than ``Yosef``; ``Smooth`` reads
    like ``Smith``, ``Heart`` like ``Hart``, ``More`` like ``Moore`` and ``Very`` like ``Vera``
    but are words of the report (a word alone of two consonants is never taken)."""
    text = "Isaac and Joseph seen. Smooth wall. Heart size normal. More marked. Very mild MR."
    names = {"COHEN^YITZHAK", "LEVI^YOSEF", "SMITH^JOHN", "HART^ANN", "MOORE^VERA"}
    assert scrub_text(text, sorted(names)) == text
    assert other(text, names) == text


def test_another_patients_full_name_goes_in_another_latin_spelling() -> None:
    """Another patient's whole name goes, also given name first with a surname of two words;
    their lone given name stays a word like any other."""
    names = {"ABDULRAHMAN^MUHAMMAD", "AL-RASHID^KHALID"}
    text = "Compare Mohamed Abd al-Rahman and Khalid Al-Rashid (prior). Mohamed."
    assert other(text, names) == (
        "Compare [removed] [removed] [removed]-[removed] and [removed] [removed]-[removed] "
        "(prior). Mohamed."
    )


@pytest.mark.parametrize("name", ["AL-RASHID^KHALID", "ALRASHID^KHALID", "AL RASHID^KHALID"])
def test_a_surname_goes_with_or_without_its_particle_joined_or_apart(name: str) -> None:
    text = "Mr Al-Rashid; alRashid; Al Rashid; Rashid. AL normal, LA mildly dilated."
    assert scrub_text(text, [name]) == (
        "Mr [removed]-[removed]; [removed]; [removed] [removed]; [removed]. AL normal, LA mildly "
        "dilated."
    )
    assert other("Mr AlRashid, 60, LV normal. AL.", {name}) == "Mr [removed], 60, LV normal. AL."
    rows = [{"path": "/export/AlRashid_Khalid/IM1", "reason": "", "series": ""}]
    assert deidentify_report(rows, Path("/export"), {name})[0]["path"] == (
        "[removed]_[removed]/IM1"
    )


@pytest.mark.parametrize(
    ("name", "text", "scrubbed"),
    [
        (
            "VANDERBERG^JAN",
            "Mr van der Berg; Van Der Berg. LGE de novo; the van.",
            "Mr [removed] [removed] [removed]; [removed] [removed] [removed]. LGE de novo; the van.",
        ),
        (
            "OBRIEN^SEAN",
            "Mr O'Brien; O Brien. O2 normal.",
            "Mr [removed]'[removed]; [removed] [removed]. O2 normal.",
        ),
        (
            "MCDONALD^IAN",
            "Mr Mc Donald; MacDonald; Donald. Mac OS.",
            "Mr [removed] [removed]; [removed]; [removed]. Mac OS.",
        ),
        ("BEN DAVID^DANIEL", "Mr Ben-David; BenDavid; Ben David.", None),
        ("de la Cruz^Maria", "Ms De La Cruz; Dela Cruz; delaCruz; de la Cruz. LA normal.", None),
        (
            "LAY^DAVID",
            "Delay; Mr de Lay; DeLay. Delay in the device.",
            "Delay; Mr [removed] [removed]; [removed]. Delay in the device.",
        ),
    ],
)
def test_european_and_hebrew_particles(name: str, text: str, scrubbed: str | None) -> None:
    result = scrub_text(text, [name])
    if scrubbed:
        assert result == scrubbed
    assert "Berg" not in result and "Brien" not in result and "Donald" not in result
    assert "David" not in result and "Cruz" not in result
    assert ("LA normal" in result) == ("LA normal" in text)


NFD = unicodedata.normalize  # the way a Mac or a PDF writes a text


@pytest.mark.parametrize(
    ("name", "text", "scrubbed"),
    [
        ("शर्मा^राम", "रोगी राम शर्मा, LV सामान्य।", "रोगी [removed] [removed], LV सामान्य।"),
        ("शर्मा^राम", "रोगी राम शर्\u200dमा, रामायण।", "रोगी [removed] [removed], रामायण।"),
        ("ใจดี^สมชาย", "ผู้ป่วย สมชาย ใจดี ปกติ", "ผู้ป่วย [removed] [removed] ปกติ"),
        (
            "பொன்னன்^செல்வம்",
            NFD("NFD", "நோயாளி செல்வம் பொன்னன் சாதாரணம்"),
            NFD("NFD", "நோயாளி [removed] [removed] சாதாரணம்"),
        ),
        (
            NFD("NFD", "பொன்னன்^செல்வம்"),
            "நோயாளி செல்வம் பொன்னன் சாதாரணம்",
            "நோயாளி [removed] [removed] சாதாரணம்",
        ),
    ],
)
def test_indic_and_thai_names_go_whatever_their_vowel_signs_and_joiners(
    name: str, text: str, scrubbed: str
) -> None:
    """A vowel sign, virama or Thai vowel is no letter: it cut a name into pieces no scrub
    matched; a decomposed ``ொ`` or a zero-width joiner made another spelling; a name inside a
    longer word (``राम`` in ``रामायण``) stays."""
    assert scrub_text(text, [name]) == scrubbed
    assert other(text, {name, "PID0001"}) == scrubbed
    rows = [{"path": "/export/" + name.replace("^", "_") + "/IM1", "reason": "", "series": ""}]
    assert deidentify_report(rows, Path("/export"), {name})[0]["path"] == (
        "[removed]_[removed]/IM1"
    )


def test_a_two_kana_name_no_header_writes_so_goes_only_as_a_whole_word() -> None:
    """The header's ``ﾊﾅ`` is ``はな`` in hiragana, which also starts ``はなはだしい``: a
    spelling of two kana the header does not give goes only where no kana of its script touch it
    (an honorific may), the header's own spelling anywhere."""
    name = "Yamada^Hana=山田^花子=ﾔﾏﾀﾞ^ﾊﾅ"
    text = "はなはだしい拡大なし。ハナ様。はなさん。ﾊﾅﾋﾞ。おはなし。"
    assert scrub_text(text, [name]) == (
        "はなはだしい拡大なし。[removed]様。[removed]さん。[removed]ﾋﾞ。おはなし。"
    )
    rows = [{"path": "", "reason": "はなはだしい誤り ハナ", "series": ""}]
    assert deidentify_report(rows, Path("/export"), {name})[0]["reason"] == (
        "はなはだしい誤り [removed]"
    )
