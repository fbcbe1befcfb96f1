"""Scrub round 5: the Arabic article assimilated to the next letter (``Abdurrahman`` of
``ABDULRAHMAN``), a Thai title joined to the name, Arabic and Hebrew prefixes joined to a name in
their script, and another patient's name in another Latin spelling where the text names a person."""

from __future__ import annotations

import pytest

from model.data.report_scrub import other_patients_scrubber
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
    assimilated) where the text names a person with it, as in its own spelling; elsewhere, and
    as a clinical word, it stays."""
    names = {"ABDULRAHMAN^MUHAMMAD", "HUSSEIN^KHALID", "SMITH^JOHN", "PID0001"}
    text = (
        "Mr Mohamed, 54, seen. Husayn, 60, LV normal. Dr Khaled. Husayn's wife. MR MOHAMED. "
        "Compare Muhammad Abdurrahman. Mohamed. Khaled. Smooth, 54, wall. Smooth wall motion."
    )
    assert other(text, names) == (
        "Mr [removed], 54, seen. [removed], 60, LV normal. Dr [removed]. [removed]'s wife. "
        "MR [removed]. Compare [removed] [removed]. Mohamed. Khaled. Smooth, 54, wall. "
        "Smooth wall motion."
    )
