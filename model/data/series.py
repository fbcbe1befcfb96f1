"""Series geometry: grouping images into slice locations, ordering cine phases, SAX level choice.

A series is split into parts that are each one stack of parallel slices: the stacks of a
multi-stack enhanced file (StackID), and the planes of a series whose images lie in several
orientations (a short-axis stack with long-axis views, one multi-plane localizer). Images of a
part are grouped into slice locations by their position along the slice normal,
which is oriented base -> apex (positive along the LV long axis, LPS). Within a location, cine
phases are ordered by TriggerTime, else TemporalPositionIdentifier, else InstanceNumber (with a
warning). A cine slice an export left an image short (``model.data.completeness``) fills no
view, with a report line. Short-axis cine locations from one or
several series are pooled (a position acquired again keeps its newest series), and base / mid /
apex are picked at 20 / 50 / 80 % of the stack from base to apex, each from a complete slice.
"""

from __future__ import annotations

from collections import defaultdict
from dataclasses import dataclass, field

import numpy as np

from model.data.completeness import InconsistentPhases, mark_incomplete, mark_short
from model.data.dicom_read import SliceHeader
from model.data.resample import implausible_spacing
from model.data.views import LV_AXIS
from model.schema import SAX_LEVELS

LOCATION_TOLERANCE_MM = 0.5
# slices whose normals differ by less than this lie in one plane (one stack's slices are parallel)
PLANE_TOLERANCE_DEG = 10.0
_NO_ORDER = "TemporalPositionIdentifier or InstanceNumber"


class SeriesError(Exception):
    """A series that cannot be used; ``str(err)`` is the reason for the ingest report."""


@dataclass
class Location:
    """One slice position: ``distance`` mm along the oriented normal, images in phase order;
    not ``complete`` when it lacks part of its cardiac cycle (``model.data.completeness``);
    ``cut_cycle``: the length of the cycle whose first phases alone it holds (its end cut
    off), else 0."""

    distance: float
    images: list[SliceHeader]
    series_number: int = 0
    complete: bool = True
    cut_cycle: int = 0


@dataclass
class SeriesStack:
    """A series as ordered slice locations (base -> apex for short axis), plus its geometry."""

    series_uid: str
    series_description: str
    series_number: int
    shape: tuple[int, int]
    spacing: tuple[float, float]
    normal: np.ndarray | None
    locations: list[Location]
    has_inversion_time: bool
    warnings: list[str] = field(default_factory=list)
    part: str = ""  # which part of a series holding several ("stack 2", "plane 1"), else ""
    # report lines naming the slices left out as short of their cycle (after ``warnings``);
    # a slice series' are judged again with its siblings (``model.data.slice_series``)
    left_out: list[str] = field(default_factory=list)

    @property
    def phases(self) -> int:
        return max(len(location.images) for location in self.locations)


def recency(stack: SeriesStack) -> tuple[int, str, str]:
    """Sort key of a stack among repeats of one view: the highest SeriesNumber is the newest; a
    tie (no SeriesNumber, often stripped by anonymisers) falls to the SeriesInstanceUID and part,
    never to the order files are listed in, which differs with their names and filesystem."""
    return (stack.series_number, stack.series_uid, stack.part)


def oriented_normal(orientation: tuple[float, ...] | None) -> np.ndarray | None:
    """Unit slice normal (row x col cosines) pointing base -> apex, or None without geometry."""
    if orientation is None:
        return None
    normal = np.cross(np.asarray(orientation[:3]), np.asarray(orientation[3:]))
    norm = float(np.linalg.norm(normal))
    if norm < 1e-6:
        return None
    normal = normal / norm
    return -normal if float(normal @ LV_AXIS) < 0 else normal


def order_phases(images: list[SliceHeader]) -> tuple[list[SliceHeader], str | None]:
    """Images of one location in cardiac-cycle order, and a warning when TriggerTime was missing
    or the same on every image (non-gated acquisitions)."""

    def instance(h: SliceHeader) -> tuple[int, int, str]:
        return (h.instance_number if h.instance_number is not None else 0, h.frame, h.path)

    images = sorted(images, key=instance)
    if len(images) <= 1:
        return images, None
    triggers = {h.trigger_time for h in images}
    if None not in triggers and len(triggers) > 1:  # one time for all: not gated, no order
        unique: dict[float, SliceHeader] = {}
        for header in images:
            unique.setdefault(round(float(header.trigger_time), 3), header)  # type: ignore[arg-type]
        ordered = [unique[key] for key in sorted(unique)]
        duplicates = len(images) - len(ordered)
        note = f"{duplicates} duplicate image(s) at the same position and TriggerTime dropped"
        return ordered, note if duplicates else None
    why = "missing TriggerTime" if None in triggers else "the same TriggerTime on every image"
    temporal = [h.temporal_index for h in images]
    if all(t is not None for t in temporal) and len(set(temporal)) == len(temporal):
        ordered = sorted(images, key=lambda h: h.temporal_index)  # type: ignore[arg-type,return-value]
        return ordered, f"{why}: phases ordered by TemporalPositionIdentifier"
    numbers = [h.instance_number for h in images]
    if None in numbers or len(set(numbers)) < len(numbers):  # nothing left to order them by
        return images, f"{why}, no distinct {_NO_ORDER}: phases in file order (may be wrong)"
    return images, f"{why}: phases ordered by InstanceNumber"


