"""Diagnoses, their physiological parameter ranges, and findings derived by clinical thresholds.

Each study has one diagnosis (model/schema.py DIAGNOSES). Its parameters are drawn from ranges that
overlap between diagnoses, so borderline cases exist (LVEF 48-55 %, wall 11-14 mm, LVEDD 56-60 mm).
The binary findings (model/schema.py FINDINGS) are never drawn: they follow from the parameters.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import numpy as np

from model.schema import DIAGNOSES, FINDINGS

TERRITORIES: tuple[str, ...] = ("LAD", "LCx", "RCA")

# Clinical thresholds that turn parameters into findings.
LVEF_DYSFUNCTION = 50.0  # LVEF < 50 %
LVEDD_DILATION_MM = 58.0  # LV end-diastolic diameter >= 58 mm
WALL_HYPERTROPHY_MM = 13.0  # maximal wall thickness >= 13 mm
RVEDV_DILATION_ML = 190.0  # RV end-diastolic volume >= 190 mL
RVEF_DYSFUNCTION = 45.0  # RVEF < 45 %
EFFUSION_MM = 5.0  # pericardial fluid >= 5 mm

DIAGNOSIS_WEIGHTS: dict[str, tuple[float, ...]] = {
    # normal, nicm, icm, hcm, amyloidosis, myocarditis, rv
    "internal": (0.22, 0.16, 0.18, 0.13, 0.09, 0.12, 0.10),
    "external": (0.20, 0.18, 0.20, 0.10, 0.12, 0.10, 0.10),
}


@dataclass(frozen=True)
class StudyParameters:
    """Ground-truth physiology of one study (lengths in mm, volumes in mL, fractions in %)."""

    diagnosis: str
    age: int
    sex: str
    heart_rate_bpm: float
    lv_edd_mm: float  # end-diastolic short-axis cavity diameter at the base
    lv_sphericity: float  # cavity length / diameter
    lv_ef: float
    wall_mm: float  # end-diastolic wall thickness away from regional changes
    septal_extra_mm: float  # asymmetric septal hypertrophy on top of wall_mm
    wma_territory: str  # "" or one of TERRITORIES
    wma_severity: float  # 0 = normal motion, 1 = akinetic
    lge_pattern: str
    lge_territory: str  # coronary territory or wall name where LGE sits
    lge_depth: float  # fraction of wall depth enhanced (0..1)
    poor_nulling: bool
    rv_edv_ml: float
    rv_ef: float
    rv_wall_mm: float
    la_max_ml: float
    ra_max_ml: float
    effusion_mm: float
    mapse_mm: float  # mitral annular plane descent in systole
    tapse_mm: float  # tricuspid annular plane descent in systole
    early_fill: float  # fraction of stroke volume refilled in rapid filling

    @property
    def lv_length_mm(self) -> float:
        return self.lv_edd_mm * self.lv_sphericity

    @property
    def lv_edv_ml(self) -> float:
        radius = self.lv_edd_mm / 2.0
        return 2.0 / 3.0 * math.pi * self.lv_length_mm * radius * radius / 1000.0

    @property
    def lv_esv_ml(self) -> float:
        return self.lv_edv_ml * (1.0 - self.lv_ef / 100.0)

    @property
    def rv_esv_ml(self) -> float:
        return self.rv_edv_ml * (1.0 - self.rv_ef / 100.0)

    @property
    def max_wall_mm(self) -> float:
        return self.wall_mm + self.septal_extra_mm

    def as_row(self) -> dict[str, object]:
        """Flat dict of every parameter plus the derived volumes (ground_truth.csv columns)."""
        row: dict[str, object] = asdict(self)
        row.update(
            lv_length_mm=self.lv_length_mm,
            lv_edv_ml=self.lv_edv_ml,
            lv_esv_ml=self.lv_esv_ml,
            rv_esv_ml=self.rv_esv_ml,
            max_wall_mm=self.max_wall_mm,
        )
        return {k: (round(v, 3) if isinstance(v, float) else v) for k, v in row.items()}


def derive_findings(p: StudyParameters) -> dict[str, int]:
    """The seven binary findings (1/0) from clinical thresholds on the parameters."""
    findings = {
        "lv_dysfunction": p.lv_ef < LVEF_DYSFUNCTION,
        "lv_dilation": p.lv_edd_mm >= LVEDD_DILATION_MM,
        "lv_hypertrophy": p.max_wall_mm >= WALL_HYPERTROPHY_MM,
        "rv_dilation": p.rv_edv_ml >= RVEDV_DILATION_ML,
        "rv_dysfunction": p.rv_ef < RVEF_DYSFUNCTION,
        "lge": p.lge_pattern != "none",
        "pericardial_effusion": p.effusion_mm >= EFFUSION_MM,
    }
    return {name: int(findings[name]) for name in FINDINGS}


def draw_diagnosis(rng: np.random.Generator, site: str) -> str:
    """One diagnosis with the site's prevalence."""
    weights = np.asarray(DIAGNOSIS_WEIGHTS.get(site, DIAGNOSIS_WEIGHTS["internal"]))
    return str(DIAGNOSES[int(rng.choice(len(DIAGNOSES), p=weights / weights.sum()))])


