"""One DICOM study -> the dataset tensor: uint8 ``[V, T, S, S]`` plus what was kept or rejected.

Series are built and classified into view slots; short-axis cine locations are pooled and split
into base / mid / apex by geometry; long-axis views use their middle location; LGE short-axis
slices fill the time axis base -> apex; single LGE images go in frame 0. Every view is turned
upright by quarter turns (model/data/orientation.py), so sites with different display conventions
agree. A view that fails is masked (zeros, ``view_frames`` 0) and reported; the other views of the
study are kept.
"""

from __future__ import annotations

import logging
from collections import Counter
from dataclasses import dataclass, field

import numpy as np

from model.data.dicom_read import DicomReadError, SliceHeader, read_pixels
from model.data.orientation import quarter_turns, turn_upright
from model.data.resample import (
    GridConfig,
    field_mask,
    pick_evenly,
    resample_cycle,
    resample_fov,
    to_uint8,
)
from model.data.series import (
    Location,
    SeriesError,
    SeriesStack,
    build_series,
    group_series,
    pooled_locations,
    recency,
    select_sax_levels,
)
from model.data.slice_series import judge_slice_series, keep_cut_cycles
from model.data.views import ViewMap, classify_series
from model.schema import CINE_SLOTS, VIEW_SLOTS

log = logging.getLogger(__name__)

Problem = tuple[str, str, str, str]  # path, series, level, reason


@dataclass
class StudyTensor:
    """The preprocessed study and its bookkeeping."""

    video: np.ndarray  # uint8 [V, T, S, S]
    view_frames: list[int]
    cine_phases: int = 0
    pixel_spacing_mm: float = 0.0
    matrix: str = ""
    problems: list[Problem] = field(default_factory=list)

    @property
    def views(self) -> list[str]:
        return [slot for slot, count in zip(VIEW_SLOTS, self.view_frames, strict=True) if count]


def _series_label(item: SeriesStack | SliceHeader, part: str = "") -> str:
    """Its "number description", and which part of the series ("stack 2") when it has several."""
    part = part or (item.part if isinstance(item, SeriesStack) else "")
    label = f"{item.series_number} {item.series_description}".strip()
    return f"{label} ({part})" if part else label


def classify_study(
    headers: list[SliceHeader], view_map: ViewMap | None, problems: list[Problem]
) -> dict[str, list[SeriesStack]]:
    """Slot (``sax`` for cine short axis) -> usable series stacks; rejects go to ``problems``.

    Every series is built and classified before any is reported: a short-axis slice series is
    judged again with its siblings (``judge_slice_series``), and a long-axis cine cut at the
    end of its cycle kept where no other fills its view (``keep_cut_cycles``)."""
    slots: dict[str, list[SeriesStack]] = {}
    parts = group_series(headers)
    per_series = Counter(uid for uid, _ in parts)
    built: list[tuple[str, str, SeriesStack | None, str]] = []  # path, label, stack, rejection
    for (uid, part), images in parts.items():
        label, path = _series_label(images[0], part), images[0].path
        try:
            stack = build_series(images, part)
        except SeriesError as err:
            built.append((path, label, None, str(err)))
            continue
        decision = classify_series(
            stack.series_description,
            images[0].orientation,
            stack.has_inversion_time,
            stack.phases,
            view_map,
            several_planes=per_series[uid] > 1,
        )
        if decision.slot is not None:
            slots.setdefault(decision.slot, []).append(stack)
        built.append((path, label, stack, decision.reason))
    lines, wrong_tags = judge_slice_series(slots.get("sax", []))
    stack_lines = {id(stack): line for stack, line in lines}
    keep_cut_cycles(slots, wrong_tags)
    for path, label, stack, rejection in built:
        if stack is not None:
            notes = [*stack.warnings, *stack.left_out, stack_lines.get(id(stack), "")]
            problems.extend((path, label, "warning", note) for note in notes if note)
        if rejection:
            problems.append((path, label, "rejected", rejection))
    return slots


