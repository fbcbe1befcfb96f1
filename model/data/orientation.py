"""One display orientation for every view, whatever convention the scanner or site used.

Sites display the same plane differently: one shows four-chamber views with the apex at the top,
another rotates them a quarter turn (apex to the right). A model trained on one convention then
meets a rotated heart at the other site. Ingest therefore turns each view by whole quarter turns
(lossless, no resampling) so that the image's *up* direction, read from ImageOrientationPatient,
is the one closest to a fixed anatomical reference in patient (LPS) coordinates:

- long-axis views (4ch, 2ch, 3ch and their LGE twins): up toward the apex, whose nominal
  direction is left, anterior and inferior ``(1, -1, -1)/sqrt(3)``;
- short-axis views: up toward the heart's anterior wall, i.e. patient superior with its component
  along that long axis removed.

Only quarter turns are used, never mirror flips, so the patient's left stays where the scanner put
it relative to anterior (handedness is kept). Views without orientation are left as they are.
"""

from __future__ import annotations

import numpy as np

from model.schema import VIEW_SLOTS

LONG_AXIS_SLOTS = frozenset({"4ch", "2ch", "3ch", "lge_4ch", "lge_2ch"})
NOMINAL_APEX = np.array([1.0, -1.0, -1.0]) / np.sqrt(3.0)
_SUPERIOR = np.array([0.0, 0.0, 1.0])
NOMINAL_ANTERIOR_WALL = _SUPERIOR - (_SUPERIOR @ NOMINAL_APEX) * NOMINAL_APEX
NOMINAL_ANTERIOR_WALL /= np.linalg.norm(NOMINAL_ANTERIOR_WALL)


def reference_up(slot: str) -> np.ndarray:
    """The patient-space direction that should point up in ``slot``'s images."""
    if slot not in VIEW_SLOTS:
        raise ValueError(f"unknown view slot {slot!r}")
    return NOMINAL_APEX if slot in LONG_AXIS_SLOTS else NOMINAL_ANTERIOR_WALL


def quarter_turns(orientation: tuple[float, ...] | None, slot: str) -> int:
    """How many counter-clockwise quarter turns (``np.rot90`` ``k``) bring ``slot`` upright.

    ``orientation`` is ImageOrientationPatient: the row direction (pixels to the right) then the
    column direction (pixels downward). After ``k`` turns the image's up direction is ``-col``,
    ``row``, ``col``, ``-row`` for ``k`` = 0, 1, 2, 3; the one nearest the reference wins.
    """
    if orientation is None or len(orientation) != 6:
        return 0
    row, col = np.asarray(orientation[:3], float), np.asarray(orientation[3:], float)
    if not (np.all(np.isfinite(row)) and np.all(np.isfinite(col))):
        return 0
    ups = np.stack([-col, row, col, -row])  # [4, 3]
    return int(np.argmax(ups @ reference_up(slot)))


def turn_upright(images: np.ndarray, turns: int) -> np.ndarray:
    """``images [T, H, W]`` turned ``turns`` quarter turns counter-clockwise (a contiguous copy)."""
    return np.ascontiguousarray(np.rot90(images, turns % 4, axes=(1, 2)))
