"""What ``python -m model explain`` writes: the attributions as a table and one PNG per view.

The table has a row per view (``part = view``) and per frame (``part = frame``), absent ones
kept with ``present = False`` and a blank attribution. Each PNG shows the view's frame whose
occlusion lowers the probability most, in grey, under the region map (red: occluding that
square lowers the finding's probability; blue: raises it), on one colour scale for every view
of the study. Figures are drawn with ``matplotlib.figure.Figure`` and the Agg canvas, never
pyplot (as ``model.evaluation.plots``).
"""

from __future__ import annotations

import io
from collections.abc import Sequence

import numpy as np
import pandas as pd
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure

from model.explain import Explanation

DPI = 110
HEAT = "RdBu_r"  # red positive (the part raises the finding), blue negative; apart for red-green
ALPHA = 0.55


def attribution_table(found: Explanation, views: Sequence[str]) -> pd.DataFrame:
    """Rows ``part, view, frame, present, attribution`` (blank attribution: absent), the views
    first, then every frame of every view in order."""
    rows = [
        {
            "part": "view",
            "view": name,
            "frame": None,
            "present": bool(found.view_present[v]),
            "attribution": _value(found.views[v]),
        }
        for v, name in enumerate(views)
    ]
    for v, name in enumerate(views):
        rows += [
            {
                "part": "frame",
                "view": name,
                "frame": t,
                "present": bool(found.frame_present[v, t]),
                "attribution": _value(found.frames[v, t]),
            }
            for t in range(found.frames.shape[1])
        ]
    table = pd.DataFrame(rows)
    table["frame"] = table["frame"].astype("Int64")
    return table


def _value(x: float) -> float | None:
    return None if np.isnan(x) else float(x)


def view_png(found: Explanation, video: np.ndarray, view: int, title: str) -> bytes:
    """PNG bytes: ``video: [V, T, H, W]`` view ``view`` at its peak frame with the region map
    over it, a colour bar of the probability drop."""
    frame = int(found.peak_frames()[view])
    limit = found.heat_limit()
    figure = Figure(figsize=(4.2, 3.6))
    FigureCanvasAgg(figure)
    axes = figure.add_subplot()
    axes.imshow(video[view, frame], cmap="gray", vmin=0.0, vmax=1.0)
    heat = axes.imshow(found.region_map[view], cmap=HEAT, vmin=-limit, vmax=limit, alpha=ALPHA)
    bar = figure.colorbar(heat, ax=axes, fraction=0.046, pad=0.04)
    bar.set_label("probability drop when occluded")
    axes.set_title(f"{title}\nframe {frame}", fontsize=9)
    axes.set_axis_off()
    buffer = io.BytesIO()
    figure.savefig(buffer, format="png", dpi=DPI, bbox_inches="tight", metadata={"Software": None})
    return buffer.getvalue()
