"""Cardiac cycle: per-phase chamber volumes and annular descent over one R-R interval.

The LV volume follows a physiological curve: ejection (ED -> ES), rapid early filling, diastasis
and the atrial kick back to end-diastole. End-systole is placed on a sampled frame, so the cine
shows the true end-systolic volume and the EF measured on the frames equals the parameter.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from sample_data.diagnoses import StudyParameters


@dataclass(frozen=True)
class CardiacCycle:
    """Per-phase quantities, every array of shape [T] (T = cine frames per cycle)."""

    trigger_time_ms: np.ndarray  # [T] time after the R wave
    lv_volume_ml: np.ndarray  # [T]
    rv_volume_ml: np.ndarray  # [T]
    lv_fill: np.ndarray  # [T] 1 at end-diastole, 0 at end-systole
    rv_fill: np.ndarray  # [T]
    mitral_descent_mm: np.ndarray  # [T] base-to-apex movement of the mitral annulus
    tricuspid_descent_mm: np.ndarray  # [T]
    la_volume_ml: np.ndarray  # [T] largest at end-systole
    ra_volume_ml: np.ndarray  # [T]
    es_phase: int  # index of the end-systolic frame

    @property
    def phases(self) -> int:
        return int(self.lv_volume_ml.shape[0])


def _smoothstep(x: np.ndarray) -> np.ndarray:
    x = np.clip(x, 0.0, 1.0)
    return x * x * (3.0 - 2.0 * x)


def fill_curve(tau: np.ndarray, es_fraction: float, early_fill: float) -> np.ndarray:
    """Ventricular filling state over the cycle: 1 at ED (tau=0 and 1), 0 at ES.

    ``tau``: [T] fraction of the R-R interval. Ejection is a half cosine; diastole rises through
    rapid filling (to ``early_fill``), a slow diastasis and the atrial kick.
    """
    tau = np.asarray(tau, dtype=np.float64)
    ejection = 0.5 * (1.0 + np.cos(np.pi * np.clip(tau / es_fraction, 0.0, 1.0)))
    rapid_end = es_fraction + 0.2 * (1.0 - es_fraction) + 0.08
    diastasis_end = 0.84
    diastasis_level = early_fill + 0.35 * (1.0 - early_fill) * 0.5
    filling = np.where(
        tau < rapid_end,
        early_fill * _smoothstep((tau - es_fraction) / (rapid_end - es_fraction)),
        np.where(
            tau < diastasis_end,
            early_fill
            + (diastasis_level - early_fill)
            * _smoothstep((tau - rapid_end) / (diastasis_end - rapid_end)),
            diastasis_level
            + (1.0 - diastasis_level) * _smoothstep((tau - diastasis_end) / (1.0 - diastasis_end)),
        ),
    )
    return np.where(tau <= es_fraction, ejection, filling)


def cardiac_cycle(params: StudyParameters, phases: int) -> CardiacCycle:
    """Chamber volumes and annular motion at ``phases`` equally spaced trigger times."""
    rr_ms = 60000.0 / params.heart_rate_bpm
    es_raw = 0.33 + 0.002 * (params.heart_rate_bpm - 60.0)
    es_phase = int(np.clip(round(es_raw * phases), 2, phases - 3))
    es_fraction = es_phase / phases
    tau = np.arange(phases) / phases
    lv_fill = fill_curve(tau, es_fraction, params.early_fill)
    rv_fill = fill_curve(tau, es_fraction, min(params.early_fill + 0.05, 0.8))
    lv_stroke = params.lv_edv_ml - params.lv_esv_ml
    rv_stroke = params.rv_edv_ml - params.rv_esv_ml
    atrial_state = 1.0 - lv_fill  # atria fill while the ventricles empty
    la_min = 0.45 * params.la_max_ml
    ra_min = 0.45 * params.ra_max_ml
    return CardiacCycle(
        trigger_time_ms=tau * rr_ms,
        lv_volume_ml=params.lv_esv_ml + lv_stroke * lv_fill,
        rv_volume_ml=params.rv_esv_ml + rv_stroke * rv_fill,
        lv_fill=lv_fill,
        rv_fill=rv_fill,
        mitral_descent_mm=params.mapse_mm * (1.0 - lv_fill),
        tricuspid_descent_mm=params.tapse_mm * (1.0 - rv_fill),
        la_volume_ml=la_min + (params.la_max_ml - la_min) * atrial_state,
        ra_volume_ml=ra_min + (params.ra_max_ml - ra_min) * atrial_state,
        es_phase=es_phase,
    )
