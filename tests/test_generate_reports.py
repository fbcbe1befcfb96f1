"""Report writer: sections, clinical phrasing, consistency with labels, no PHI in the impression."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pytest

from model.prompts import PARAPHRASE_PROMPTS, PromptSet
from model.schema import DIAGNOSES
from model.sentences import split_sentences
from sample_data.diagnoses import derive_findings, draw_parameters
from sample_data.patients import patient_identity
from sample_data.reports import write_report


def _impression(report: str) -> str:
    return report.split("IMPRESSION:", 1)[1]


def _reports(style: str, n_per_diagnosis: int = 40, seed: int = 0):
    rng = np.random.default_rng(seed)
    out = []
    for k in range(n_per_diagnosis * len(DIAGNOSES)):
        params = draw_parameters(rng, DIAGNOSES[k % len(DIAGNOSES)])
        patient = patient_identity(seed, 1, k, params.sex, params.age, dt.date(2022, 5, 1))
        report = write_report(params, patient, f"A{k:08d}", "Dr Q. Okonkwo", "Test Hospital",
                              dt.date(2022, 5, 1), style, rng)  # fmt: skip
        out.append((params, patient, report))
    return out


@pytest.fixture(scope="module", params=["terse", "prose"])
def reports(request):
    return _reports(request.param)


def test_sections_and_phi_only_in_header(reports) -> None:
    for _, patient, report in reports:
        assert report.index("FINDINGS:") < report.index("IMPRESSION:")
        header = report.split("FINDINGS:")[0]
        assert patient.patient_id in header
        impression = _impression(report)
        for value in [*patient.phi_values(), patient.given_name, "Okonkwo"]:
            assert value not in impression, f"PHI {value!r} in impression"
        assert impression.strip()


def test_clinical_language_variety(reports) -> None:
    impressions = [_impression(r) for _, _, r in reports]
    text = "\n".join(impressions)
    for phrase in ("No late gadolinium enhancement", "likely", "cannot exclude", "LVEF", "LGE",
                   "RV", "LV"):  # fmt: skip
        assert phrase.lower() in text.lower(), phrase
    assert len(set(impressions)) == len(impressions), "impressions should not repeat verbatim"
    incidental = sum("incidental" in i.lower() or "pleural" in i.lower() for i in impressions)
    assert 0 < incidental < len(impressions) / 2


def test_measured_values_carry_reader_error(reports) -> None:
    errors = []
    for params, _, report in reports:
        match = re.search(r"EF (\d+)%", report)
        if match:
            errors.append(int(match.group(1)) - params.lv_ef)
    errors = np.array(errors)
    assert 0.5 < errors.std() < 5.0 and abs(errors.mean()) < 1.0


FINDING_WORDS = {
    "lv_dilation": re.compile(r"\b(lv|left ventric\w*)\b.*\b(dilat\w*|enlarged)|dilated (lv|left)"),
    "lge": re.compile(r"\blge\b|enhancement"),
    "pericardial_effusion": re.compile(r"pericardial effusion"),
}
NEGATED = re.compile(r"^(no|normal|non-)\b|\bnot\b|\bno (lv|left|lge|myocardial|significant)\b")


def _stated(finding: str, impression: str) -> bool:
    """Some sentence names the finding without negating it."""
    return any(
        FINDING_WORDS[finding].search(sentence) and not NEGATED.search(sentence)
        for sentence in map(str.lower, split_sentences(impression.replace("\n", " ")))
    )


def test_impression_mostly_agrees_with_labels(reports) -> None:
    for finding in ("lv_dilation", "lge", "pericardial_effusion"):
        agree = [
            _stated(finding, _impression(report)) == bool(derive_findings(p)[finding])
            for p, _, report in reports
        ]
        assert np.mean(agree) > 0.85, finding


def test_sites_write_different_styles() -> None:
    terse = _reports("terse", 2)[0][2]
    prose = _reports("prose", 2)[0][2]
    assert re.search(r"^1\. ", _impression(terse).strip(), flags=re.M)
    assert not re.search(r"^1\. ", _impression(prose).strip(), flags=re.M)
    assert "Medical record number" in prose and "MRN:" in terse


def test_paraphrase_prompts_are_worded_unlike_any_report(reports) -> None:
    """The paraphrase prompt set measures generalisation, so no report may contain its wording."""
    text = " ".join(_impression(r) for _, _, r in reports).lower()
    for prompt in PromptSet.load(PARAPHRASE_PROMPTS).all_texts():
        assert prompt.lower().rstrip(".") not in text, prompt


def test_phrasebook_gives_each_finding_many_wordings(reports) -> None:
    sentences = {s for _, _, r in reports for s in split_sentences(_impression(r).strip())}
    hypertrophy = {s for s in sentences if "hypertroph" in s.lower() and "No " not in s}
    assert len({re.sub(r"\d+", "N", s) for s in hypertrophy}) >= 6
    assert {"No LV hypertrophy.", "No left ventricular hypertrophy."} & sentences
