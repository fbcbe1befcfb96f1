"""Occlusion explanations (model.explain): a stub encoder that reads one known view, frame and
square must be explained exactly there; every real tiny tower gives finite attributions for the
present parts, NaN for absent ones, and the batched occlusions equal a one-by-one reference."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from model.errors import DataError, UserError
from model.explain import OcclusionGrid, StudyInput, explain_study, finding_vectors
from model.prompts import FindingPrompts, PromptSet
from model.zeroshot import finding_probabilities, finding_prototypes
from tests.tiny_towers import KINDS, batch, tiny_tower

pytestmark = pytest.mark.usefixtures("one_torch_thread")
VIEW, FRAME, ROW, COL = 3, 2, 5, 1  # what the stub reads: view 3, frame 2, square (5, 1)
PATCH = 4
PAIR = (np.array([1.0, 0.0], np.float32), np.array([0.0, 1.0], np.float32), 10.0)


def stub_encoder(
    video: torch.Tensor, view_mask: torch.Tensor, frame_mask: torch.Tensor
) -> torch.Tensor:
    """``[B, V, T, H, W] -> [B, 2]``: ``[the square's summed pixels, 1]``, 0 for the sum when
    its view or frame is masked out: the finding rises with that square's brightness only."""
    rows = slice(ROW * PATCH, (ROW + 1) * PATCH)
    cols = slice(COL * PATCH, (COL + 1) * PATCH)
    seen = (view_mask[:, VIEW] & frame_mask[:, VIEW, FRAME]).to(video.dtype)
    signal = video[:, VIEW, FRAME, rows, cols].sum(dim=(1, 2)) * seen
    return torch.stack([signal, torch.ones_like(signal)], dim=1)


def stub_study() -> StudyInput:
    """A dim random study whose read square is bright; view 7 absent, view 8 one frame."""
    video = torch.rand(9, 4, 32, 32, generator=torch.Generator().manual_seed(0)) * 0.4
    video[VIEW, FRAME, ROW * PATCH : (ROW + 1) * PATCH, COL * PATCH : (COL + 1) * PATCH] = 1.0
    view_mask = torch.ones(9, dtype=torch.bool)
    view_mask[7] = False
    frame_mask = torch.ones(9, 4, dtype=torch.bool)
    frame_mask[8, 1:] = False
    return StudyInput(video, view_mask, frame_mask)


def test_the_stub_is_explained_exactly_where_it_reads() -> None:
    found = explain_study(stub_encoder, stub_study(), PAIR, OcclusionGrid.of(32, PATCH), chunk=13)
    assert found.views.shape == (9,) and found.frames.shape == (9, 4)
    assert found.regions.shape == (9, 8, 8) and found.region_map.shape == (9, 32, 32)
    assert found.views[VIEW] > 0.01 and np.nanargmax(found.views) == VIEW
    assert np.unravel_index(np.nanargmax(found.frames), (9, 4)) == (VIEW, FRAME)
    assert np.unravel_index(np.nanargmax(found.regions), (9, 8, 8)) == (VIEW, ROW, COL)
    others = np.ones((9, 8, 8), dtype=bool)
    others[VIEW, ROW, COL] = False
    assert np.nanmax(np.abs(found.regions[others])) < 1e-6
    frames = np.ones((9, 4), dtype=bool)
    frames[VIEW, FRAME] = False
    assert np.nanmax(np.abs(found.frames[frames])) < 1e-6
    square = found.region_map[
        VIEW, ROW * PATCH : (ROW + 1) * PATCH, COL * PATCH : (COL + 1) * PATCH
    ]
    assert np.allclose(square, found.regions[VIEW, ROW, COL])
    assert found.peak_frames()[VIEW] == FRAME


def test_absent_parts_are_nan_not_zero_and_counted_out() -> None:
    found = explain_study(stub_encoder, stub_study(), PAIR, OcclusionGrid.of(32, PATCH))
    assert np.isnan(found.views[7]) and np.isnan(found.frames[7]).all()
    assert np.isnan(found.regions[7]).all() and np.isnan(found.region_map[7]).all()
    assert np.isnan(found.frames[8, 1:]).all() and not np.isnan(found.frames[8, 0])
    assert found.view_present.tolist() == [True] * 7 + [False, True]
    assert found.occlusions == 8 + (7 * 4 + 1) + 8 * 64  # views, frames, squares present


def test_overlapping_squares_peak_on_the_read_square() -> None:
    grid = OcclusionGrid.of(32, PATCH, stride=2)
    found = explain_study(stub_encoder, stub_study(), PAIR, grid)
    assert grid.shape == (15, 15) and found.regions.shape == (9, 15, 15)
    assert np.unravel_index(np.nanargmax(found.regions), (9, 15, 15)) == (VIEW, 2 * ROW, 2 * COL)
    peak = np.unravel_index(np.nanargmax(found.region_map[VIEW]), (32, 32))
    assert ROW * PATCH <= peak[0] < (ROW + 1) * PATCH and COL * PATCH <= peak[1] < (COL + 1) * PATCH


def test_grid_refuses_what_does_not_fit() -> None:
    assert OcclusionGrid.of(64) == OcclusionGrid(64, 8, 8)
    assert OcclusionGrid.of(30, 8).starts() == [0, 8, 16, 22]  # the last square ends at the edge
    with pytest.raises(UserError, match="does not fit"):
        OcclusionGrid.of(32, 40)
    with pytest.raises(UserError, match="stride 9"):
        OcclusionGrid.of(32, 8, stride=9)


def _reference(tower, study: StudyInput, pair, what: str, where: tuple[int, ...]) -> float:
    """The probability drop of one occlusion, built by hand and encoded alone."""
    video, view_mask, frame_mask = (
        t.clone() for t in (study.video, study.view_mask, study.frame_mask)
    )
    if what == "view":
        view_mask[where[0]] = False
    elif what == "frame":
        frame_mask[where] = False
    else:
        view, top, left = where
        present = frame_mask[view] & view_mask[view]
        fill = video[view][present].mean()
        video[view, :, top : top + 16, left : left + 16] = fill
    with torch.no_grad():
        both = torch.cat(
            [
                tower(*(t[None] for t in (study.video, study.view_mask, study.frame_mask))),
                tower(video[None], view_mask[None], frame_mask[None]),
            ]
        )
    probs = finding_probabilities(both.numpy(), pair[0][None], pair[1][None], pair[2])[:, 0]
    return float(probs[0] - probs[1])


@pytest.mark.parametrize("kind", KINDS)
def test_real_towers_batched_equals_one_by_one(kind: str) -> None:
    torch.manual_seed(1)
    tower = tiny_tower(kind)
    video, view_mask, frame_mask = batch()
    study = StudyInput(video[1], view_mask[1], frame_mask[1])  # views 5-8 absent
    rng = np.random.default_rng(0)
    positive, negative = (
        v / np.linalg.norm(v) for v in rng.normal(size=(2, 24)).astype(np.float32)
    )
    pair = (positive, negative, 30.0)
    found = explain_study(tower, study, pair, OcclusionGrid.of(32, 16), chunk=16)
    present = study.view_mask.numpy()
    assert np.isfinite(found.views[present]).all() and np.isnan(found.views[~present]).all()
    assert np.isfinite(found.regions[present]).all() and np.isnan(found.regions[~present]).all()
    assert np.isfinite(found.frames[found.frame_present]).all()
    for what, where, got in [
        ("view", (1,), found.views[1]),
        ("frame", (0, 2), found.frames[0, 2]),
        ("region", (2, 16, 0), found.regions[2, 1, 0]),
    ]:
        assert got == pytest.approx(_reference(tower, study, pair, what, where), abs=2e-5)
    assert np.abs(found.regions[present]).max() > 0  # the regions do move the probability


@pytest.mark.parametrize("kind", ["multiview", "flat", "static"])
def test_a_study_of_one_view_occluded_whole_stays_finite(kind: str) -> None:
    tower = tiny_tower(kind)
    video, _, frame_mask = batch()
    view_mask = torch.zeros(9, dtype=torch.bool)
    view_mask[0] = True
    pair = (np.eye(24, dtype=np.float32)[0], np.eye(24, dtype=np.float32)[1], 10.0)
    study = StudyInput(video[0], view_mask, frame_mask[0])
    found = explain_study(tower, study, pair, OcclusionGrid.of(32, 16))
    assert np.isfinite(found.views[0]) and np.isnan(found.views[1:]).all()
    assert np.isfinite(found.frames[0]).all()


def test_finding_vectors_match_the_scored_prototypes_and_refuse_unknown_findings() -> None:
    prompts = PromptSet(
        findings={
            "lv_dilation": FindingPrompts(("dilated LV",), ("normal LV size",)),
            "lge": FindingPrompts(("LGE present", "scar"), ("no LGE",)),
        }
    )
    table = {
        "dilated LV": [1, 0, 0],
        "normal LV size": [0, 1, 0],
        "LGE present": [0, 0, 1],
        "scar": [1, 0, 1],
        "no LGE": [0, 1, 1],
    }

    def encode(texts: list[str]) -> np.ndarray:
        return np.array([table[t] for t in texts], np.float32)

    positive, negative = finding_vectors(prompts, "lge", encode)
    scored = finding_prototypes(prompts, encode)  # what the Zero-shot page scores with
    assert positive == pytest.approx(scored.positive[1], abs=1e-6)
    assert negative == pytest.approx(scored.negative[1], abs=1e-6)
    assert not np.allclose(positive, scored.positive[0])
    with pytest.raises(DataError, match="no finding 'LGE' \\(did you mean 'lge'\\?\\)"):
        finding_vectors(prompts, "LGE", encode)
