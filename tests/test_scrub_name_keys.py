"""Scrub round 7: whole-name and part keys kept apart (``Grade`` of ``DOE^GRAY``), another
patient's name with the Arabic article the header leaves out, and a doubled or dropped y
(``Sayyid``, ``Sayid`` of ``SAYED``)."""

from __future__ import annotations

import pytest

from model.data.latin_variants import variant_key
from model.data.report_scrub import other_patients_scrubber
from model.data.reports import scrub_text

_FINDINGS = (
    "Grade 2 LGE in the inferior wall. Gray-scale cine: Grade A. Grey zone small. "
    "Grading of the LV normal. Said to be stable; Saad criteria met. Al normal, El Nino."
)


@pytest.mark.parametrize(
    ("text", "scrubbed"),
    [
        ("Grade 2 LGE in the inferior wall.", None),
        (
            "Compared with Grey Doe's prior: Grade 2.",
            "Compared with [removed] [removed]'s prior: Grade 2.",
        ),
        ("Mrs Grey, LGE grade 2.", "Mrs [removed], LGE grade 2."),
        ("Mr Gray: Grade 3 LGE.", "Mr [removed]: Grade 3 LGE."),
        ("Doe Gray seen. Grades 2-3.", "[removed] [removed] seen. Grades 2-3."),
    ],
)
def test_own_name_given_first_is_no_word(text: str, scrubbed: str | None) -> None:
    """``DOE^GRAY`` given name first reads ``Graydoe``, whose key is ``Grade``'s: a whole name's
    key takes two words or more, so the report's grade stays while the name in any spelling goes
    (``Grey`` after a title: another spelling of a part where the text names a person)."""
    assert scrub_text(text, ["DOE^GRAY", "P001"]) == (text if scrubbed is None else scrubbed)


@pytest.mark.parametrize(
    "text",
    ["Compare Khalid Al-Rashid, 2019.", "Khalid al Rashid: LV normal.", "Khalid el-Rashid seen."],
)
def test_other_patient_with_article_the_header_lacks(text: str) -> None:
    """``RASHID^KHALID`` written with the article (``Al-Rashid``, ``al Rashid``, ``el-Rashid``)
    goes whole, its article too."""
    scrubbed = other_patients_scrubber({"RASHID^KHALID", "P002"})(text)
    assert "Khalid" not in scrubbed and "Rashid" not in scrubbed
    assert "Al" not in scrubbed.split() and "al" not in scrubbed.split() and "el-" not in scrubbed


@pytest.mark.parametrize("spelling", ["Sayyid", "Sayid", "Sayed", "Saied"])
def test_doubled_or_dropped_y(spelling: str) -> None:
    """``Sayyid`` (a doubled y: the shadda) and ``Sayid`` spell ``SAYED``: the whole name goes
    for another patient, a lone part after a title for the study's own."""
    assert variant_key(spelling) == variant_key("SAYED")
    assert other_patients_scrubber({"SAYED^OMAR"})(f"{spelling} Omar seen.") == (
        "[removed] [removed] seen."
    )
    assert scrub_text(f"Mr {spelling} seen.", ["SAYED^OMAR"]) == "Mr [removed] seen."


@pytest.mark.parametrize("name", ["DOE^GRAY", "GRAY^DOE", "RASHID^KHALID", "SAYED^OMAR"])
def test_findings_keep_their_words(name: str) -> None:
    """Report words that read like these names in another spelling (``Grade``, ``Grey``,
    ``Said``, ``Saad``, ``Al``) stay, in both scrubs."""
    assert scrub_text(_FINDINGS, [name]) == _FINDINGS
    assert other_patients_scrubber({name})(_FINDINGS) == _FINDINGS
