"""Which view slot a series belongs to: override map, SeriesDescription keywords, then geometry.

A series is first matched against the user's override map (``--view-map``: YAML mapping or CSV
``pattern,slot``; patterns are case-insensitive shell globs over SeriesDescription; slot ``ignore``
drops the series). Otherwise the description decides the contrast (cine vs LGE) and the plane
(SAX, 4CH, 2CH, 3CH) from vendor keywords; LGE is also recognised by an InversionTime. Without a
plane keyword, and for each part of a series holding stacks in several planes (whose one
description cannot name every part's plane), the slice geometry decides: a normal along the LV long axis is short axis; a plane
containing the long axis is 4-, 3- or 2-chamber by which direction across the LV it contains
(toward the RV, the LV outflow tract, or anterior), within ``_LAX_TOLERANCE_DEG`` of the typical
heart's; anything else stays unknown (the override map can name it).
"""

from __future__ import annotations

import csv
import fnmatch
import io
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import yaml

from model.errors import DataError, not_found, short_repr
from model.prompts import yaml_problem
from model.schema import VIEW_SLOTS

IGNORE = "ignore"
# Patient LPS direction of the LV long axis, base -> apex (docs/ARCHITECTURE.md).
LV_AXIS = np.array([1.0, -1.0, -1.0]) / np.sqrt(3.0)
_SAX_MIN_COS = 0.8
_LAX_MAX_COS = 0.35  # a long-axis plane's normal is nearly perpendicular to the LV axis
# Typical directions across the LV (LPS): toward the RV (right-anterior), projected off the axis.
_TOWARD_RV = np.array([-1.0, -1.0, 0.0]) - (np.array([-1.0, -1.0, 0.0]) @ LV_AXIS) * LV_AXIS
SEPTAL_AXIS = _TOWARD_RV / np.linalg.norm(_TOWARD_RV)
ANTERIOR_AXIS = np.cross(SEPTAL_AXIS, LV_AXIS)
# Angle from the septal direction of the in-plane direction each long-axis view contains.
_LAX_ANGLES_DEG = {"4ch": 0.0, "3ch": 60.0, "2ch": 90.0}
_LAX_TOLERANCE_DEG = 14.0

# Series that are neither cine nor LGE though they may repeat images at one position (perfusion
# dynamics, T2* echoes, tagging) or carry an InversionTime (STIR, T1 mapping): never a view.
_EXCLUDE = re.compile(
    r"\b(LOC|LOCALI[SZ]ER|SCOUT|SURVEY|TRIPILOT|HASTE|TSE|FSE|T1MAP|T2MAP|MOLLI|SHMOLLI|SASHA"
    r"|MAP|MAPPING|PERF\w*|FIRST[_ ]?PASS|FLOW|PC|VENC|STIR|TIRM|SPAIR|T2|T2W|T2STAR"
    r"|BB|DB|BLACK[_ ]?BLOOD|DARK[_ ]?BLOOD|TAG|TAGGING|SPAMM|GRID)\b"
)
_LGE = re.compile(r"\b(LGE|PSIR|MDE|DE|DELAYED|LATE|MAG[_ ]?IR|IR[_ ]?FL|PSIR[_ ]?MAG|VIABILITY)\b")
_CINE = re.compile(r"\b(CINE|FIESTA|TRUFI|TRUE[_ ]?FISP|B?SSFP|BTFE|BFFE|FFE|CSSFP)\b")
_PLANES = (
    ("sax", re.compile(r"\b(SAX|SA|SHORT[_ ]?AXIS|SHORT|STACK)\b")),
    ("4ch", re.compile(r"\b(4CH|4C|4[_ ]?CHAMBER|HLA|FOUR[_ ]?CHAMBER)\b")),
    ("2ch", re.compile(r"\b(2CH|2C|2[_ ]?CHAMBER|VLA|TWO[_ ]?CHAMBER)\b")),
    ("3ch", re.compile(r"\b(3CH|3C|3[_ ]?CHAMBER|LVOT|THREE[_ ]?CHAMBER)\b")),
)


@dataclass(frozen=True)
class ViewDecision:
    """A slot from VIEW_SLOTS with ``sax`` meaning "one of sax_base/mid/apex"; or a reason."""

    slot: str | None
    reason: str = ""


