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
        grade = _grade(m.lv_edd, (62, 68))
        out.append(w.pick(f"{grade.capitalize()} dilated LV (LVEDD {m.lv_edd} mm).",
                          f"{grade.capitalize()} dilated left ventricle, end-diastolic diameter {m.lv_edd} mm.",
                          f"{grade.capitalize()} enlarged LV cavity ({m.lv_edd} mm)."))  # fmt: skip
    elif w.rng.random() < 0.5:
        out.append(w.pick("Normal LV size.", "LV cavity size within normal limits.",
                          "The left ventricle is not dilated."))  # fmt: skip
    if m.lv_ef < LVEF_DYSFUNCTION:
        grade = _grade(50 - m.lv_ef, (11, 21))
        out.append(w.pick(f"{grade.capitalize()} impaired LV systolic function (LVEF {m.lv_ef}%).",
                          f"{grade.capitalize()} reduced LVEF of {m.lv_ef}%.",
                          f"Left ventricular systolic function is {grade} reduced, ejection fraction {m.lv_ef}%."))  # fmt: skip
    elif m.lv_ef < 55:
        out.append(w.pick(f"Borderline low-normal LV systolic function (LVEF {m.lv_ef}%).",
                          f"LVEF {m.lv_ef}%, low normal; cannot exclude early systolic impairment."))  # fmt: skip
    elif m.lv_ef > 72:
        out.append(f"Hyperdynamic LV systolic function (LVEF {m.lv_ef}%).")
    else:
        out.append(w.pick(f"Normal LV systolic function (LVEF {m.lv_ef}%).",
                          f"Preserved LVEF ({m.lv_ef}%).",
                          f"Normal left ventricular ejection fraction of {m.lv_ef}%."))  # fmt: skip
    if p.wma_territory:
        motion = "Akinesis" if p.wma_severity > 0.85 else "Hypokinesis"
        walls = TERRITORY_WALLS[p.wma_territory]
        out.append(f"{motion} of the {walls} ({p.wma_territory} territory).")
    return out


def _wall_sentence(p: StudyParameters, m: Measurements, w: _Phrasing) -> list[str]:
    if m.max_wall >= WALL_HYPERTROPHY_MM:
        if p.septal_extra_mm > 2.5:
            return [w.pick(f"Asymmetric septal hypertrophy, maximal wall thickness {m.max_wall} mm.",
                           f"Asymmetric LV hypertrophy of the septum measuring up to {m.max_wall} mm.")]  # fmt: skip
        return [w.pick(f"Concentric LV hypertrophy (maximal wall thickness {m.max_wall} mm).",
                       f"Concentric left ventricular wall thickening to {m.max_wall} mm.")]  # fmt: skip
    if w.rng.random() < 0.35:
        return [w.pick("No LV hypertrophy.", "Normal LV wall thickness.")]
    return []


def _rv_sentence(m: Measurements, w: _Phrasing) -> list[str]:
    dilated, impaired = m.rv_edv >= RVEDV_DILATION_ML, m.rv_ef < RVEF_DYSFUNCTION
    if dilated and impaired:
        return [w.pick(f"Dilated RV with impaired systolic function (RVEF {m.rv_ef}%).",
                       f"The right ventricle is dilated (RVEDV {m.rv_edv} mL) and impaired, RVEF {m.rv_ef}%.")]  # fmt: skip
    if dilated:
        return [f"Dilated RV (RVEDV {m.rv_edv} mL) with preserved systolic function."]
    if impaired:
        return [w.pick(f"Impaired RV systolic function (RVEF {m.rv_ef}%).",
                       f"Reduced right ventricular ejection fraction of {m.rv_ef}%.")]  # fmt: skip
    if w.rng.random() < 0.6:
        return [w.pick("Normal RV size and function.", "Normal right ventricular size and systolic function.")]  # fmt: skip
    return []


def _lge_sentence(p: StudyParameters, w: _Phrasing) -> list[str]:
    if p.lge_pattern == "none":
        return [w.pick("No late gadolinium enhancement.", "No LGE.",
                       "No myocardial scar or fibrosis on LGE imaging.",
                       "No LGE to suggest infarction or infiltration.")]  # fmt: skip
    if p.lge_pattern in ("subendocardial", "transmural"):
        walls = TERRITORY_WALLS[p.lge_territory]
        viability = "non-viable" if p.lge_pattern == "transmural" else "viable"
        kind = "Transmural" if p.lge_pattern == "transmural" else "Subendocardial"
        return [
            f"{kind} LGE of the {walls} ({p.lge_territory} territory), consistent with "
            f"prior myocardial infarction; {viability} myocardium in this territory."
        ]
    if p.lge_pattern == "subepicardial":
        return [w.pick("Subepicardial LGE of the basal to mid inferolateral wall.",
                       "Patchy subepicardial late gadolinium enhancement in the inferolateral wall.")]  # fmt: skip
    if p.lge_pattern == "diffuse_subendocardial":
        return [w.pick("Diffuse subendocardial LGE with abnormal myocardial nulling.",
                       "Global subendocardial late enhancement; difficulty nulling the myocardium.")]  # fmt: skip
    if p.septal_extra_mm > 2.5:
        return ["Patchy mid-wall LGE in the hypertrophied septum at the RV insertion points."]
    return [w.pick("Mid-wall septal LGE.", "Linear mid-wall enhancement of the septum.")]


def _effusion_sentence(m: Measurements, w: _Phrasing) -> list[str]:
    if m.effusion >= EFFUSION_MM:
        size = "Small" if m.effusion < 10 else "Moderate"
        return [w.pick(f"{size} pericardial effusion ({m.effusion} mm).",
                       f"{size} pericardial effusion measuring {m.effusion} mm.")]  # fmt: skip
    if m.effusion >= 2:
        return ["Trivial pericardial fluid, likely physiological."]
    return ["No pericardial effusion."] if w.rng.random() < 0.4 else []


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
