"""Cardiac abbreviations spelled out before tokenizing: whole words only, chamber noun vs adjective."""

from __future__ import annotations

import pytest

from model.abbreviations import expand_abbreviations


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("Dilated LV.", "Dilated left ventricle."),
        (
            "Severely dilated LV (LVEDD 73 mm).",
            "Severely dilated left ventricle (left ventricular end-diastolic diameter 73 mm).",
        ),  # fmt: skip
        ("No LV hypertrophy.", "No left ventricular hypertrophy."),
        ("Dilated RV with impaired function.", "Dilated right ventricle with impaired function."),
        (
            "Impaired RV systolic function (RVEF 38%).",
            "Impaired right ventricular systolic function (right ventricular ejection fraction 38%).",
        ),  # fmt: skip
        ("Mid-wall septal LGE.", "Mid-wall septal late gadolinium enhancement."),
        (
            "LV EDV 278 mL, EF 43%.",
            "left ventricular end-diastolic volume 278 mL, ejection fraction 43%.",
        ),  # fmt: skip
        ("Features of HCM.", "Features of hypertrophic cardiomyopathy."),
        ("Dilated LV and RV.", "Dilated left ventricle and right ventricle."),
    ],
)
def test_expands_report_abbreviations(text: str, expected: str) -> None:
    assert expand_abbreviations(text) == expected


@pytest.mark.parametrize(
    "text",
    [
        "LVOT obstruction is absent.",  # not a listed abbreviation, though it starts with LV
        "Small pericardial EFFUSION.",  # EF only as a whole word
        "Normal study.",
        "lv and lge in lower case are left alone",
        "",
    ],
)
def test_leaves_other_words_alone(text: str) -> None:
    assert expand_abbreviations(text) == text


def test_expanded_text_is_a_fixed_point() -> None:
    once = expand_abbreviations(
        "Dilated LV (LVEF 30%) with subendocardial LGE in the LAD territory."
    )
    assert "LV" not in once.split() and expand_abbreviations(once) == once
