"""Pure plot builders for one study's occlusion explanation (``model.explain.Explanation``):
the views as bars, the frames as curves over the cardiac cycle, the regions as a heat map over
a frame. Red is a part whose occlusion lowers the finding's probability (it raises the
finding), blue one whose occlusion raises it, on every chart; absent views draw nothing.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TYPE_CHECKING

import numpy as np
import plotly.graph_objects as go

from dashboard.inert_text import plotly_text
from dashboard.plots import HALF_COLUMN_TITLE, MANY_COLOURS, PALETTE, apply_layout

if TYPE_CHECKING:  # model.explain imports torch, which the page loads only to explain
    from model.explain import Explanation

HEAT_SCALE = "RdBu_r"  # diverging: red positive, blue negative, pale near 0
RAISES, LOWERS = "#d6604d", "#4393c3"  # that scale's red and blue, for the bars
PERCENT = 100.0  # probability differences are drawn in percentage points
POINTS = "percentage points"
AXIS = {"zeroline": True, "exponentformat": "none"}  # 0.04, not 40m


def present_views(found: Explanation, views: Sequence[str]) -> list[str]:
    """The names of the study's present views, in slot order."""
    return [name for v, name in enumerate(views) if found.view_present[v]]


def absent_views(found: Explanation, views: Sequence[str]) -> list[str]:
    """The names of the view slots the study does not have (nothing to occlude there)."""
    return [name for v, name in enumerate(views) if not found.view_present[v]]


def view_bars(found: Explanation, views: Sequence[str], finding: str) -> go.Figure:
    """One bar per present view: the probability drop when that view is left out."""
    index = [v for v in range(len(views)) if found.view_present[v]]
    values = [PERCENT * float(found.views[v]) for v in index]
    fig = go.Figure(
        go.Bar(
            x=[views[v] for v in index],
            y=values,
            marker={"color": [RAISES if y > 0 else LOWERS for y in values]},
            hovertemplate="%{x}: %{y:+.3g} pp when left out<extra></extra>",
        )
    )
    fig.update_yaxes(title_text=f"drop in p, {POINTS}", **AXIS)
    title = f"Views: what leaving each out does to p({finding})"
    return apply_layout(fig, title, height=340, wrap=HALF_COLUMN_TITLE)


def frame_curves(found: Explanation, views: Sequence[str], finding: str) -> go.Figure:
    """Per present view the probability drop when each of its frames is left out, over the
    frame index (the phase of the cardiac cycle for a cine view, the slice for an LGE stack)."""
    fig = go.Figure()
    for v, name in enumerate(views):
        present = np.flatnonzero(found.frame_present[v])
        if not present.size:
            continue
        colour = (PALETTE + MANY_COLOURS)[v % (len(PALETTE) + len(MANY_COLOURS))]
        fig.add_trace(
            go.Scatter(
                x=present,
                y=PERCENT * found.frames[v, present],
                mode="lines+markers" if present.size > 1 else "markers",
                name=plotly_text(name),
                line={"color": colour},
                hovertemplate=f"{plotly_text(name)} frame %{{x}}: %{{y:+.3g}} pp<extra></extra>",
            )
        )
    fig.update_xaxes(title_text="frame (cine: phase of the cardiac cycle; LGE: slice)", dtick=1)
    fig.update_yaxes(title_text=f"drop in p, {POINTS}", **AXIS)
    title = f"Frames: what leaving each out does to p({finding})"
    return apply_layout(fig, title, height=360, wrap=HALF_COLUMN_TITLE)


def region_map(found: Explanation, frame: np.ndarray, view: int, name: str) -> go.Figure:
    """The view's region map over ``frame: [H, W]`` (grey), one colour scale for the study."""
    limit = PERCENT * found.heat_limit()
    fig = go.Figure()
    fig.add_trace(
        go.Heatmap(
            z=frame, colorscale="gray", zmin=0.0, zmax=1.0, showscale=False, hoverinfo="skip"
        )
    )
    fig.add_trace(
        go.Heatmap(
            z=PERCENT * found.region_map[view],
            colorscale=HEAT_SCALE,
            zmin=-limit,
            zmax=limit,
            opacity=0.55,
            colorbar={"title": {"text": "drop in p, pp"}, "exponentformat": "none"},
            hovertemplate="x %{x}, y %{y}: %{z:+.3g} pp<extra></extra>",
        )
    )
    fig.update_yaxes(autorange="reversed", scaleanchor="x", showticklabels=False, showgrid=False)
    fig.update_xaxes(showticklabels=False, showgrid=False, zeroline=False)
    peak = int(found.peak_frames()[view])
    return apply_layout(fig, f"Regions of {name} (over frame {peak})", height=420)
