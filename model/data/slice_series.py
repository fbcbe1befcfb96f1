"""Slices exported one series each, judged with their sibling slices; long-axis cycles cut short.

A short-axis stack often reaches a PACS as one series per slice ("FIESTA SA 1", "FIESTA SA 2",
... one breath-hold each). Each is first judged alone (``model.data.completeness``), which
cannot tell two things its siblings can:

- A CardiacNumberOfImages above the phase count of every slice series in the plane is the
  scanner's mistake (the nominal 30 written where 25 were exported), not a file dropped from
  each slice: alone, every slice was left out and the view stayed empty. The tag is then set
  aside for the whole stack, said in one line, and each slice judged by its steps and siblings.
- A slice whose last phase was dropped and which names no CardiacNumberOfImages shows no gap.
  Its siblings at the same TriggerTime step (the same acquisition timing) tell: fewer phases
  than the count most of them share leaves it out. A slice whose own tag matches its count is
  never compared: a prospectively triggered slice at another heart rate has fewer phases at
  the same step, and says so in its tag.

A long-axis cine is one slice with no sibling to fill its view instead. Short of its cycle with
only the end missing (``completeness.cut_at_end``: evenly stepped from the first phase, three
quarters or more there) it is kept, its phases placed on the named cycle's length and the
missing end bridged back to the first phase (``resample_cycle``): systole and filling are there,
the cut part is late diastole, and its frames keep the same place in the cycle as every other
view's (stretched over T frames instead, its end-systole would come late). A gap inside the
cycle still leaves it out: its phases are misaligned wherever the gap lies.
"""

from __future__ import annotations

import logging
from collections import Counter

import numpy as np

from model.data.completeness import (
    MISSING,
    declared_cycle,
    phase_shortfall,
    trigger_step,
)
from model.data.dicom_read import SliceHeader
from model.data.series import PLANE_TOLERANCE_DEG, Location, SeriesStack, recency
from model.schema import CINE_SLOTS

log = logging.getLogger(__name__)

# two slices' TriggerTime steps (ms) this close (relative, or absolute) are the same timing
STEP_TOLERANCE = (0.02, 0.5)


def judge_slice_series(
    stacks: list[SeriesStack],
) -> tuple[list[tuple[SeriesStack, str]], set[int]]:
    """Judge the short-axis cine series of one slice each together, plane by plane: set each
    one's ``complete`` and ``left_out`` again. Returns the lines about a whole stack (a
    CardiacNumberOfImages set aside), each with the series to file it under, and the
    CardiacNumberOfImages values set aside (the scanner wrote them on its other cines too)."""
    cines = [stack for stack in stacks if not stack.has_inversion_time]
    singles = [stack for stack in cines if len(stack.locations) == 1]
    lines, wrong = [], set()
    for stack in cines:
        wrong |= _above_every_slice(stack)
    for plane in _planes(singles):
        if len(plane) >= 2:
            plane.sort(key=lambda s: s.locations[0].distance)
            tags = _judge_plane(plane)
            lines += [(plane[0], _set_aside(tags, plane))] if tags else []
            wrong |= tags
    return lines, wrong


def _above_every_slice(stack: SeriesStack) -> set[int]:
    """The CardiacNumberOfImages of a series of several slices when it names more phases than
    any of them has (``mark_short`` holds it the header's mistake); else empty."""
    if len(stack.locations) < 2:
        return set()
    tags = {declared_cycle(location.images) for location in stack.locations}
    tag = tags.pop() if len(tags) == 1 else None
    most = max(len(location.images) for location in stack.locations)
    return {tag} if tag is not None and tag > most else set()


def _planes(stacks: list[SeriesStack]) -> list[list[SeriesStack]]:
    """``stacks`` grouped by slice plane (normals within ``PLANE_TOLERANCE_DEG``)."""
    limit = float(np.cos(np.radians(PLANE_TOLERANCE_DEG)))
    planes: list[list[SeriesStack]] = []
    for stack in stacks:
        for plane in planes:
            first = plane[0].normal
            if stack.normal is None or first is None:
                if stack.normal is None and first is None:
                    plane.append(stack)
                    break
            elif abs(float(stack.normal @ first)) >= limit:
                plane.append(stack)
                break
        else:
            planes.append([stack])
    return planes


