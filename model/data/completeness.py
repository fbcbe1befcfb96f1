"""Whether each cine slice holds its whole cardiac cycle, so that a slice an export left an image
short fills no view (resampling its cycle to the others' length would misalign its phases).

Two checks mark a ``Location`` incomplete, each with one report line naming the slices:
``mark_incomplete`` compares a series' slices with one another (the phase count most of them
share), and ``mark_short`` looks at each slice's own evidence: fewer images than its
CardiacNumberOfImages, or a gap in the steps of what orders its phases (TriggerTime, else
TemporalPositionIdentifier, else InstanceNumber). The second is what finds a dropped file where
every slice is a series of its own (one breath-hold each, each with its own phase count).
A slice series is also judged with its sibling slices (``model.data.slice_series``).

A slice short of its CardiacNumberOfImages whose phases are the first of that cycle, evenly
stepped (only the end of the cycle cut off), records the cycle's length (``cut_at_end``): a
long-axis cine has no other slice to fill its view, and is kept on that cycle
(``model.data.slice_series.keep_cut_cycles``).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from model.data.dicom_read import SliceHeader
    from model.data.series import Location

# a step this many times the smallest one between consecutive phases skips at least one phase
GAP_FACTOR = 1.5
# a cycle cut at its end keeps its view when at least this share of its phases is there: the
# missing end is late diastole, systole and early filling are all in the first three quarters
CUT_KEEP_FRACTION = 0.75
MISSING = "an image missing from the export?"


class InconsistentPhases(Exception):
    """No phase count is shared by more than half of a series' slices; ``str`` is why."""


def mark_incomplete(locations: list[Location]) -> str | None:
    """Mark the cine locations whose phase count is not the one most of them share as
    incomplete, and return a report line naming them; InconsistentPhases when no count is shared
    by more than half of the locations (no complete stack to keep)."""
    counts = Counter(len(location.images) for location in locations)
    if len(counts) < 2 or max(counts) < 2:  # consistent, or single images (no cine)
        return None
    phases, complete = counts.most_common(1)[0]
    if complete * 2 <= len(locations):
        raise InconsistentPhases(
            f"inconsistent phase counts across slices: {sorted(counts)} (no count shared by "
            f"more than half of the {len(locations)} slices)"
        )
    named = []
    for number, location in enumerate(locations, start=1):
        if len(location.images) != phases:
            location.complete = False
            named.append(f"slice {number} ({len(location.images)} phases)")
    return (
        f"{len(named)} of {len(locations)} slices (numbered base to apex) left out, their "
        f"phase count not the {phases} of the others ({MISSING}): {', '.join(named)}"
    )


def mark_short(locations: list[Location]) -> str | None:
    """Mark the complete cine locations short of their own cycle (``phase_shortfall``) as
    incomplete, and return a report line naming them (None when none is).

    A CardiacNumberOfImages above the phase count of every slice of a multi-slice series is
    the header's mistake, not a file missing from each slice: it is not held against them."""
    complete = [location for location in locations if location.complete]
    trusted = len(locations) == 1 or any(
        not _declared_short(location.images) for location in complete
    )
    named = []
    for number, location in enumerate(locations, start=1):
        why = phase_shortfall(location.images, trusted) if location.complete else None
        if why:
            location.complete = False
            location.cut_cycle = cut_at_end(location.images) if trusted else 0
            named.append(f"slice {number} ({why})" if len(locations) > 1 else why)
    if not named:
        return None
    if len(locations) == 1:
        return f"slice left out, {named[0]} ({MISSING})"
    return (
        f"{len(named)} of {len(locations)} slices (numbered base to apex) left out, short of "
        f"their own cardiac cycle ({MISSING}): {', '.join(named)}"
    )


def phase_shortfall(images: list[SliceHeader], declared: bool = True) -> str | None:
    """Why the phase-ordered ``images`` of one cine location lack part of their cycle, or None:
    fewer than the CardiacNumberOfImages every one of them names (when ``declared``), or a gap
    in their order key."""
    if len(images) < 2:
        return None
    expected = _declared_short(images)
    if declared and expected:
        return f"{len(images)} phases of the {expected} its CardiacNumberOfImages names"
    return order_gap(images)


def cut_at_end(images: list[SliceHeader]) -> int:
    """The CardiacNumberOfImages of a cycle whose end alone is missing from ``images``: fewer
    than it names, at least ``CUT_KEEP_FRACTION`` of it, with no gap in their steps, and
    starting the cycle (``_starts_cycle``); else 0."""
    expected = _declared_short(images)
    if not expected or len(images) < max(3, CUT_KEEP_FRACTION * expected):
        return 0
    if _order_key(images) is None or order_gap(images) is not None:
        return 0
    return expected if _starts_cycle(images) else 0


def _starts_cycle(images: list[SliceHeader]) -> bool:
    """Whether the first of ``images`` is its cycle's first phase: a TriggerTime under half a
    step after the R wave, else TemporalPositionIdentifier or InstanceNumber 1."""
    first, step = images[0], trigger_step(images)
    if first.trigger_time is not None and step is not None:
        return float(first.trigger_time) < step / 2
    return first.temporal_index == 1 or first.instance_number == 1


def declared_cycle(images: list[SliceHeader]) -> int | None:
    """The CardiacNumberOfImages every one of ``images`` names, or None."""
    declared = {header.cardiac_images for header in images}
    return declared.pop() if len(declared) == 1 else None


def trigger_step(images: list[SliceHeader]) -> float | None:
    """The mean TriggerTime step of ``images``' phases (ms) when every one has a distinct
    TriggerTime, rising in phase order; None otherwise."""
    times = [header.trigger_time for header in images]
    if len(times) < 2 or None in times or len(set(times)) < len(times):
        return None
    step = (float(times[-1]) - float(times[0])) / (len(times) - 1)  # type: ignore[arg-type]
    return step if step > 0 else None


def _declared_short(images: list[SliceHeader]) -> int | None:
    """The CardiacNumberOfImages all of ``images`` name when it is more than their count."""
    expected = declared_cycle(images)
    return expected if expected is not None and expected > len(images) else None


def _order_key(images: list[SliceHeader]) -> tuple[str, list[float]] | None:
    """The attribute that orders ``images``' phases and its values, when each has a distinct one."""
    for name, values in (
        ("TriggerTime", [h.trigger_time for h in images]),
        ("TemporalPositionIdentifier", [h.temporal_index for h in images]),
        ("InstanceNumber", [h.instance_number for h in images]),
    ):
        if None not in values and len(set(values)) == len(values):
            return name, [float(value) for value in values]  # type: ignore[arg-type]
    return None


def order_gap(images: list[SliceHeader]) -> str | None:
    """A report phrase for the largest skip in the steps of ``images``' order key, or None when
    the steps are even (or there are too few, or they do not rise in phase order, to tell)."""
    keyed = _order_key(images)
    if keyed is None or len(images) < 3:
        return None
    name, values = keyed
    steps = [after - before for before, after in zip(values, values[1:], strict=False)]
    if min(steps) <= 0:
        return None
    unit = min(steps)
    gaps = [index for index, step in enumerate(steps) if step >= GAP_FACTOR * unit]
    if not gaps:
        return None
    missing = sum(max(1, round(steps[index] / unit) - 1) for index in gaps)
    where = ", ".join(f"{values[index]:g}" for index in gaps)
    return (
        f"{len(images)} phases, {missing} missing from its {name} steps of {unit:g} (after {where})"
    )
