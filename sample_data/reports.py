"""Full CMR reports: a header with PHI, a FINDINGS section and an IMPRESSION section.

The reader measures every parameter with error and words the impression from those measurements:
synonyms, abbreviations (LV, LVEF, RV, LGE), negations, hedges, measured values, incidental
sentences unrelated to the images, and occasional omissions of a finding. Two styles: ``terse``
(numbered list, abbreviations, British spelling) and ``prose`` (running text, American spelling).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass

import numpy as np

from sample_data import phrasebook as phrases
from sample_data.diagnoses import (
    EFFUSION_MM,
    LVEDD_DILATION_MM,
    LVEF_DYSFUNCTION,
    RVEDV_DILATION_ML,
    RVEF_DYSFUNCTION,
    WALL_HYPERTROPHY_MM,
    StudyParameters,
)
from sample_data.patients import PatientIdentity

OMISSION_RATE = 0.04
TERRITORY_WALLS = {
    "LAD": "anterior wall, anteroseptum and apex",
    "LCx": "lateral and inferolateral walls",
    "RCA": "inferior wall and inferoseptum",
}
INCIDENTAL = (
    "Small hiatus hernia noted incidentally.",
    "Incidental simple cyst in the upper pole of the right kidney.",
    "Small bilateral pleural effusions.",
    "Incidental 4 mm pulmonary nodule in the right lower lobe; suggest CT follow-up per guidelines.",
    "Simple hepatic cyst, of no clinical significance.",
    "Mild dilatation of the ascending aorta (39 mm).",
    "Degenerative changes of the thoracic spine.",
)
INDICATIONS = ("breathlessness", "chest pain", "palpitations", "abnormal ECG", "syncope",
               "family history of cardiomyopathy", "raised troponin", "murmur")  # fmt: skip


@dataclass(frozen=True)
class Measurements:
    """What the reader measured (parameters plus reader error), rounded as reported."""

    lv_ef: int
    lv_edd: int
    lv_edv: int
    lv_esv: int
    max_wall: int
    rv_edv: int
    rv_ef: int
    effusion: int


def measure(p: StudyParameters, rng: np.random.Generator) -> Measurements:
    n = rng.normal
    return Measurements(
        lv_ef=round(p.lv_ef + n(0, 2.5)),
        lv_edd=round(p.lv_edd_mm + n(0, 1.5)),
        lv_edv=round(p.lv_edv_ml * (1 + n(0, 0.05))),
        lv_esv=round(p.lv_esv_ml * (1 + n(0, 0.06))),
        max_wall=round(p.max_wall_mm + n(0, 1.0)),
        rv_edv=round(p.rv_edv_ml * (1 + n(0, 0.06))),
        rv_ef=round(p.rv_ef + n(0, 3.5)),
        effusion=max(round(p.effusion_mm + n(0, 1.0)), 0),
    )


class _Phrasing:
    """Sentence choices for one report: style, spelling and the random generator."""

    def __init__(self, style: str, rng: np.random.Generator):
        self.prose = style == "prose"
        self.rng = rng

    def pick(self, *options: str) -> str:
        return str(options[int(self.rng.integers(len(options)))])

    def ischaemic(self) -> str:
        return "ischemic" if self.prose else "ischaemic"


def _grade(value: float, cuts: tuple[float, float], words=("mildly", "moderately", "severely")):
    return words[0] if value < cuts[0] else words[1] if value < cuts[1] else words[2]


def _lv_sentences(p: StudyParameters, m: Measurements, w: _Phrasing) -> list[str]:
    out = []
    if m.lv_edd >= LVEDD_DILATION_MM:
        out.append(w.pick(*phrases.lv_dilated(_grade(m.lv_edd, (62, 68)), m.lv_edd)))
    elif w.rng.random() < 0.5:
        out.append(w.pick(*phrases.lv_not_dilated(m.lv_edd)))
    if m.lv_ef < LVEF_DYSFUNCTION:
        out.append(w.pick(*phrases.lv_impaired(_grade(50 - m.lv_ef, (11, 21)), m.lv_ef)))
    elif m.lv_ef < 55:
        out.append(w.pick(*phrases.lv_borderline(m.lv_ef)))
    elif m.lv_ef > 72:
        out.append(f"Hyperdynamic LV systolic function (LVEF {m.lv_ef}%).")
    else:
        out.append(w.pick(*phrases.lv_normal_function(m.lv_ef)))
    if p.wma_territory:
        motion = "Akinesis" if p.wma_severity > 0.85 else "Hypokinesis"
        walls = TERRITORY_WALLS[p.wma_territory]
        out.append(f"{motion} of the {walls} ({p.wma_territory} territory).")
    return out


def _wall_sentence(p: StudyParameters, m: Measurements, w: _Phrasing) -> list[str]:
    if m.max_wall >= WALL_HYPERTROPHY_MM:
        return [w.pick(*phrases.lv_hypertrophied(m.max_wall, septal=p.septal_extra_mm > 2.5))]
    if w.rng.random() < 0.5:
        return [w.pick(*phrases.lv_wall_normal(m.max_wall))]
    return []


def _rv_sentence(m: Measurements, w: _Phrasing) -> list[str]:
    dilated, impaired = m.rv_edv >= RVEDV_DILATION_ML, m.rv_ef < RVEF_DYSFUNCTION
    if dilated or impaired or w.rng.random() < 0.6:
        grades = (
            _grade(m.rv_edv / RVEDV_DILATION_ML, (1.15, 1.35)),
            _grade(RVEF_DYSFUNCTION - m.rv_ef, (10, 20)),
        )
        options = phrases.rv_statements(dilated, impaired, grades, m.rv_edv, m.rv_ef)
        return [w.pick(*options)]
    return []


def _lge_sentence(p: StudyParameters, w: _Phrasing) -> list[str]:
    if p.lge_pattern == "none":
        return [w.pick(*phrases.lge_absent())]
    if p.lge_pattern in ("subendocardial", "transmural"):
        walls = TERRITORY_WALLS[p.lge_territory]
        transmural = p.lge_pattern == "transmural"
        options = phrases.lge_infarct(transmural, walls, p.lge_territory, w.ischaemic())
        return [w.pick(*options)]
    septal_hcm = p.septal_extra_mm > 2.5
    return [w.pick(*phrases.lge_non_ischaemic(p.lge_pattern, septal_hcm, w.ischaemic()))]


def _effusion_sentence(m: Measurements, w: _Phrasing) -> list[str]:
    if m.effusion >= EFFUSION_MM:
        return [w.pick(*phrases.effusion_present(m.effusion))]
    if m.effusion >= 2:
        return [w.pick(*phrases.effusion_trivial())]
    return [w.pick(*phrases.effusion_absent())] if w.rng.random() < 0.4 else []


def _summary(p: StudyParameters, w: _Phrasing) -> str:
    isch = w.ischaemic()
    options = {
        "normal": ("Normal cardiac MRI.", "No evidence of cardiomyopathy.",
                   "Structurally normal heart."),
        "nicm": ("Findings are consistent with dilated cardiomyopathy.",
                 f"Likely non-{isch} dilated cardiomyopathy.",
                 f"Appearances favour a non-{isch} cardiomyopathy; cannot exclude an {isch} cause."),
        "icm": (f"{isch.capitalize()} cardiomyopathy.",
                f"Appearances in keeping with {isch} heart disease.",
                f"Likely {isch} cardiomyopathy."),
        "hcm": ("Features in keeping with hypertrophic cardiomyopathy.",
                "Likely hypertrophic cardiomyopathy (HCM).",
                "Appearances suggestive of HCM."),
        "amyloidosis": ("Appearances are highly suggestive of cardiac amyloidosis.",
                        "Likely cardiac amyloid; correlate with nuclear imaging.",
                        "Features consistent with cardiac amyloidosis."),
        "myocarditis": ("Appearances consistent with myocarditis.",
                        "Likely recent myocarditis; cannot exclude sarcoidosis.",
                        "Findings suggestive of myocarditis."),
        "rv": ("Isolated RV dilatation and dysfunction; cannot exclude arrhythmogenic cardiomyopathy.",
               "Abnormal right ventricle, likely secondary to pulmonary hypertension.",
               "RV cardiomyopathy cannot be excluded."),
    }  # fmt: skip
    return w.pick(*options[p.diagnosis])


def impression_sentences(p: StudyParameters, m: Measurements, w: _Phrasing) -> list[str]:
    """Impression statements in reading order, each finding omitted a few % of the time."""
    groups = [
        _lv_sentences(p, m, w),
        _wall_sentence(p, m, w),
        _rv_sentence(m, w),
        _lge_sentence(p, w),
        _effusion_sentence(m, w),
    ]
    sentences = [s for group in groups if w.rng.random() >= OMISSION_RATE for s in group]
    sentences.append(_summary(p, w))
    if w.rng.random() < 0.3:
        sentences.append(w.pick(*INCIDENTAL))
    return sentences


def write_report(
    p: StudyParameters,
    patient: PatientIdentity,
    accession: str,
    referrer: str,
    institution: str,
    study_date: dt.date,
    style: str,
    rng: np.random.Generator,
) -> str:
    """The full report text: header (with PHI), FINDINGS, IMPRESSION."""
    m = measure(p, rng)
    w = _Phrasing(style, rng)
    findings = (
        f"LV EDV {m.lv_edv} mL, ESV {m.lv_esv} mL, EF {m.lv_ef}%. LVEDD {m.lv_edd} mm. "
        f"Maximal wall thickness {m.max_wall} mm. RV EDV {m.rv_edv} mL, RVEF {m.rv_ef}%. "
        f"Pericardial fluid {m.effusion} mm."
    )
    impression = impression_sentences(p, m, w)
    indication = w.pick(*INDICATIONS)
    if style == "prose":
        header = [
            institution,
            f"Name: {patient.family_name.upper()}, {patient.given_name}",
            f"Medical record number: {patient.patient_id}",
            f"Date of birth: {patient.birth_date.isoformat()}",
            f"Accession number: {accession}    Exam date: {study_date.isoformat()}",
            f"Referring physician: {referrer}",
            f"Indication: {indication}.",
        ]
        body = " ".join(impression)
    else:
        header = [
            f"{institution.upper()} - CARDIAC MRI REPORT",
            f"Patient: {patient.report_name}    MRN: {patient.patient_id}    "
            f"DOB: {patient.birth_date.strftime('%d/%m/%Y')}",
            f"Accession: {accession}    Date: {study_date.strftime('%d/%m/%Y')}    Referrer: {referrer}",
            f"Clinical indication: {indication}",
        ]
        body = "\n".join(f"{k}. {s}" for k, s in enumerate(impression, start=1))
    return "\n".join([*header, "", "FINDINGS:", findings, "", "IMPRESSION:", body]) + "\n"
