"""Every action reachable from the keyboard (WCAG 2.1.1): the embedding map's selection is
made with a mouse (lasso, box, click), and Streamlit's data grid is a canvas a screen reader
cannot read whose row pick takes Shift+Space, so the page offers the same through boxes."""

from __future__ import annotations

import pytest

from dashboard.map_labels import DIAGNOSIS


def _selection_heading(at) -> str:
    return next(h.value for h in at.subheader if h.value.startswith("Selection"))


def test_the_highlighted_categories_can_be_selected_without_the_map(app) -> None:
    """A keyboard user could highlight a diagnosis but never list its studies: only a lasso
    drawn with a mouse made a selection."""
    at = app("pages/embeddings.py", **{"e-method": "PCA"})
    assert at.toggle(key="e-select-highlight").disabled  # nothing highlighted yet
    at.multiselect(key=f"e-highlight-{DIAGNOSIS}").select("Normal").run()
    at.toggle(key="e-select-highlight").set_value(True).run()
    assert not at.exception and not at.error
    listed = at.dataframe(key="e-table").value
    heading = _selection_heading(at)
    assert len(listed) and heading != "Selection", heading
    count = int(heading.split()[1].replace(",", ""))
    assert count >= len(listed)


def test_a_study_of_the_selection_can_be_shown_without_the_table(
    app, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Picking a row of the selection table was the only way to see one study's card: a grid
    a screen reader does not read, picked from the keyboard only by an unannounced Shift+Space."""
    monkeypatch.setattr("dashboard.map_figure.selected_rows", lambda points, figure: [0, 1, 2])
    at = app("pages/embeddings.py", **{"e-method": "PCA"})
    second = at.dataframe(key="e-table").value["study_id"].tolist()[1]
    at.selectbox(key="e-pick-study").select(second).run()
    assert not at.exception and not at.error
    shown = " ".join(m.value for m in at.markdown)
    assert f"**{second}**" in shown, shown


def test_highlighted_rows_are_the_studies_of_the_chosen_categories() -> None:
    import pandas as pd

    from dashboard.map_figure import highlighted_rows, map_legend

    table = pd.DataFrame({"x": range(4), "y": range(4), "dx": ["HCM", "Normal", "HCM", None]})
    legend = map_legend(table, "dx")
    assert highlighted_rows(legend, ["HCM"]) == [0, 2]
    assert highlighted_rows(legend, ["HCM", "unknown"]) == [0, 2, 3]
    assert highlighted_rows(legend, []) == [] and highlighted_rows(None, ["HCM"]) == []


def test_the_table_captions_say_how_to_pick_a_row_from_the_keyboard() -> None:
    """Streamlit's data grid picks a row with Shift+Space, which nothing on the page said: a
    keyboard user tried Enter and Space, and nothing opened."""
    import pandas as pd

    from dashboard.studies import listed_rows, listed_selection

    studies = pd.DataFrame({"study_id": ["s1", "s2"], "impression": ["a", "b"]})
    for _, caption in (listed_rows(studies, 2), listed_selection(studies)):
        assert "Shift+Space" in caption, caption


def test_the_runs_and_ranked_tables_say_how_to_pick_a_row_from_the_keyboard(app) -> None:
    """The Train page's runs and the Few-shot ranking open a run or a case by a row pick, with
    no word of how to make one without a mouse."""
    from test_pages_fewshot import add

    from dashboard.studies import ROW_PICK_KEYS

    train = app("pages/train.py")
    assert any(ROW_PICK_KEYS in c.value for c in train.caption), [c.value for c in train.caption]
    fewshot = app("pages/fewshot.py")
    for study_id, positive in (("s000001", True), ("s000002", True), ("s000003", False)):
        add(fewshot, study_id, positive)
    captions = [c.value for c in fewshot.caption]
    assert sum(ROW_PICK_KEYS in c for c in captions) >= 2, captions  # the lists and the ranking
