"""Report writer: sections, clinical phrasing, consistency with labels, no PHI in the impression."""

from __future__ import annotations

import datetime as dt
import re

import numpy as np
import pytest

from model.schema import DIAGNOSES
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


LGE_NEGATIONS = ("no late gadolinium", "no lge", "no myocardial scar")


def _stated(finding: str, impression: str) -> bool:
    if finding == "lv_dilation":
        return bool(re.search(r"dilated lv|dilated left ventricle|enlarged lv cavity", impression))
    if finding == "lge":
        mentioned = "lge" in impression or "enhancement" in impression
        return mentioned and not any(n in impression for n in LGE_NEGATIONS)
    return bool(re.search(r"(small|moderate) pericardial effusion", impression))


def test_impression_mostly_agrees_with_labels(reports) -> None:
    for finding in ("lv_dilation", "lge", "pericardial_effusion"):
        agree = [
            _stated(finding, _impression(report).lower()) == bool(derive_findings(p)[finding])
            for p, _, report in reports
        ]
        assert np.mean(agree) > 0.85, finding


def test_sites_write_different_styles() -> None:
    terse = _reports("terse", 2)[0][2]
    prose = _reports("prose", 2)[0][2]
    assert re.search(r"^1\. ", _impression(terse).strip(), flags=re.M)
    assert not re.search(r"^1\. ", _impression(prose).strip(), flags=re.M)
    assert "Medical record number" in prose and "MRN:" in terse
