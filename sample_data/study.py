"""One synthetic study end to end: parameters -> heart -> views -> DICOM, masks, report, labels.

Everything about study ``index`` derives from the random stream seeded by (seed, site, index), so
a study's files are identical whichever worker makes it and in whatever order. The last file a
study writes is its record (``.records/<index>.json``); a study without one is redone on resume.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import hashlib
import json
import zipfile
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from model.atomic import atomic_write_json
from model.schema import DIAGNOSES, VIEW_SLOTS
from sample_data.anatomy import HeartShape, build_shape, lge_extent_percent, make_frame
from sample_data.body import BodyShape, make_body
from sample_data.diagnoses import StudyParameters, derive_findings, draw_diagnosis, draw_parameters
from sample_data.dicom_series import SeriesImages, StudyHeader, write_series
from sample_data.motion import cardiac_cycle
from sample_data.patients import (
    REPEAT_SHARE,
    PatientIdentity,
    patient_identity,
    referring_physician,
)
from sample_data.render import MASK_LABELS, Acquisition, acquire, make_acquisition, render_view
from sample_data.reports import write_report
from sample_data.sites import SAX_CINE_SLOTS, SiteProfile, get_site
from sample_data.views import ViewPlane, plan_views

RECORDS_DIR = ".records"
LGE_PHASE_FRACTION = 0.75  # LGE is acquired in mid-diastole


@dataclass(frozen=True)
class StudyRequest:
    """What a worker needs to make study ``index`` of a run."""

    root: Path  # the output folder being filled (DIR.partial)
    seed: int
    site: str
    index: int
    missing_view_rate: float = 0.0


def record_path(root: Path, index: int) -> Path:
    return root / RECORDS_DIR / f"{index:06d}.json"


def _study_core(
    seed: int, site: SiteProfile, index: int
) -> tuple[np.random.Generator, StudyParameters, dt.date, int]:
    """(rng, parameters, study date, patient index): the first draws of a study's stream."""
    rng = np.random.default_rng([seed, site.site_code, index])
    params = draw_parameters(rng, draw_diagnosis(rng, site.name))
    study_date = dt.date(2018, 1, 1) + dt.timedelta(days=int(rng.integers(0, 2500)))
    patient_index = index
    if index > 0 and rng.random() < REPEAT_SHARE:
        patient_index = _study_core(seed, site, int(rng.integers(0, index)))[3]
    return rng, params, study_date, patient_index


def _accession(seed: int, site: SiteProfile, index: int) -> str:
    digest = hashlib.sha256(f"accession|{seed}|{site.name}|{index}".encode()).hexdigest()
    return f"{site.name[0].upper()}{int(digest[:12], 16) % 10**10:010d}"