def _judge_plane(plane: list[SeriesStack]) -> set[int]:
    """Judge one plane's slice series (base -> apex); the CardiacNumberOfImages values set
    aside as the header's mistake (empty when the tag was trusted)."""
    images = [stack.locations[0].images for stack in plane]
    declared = [declared_cycle(phases) for phases in images]
    named = [(tag, len(phases)) for tag, phases in zip(declared, images, strict=True) if tag]
    wrong = len(named) >= 2 and all(tag > count for tag, count in named)
    own = [phase_shortfall(phases, declared=not wrong) for phases in images]
    steps = [trigger_step(phases) for phases in images]
    for index, stack in enumerate(plane):
        why = own[index]
        if why is None and (wrong or declared[index] is None):
            regular = [i for i, w in enumerate(own) if w is None and i != index]
            why = _short_of_siblings(index, regular, images, steps)
        location = stack.locations[0]
        location.complete = why is None
        location.cut_cycle = 0  # a short-axis slice short of its cycle leaves it to a neighbour
        stack.left_out = [f"slice left out, {why} ({MISSING})"] if why else []
    return {tag for tag, _ in named} if wrong else set()


def _set_aside(tags: set[int], plane: list[SeriesStack]) -> str:
    """The one line (also logged) saying a plane's CardiacNumberOfImages ``tags`` were wrong."""
    counts = sorted({len(stack.locations[0].images) for stack in plane})
    line = (
        f"CardiacNumberOfImages {', '.join(map(str, sorted(tags)))} on the {len(plane)} slice "
        f"series of this stack names more phases than any of them has "
        f"({', '.join(map(str, counts))}): taken as the header's mistake, each slice judged by "
        f"its own steps and its siblings'"
    )
    log.warning("short-axis slice series: %s", line)
    return line


def _short_of_siblings(
    index: int,
    siblings: list[int],
    images: list[list[SliceHeader]],
    steps: list[float | None],
) -> str | None:
    """Why slice ``index`` is short of its ``siblings`` at the same TriggerTime step: fewer
    phases than the count more than half of those (two or more) share; None otherwise."""
    step = steps[index]
    if step is None:
        return None
    relative, absolute = STEP_TOLERANCE
    same = [
        len(images[i])
        for i in siblings
        if steps[i] is not None and abs(steps[i] - step) <= max(absolute, relative * step)  # type: ignore[operator]
    ]
    if len(same) < 2:
        return None
    phases, sharing = Counter(same).most_common(1)[0]
    count = len(images[index])
    if sharing * 2 <= len(same) or count >= phases:
        return None
    return (
        f"{count} phases, {phases - count} fewer than the {phases} of {sharing} sibling slice "
        f"series at its TriggerTime step of {step:g} ms"
    )


def keep_cut_cycles(slots: dict[str, list[SeriesStack]], wrong: set[int]) -> None:
    """For each long-axis cine view none of whose series has a complete slice, keep the newest
    series of one slice short only of a CardiacNumberOfImages in ``wrong`` (set aside for the
    short-axis stack: its phases are its whole cycle) or lacking only the end of its cycle
    (``Location.cut_cycle``), its ``left_out`` line replaced by one saying so."""
    for slot, stacks in slots.items():
        if slot not in CINE_SLOTS or any(loc.complete for s in stacks for loc in s.locations):
            continue
        singles = [stack for stack in stacks if len(stack.locations) == 1]
        for stack in sorted(singles, key=recency, reverse=True):
            line = _keep(slot, stack.locations[0], wrong)
            if line:
                stack.left_out = [line]
                break


def _keep(slot: str, location: Location, wrong: set[int]) -> str | None:
    """Mark ``location`` complete and say why, when its cycle is whole but for a wrong tag or
    cut only at its end; None (left out) otherwise."""
    count, cycle = len(location.images), declared_cycle(location.images) or 0
    if cycle in wrong and phase_shortfall(location.images, declared=False) is None:
        location.complete, location.cut_cycle = True, 0
        return (
            f"{slot}: its CardiacNumberOfImages {cycle} set aside, as the short-axis stack's "
            f"was; its {count} evenly stepped phases taken as its whole cycle"
        )
    if not location.cut_cycle:
        return None
    location.complete = True
    return (
        f"{slot}: kept with {count} of the {cycle} phases its CardiacNumberOfImages names, "
        f"only the last {cycle - count} missing (its cycle cut at the end): its phases keep "
        f"their place in the {cycle}-phase cycle, the missing end bridged to the first"
    )
