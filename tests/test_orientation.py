"""Display orientation: quarter turns chosen from ImageOrientationPatient, never a mirror flip."""

from __future__ import annotations

import numpy as np
import pytest

from model.data.orientation import (
    LONG_AXIS_SLOTS,
    NOMINAL_ANTERIOR_WALL,
    NOMINAL_APEX,
    quarter_turns,
    turn_upright,
)
from sample_data.anatomy import make_frame
from sample_data.sites import EXTERNAL, INTERNAL
from sample_data.views import plan_views


def _plane_with_up(up: np.ndarray, turns_away: int) -> tuple[float, ...]:
    """An orientation whose upright version (after ``turns_away`` turns) has ``up`` pointing up."""
    up = up / np.linalg.norm(up)
    right = np.cross(up, [0.3, 0.5, 0.8])
    right /= np.linalg.norm(right)
    row, col = right, -up  # upright: rows run right, columns run down
    for _ in range(turns_away):  # the scanner's image is the upright one turned clockwise
        row, col = -col, row
    return (*row, *col)


@pytest.mark.parametrize("turns", [0, 1, 2, 3])
@pytest.mark.parametrize(
    ("slot", "up"), [("4ch", NOMINAL_APEX), ("sax_mid", NOMINAL_ANTERIOR_WALL)]
)
def test_quarter_turns_recover_the_upright_view(slot: str, up: np.ndarray, turns: int) -> None:
    orientation = _plane_with_up(up, turns)
    assert quarter_turns(orientation, slot) == turns


def test_turns_rotate_counter_clockwise_without_flipping() -> None:
    image = np.arange(6, dtype=np.uint8).reshape(1, 2, 3)  # [[0 1 2], [3 4 5]]
    turned = turn_upright(image, 1)
    np.testing.assert_array_equal(turned[0], [[2, 5], [1, 4], [0, 3]])  # right column on top
    np.testing.assert_array_equal(turn_upright(turned, 3), image)
    assert turned.flags.c_contiguous


def test_missing_or_broken_orientation_leaves_the_view_alone() -> None:
    assert quarter_turns(None, "4ch") == 0
    assert quarter_turns((1.0, 0.0), "2ch") == 0
    assert quarter_turns((float("nan"),) * 6, "sax_base") == 0
    with pytest.raises(ValueError, match="unknown view slot"):
        quarter_turns((1, 0, 0, 0, 1, 0), "axial")


@pytest.mark.parametrize("site", [INTERNAL, EXTERNAL], ids=["internal", "external"])
def test_generated_views_come_out_upright_at_both_sites(site) -> None:
    """Against the generator's true heart: after the chosen turns, long-axis views show the
    apex up and short-axis views the anterior wall up, whatever the site's display convention."""
    rng = np.random.default_rng(3)
    for _ in range(20):
        heart = make_frame(rng)
        for view in plan_views(heart, 90.0, site, rng):
            orientation = (*view.row_dir, *view.col_dir)
            turns = quarter_turns(orientation, view.slot)
            up = [-view.col_dir, view.row_dir, view.col_dir, -view.row_dir][turns]
            truth = heart.axis if view.slot in LONG_AXIS_SLOTS else heart.anterior
            assert up @ truth > np.cos(np.radians(45)), (site.name, view.slot)