def _write_masks(path: Path, masks: dict[str, np.ndarray]) -> None:
    """npz with fixed zip timestamps, so the file is byte-for-byte reproducible."""
    path.parent.mkdir(parents=True, exist_ok=True)
    arrays = {**masks, "label_names": np.array(list(MASK_LABELS))}
    with zipfile.ZipFile(path, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for key in sorted(arrays):
            info = zipfile.ZipInfo(f"{key}.npy", date_time=(1980, 1, 1, 0, 0, 0))
            info.compress_type = zipfile.ZIP_DEFLATED
            with archive.open(info, "w") as handle:
                np.lib.format.write_array(handle, arrays[key], allow_pickle=False)


def _series_plan(site: SiteProfile, views: list[ViewPlane]) -> list[tuple[str, list[ViewPlane]]]:
    """Group planes into (SeriesDescription, planes) in acquisition order for the site."""
    by_slot: dict[str, list[ViewPlane]] = {}
    for view in views:
        by_slot.setdefault(view.slot, []).append(view)
    sax = [by_slot[s][0] for s in SAX_CINE_SLOTS if s in by_slot]
    lge_sax = by_slot.get("lge_sax", [])
    if site.sax_apex_first:
        sax, lge_sax = sax[::-1], lge_sax[::-1]
    plan: list[tuple[str, list[ViewPlane]]] = []
    if site.sax_single_series and sax:
        plan.append((site.series.sax, sax))
    else:
        plan += [(site.series.sax.format(n=n), [v]) for n, v in enumerate(sax, start=1)]
    plan += [(name, by_slot[slot]) for slot, name in site.series.lax.items() if slot in by_slot]
    if lge_sax:
        plan.append((site.series.lge_sax, lge_sax))
    plan += [(name, by_slot[slot]) for slot, name in site.series.lge_lax.items() if slot in by_slot]
    return plan


def _patient(
    request: StudyRequest, site: SiteProfile
) -> tuple[np.random.Generator, StudyParameters, dt.date, PatientIdentity, int]:
    """(rng, parameters, study date, identity, patient index); repeat scans reuse an identity."""
    rng, params, study_date, patient_index = _study_core(request.seed, site, request.index)
    if patient_index == request.index:
        patient = patient_identity(request.seed, site.site_code, request.index, params.sex,
                                   params.age, study_date)  # fmt: skip
        return rng, params, study_date, patient, patient_index
    _, first, first_date, _ = _study_core(request.seed, site, patient_index)
    patient = patient_identity(request.seed, site.site_code, patient_index, first.sex, first.age,
                               first_date)  # fmt: skip
    age = max((study_date - patient.birth_date).days // 365, 18)
    return (
        rng,
        dataclasses.replace(params, sex=first.sex, age=age),
        study_date,
        patient,
        patient_index,
    )


def lge_phase(site: SiteProfile) -> int:
    """Cine phase index at which the LGE images are acquired (mid-diastole)."""
    return int(round(LGE_PHASE_FRACTION * site.cine_phases)) % site.cine_phases


def _render_study(
    views: list[ViewPlane],
    shape: HeartShape,
    body: BodyShape,
    acquisition: Acquisition,
    site: SiteProfile,
    rng: np.random.Generator,
) -> tuple[list[np.ndarray], dict[str, np.ndarray]]:
    """Stored pixels per view (uint16 [T, H, W]) and label masks per slot (uint8 [T|S, H, W])."""
    pixels: list[np.ndarray] = []
    masks: dict[str, list[np.ndarray]] = {}
    for view in views:
        phases = np.array([lge_phase(site)]) if view.is_lge else np.arange(site.cine_phases)
        points = view.pixel_points()
        signal, mask = render_view(shape, body, view, points, phases)
        pixels.append(acquire(signal, view, points, shape.frame.origin, acquisition, site, rng))
        masks.setdefault(view.slot, []).append(mask)
    return pixels, {slot: np.concatenate(stack) for slot, stack in masks.items()}


def _write_dicom(
    folder: Path,
    site: SiteProfile,
    head: StudyHeader,
    views: list[ViewPlane],
    pixels: list[np.ndarray],
    trigger_ms: np.ndarray,
    inversion_ms: float,
) -> tuple[int, int]:
    """Write every series of the study under ``folder``; returns (files, bytes)."""
    files = size = 0
    index_of = {id(v): k for k, v in enumerate(views)}
    for number, (description, planes) in enumerate(_series_plan(site, views), start=2):
        lge = planes[0].is_lge
        series = SeriesImages(
            number=number,
            description=description,
            views=planes,
            pixels=[pixels[index_of[id(v)]] for v in planes],
            trigger_ms=trigger_ms[[lge_phase(site)]] if lge else trigger_ms,
            inversion_ms=inversion_ms if lge else None,
        )
        n_files, n_bytes = write_series(folder / f"SE{number:03d}", site, head, series)
        files, size = files + n_files, size + n_bytes
    return files, size


def make_study(request: StudyRequest) -> dict:
    """Render and write study ``request.index``; returns (and stores) its record."""
    site = get_site(request.site)
    rng, params, study_date, patient, patient_index = _patient(request, site)
    accession = _accession(request.seed, site, request.index)
    referrer_dicom, referrer_report = referring_physician(rng)
    cycle = cardiac_cycle(params, site.cine_phases)
    frame = make_frame(rng)
    shape, body, acquisition = (
        build_shape(params, cycle, frame),
        make_body(rng),
        make_acquisition(rng),
    )
    views = plan_views(frame, params.lv_length_mm, site, rng)
    missing = str(rng.choice(VIEW_SLOTS)) if rng.random() < request.missing_view_rate else ""
    views = [v for v in views if v.slot != missing]
    pixels, masks = _render_study(views, shape, body, acquisition, site, rng)
    head = StudyHeader(
        uid_key=(request.seed, site.name, request.index),
        accession=accession,
        study_date=study_date,
        study_time=f"{int(rng.integers(7, 19)):02d}{int(rng.integers(0, 60)):02d}00",
        patient=patient,
        age=params.age,
        referrer_dicom=referrer_dicom,
        heart_rate_bpm=params.heart_rate_bpm,
        weight_kg=float(rng.uniform(52, 110)),
        height_m=float(rng.uniform(1.62, 1.92) if params.sex == "M" else rng.uniform(1.50, 1.78)),
    )
    inversion_ms = float(rng.uniform(250, 290) if params.poor_nulling else rng.uniform(280, 340))
    study_folder = f"ST{hashlib.sha256(accession.encode()).hexdigest()[:10].upper()}"
    files, size = _write_dicom(request.root / "dicom" / study_folder, site, head, views, pixels,
                               cycle.trigger_time_ms, inversion_ms)  # fmt: skip
    _write_masks(request.root / "masks" / f"{accession}.npz", masks)
    report = write_report(params, patient, accession, referrer_report, site.institution,
                          study_date, site.report_style, rng)  # fmt: skip
    record = {
        "index": request.index,
        "accession_number": accession,
        "study_folder": study_folder,
        "report": report,
        "labels": _labels(params),
        "ground_truth": _ground_truth(params, site, cycle.es_phase, missing),
        "phi": {
            "patient_index": patient_index,
            "values": [*patient.phi_values(), referrer_dicom, referrer_report],
        },
        "files": files,
        "bytes": size,
    }
    atomic_write_json(record_path(request.root, request.index), record)
    return record


def _labels(params: StudyParameters) -> dict[str, int]:
    labels = derive_findings(params)
    labels.update({name: int(params.diagnosis == name) for name in DIAGNOSES})
    return labels


def _ground_truth(params: StudyParameters, site: SiteProfile, es_phase: int, missing: str):
    row = {"site": site.name, **params.as_row()}
    row.update(
        lge_extent_pct=round(lge_extent_percent(params), 2),
        cine_phases=site.cine_phases,
        es_phase=es_phase,
        missing_view=missing,
    )
    return row


def load_record(root: Path, index: int) -> dict | None:
    """The stored record of a finished study, or None."""
    path = record_path(root, index)
    if not path.exists():
        return None
    with open(path, encoding="utf-8") as handle:
        return json.load(handle)
