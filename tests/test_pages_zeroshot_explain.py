"""The Zero-shot page's "Explain": a clinician looking at a top-scoring study sees which views,
frames and regions its probability leans on, for the finding the page shows, with the same
probability the page scored (computed in the background: the page polls until it is ready);
and the pure helpers behind it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from dashboard.explain_plots import frame_curves, region_map, view_bars
from dashboard.explanations import default_finding, reading_sentence
from model.explain import Explanation, OcclusionGrid

pytestmark = pytest.mark.usefixtures("one_torch_thread")


def test_the_page_explains_the_chosen_study_for_the_pages_finding(app) -> None:
    at = app("pages/zeroshot.py")
    chosen = at.selectbox(key="zs-top").value
    assert at.toggle(key="zs-explain").value is False  # nothing computed until asked
    assert not any(str(s.key).startswith("zs-explain") for s in at.selectbox)
    at.toggle(key="zs-explain").set_value(True).run()
    charts = len(at.get("plotly_chart"))  # the page's own (Against labels)
    for _ in range(200):  # computed in the background: each run looks whether it is ready
        assert not at.exception, [e.value for e in at.exception]
        if not any("in the background" in i.value for i in at.info):
            break
        at.run()
    finding = next(s for s in at.selectbox if str(s.key).startswith("zs-explain-finding"))
    assert finding.format_func(finding.value) == chosen  # the finding the page is about
    study = at.selectbox(key="zs-explain-study").value
    metric = at.metric[0]  # the first card: the study the Explain picks first
    caption = next(c.value for c in at.caption if "Red: occluding" in c.value)
    assert f"lowers the probability of {chosen}" in caption
    assert f"= {metric.value} for {study}" in caption  # the page's own probability
    assert len(at.get("plotly_chart")) == charts + 3  # views, frames, regions
    view = at.selectbox(key=f"zs-explain-view-{study}")  # the view raising p most, mapped
    assert view.options and view.value in view.options


def _found() -> Explanation:
    views = np.array([0.2, -0.1, np.nan])
    frames = np.array([[0.1, 0.3], [0.0, -0.2], [np.nan, np.nan]])
    regions = np.zeros((3, 2, 2))
    regions[0, 1, 1] = 0.4
    regions[2] = np.nan
    region_map_ = np.repeat(np.repeat(regions, 2, axis=1), 2, axis=2)
    return Explanation(
        probability=0.7,
        views=views,
        frames=frames,
        regions=regions,
        region_map=region_map_,
        view_present=np.array([True, True, False]),
        frame_present=np.array([[True, True], [True, True], [False, False]]),
        grid=OcclusionGrid.of(4, 2),
        occlusions=14,
        seconds=0.1,
    )


def test_charts_show_present_parts_only_in_the_studys_colours() -> None:
    found = _found()
    bars = view_bars(found, ["a", "b", "c"], "LGE").data[0]
    assert list(bars.x) == ["a", "b"] and list(bars.y) == pytest.approx([20.0, -10.0])  # pp
    assert bars.marker.color[0] != bars.marker.color[1]  # raises vs lowers
    curves = frame_curves(found, ["a", "b", "c"], "LGE").data
    assert [c.name for c in curves] == ["a", "b"]
    heat = region_map(found, np.zeros((4, 4)), 0, "a").data[1]
    assert heat.zmin == pytest.approx(-40.0) and heat.zmax == pytest.approx(40.0)
    assert heat.z[3][3] == pytest.approx(40.0)


def test_the_default_finding_is_the_pages_else_the_studys_highest() -> None:
    scores = pd.Series({"lge": 0.2, "lv_dilation": 0.9, "x": 0.95})
    assert default_finding(["lge", "lv_dilation"], "lge", scores) == "lge"
    assert default_finding(["lge", "lv_dilation"], "hcm", scores) == "lv_dilation"
    assert "red" in reading_sentence("LGE").lower() and "not what causes" in reading_sentence("LGE")