def _choose_locations(
    slots: dict[str, list[SeriesStack]], problems: list[Problem]
) -> dict[str, list[tuple[Location, SeriesStack]]]:
    """Slot -> the locations (with their stack) that fill it."""
    chosen: dict[str, list[tuple[Location, SeriesStack]]] = {}
    if "sax" in slots:
        for slot, pair in select_sax_levels(_pool("sax", slots.pop("sax"), problems)).items():
            chosen.setdefault(slot, [pair])
    if "lge_sax" in slots:
        chosen["lge_sax"] = _pool("lge_sax", slots.pop("lge_sax"), problems)
    for slot, stacks in slots.items():
        stack = _newest_complete(slot, stacks, problems)
        if stack is not None and slot not in chosen:
            complete = [location for location in stack.locations if location.complete]
            chosen[slot] = [(complete[len(complete) // 2], stack)]
    return chosen


def _newest_complete(
    slot: str, stacks: list[SeriesStack], problems: list[Problem]
) -> SeriesStack | None:
    """The newest (``recency``) of a view's stacks with a complete location, a warning naming it
    on each other stack; None, with a line saying why, when every one was left out."""
    stacks = sorted(stacks, key=recency)
    usable = [stack for stack in stacks if any(loc.complete for loc in stack.locations)]
    if not usable:
        newest = stacks[-1]
        reason = f"{slot}: left empty, every slice of its series is incomplete"
        problems.append(
            (newest.locations[0].images[0].path, _series_label(newest), "rejected", reason)
        )
        return None
    kept = usable[-1]
    name = f"{kept.series_number} ({kept.part})" if kept.part else kept.series_number
    for dropped in stacks:
        if dropped is kept:
            continue
        why = " (the newest complete one)" if recency(dropped) > recency(kept) else ""
        problems.append(
            (
                dropped.locations[0].images[0].path,
                _series_label(dropped),
                "warning",
                f"another series also fills {slot}; kept series {name}{why}",
            )
        )
    return kept


def _pool(
    slot: str, stacks: list[SeriesStack], problems: list[Problem]
) -> list[tuple[Location, SeriesStack]]:
    """``pooled_locations`` of a slot's stacks; a warning per series with positions left out,
    naming the series kept there and why (the newest, or the newest complete one)."""
    pooled, repeats = pooled_locations(stacks)
    pairs = {(dropped.series_uid, kept.series_uid): (dropped, kept) for dropped, kept in repeats}
    counts = Counter((dropped.series_uid, kept.series_uid) for dropped, kept in repeats)
    for key, count in counts.items():
        dropped, kept = pairs[key]
        name = _series_name(kept, dropped)
        if recency(kept) > recency(dropped):
            why = f"acquired again in {name}; kept {name} there (the newest)"
        else:
            why = (
                f"acquired again in this series, its slice there incomplete; kept the earlier "
                f"{name} there (the newest complete)"
            )
        reason = f"{count} {slot} slice position(s) {why}"
        problems.append(
            (dropped.locations[0].images[0].path, _series_label(dropped), "warning", reason)
        )
    return pooled


def _series_name(kept: SeriesStack, other: SeriesStack) -> str:
    """``series N`` naming ``kept`` in a line about ``other``, with the end of its
    SeriesInstanceUID where the two share a SeriesNumber (none, as anonymisers often leave)."""
    name = f"series {kept.series_number}"
    if kept.series_number == other.series_number:
        name += f" (SeriesInstanceUID ...{kept.series_uid[-12:]})"
    return name


class _PixelCache:
    """Decoded files of one study (a multi-frame file is decoded once)."""

    def __init__(self) -> None:
        self._files: dict[str, np.ndarray] = {}

    def image(self, header: SliceHeader) -> np.ndarray:
        if header.path not in self._files:
            self._files[header.path] = read_pixels(header.path, header.layout)
        frames = self._files[header.path]
        return frames[max(header.frame, 0)]


def _view_images(
    slot: str, pairs: list[tuple[Location, SeriesStack]], grid: GridConfig
) -> list[SliceHeader]:
    if slot in CINE_SLOTS:
        return pairs[0][0].images
    if slot == "lge_sax":
        picked = pick_evenly(len(pairs), grid.frames)
        return [pairs[int(i)][0].images[0] for i in picked]
    return [pairs[0][0].images[0]]


def build_study(
    headers: list[SliceHeader], grid: GridConfig, view_map: ViewMap | None = None
) -> StudyTensor:
    """Preprocess one study's images (all with one StudyInstanceUID) into the dataset tensor."""
    video = np.zeros((len(VIEW_SLOTS), grid.frames, grid.size, grid.size), dtype=np.uint8)
    result = StudyTensor(video=video, view_frames=[0] * len(VIEW_SLOTS))
    chosen = _choose_locations(classify_study(headers, view_map, result.problems), result.problems)
    cache = _PixelCache()
    for index, slot in enumerate(VIEW_SLOTS):
        if slot not in chosen:
            continue
        stack = chosen[slot][0][1]
        images = _view_images(slot, chosen[slot], grid)
        try:
            pixels = np.stack([cache.image(h) for h in images])
        except DicomReadError as err:
            result.problems.append((images[0].path, _series_label(stack), "rejected", str(err)))
            continue
        except ValueError:
            result.problems.append(
                (
                    images[0].path,
                    _series_label(stack),
                    "rejected",
                    f"{slot}: images of different sizes",
                )
            )
            continue
        resampled = resample_fov(pixels, stack.spacing, grid)
        if slot in CINE_SLOTS:
            resampled = resample_cycle(resampled, grid.frames, chosen[slot][0][0].cut_cycle)
            result.cine_phases = result.cine_phases or len(images)
            result.pixel_spacing_mm = result.pixel_spacing_mm or float(stack.spacing[0])
            result.matrix = result.matrix or f"{stack.shape[0]}x{stack.shape[1]}"
        valid = np.broadcast_to(field_mask(stack.shape, stack.spacing, grid), resampled.shape)
        turns = quarter_turns(images[0].orientation, slot)
        video[index, : len(resampled)] = turn_upright(to_uint8(resampled, valid), turns)
        result.view_frames[index] = len(resampled)
    if not result.matrix and chosen:
        stack = next(iter(chosen.values()))[0][1]
        result.pixel_spacing_mm, result.matrix = (
            float(stack.spacing[0]),
            f"{stack.shape[0]}x{stack.shape[1]}",
        )
    return result
