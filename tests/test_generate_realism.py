"""Phantom physiology: EF from label masks, wall thickening, regional motion, LGE contrast, ranges."""

from __future__ import annotations

import math

import numpy as np
import pytest
from sklearn.linear_model import LogisticRegression
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import cross_val_predict

from model.schema import DIAGNOSES
from sample_data.anatomy import HeartShape, build_shape, make_frame, territory_weight
from sample_data.body import make_body
from sample_data.diagnoses import derive_findings, draw_diagnosis, draw_parameters
from sample_data.motion import cardiac_cycle
from sample_data.render import MASK_LABELS, acquire, make_acquisition, render_view
from sample_data.sites import INTERNAL
from sample_data.views import ViewPlane, plan_views

CAVITY, MYO, SCAR = MASK_LABELS["lv_cavity"], MASK_LABELS["lv_myocardium"], MASK_LABELS["lge_scar"]


def _heart(diagnosis: str, seed: int) -> tuple[HeartShape, object]:
    rng = np.random.default_rng(seed)
    params = draw_parameters(rng, diagnosis)
    cycle = cardiac_cycle(params, INTERNAL.cine_phases)
    return build_shape(params, cycle, make_frame(rng)), cycle


def _sax_plane(shape: HeartShape, depth_mm: float, spacing: float, size: int) -> ViewPlane:
    frame = shape.frame
    return ViewPlane(
        slot="sax_mid", slice_index=0, centre=frame.origin + depth_mm * frame.axis,
        row_dir=-frame.septal, col_dir=-frame.anterior, rows=size, cols=size,
        spacing_mm=spacing, shift=np.zeros(3),
    )  # fmt: skip


STACK_STEP_MM, STACK_PIXEL_MM = 2.0, 1.5
VOXEL_ML = STACK_STEP_MM * STACK_PIXEL_MM**2 / 1000.0


def _stack_masks(shape: HeartShape, phases: np.ndarray) -> list[np.ndarray]:
    """Label masks [T, H, W] of a dense SAX stack (2 mm apart, 1.5 mm pixels) over the whole LV."""
    body = make_body(np.random.default_rng(0))
    half = shape.b0 + shape.params.max_wall_mm + 12.0
    size = int(2 * half / STACK_PIXEL_MM)
    stack = []
    for depth in np.arange(-5.0, shape.a_ed + 20.0, STACK_STEP_MM):
        plane = _sax_plane(shape, float(depth), STACK_PIXEL_MM, size)
        stack.append(render_view(shape, body, plane, plane.pixel_points(), phases)[1])
    return stack


@pytest.mark.parametrize("diagnosis", DIAGNOSES)
def test_ef_from_label_masks_matches_parameter(diagnosis: str) -> None:
    shape, cycle = _heart(diagnosis, seed=DIAGNOSES.index(diagnosis) + 40)
    phases = np.array([0, cycle.es_phase])
    stack = _stack_masks(shape, phases)
    volumes = np.sum([(m == CAVITY).sum(axis=(1, 2)) for m in stack], axis=0) * VOXEL_ML
    ef = 100.0 * (volumes[0] - volumes[1]) / volumes[0]
    assert abs(ef - shape.params.lv_ef) < 2.0
    assert abs(volumes[0] - shape.params.lv_edv_ml) / shape.params.lv_edv_ml < 0.05
    myocardium = np.sum([(m == MYO).sum(axis=(1, 2)) for m in stack], axis=0)
    assert abs(myocardium[1] - myocardium[0]) / myocardium[0] < 0.12, "myocardium is conserved"


@pytest.mark.parametrize("diagnosis", ["normal", "hcm", "nicm"])
def test_walls_thicken_in_systole(diagnosis: str) -> None:
    shape, cycle = _heart(diagnosis, seed=7)
    plane = _sax_plane(shape, 0.5 * shape.a_ed, 0.5, 200)
    body = make_body(np.random.default_rng(0))
    masks = render_view(shape, body, plane, plane.pixel_points(), np.array([0, cycle.es_phase]))[1]
    cavity = (masks == CAVITY).sum(axis=(1, 2)) * 0.25
    outer = cavity + (masks == MYO).sum(axis=(1, 2)) * 0.25
    thickness = np.sqrt(outer / math.pi) - np.sqrt(cavity / math.pi)
    assert thickness[1] > 1.2 * thickness[0]
    assert cavity[1] < cavity[0]


