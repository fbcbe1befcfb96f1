"""Occlusion explanations of one study's zero-shot finding probability.

For a study ``video: [V, T, H, W]`` (with ``view_mask: [V]`` and ``frame_mask: [V, T]`` as
``StudyVideoDataset`` yields them) and one finding's prompt pair, each attribution is

    p(finding | the whole study) - p(finding | the study with that part occluded)

so a positive value means the part raises the finding's probability. Three kinds of part:

- a view ``[V]``: dropped through ``view_mask`` (every tower supports missing views);
- a frame ``[V, T]``: dropped through ``frame_mask``, which every tower reads as a frame the
  study does not have (a shorter cine, as padding is read in training), so nothing out of the
  data's range is invented. The ``static`` tower reads only a view's first present frame: there,
  dropping frame 0 means reading frame 1 instead, and every later frame attributes exactly 0;
- a region ``[V, gh, gw]``: a ``patch`` x ``patch`` square, in every present frame of one view,
  filled with that view's mean intensity (over its present frames): flat, within the view's own
  range, with no edge or motion of its own. Squares start every ``stride`` pixels (by default
  the patch size: 8 x 8 squares on a 64-pixel frame). ``region_map: [V, H, W]`` spreads the
  square values back to pixels (each pixel: the mean over the squares covering it).

Absent views and frames get NaN ("absent"), never 0 ("no effect"). Every occlusion of a study
(and the unoccluded study) goes through the encoder in chunks of ``chunk`` inputs, under
``torch.inference_mode``; the probability is ``model.zeroshot.finding_probabilities``. Occlusion
measures what the model's score depends on, a correlate: not what causes the finding.
"""

from __future__ import annotations

import functools
import math
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import torch
from einops import rearrange, repeat

from model.errors import DataError, UserError
from model.labels import closest_name, did_you_mean
from model.prompts import PromptSet
from model.zeroshot import TextEncoder, finding_probabilities, finding_prototypes

# video [B, V, T, H, W], view_mask [B, V], frame_mask [B, V, T] -> study features [B, D]
VideoEncoder = Callable[[torch.Tensor, torch.Tensor, torch.Tensor], torch.Tensor]
GRID = 8  # squares per side by default
CHUNK = 32  # occluded studies per encoder call