def _group_locations(
    headers: list[SliceHeader], normal: np.ndarray | None
) -> tuple[list[list[SliceHeader]], str | None]:
    """The images of each slice location, and a warning when they carry no position: an
    enhanced image's frames are then grouped by their InStackPositionNumber, in stack order (its
    base -> apex direction unknown); without that either, every image is one location."""
    if normal is None or any(h.position is None for h in headers):
        numbers = [h.stack_position for h in headers]
        if None in numbers or len(set(numbers)) < 2:
            return [headers], None
        by_number: dict[int, list[SliceHeader]] = defaultdict(list)
        for header in headers:
            by_number[header.stack_position].append(header)  # type: ignore[index]
        note = (
            "no ImagePositionPatient: slices placed by InStackPositionNumber "
            "(base and apex may be swapped)"
        )
        return [by_number[number] for number in sorted(by_number)], note
    distances = np.array([float(np.asarray(h.position) @ normal) for h in headers])
    order = np.argsort(distances, kind="stable")
    groups: list[list[SliceHeader]] = []
    last = None
    for index in order:
        if last is None or distances[index] - last > LOCATION_TOLERANCE_MM:
            groups.append([])
        groups[-1].append(headers[index])
        last = distances[index]
    return groups, None


def _distance(image: SliceHeader, normal: np.ndarray | None) -> float:
    """Where a location lies along the stack: mm along the normal, else its InStackPositionNumber
    (locations grouped by it are one apart), else 0."""
    if normal is not None and image.position is not None:
        return float(np.asarray(image.position) @ normal)
    return float(image.stack_position or 0)


def build_series(headers: list[SliceHeader], part: str = "") -> SeriesStack:
    """Group one series' (or ``part``'s) images into ordered locations; SeriesError when it
    cannot be used."""
    first = headers[0]
    shapes = {(h.rows, h.cols) for h in headers}
    if len(shapes) > 1:
        raise SeriesError(f"mixed matrix sizes in one series: {sorted(shapes)}")
    spacings = {h.pixel_spacing for h in headers}
    if None in spacings:
        raise SeriesError("missing PixelSpacing: cannot resample to a physical field of view")
    if len({tuple(round(v, 3) for v in s) for s in spacings}) > 1:  # type: ignore[union-attr]
        raise SeriesError("mixed PixelSpacing in one series")
    implausible = implausible_spacing(first.pixel_spacing)  # type: ignore[arg-type]
    if implausible:
        raise SeriesError(implausible)
    normal = oriented_normal(first.orientation)
    groups, placed_by = _group_locations(headers, normal)
    warnings: list[str] = [placed_by] if placed_by else []
    left_out: list[str | None] = []
    locations = []
    for group in groups:
        ordered, note = order_phases(group)
        if note and note not in warnings:
            warnings.append(note)
        locations.append(Location(_distance(ordered[0], normal), ordered, first.series_number))
    if first.inversion_time is None:  # a cine: every slice must hold its whole cycle
        try:
            left_out = [mark_incomplete(locations), mark_short(locations)]
        except InconsistentPhases as err:
            raise SeriesError(str(err)) from err
    return SeriesStack(
        series_uid=first.series_uid,
        series_description=first.series_description,
        series_number=first.series_number,
        shape=(first.rows, first.cols),
        spacing=first.pixel_spacing,  # type: ignore[arg-type]
        normal=normal,
        locations=locations,
        has_inversion_time=any(h.inversion_time is not None for h in headers),
        warnings=warnings,
        part=part,
        left_out=[line for line in left_out if line],
    )


def group_series(headers: list[SliceHeader]) -> dict[tuple[str, str], list[SliceHeader]]:
    """(SeriesInstanceUID, part) -> images: a series' stacks (StackID) and, within each, its
    planes (orientations) apart; the part is "" for a series of one stack in one plane."""
    series: dict[tuple[str, str], list[SliceHeader]] = defaultdict(list)
    for header in headers:
        series[header.series_uid, f"stack {header.stack}" if header.stack else ""].append(header)
    parts: dict[tuple[str, str], list[SliceHeader]] = {}
    for (uid, stack), images in series.items():
        planes = _split_planes(images)
        for number, plane in enumerate(planes, start=1):
            label = f"{stack} plane {number}".strip() if len(planes) > 1 else stack
            parts[uid, label] = plane
    return parts