def _ray_radius(mask: np.ndarray, direction: np.ndarray, spacing: float) -> float:
    """Cavity radius (mm) from the image centre along an in-plane unit direction (row, col)."""
    centre = (np.array(mask.shape) - 1) / 2.0
    steps = np.arange(0.0, mask.shape[0] / 2 - 1, 0.25)
    rows, cols = (centre[:, None] + direction[:, None] * steps[None]).round().astype(int)
    inside = mask[rows, cols] == CAVITY
    return float(steps[np.argmin(inside)] * spacing) if not inside.all() else float("inf")


def test_ischaemic_territory_moves_less() -> None:
    shape, cycle = _heart("icm", seed=3)
    plane = _sax_plane(shape, 0.45 * shape.a_ed, 0.5, 200)
    body = make_body(np.random.default_rng(0))
    masks = render_view(shape, body, plane, plane.pixel_points(), np.array([0, cycle.es_phase]))[1]
    angles = np.linspace(-np.pi, np.pi, 72, endpoint=False)
    weight = territory_weight(np.cos(angles), np.sin(angles), shape.params.wma_territory)
    # Image rows run along -anterior, columns along -septal: theta direction -> (-sin, -cos).
    excursion = np.array([
        _ray_radius(masks[0], np.array([-math.sin(a), -math.cos(a)]), 0.5)
        - _ray_radius(masks[1], np.array([-math.sin(a), -math.cos(a)]), 0.5)
        for a in angles
    ])  # fmt: skip
    territory, remote = excursion[weight > 0.9].mean(), excursion[weight < 0.05].mean()
    assert territory < 0.5 * remote


@pytest.mark.parametrize(("diagnosis", "has_scar"), [("myocarditis", True), ("icm", True),
                                                     ("normal", False)])  # fmt: skip
def test_lge_is_bright_where_the_scar_is(diagnosis: str, has_scar: bool) -> None:
    rng = np.random.default_rng(5)
    params = draw_parameters(rng, diagnosis)
    cycle = cardiac_cycle(params, INTERNAL.cine_phases)
    frame = make_frame(rng)
    shape, body = build_shape(params, cycle, frame), make_body(rng)
    views = [
        v for v in plan_views(frame, params.lv_length_mm, INTERNAL, rng) if v.slot == "lge_sax"
    ]
    acquisition = make_acquisition(rng)
    scar, myocardium = [], []
    for view in views:
        points = view.pixel_points()
        signal, mask = render_view(shape, body, view, points, np.array([12]))
        image = acquire(signal, view, points, frame.origin, acquisition, INTERNAL, rng)
        scar.append(image[mask == SCAR])
        myocardium.append(image[mask == MYO])
    scar_values = np.concatenate(scar)
    assert (scar_values.size > 0) == has_scar
    if has_scar:
        assert scar_values.mean() > 3.0 * np.concatenate(myocardium).mean()


def test_parameter_ranges_overlap_with_borderline_cases() -> None:
    rng = np.random.default_rng(0)
    draws = [draw_parameters(rng, d) for d in DIAGNOSES for _ in range(150)]
    ef_border = {p.diagnosis for p in draws if 48 <= p.lv_ef <= 55}
    wall_border = {p.diagnosis for p in draws if 11 <= p.max_wall_mm <= 14}
    edd_border = {p.diagnosis for p in draws if 56 <= p.lv_edd_mm <= 60}
    assert len(ef_border) >= 3 and len(wall_border) >= 3 and len(edd_border) >= 3
    findings = [derive_findings(p) for p in draws]
    combos = {(f["lv_dysfunction"], f["lv_dilation"]) for f in findings}
    assert combos == {(0, 0), (0, 1), (1, 0), (1, 1)}, "dysfunction is not just dilation"
    for name in ("lv_hypertrophy", "rv_dilation", "rv_dysfunction", "lge", "pericardial_effusion"):
        share = np.mean([f[name] for f in findings])
        assert 0.05 < share < 0.7, name


def test_lv_dysfunction_needs_motion() -> None:
    """End-diastolic morphology alone (size, walls, LGE, effusion) must not settle LVEF < 50 %."""
    rng = np.random.default_rng(1)
    draws = [draw_parameters(rng, draw_diagnosis(rng, "internal")) for _ in range(3000)]
    target = np.array([derive_findings(p)["lv_dysfunction"] for p in draws])
    static = np.array(
        [[p.lv_edd_mm, p.lv_sphericity, p.wall_mm, p.max_wall_mm, p.lge_pattern != "none",
          p.effusion_mm, p.rv_edv_ml] for p in draws], dtype=float,
    )  # fmt: skip
    model = LogisticRegression(max_iter=3000)
    scores = cross_val_predict(model, static, target, cv=5, method="predict_proba")[:, 1]
    assert roc_auc_score(target, static[:, 0]) < 0.8
    assert roc_auc_score(target, scores) < 0.9