@dataclass(frozen=True)
class OcclusionGrid:
    """Square patches of ``patch`` pixels every ``stride`` pixels over ``size``-pixel frames."""

    size: int
    patch: int
    stride: int

    @classmethod
    def of(cls, size: int, patch: int | None = None, stride: int | None = None) -> OcclusionGrid:
        """The grid for ``size``-pixel frames: ``patch`` defaults to ``size // GRID``, ``stride``
        to ``patch``; ``UserError`` for a patch or stride that does not fit."""
        patch = int(patch or max(1, size // GRID))
        stride = int(stride or patch)
        if not 1 <= patch <= size:
            raise UserError(f"patch {patch} px does not fit {size}-pixel frames (1 to {size})")
        if not 1 <= stride <= patch:
            raise UserError(f"stride {stride} px must be from 1 to the patch size ({patch} px)")
        return cls(size=size, patch=patch, stride=stride)

    def starts(self) -> list[int]:
        """Each square's first pixel along one axis; the last square ends at the frame's edge."""
        starts = list(range(0, self.size - self.patch + 1, self.stride))
        if starts[-1] != self.size - self.patch:
            starts.append(self.size - self.patch)
        return starts

    @property
    def shape(self) -> tuple[int, int]:
        """``(gh, gw)``: squares per column and per row."""
        return len(self.starts()), len(self.starts())

    def masks(self) -> torch.Tensor:
        """``[gh * gw, H, W]`` bool: each square's pixels, row by row."""
        starts = torch.tensor(self.starts())
        pixels = torch.arange(self.size)
        along = (pixels >= starts[:, None]) & (pixels < starts[:, None] + self.patch)  # [g, H]
        return rearrange(along[:, None, :, None] & along[None, :, None, :], "a b h w -> (a b) h w")


@dataclass(frozen=True)
class StudyInput:
    """One study as the towers read it: ``video: [V, T, H, W]`` float in [0, 1],
    ``view_mask: [V]`` and ``frame_mask: [V, T]`` bool (True = present)."""

    video: torch.Tensor
    view_mask: torch.Tensor
    frame_mask: torch.Tensor

    def present_frames(self) -> torch.Tensor:
        """``[V, T]``: frames present in a present view."""
        return self.frame_mask.bool() & self.view_mask.bool()[:, None]


@dataclass(frozen=True)
class Explanation:
    """One study's probability of a finding and where it comes from (NaN: absent)."""

    probability: float
    views: np.ndarray  # [V]
    frames: np.ndarray  # [V, T]
    regions: np.ndarray  # [V, gh, gw]
    region_map: np.ndarray  # [V, H, W]
    view_present: np.ndarray  # [V] bool
    frame_present: np.ndarray  # [V, T] bool
    grid: OcclusionGrid
    occlusions: int
    seconds: float

    def peak_frames(self) -> np.ndarray:
        """``[V]`` int: per view the present frame whose occlusion lowers the probability most
        (the frame drawn under the region map); 0 for an absent view."""
        filled = np.where(self.frame_present, self.frames, -np.inf)
        return np.argmax(filled, axis=1)

    def heat_limit(self) -> float:
        """A region colour scale's half-width: the largest square attribution of the study (or
        a tiny positive number when every square is 0), so colours compare across its views."""
        present = self.regions[self.view_present]
        largest = float(np.nanmax(np.abs(present))) if present.size else 0.0
        return max(largest, 1e-6)


@dataclass(frozen=True)
class _Plan:
    """Every occlusion of a study, one row each (-1: not that kind). Row 0 occludes nothing.
    ``view [N]``: the view dropped; ``frame [N, 2]``: (view, frame) dropped; ``region [N, 2]``:
    (view, square) filled."""

    view: torch.Tensor
    frame: torch.Tensor
    region: torch.Tensor

    def __len__(self) -> int:
        return int(self.view.shape[0])


def _plan(study: StudyInput, squares: int) -> _Plan:
    """The occlusions of ``study``: each present view, each present frame, and each of the
    ``squares`` squares of each present view, after one unoccluded row."""
    views = torch.nonzero(study.view_mask.bool()).squeeze(1)  # [P]
    frames = torch.nonzero(study.present_frames())  # [F, 2]
    regions = torch.cartesian_prod(views, torch.arange(squares)).reshape(-1, 2)  # [P * R, 2]
    counts = (1, len(views), len(frames), len(regions))
    total = sum(counts)
    view = torch.full((total,), -1, dtype=torch.long)
    frame = torch.full((total, 2), -1, dtype=torch.long)
    region = torch.full((total, 2), -1, dtype=torch.long)
    first = 1
    view[first : first + counts[1]] = views
    first += counts[1]
    frame[first : first + counts[2]] = frames
    first += counts[2]
    region[first:] = regions
    return _Plan(view=view, frame=frame, region=region)


def _occluded(
    study: StudyInput, plan: _Plan, rows: slice, masks: torch.Tensor, fill: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The inputs of plan ``rows``: ``video [n, V, T, H, W]``, ``view_mask [n, V]``,
    ``frame_mask [n, V, T]``; ``masks [R, H, W]`` the squares, ``fill [V]`` their value."""
    view, frame, region = plan.view[rows], plan.frame[rows], plan.region[rows]
    n = len(view)
    views, frames = study.frame_mask.shape
    view_mask = repeat(study.view_mask.bool(), "v -> n v", n=n).clone()
    hit = torch.nonzero(view >= 0).squeeze(1)
    view_mask[hit, view[hit]] = False
    frame_mask = repeat(study.frame_mask.bool(), "v t -> n v t", n=n).clone()
    hit = torch.nonzero(frame[:, 0] >= 0).squeeze(1)
    frame_mask[hit, frame[hit, 0], frame[hit, 1]] = False
    covered = torch.zeros(n, views, *masks.shape[1:], dtype=torch.bool, device=masks.device)
    hit = torch.nonzero(region[:, 0] >= 0).squeeze(1)
    covered[hit, region[hit, 0]] = masks[region[hit, 1]]
    covered = rearrange(covered, "n v h w -> n v 1 h w")
    video = torch.where(covered, rearrange(fill, "v -> 1 v 1 1 1"), study.video[None])
    return video, view_mask, frame_mask


def view_means(study: StudyInput) -> torch.Tensor:
    """``[V]``: each view's mean intensity over its present frames (0 for an absent view)."""
    present = study.present_frames().to(study.video.dtype)  # [V, T]
    pixels = study.video.shape[-1] * study.video.shape[-2]
    totals = torch.einsum("vthw,vt->v", study.video, present)
    return totals / (present.sum(dim=1) * pixels).clamp(min=1)


def _probabilities(
    encode: VideoEncoder,
    study: StudyInput,
    plan: _Plan,
    pair: tuple[np.ndarray, np.ndarray, float],
    grid: OcclusionGrid,
    chunk: int,
) -> np.ndarray:
    """The finding probability of every plan row, ``[N]``; the encoder runs once a chunk."""
    masks, fill = grid.masks(), view_means(study)
    device = study.video.device
    vectors = []
    with torch.inference_mode():
        for first in range(0, len(plan), chunk):
            inputs = _occluded(study, plan, slice(first, first + chunk), masks.to(device), fill)
            vectors.append(encode(*inputs).float().cpu().numpy())
    positive, negative, scale = pair
    stacked = np.concatenate(vectors)
    return finding_probabilities(stacked, positive[None], negative[None], scale)[:, 0]


def explain_study(
    encode: VideoEncoder,
    study: StudyInput,
    pair: tuple[np.ndarray, np.ndarray, float],
    grid: OcclusionGrid | None = None,
    chunk: int = CHUNK,
) -> Explanation:
    """Occlusion attributions of one study. ``encode``: video ``[B, V, T, H, W]`` + masks ->
    ``[B, D]``; ``pair``: the finding's mean positive and negative prompt vectors ``[D]``
    (unit-norm, ``finding_vectors``) and the model's scale."""
    started = time.perf_counter()
    grid = grid or OcclusionGrid.of(int(study.video.shape[-1]))
    squares = grid.shape[0] * grid.shape[1]
    plan = _plan(study, squares)
    probs = _probabilities(encode, study, plan, pair, grid, chunk)
    drops = torch.from_numpy((probs[0] - probs).astype(np.float64))
    views, frames = study.frame_mask.shape
    by_view = torch.full((views,), math.nan, dtype=torch.float64)
    by_frame = torch.full((views, frames), math.nan, dtype=torch.float64)
    by_region = torch.full((views, squares), math.nan, dtype=torch.float64)
    rows = plan.view >= 0
    by_view[plan.view[rows]] = drops[rows]
    rows = plan.frame[:, 0] >= 0
    by_frame[plan.frame[rows, 0], plan.frame[rows, 1]] = drops[rows]
    rows = plan.region[:, 0] >= 0
    by_region[plan.region[rows, 0], plan.region[rows, 1]] = drops[rows]
    return Explanation(
        probability=float(probs[0]),
        views=by_view.numpy(),
        frames=by_frame.numpy(),
        regions=rearrange(by_region, "v (gh gw) -> v gh gw", gh=grid.shape[0]).numpy(),
        region_map=_spread(by_region, grid.masks()),
        view_present=study.view_mask.bool().cpu().numpy(),
        frame_present=study.present_frames().cpu().numpy(),
        grid=grid,
        occlusions=len(plan) - 1,
        seconds=time.perf_counter() - started,
    )


def _spread(by_region: torch.Tensor, masks: torch.Tensor) -> np.ndarray:
    """Square values ``[V, R]`` -> pixels ``[V, H, W]``: each pixel the mean of its squares."""
    cover = masks.to(torch.float64)
    summed = torch.einsum("vr,rhw->vhw", by_region, cover)
    return (summed / cover.sum(dim=0).clamp(min=1)).numpy()


def check_finding(prompt_set: PromptSet, finding: str) -> None:
    """``DataError`` naming the set's findings (and the likely one) when it has no ``finding``."""
    if finding not in prompt_set.findings:
        named = ", ".join(prompt_set.findings) or "none"
        close = did_you_mean(closest_name(finding, prompt_set.findings))
        raise DataError(f"the prompt set has no finding '{finding}'{close}; its findings: {named}")


def finding_vectors(
    prompt_set: PromptSet, finding: str, text_encoder: TextEncoder
) -> tuple[np.ndarray, np.ndarray]:
    """The finding's mean positive and negative prompt vectors ``([D], [D])``, as
    ``model.zeroshot.finding_prototypes`` makes them; ``DataError`` naming the set's findings
    when it has no such finding."""
    check_finding(prompt_set, finding)
    single = PromptSet(findings={finding: prompt_set.findings[finding]})
    prototypes = finding_prototypes(single, text_encoder)
    return prototypes.positive[0], prototypes.negative[0]


def study_input(dataset: object, study_id: str, frames: int, size: int) -> StudyInput:
    """Study ``study_id`` of a ``CMRDataset`` read as the embeddings read it (unaugmented, at
    ``frames`` frames of ``size`` pixels); ``DataError`` for a study the dataset lacks."""
    from model.data.video_dataset import StudyVideoDataset

    item = StudyVideoDataset(dataset, [study_id], frames=frames, size=size)[0]
    return StudyInput(item["video"], item["view_mask"], item["frame_mask"])


def explain_with_model(
    model: torch.nn.Module,
    study: StudyInput,
    pair: tuple[np.ndarray, np.ndarray, float],
    grid: OcclusionGrid | None = None,
    chunk: int = CHUNK,
) -> Explanation:
    """``explain_study`` through a ``CMRClip``'s ``encode_video`` (in eval mode, its own mode
    put back after; on its device, under the autocast its embeddings use)."""
    from model.embed import evaluating, model_device, video_autocast

    device = model_device(model)
    on_device = StudyInput(
        *(t.to(device) for t in (study.video, study.view_mask, study.frame_mask))
    )
    encode = functools.partial(model.encode_video, normalize=True)
    with evaluating(model), video_autocast(device):
        return explain_study(encode, on_device, pair, grid, chunk)
