"""Whether each cine slice holds its whole cardiac cycle, so that a slice an export left an image
short fills no view (resampling its cycle to the others' length would misalign its phases).

Two checks mark a ``Location`` incomplete, each with one report line naming the slices:
``mark_incomplete`` compares a series' slices with one another (the phase count most of them
share), and ``mark_short`` looks at each slice's own evidence: fewer images than its
CardiacNumberOfImages, or a gap in the steps of what orders its phases (TriggerTime, else
TemporalPositionIdentifier, else InstanceNumber). The second is what finds a dropped file where
every slice is a series of its own (one breath-hold each, each with its own phase count).
"""

from __future__ import annotations

from collections import Counter
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from model.data.dicom_read import SliceHeader
    from model.data.series import Location

# a step this many times the smallest one between consecutive phases skips at least one phase
GAP_FACTOR = 1.5
_MISSING = "an image missing from the export?"


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
        f"phase count not the {phases} of the others ({_MISSING}): {', '.join(named)}"
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
            named.append(f"slice {number} ({why})" if len(locations) > 1 else why)
    if not named:
        return None
    if len(locations) == 1:
        return f"slice left out, {named[0]} ({_MISSING})"
    return (
        f"{len(named)} of {len(locations)} slices (numbered base to apex) left out, short of "
        f"their own cardiac cycle ({_MISSING}): {', '.join(named)}"
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
    return _order_gap(images)


def _declared_short(images: list[SliceHeader]) -> int | None:
    """The CardiacNumberOfImages all of ``images`` name when it is more than their count."""
    declared = {header.cardiac_images for header in images}
    expected = declared.pop() if len(declared) == 1 else None
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


def _order_gap(images: list[SliceHeader]) -> str | None:
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
