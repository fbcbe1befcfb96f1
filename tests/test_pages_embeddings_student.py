"""The Embeddings page as a student first meets it: coloured by diagnosis, a selection summed
up by its labels, and a hint that promises only what the map does."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from dashboard import map_figure
from dashboard.map_labels import DIAGNOSIS


def test_the_map_opens_coloured_by_diagnosis_with_the_legend_above(app) -> None:
    """It opened uncoloured (every point one blue) and the colour box held no diagnosis."""
    at = app("pages/embeddings.py", **{"e-method": "PCA"})
    colour = at.selectbox(key="e-colour")
    assert colour.value == DIAGNOSIS and colour.options[1] == DIAGNOSIS
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    assert spec["layout"]["legend"]["title"]["text"] == DIAGNOSIS
    names = {t.get("name") for t in spec["data"]} - {"studies", "prompts"}
    assert "Normal" in names and len(names) > 1, names
    colour.select("(none)").run()  # still a choice
    assert not at.exception and not at.error


def test_the_map_is_titled_with_what_it_shows_and_described_for_a_screen_reader(app) -> None:
    """The map had no title (the legend had taken its place): a screenshot of it on a slide
    did not say which checkpoint's embeddings of which studies it drew, or what the colours
    were; and a screen reader had no name for it, where the Evaluate figures have alt text."""
    at = app("pages/embeddings.py", **{"e-method": "PCA"})
    chart = at.get("plotly_chart")[0].proto
    layout = json.loads(chart.spec)["layout"]
    title = layout["title"]["text"]
    assert title.startswith("Study embeddings (PCA) · ")
    for part in ("tiny/best.pt", "ds/tiny", f"coloured by {DIAGNOSIS}"):
        assert part in title and part in chart.alt, part
    assert "24 studies" in chart.alt
    # under the title, not over it: both measured from the figure's top
    assert layout["legend"]["yref"] == layout["title"]["yref"] == "container"
    assert layout["legend"]["y"] < layout["title"]["y"]


def test_a_selection_names_what_it_holds_more_often_than_the_map(
    app, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("dashboard.map_figure.selected_rows", lambda points, figure: [0])
    at = app("pages/embeddings.py", **{"e-method": "PCA"})
    notes = [m.value for m in at.markdown if "More common here than on the whole map" in m.value]
    assert len(notes) == 1 and "% of all)" in notes[0], [m.value for m in at.markdown]


def test_the_empty_selection_hint_says_a_click_selects_and_the_lasso_stays(app) -> None:
    """The map opens on Pan, where a click selects a study (under the lasso Streamlit ignored
    clicks, and the hint sent the user to the toolbar first); the lasso and box are still
    offered, in the toolbar and to the chart's selection."""
    at = app("pages/embeddings.py", **{"e-method": "PCA"})
    hint = " ".join(c.value for c in at.caption)
    assert "Click a study" in hint and "Lasso Select" in hint and "Pan" not in hint, hint
    # the legend cannot hide a group (a click on it did nothing, silently): said, with the way
    assert "legend is a key" in hint and "Highlight" in hint, hint
    chart = at.get("plotly_chart")[0].proto
    assert len(chart.selection_mode) == 3  # points, box and lasso


def test_one_clicked_study_shows_its_card_without_a_row_pick(
    app, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A click selects one study: listing it in a one-row table and waiting for that row to be
    picked made the student click twice to see it."""
    monkeypatch.setattr("dashboard.map_figure.selected_rows", lambda points, figure: [2])
    at = app("pages/embeddings.py", **{"e-method": "PCA"})
    [study] = at.dataframe(key="e-table").value["study_id"].tolist()
    assert "Selection: 1 study" in [h.value for h in at.subheader]
    assert f"**{study}**" in " ".join(m.value for m in at.markdown)
    assert at.button(key="open-e-pick").label == "Open case"


def test_a_picked_row_shows_the_study_under_the_table_and_keeps_the_map(
    app, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Picking a row switched to the Studies page, and coming back the map had lost its
    selection: the student had to lasso again for every study looked at."""
    monkeypatch.setattr("dashboard.map_figure.selected_rows", lambda points, figure: [0, 1, 2])
    at = app("pages/embeddings.py", **{"e-method": "PCA"})
    second = at.dataframe(key="e-table").value["study_id"].tolist()[1]
    at.session_state["e-table"] = {"selection": {"rows": [1], "columns": [], "cells": []}}
    at.run()
    assert not at.exception and not at.error
    assert len(at.dataframe(key="e-table").value) == 3  # still on the map's page, still listed
    shown = " ".join(m.value for m in at.markdown)
    assert f"**{second}**" in shown, shown
    assert at.button(key="open-e-pick").label == "Open case"  # the cine views one click away


def test_a_new_selection_raises_a_toast_once(app, monkeypatch: pytest.MonkeyPatch) -> None:
    """The selection is listed under the 620 px map, below a laptop's fold: a lasso seemed to
    do nothing. Picking a row of the same selection must not raise it again."""
    monkeypatch.setattr("dashboard.map_figure.selected_rows", lambda points, figure: [0, 1, 2])
    at = app("pages/embeddings.py", **{"e-method": "PCA"})
    [toast] = [t.proto.body for t in at.toast]
    assert toast.startswith("3 studies selected: listed below the map"), toast
    at.session_state["e-table"] = {"selection": {"rows": [1], "columns": [], "cells": []}}
    at.run()
    assert not [t.proto.body for t in at.toast if "selected" in t.proto.body]


def test_a_diagnosis_can_be_highlighted_on_the_map(app) -> None:
    at = app("pages/embeddings.py", **{"e-method": "PCA"})
    box = at.multiselect(key=f"e-highlight-{DIAGNOSIS}")
    assert "Normal" in box.options
    box.select("Normal").run()
    assert not at.exception and not at.error
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    studies = next(t for t in spec["data"] if t.get("name") == "studies")
    assert isinstance(studies["marker"]["opacity"], list), studies["marker"]


def test_the_same_selection_drawn_again_after_a_clear_is_announced_again(
    app, monkeypatch: pytest.MonkeyPatch
) -> None:
    rows: list[int] = [0, 1]
    monkeypatch.setattr("dashboard.map_figure.selected_rows", lambda points, figure: list(rows))
    at = app("pages/embeddings.py", **{"e-method": "PCA"})
    assert [t for t in at.toast if "selected" in t.proto.body]
    rows.clear()
    at.run()
    rows.extend([0, 1])
    at.run()
    assert [t for t in at.toast if "2 studies selected" in t.proto.body]


def test_the_legend_is_worked_out_once_a_rerun(app, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every study's legend name was worked out four times a rerun with a category highlighted
    (the Highlight box, the colours, the fading twice): 0.1 s each at 50,000 studies."""
    at = app("pages/embeddings.py", **{"e-method": "PCA"})
    calls: list[str] = []
    original = map_figure._legend_names

    def counted(values: pd.Series) -> tuple[pd.Series, list[str], bool]:
        calls.append(str(values.name))
        return original(values)

    monkeypatch.setattr(map_figure, "_legend_names", counted)
    at.multiselect(key=f"e-highlight-{DIAGNOSIS}").select("Normal").run()
    assert not at.exception and not at.error
    spec = json.loads(at.get("plotly_chart")[0].proto.spec)
    studies = next(t for t in spec["data"] if t.get("name") == "studies")
    assert isinstance(studies["marker"]["opacity"], list)  # the highlight drawn
    assert calls == [DIAGNOSIS]