@dataclass
class ViewMap:
    """Ordered override rules: SeriesDescription glob -> slot (``sax``, a VIEW_SLOTS name, or ignore)."""

    rules: list[tuple[str, str]] = field(default_factory=list)

    @classmethod
    def load(cls, path: str | Path | None) -> ViewMap:
        """Read a YAML mapping or a CSV with columns ``pattern,slot``; DataError on bad content."""
        if path is None:
            return cls()
        path = Path(path)
        if not path.is_file():
            raise DataError(not_found("view map", path))
        try:
            data = path.read_bytes()
        except OSError as err:
            raise DataError(f"view map {path} cannot be read: {err}") from err
        return cls.parse(data, str(path), is_csv=path.suffix.lower() == ".csv")

    @classmethod
    def parse(cls, data: bytes, source: str, is_csv: bool) -> ViewMap:
        """A view map's file content (``load``'s, or a zip entry's checked on the Studies page
        before the zip is unpacked), named ``source`` in its DataErrors."""
        try:
            text = data.decode("utf-8")
            if is_csv:
                rows = csv.DictReader(io.StringIO(text, newline=""))
                pairs = [(row["pattern"], row["slot"]) for row in rows]
            else:
                loaded = yaml.safe_load(text) or {}
                if not isinstance(loaded, dict):
                    raise DataError(
                        f"view map {source} must map SeriesDescription patterns to slots"
                    )
                pairs = [(str(k), _slot_text(v)) for k, v in loaded.items()]
        except (yaml.YAMLError, RecursionError) as err:  # one line, as a prompt set's says it
            raise DataError(f"view map {source} cannot be read: {yaml_problem(err)}") from err
        except (KeyError, UnicodeDecodeError, csv.Error) as err:
            raise DataError(f"view map {source} cannot be read: {err}") from err
        allowed = {*VIEW_SLOTS, "sax", "lge_sax", IGNORE}
        for pattern, slot in pairs:
            if slot not in allowed:
                raise DataError(
                    f"view map {source}: slot {slot!r} for {pattern!r} is not one of "
                    f"{sorted(allowed)}"
                )
        return cls([(pattern.strip().lower(), slot) for pattern, slot in pairs])

    def match(self, description: str) -> str | None:
        text = description.strip().lower()
        return next((slot for pattern, slot in self.rules if fnmatch.fnmatch(text, pattern)), None)


def _slot_text(value: object) -> str:
    """A view map's slot as text; a value that is not one (a list, a mapping) cut short
    (``short_repr``), so its refusal stays short: ``str`` of a YAML alias of nested lists (a
    "billion laughs" of a few hundred bytes) wrote out every shared copy until memory ran out."""
    return value if isinstance(value, str) else short_repr(value)


def _normal(orientation: tuple[float, ...] | None) -> np.ndarray | None:
    if orientation is None:
        return None
    normal = np.cross(np.asarray(orientation[:3]), np.asarray(orientation[3:]))
    norm = float(np.linalg.norm(normal))
    return normal / norm if norm > 1e-6 else None


def _plane(
    words: str, orientation: tuple[float, ...] | None, geometry_first: bool = False
) -> str | None:
    from_geometry = _geometry_plane(orientation)
    if geometry_first and from_geometry is not None:
        return from_geometry
    for plane, pattern in _PLANES:
        if pattern.search(words):
            return plane
    return from_geometry


def _geometry_plane(orientation: tuple[float, ...] | None) -> str | None:
    normal = _normal(orientation)
    if normal is None:
        return None
    along_axis = abs(float(normal @ LV_AXIS))
    if along_axis >= _SAX_MIN_COS:
        return "sax"
    return _long_axis_plane(normal) if along_axis <= _LAX_MAX_COS else None


def _long_axis_plane(normal: np.ndarray) -> str | None:
    """4ch / 3ch / 2ch for a plane containing the LV axis, from the direction across the LV it
    contains (``normal x axis``), or None when it is near none of them."""
    across = np.cross(normal, LV_AXIS)
    angle = np.degrees(np.arctan2(float(across @ ANTERIOR_AXIS), float(across @ SEPTAL_AXIS)))
    angle = angle % 180.0  # a direction and its opposite are the same plane
    for plane, typical in _LAX_ANGLES_DEG.items():
        distance = min(abs(angle - typical), 180.0 - abs(angle - typical))
        if distance <= _LAX_TOLERANCE_DEG:
            return plane
    return None


def classify_series(
    description: str,
    orientation: tuple[float, ...] | None,
    has_inversion_time: bool,
    phases: int,
    view_map: ViewMap | None = None,
    several_planes: bool = False,
) -> ViewDecision:
    """Slot for one series (``sax`` = cine short axis, split later by geometry) or a reason.

    ``several_planes``: the series is one part of a series holding stacks in several planes;
    its geometry names its plane before the description does."""
    override = view_map.match(description) if view_map else None
    if override == IGNORE:
        return ViewDecision(None, f"series {description!r} ignored by the view map")
    if override is not None:
        return ViewDecision(override)
    words = re.sub(r"[^A-Z0-9]+", " ", description.upper()).strip()
    if _EXCLUDE.search(words):
        return ViewDecision(None, f"unknown view: {description!r} is not a cine or LGE series")
    plane = _plane(words, orientation, several_planes)
    is_lge = bool(_LGE.search(words)) or (has_inversion_time and not _CINE.search(words))
    is_cine = bool(_CINE.search(words)) or (not is_lge and phases > 1)
    if plane is None or not (is_lge or is_cine):
        return ViewDecision(None, f"unknown view: cannot classify series {description!r}")
    if not is_lge:
        return ViewDecision(plane)
    if f"lge_{plane}" not in VIEW_SLOTS:
        return ViewDecision(None, f"unknown view: no slot for LGE {plane} ({description!r})")
    return ViewDecision(f"lge_{plane}")