def draw_parameters(rng: np.random.Generator, diagnosis: str) -> StudyParameters:
    """Physiological parameters for ``diagnosis`` from overlapping ranges."""
    u = rng.uniform
    base = dict(
        diagnosis=diagnosis,
        heart_rate_bpm=u(55, 95),
        lv_edd_mm=u(44, 57),
        lv_sphericity=u(1.6, 1.9),
        lv_ef=u(54, 70),
        wall_mm=u(7, 11.5),
        septal_extra_mm=0.0,
        wma_territory="",
        wma_severity=0.0,
        lge_pattern="none",
        lge_territory="",
        lge_depth=0.0,
        poor_nulling=False,
        rv_edv_ml=u(105, 185),
        rv_ef=u(48, 65),
        rv_wall_mm=u(3, 4.5),
        la_max_ml=u(45, 72),
        ra_max_ml=u(45, 72),
        effusion_mm=0.0 if u() < 0.9 else u(1, 3.5),
        early_fill=u(0.6, 0.75),
    )
    age_range, male_share = _DIAGNOSIS_CHANGES[diagnosis](rng, base)
    base["age"] = int(rng.integers(*age_range))
    base["sex"] = "M" if u() < male_share else "F"
    base["mapse_mm"] = float(np.clip(3.0 + 0.16 * base["lv_ef"] + rng.normal(0, 1.0), 4, 18))
    base["tapse_mm"] = float(np.clip(4.0 + 0.33 * base["rv_ef"] + rng.normal(0, 1.5), 6, 28))
    return StudyParameters(
        **{k: (float(v) if isinstance(v, np.floating) else v) for k, v in base.items()}
    )


def _nicm(rng: np.random.Generator, p: dict) -> tuple[tuple[int, int], float]:
    u = rng.uniform
    p.update(lv_edd_mm=u(55, 74), lv_sphericity=u(1.3, 1.55), lv_ef=u(18, 54), wall_mm=u(6, 9.5))
    if u() < 0.3:  # hypokinetic non-dilated cardiomyopathy: only motion shows it
        p.update(lv_edd_mm=u(45, 57), lv_sphericity=u(1.5, 1.8), lv_ef=u(25, 49))
    p.update(la_max_ml=u(60, 110), early_fill=u(0.45, 0.7))
    if u() < 0.35:
        p.update(rv_ef=u(28, 47), rv_edv_ml=u(165, 240))
    if u() < 0.3:
        p.update(lge_pattern="midwall", lge_territory="septum", lge_depth=u(0.25, 0.4))
    if u() < 0.1:
        p.update(effusion_mm=u(3, 8))
    return (30, 78), 0.65