def _split_planes(headers: list[SliceHeader]) -> list[list[SliceHeader]]:
    """``headers`` grouped by slice plane (normals within ``PLANE_TOLERANCE_DEG``), in order of
    first appearance; images without an orientation form one group."""
    limit = float(np.cos(np.radians(PLANE_TOLERANCE_DEG)))
    plane_of: dict[tuple[float, ...] | None, int] = {}  # each distinct orientation, placed once
    normals: list[np.ndarray | None] = []
    planes: list[list[SliceHeader]] = []
    for header in headers:
        if header.orientation not in plane_of:
            plane_of[header.orientation] = _plane_index(
                oriented_normal(header.orientation), normals, limit
            )
            if plane_of[header.orientation] == len(planes):
                planes.append([])
        planes[plane_of[header.orientation]].append(header)
    return planes


def _plane_index(normal: np.ndarray | None, normals: list[np.ndarray | None], limit: float) -> int:
    """Index in ``normals`` of the plane ``normal`` lies in (|cos| >= ``limit``); a new plane is
    appended to ``normals`` and its index returned."""
    for index, plane_normal in enumerate(normals):
        if normal is None or plane_normal is None:
            if normal is None and plane_normal is None:
                return index
        elif abs(float(normal @ plane_normal)) >= limit:
            return index
    normals.append(normal)
    return len(normals) - 1


def pooled_locations(
    stacks: list[SeriesStack],
) -> tuple[list[tuple[Location, SeriesStack]], list[tuple[SeriesStack, SeriesStack]]]:
    """Slice locations of several stacks, base -> apex, and the repeats left out.

    Locations within ``LOCATION_TOLERANCE_MM`` of each other are one position acquired again: the
    newest series (``recency``: highest SeriesNumber, then SeriesInstanceUID) with a complete
    slice there is kept, however its position differs from the earlier one's (a re-acquisition
    an export left an image short does not displace the complete earlier one); the newest when
    none is complete. The repeats are (series left out, series kept) pairs, one per left-out
    location.
    """
    pairs = sorted(
        ((location, stack) for stack in stacks for location in stack.locations),
        key=lambda pair: pair[0].distance,
    )
    clusters: list[list[tuple[Location, SeriesStack]]] = []
    for pair in pairs:
        if clusters and pair[0].distance - clusters[-1][-1][0].distance <= LOCATION_TOLERANCE_MM:
            clusters[-1].append(pair)
        else:
            clusters.append([pair])
    kept, repeats = [], []
    for cluster in clusters:
        complete = [pair for pair in cluster if pair[0].complete] or cluster
        newest = max(complete, key=lambda pair: (*recency(pair[1]), pair[0].distance))
        kept.append(newest)
        repeats += [(pair[1], newest[1]) for pair in cluster if pair is not newest]
    return kept, repeats


def select_sax_levels(
    pooled: list[tuple[Location, SeriesStack]],
) -> dict[str, tuple[Location, SeriesStack]]:
    """Map sax_base / sax_mid / apex to locations at 20 / 50 / 80 % of the base -> apex stack
    (one location: mid; two: base and apex).

    A level whose location is incomplete (``model.data.completeness``) takes the nearer complete
    neighbour no other level holds; without one the level stays empty. Levels are placed along
    the whole stack, so a left-out slice never shifts the others (of three slices, a mid slice
    left out leaves base and apex, never base labelled mid)."""
    count = len(pooled)
    if count == 0:
        return {}
    levels = {"sax_mid": 0.5} if count == 1 else SAX_LEVELS
    if count == 2:
        levels = {"sax_base": 0.0, "sax_apex": 1.0}
    ideal = {slot: frac * (count - 1) for slot, frac in levels.items()}
    direct = {slot: int(round(at)) for slot, at in ideal.items()}
    chosen = {slot: pooled[i] for slot, i in direct.items() if pooled[i][0].complete}
    held = {direct[slot] for slot in chosen}
    for slot in levels:
        if slot in chosen:
            continue
        neighbours = sorted(
            (direct[slot] - 1, direct[slot] + 1), key=lambda i: abs(i - ideal[slot])
        )
        for index in neighbours:
            if 0 <= index < count and index not in held and pooled[index][0].complete:
                chosen[slot], held = pooled[index], held | {index}
                break
    return {slot: chosen[slot] for slot in levels if slot in chosen}
