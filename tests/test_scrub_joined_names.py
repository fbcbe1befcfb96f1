"""Scrub round 5: the Arabic article assimilated to the next letter (``Abdurrahman`` of
``ABDULRAHMAN``), a Thai title joined to the name, Arabic and Hebrew prefixes joined to a name in
their script, and another patient's name in another Latin spelling where the text names a person."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.data.report_scrub import deidentify_report, other_patients_scrubber
from model.data.reports import scrub_text


def other(text: str, identifiers: set[str]) -> str:
    return other_patients_scrubber(identifiers)(text)


@pytest.mark.parametrize(
    ("name", "text"),
    [
        ("ABDULRAHMAN^MUHAMMAD", "Mr Abdurrahman, 54. Abdur-Rahman; Abd-ar-Rahman. LV normal."),
        ("ABD AL-RAHMAN^MUHAMMAD", "Mr Abdurrahman, 54. Abdur-Rahman; Abd-ar-Rahman. LV normal."),
        ("NUR AL-DIN^KHALID", "Nooruddin; Nur ad-Din; Nuruddin. LV normal."),
        ("ABD AL-SALAM^OMAR", "Abdussalam; Abd as-Salam. LV normal."),
        ("ABDUL SHAKUR^ALI", "Abd ash-Shakur; Abdushakur. LV normal."),
        # the reverse: the header writes it assimilated, the report not
        ("ABDURRAHMAN^MUHAMMAD", "Abd al-Rahman; Abdul Rahman; Abdel Rahman. LV normal."),
        ("NOORUDDIN^KHALID", "Nur al-Din; Nuruldin. LV normal."),
        ("ABDUSSALAM^OMAR", "Abd al-Salam; Abdulsalam. LV normal."),
    ],
)
def test_an_article_assimilated_to_the_next_letter_is_the_same_name(name: str, text: str) -> None:
    """The ``l`` of ``al-`` takes the sound of a sun letter after it: ``Abd al-Rahman`` is
    spoken and often written ``Abd ar-Rahman``, ``Abdurrahman``."""
    result = scrub_text(text, [name, "PID0001"])
    kept = {word for word in result.replace("[removed]", " ").split()}
    assert kept <= {"Mr", ",", "54.", ";", ".", "-", "LV", "normal."}, result
    assert result.endswith("LV normal.")


def test_assimilated_articles_leave_the_words_around_them() -> None:
    """``as``, ``at``, ``an`` and ``ad`` go only inside a name they spell."""
    text = "Abdurrahman seen as an outpatient at Leeds; ad hoc review. Walter and Water."
    assert scrub_text(text, ["ABDULRAHMAN^MUHAMMAD", "WALTER^JOHN"]) == (
        "[removed] seen as an outpatient at Leeds; ad hoc review. [removed] and Water."
    )


def test_another_patients_name_goes_in_another_spelling_where_the_text_names_a_person() -> None:
    """A lone name part of another patient goes in another Latin spelling (and its article
    assimilated) where the text names a person with it, as in its own spelling; elsewhere, as a
    clinical word, after a title in capitals (``MR TRACE``: trace mitral regurgitation, not
    patient Tracy) and with under 3 consonants (``Today's``, not patient Teddy's) it stays."""
    names = {"ABDULRAHMAN^MUHAMMAD", "HUSSEIN^KHALID", "SMITH^JOHN", "TRACY^TEDDY", "PID0001"}
    text = (
        "Mr Mohamed, 54, seen. Husayn, 60, LV normal. Dr Khaled. Husayn's wife. MR MUHAMMAD. "
        "Compare Muhammad Abdurrahman. Mohamed. Khaled. Smooth, 54, wall. Smooth wall motion. "
        "MILD MR. TRACE TR. MR MOHAMED. Today's study."
    )
    assert other(text, names) == (
        "Mr [removed], 54, seen. [removed], 60, LV normal. Dr [removed]. [removed]'s wife. "
        "MR [removed]. Compare [removed] [removed]. Mohamed. Khaled. Smooth, 54, wall. "
        "Smooth wall motion. MILD MR. TRACE TR. MR MOHAMED. Today's study."
    )


THAI = "ใจดี^สมชาย"  # Jaidee Somchai


@pytest.mark.parametrize(
    ("text", "own", "others"),
    [
        ("ผู้ป่วยนายสมชาย ใจดี ปกติ", "ผู้ป่วยนาย[removed] [removed] ปกติ", None),
        ("นายสมชายปกติ", "นาย[removed]ปกติ", None),
        (
            "เด็กชายสมชาย ด.ช.สมชาย นางสาวสมชาย",
            "เด็กชาย[removed] ด.ช.[removed] นางสาว[removed]",
            None,
        ),
        ("ผู้ป่วยสมชายใจดีปกติ", "ผู้ป่วย[removed]ปกติ", None),
        ("ผู้ป่วยสมชาย ใจดีปกติ", "ผู้ป่วย[removed] [removed]ปกติ", None),
        # a lone name part without a title: the own patient's goes as a word, another's stays
        ("สมชาย ปกติ", "[removed] ปกติ", "สมชาย ปกติ"),
        # a word holding the name's letters, or the name before a vowel of its last consonant
        ("ผู้ชายปกติ สมชายา เสมชาย", None, None),
    ],
)
def test_a_thai_name_goes_with_a_title_joined_to_it(
    text: str, own: str | None, others: str | None
) -> None:
    """Thai writes no spaces between words: ``นาย`` (Mr), ``นางสาว`` (Miss), ``เด็กชาย`` or
    ``ด.ช.`` (boy) join the name after them, and a whole name joins the words around it."""
    assert scrub_text(text, [THAI]) == (own or text)
    assert other(text, {THAI, "PID0001"}) == (others or own or text)


def test_a_name_with_a_title_or_prefixes_joined_goes_from_the_ingest_report() -> None:
    rows = [
        {"path": "/export/นายสมชาย_ใจดี/IM1", "reason": "", "series": "ผู้ป่วยสมชายใจดี"},
        {"path": "/export/ולכהן/IM1", "reason": "ולכן", "series": "ومحمد"},
    ]
    scrubbed = deidentify_report(rows, Path("/export"), {THAI, "כהן^משה", "محمد"})
    assert [(row["path"], row["reason"], row["series"]) for row in scrubbed] == [
        ("นาย[removed]_[removed]/IM1", "", "ผู้ป่วย[removed]"),
        ("ול[removed]/IM1", "ולכן", "و[removed]"),
    ]


@pytest.mark.parametrize(
    ("name", "text", "own", "others"),
    [
        ("כהן^משה", "ולכהן נמסר. שכהן אמר.", "ול[removed] נמסר. ש[removed] אמר.", None),
        (
            "כהן^משה",
            "ומשה כהן, בן 54.",
            "ו[removed] [removed], בן 54.",
            "ו[removed] [removed], בן 54.",
        ),
        ("כהן^משה", "כהנים ולכן כה נמסר.", None, None),
        (
            "الرشيد^محمد",
            "ومحمد الرشيد. لمحمد.",
            "و[removed] [removed]. ل[removed].",
            "و[removed] [removed]. لمحمد.",
        ),
        ("الرشيد^محمد", "للرشيد؛ بالرشيد؛ رشيد.", "لل[removed]؛ ب[removed]؛ [removed].", None),
        (
            "رشيد^خالد",
            "الرشيد؛ فالرشيد. وخالد رشيد.",
            "ال[removed]؛ فال[removed]. و[removed] [removed].",
            "الرشيد؛ فالرشيد. و[removed] [removed].",
        ),
        ("الرشيد^محمد", "وَمُحَمَّد الرَّشِيد", "وَ[removed] [removed]", "وَ[removed] [removed]"),
        ("الرشيد^محمد", "محمدي والمحمدية وبكرة.", None, None),
    ],
)
def test_an_arabic_or_hebrew_name_goes_with_prefixes_joined_to_it(
    name: str, text: str, own: str | None, others: str | None
) -> None:
    """Arabic joins ``و``, ``ب``, ``ل``, ``ف``, ``ك`` and the article ``ال`` to the next word,
    Hebrew ``ו``, ``ה``, ``ב``, ``ל``, ``מ``, ``ש``, ``כ``: what is left after them goes where it
    is a name part of the header (as the header writes it, or without its article); another
    patient's goes in their whole name only."""
    assert scrub_text(text, [name, "PID0001"]) == (own or text)
    assert other(text, {name, "PID0001"}) == (others or text)