def _icm(rng: np.random.Generator, p: dict) -> tuple[tuple[int, int], float]:
    u = rng.uniform
    territory = str(rng.choice(TERRITORIES, p=[0.5, 0.2, 0.3]))
    transmural = u() < 0.45
    p.update(lv_edd_mm=u(48, 68), lv_sphericity=u(1.4, 1.75), lv_ef=u(22, 60), wall_mm=u(7, 11))
    p.update(wma_territory=territory, wma_severity=u(0.6, 1.0), la_max_ml=u(55, 95))
    p.update(
        lge_pattern="transmural" if transmural else "subendocardial",
        lge_territory=territory,
        lge_depth=u(0.75, 1.0) if transmural else u(0.25, 0.5),
    )
    if territory == "RCA" and u() < 0.3:
        p.update(rv_ef=u(33, 47))
    return (48, 86), 0.75


def _hcm(rng: np.random.Generator, p: dict) -> tuple[tuple[int, int], float]:
    u = rng.uniform
    p.update(lv_edd_mm=u(38, 50), lv_sphericity=u(1.7, 2.0), lv_ef=u(60, 78), wall_mm=u(8, 11.5))
    max_wall = u(11.5, 14) if u() < 0.1 else u(14, 28)
    p.update(septal_extra_mm=max(max_wall - p["wall_mm"], 1.5), la_max_ml=u(70, 120))
    p.update(early_fill=u(0.35, 0.55))
    if u() < 0.55:
        p.update(lge_pattern="midwall", lge_territory="septum", lge_depth=u(0.3, 0.5))
    return (18, 72), 0.6


def _amyloidosis(rng: np.random.Generator, p: dict) -> tuple[tuple[int, int], float]:
    u = rng.uniform
    p.update(lv_edd_mm=u(38, 50), lv_sphericity=u(1.6, 1.9), lv_ef=u(38, 65), wall_mm=u(11.5, 19))
    p.update(septal_extra_mm=u(0, 2), la_max_ml=u(85, 140), ra_max_ml=u(80, 130))
    p.update(rv_ef=u(36, 55), rv_wall_mm=u(5.5, 8), early_fill=u(0.3, 0.5), poor_nulling=True)
    p.update(lge_pattern="diffuse_subendocardial", lge_territory="global", lge_depth=u(0.3, 0.6))
    if u() < 0.45:
        p.update(effusion_mm=u(4, 12))
    return (58, 89), 0.8


def _myocarditis(rng: np.random.Generator, p: dict) -> tuple[tuple[int, int], float]:
    u = rng.uniform
    p.update(lv_edd_mm=u(46, 59), lv_ef=u(37, 66), wall_mm=u(8, 11.5))
    p.update(lge_pattern="subepicardial", lge_territory="inferolateral", lge_depth=u(0.2, 0.45))
    if u() < 0.35:
        p.update(effusion_mm=u(4, 10))
    return (18, 52), 0.7


def _rv(rng: np.random.Generator, p: dict) -> tuple[tuple[int, int], float]:
    u = rng.uniform
    p.update(lv_edd_mm=u(40, 54), lv_ef=u(45, 66), wall_mm=u(7, 10))
    p.update(rv_edv_ml=u(195, 320), rv_ef=u(22, 44), ra_max_ml=u(70, 125), rv_wall_mm=u(3.5, 5.5))
    return (22, 76), 0.55


def _normal(rng: np.random.Generator, p: dict) -> tuple[tuple[int, int], float]:
    u = rng.uniform
    if u() < 0.15:  # athlete's heart: large cavity, thick-ish walls, normal function
        p.update(lv_edd_mm=u(55, 62), wall_mm=u(10, 12.5), lv_ef=u(52, 64), rv_edv_ml=u(160, 200))
    return (19, 72), 0.5


_DIAGNOSIS_CHANGES = {
    "normal": _normal,
    "nicm": _nicm,
    "icm": _icm,
    "hcm": _hcm,
    "amyloidosis": _amyloidosis,
    "myocarditis": _myocarditis,
    "rv": _rv,
}
