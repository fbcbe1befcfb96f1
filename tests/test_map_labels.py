"""The embedding map's colour choices, hover rows and selection summary (dashboard.map_labels),
and the map figure's legend and hover text a student reads them by."""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dashboard.map_figure import FADED, embedding_map, map_legend
from dashboard.map_labels import (
    DIAGNOSIS,
    NO_COLOUR,
    SEVERAL,
    colour_options,
    default_colour,
    diagnosis,
    hover_columns,
    label_names,
    labelled_map,
    map_description,
    map_table,
    selection_message,
    selection_note,
)


def _labels() -> pd.DataFrame:
    """Four studies: HCM with LGE, normal, two diagnoses at once, none known."""
    return pd.DataFrame(
        {
            "lge": [1.0, 0.0, 1.0, np.nan],
            "normal": [0.0, 1.0, 1.0, np.nan],
            "hcm": [1.0, 0.0, 1.0, np.nan],
        },
        index=pd.Index(["s1", "s2", "s3", "s4"], name="study_id"),
    )


def _table() -> pd.DataFrame:
    studies = pd.DataFrame(
        {
            "x": [0.0, 1.0, 2.0, 3.0],
            "y": [0.0, 1.0, 0.0, 1.0],
            "study_id": ["s1", "s2", "s3", "s4"],
            "matrix": ["256x256", "256x256", "512x512", "256x256"],
            "site": ["a", "a", "b", "b"],
            "sex": ["F", "M", "F", "M"],
            "impression": ["..."] * 4,
        }
    )
    return labelled_map(studies, _labels())


def test_the_diagnosis_one_hots_become_one_named_column() -> None:
    named = diagnosis(_labels())
    assert named is not None and named.name == DIAGNOSIS
    assert named["s1"] == "HCM" and named["s2"] == "Normal" and named["s3"] == SEVERAL
    assert pd.isna(named["s4"])  # nothing known: unknown on the map, not "Normal"
    assert diagnosis(_labels()[["lge"]]) is None  # findings only: no diagnosis to name


def test_the_labels_come_first_in_the_colour_box_and_diagnosis_is_the_default() -> None:
    """The colour box listed twelve scanner and study fields (matrix, pixel spacing...) before
    any label, and had no diagnosis at all: only one yes/no colouring per diagnosis."""
    options = colour_options(_table())
    assert options[:2] == [NO_COLOUR, DIAGNOSIS]
    assert options.index("LGE (label)") < options.index("site") < options.index("matrix")
    assert options.index("site") < options.index("sex") < options.index("matrix")
    assert not {"x", "y", "study_id", "impression"} & set(options)
    assert default_colour(options) == DIAGNOSIS
    assert default_colour([NO_COLOUR, "site"]) == NO_COLOUR  # no labels file


def test_the_hover_names_the_diagnosis_and_the_colour_of_a_point() -> None:
    table = _table()
    assert hover_columns(table, "LGE (label)") == [DIAGNOSIS, "site", "sex", "LGE (label)"]
    assert hover_columns(table, "site") == [DIAGNOSIS, "site", "sex"]  # once
    assert hover_columns(table.drop(columns=DIAGNOSIS), None) == ["site", "sex"]


def test_a_selection_is_summed_up_by_the_labels_it_holds_more_often() -> None:
    table = _table()
    note = selection_note(table[table["study_id"].isin(["s1", "s3"])], table)
    # LGE: 2 of 2 here, 2 of the 3 known; HCM the same; Normal 1 of 2 against 2 of 3: left out
    assert note == "LGE 100% (67% of all) · HCM 100% (67% of all)"
    assert selection_note(table, table) == ""  # the whole map holds nothing more often


def test_the_map_hover_reads_a_label_as_the_legend_does_and_the_legend_sits_above() -> None:
    table = _table()
    fig = embedding_map(table, "LGE (label)", hover=hover_columns(table, "LGE (label)"))
    studies = next(t for t in fig.data if t.name == "studies")
    rows = [list(row) for row in studies.customdata]
    assert rows[0] == ["s1", "HCM", "a", "F", "present"]
    assert rows[3][1] == "unknown" and rows[3][4] == "unknown"  # not "nan"
    assert "LGE (label): %{customdata[4]}" in studies.hovertemplate
    layout = json.loads(fig.to_json())["layout"]
    # in the top margin, hung from the figure's top edge (plotly widens the margin to hold it)
    legend, top = layout["legend"], 1 - layout["margin"]["t"] / layout["height"]
    assert legend["yref"] == "container" and legend["yanchor"] == "top" and legend["y"] > top
    assert layout["legend"]["title"]["text"] == "LGE (label)"
    assert layout["title"]["y"] > legend["y"]  # the title over the legend, not under it


@pytest.mark.parametrize("values", [[40.0, 50.5, np.nan], ["60-69", None, "70-79"]])
def test_other_hover_values_are_written_plainly(values: list) -> None:
    table = pd.DataFrame({"x": [0.0] * 3, "y": [0.0] * 3, "study_id": ["a", "b", "c"], "v": values})
    studies = next(t for t in embedding_map(table, hover=["v"]).data if t.name == "studies")
    shown = [row[1] for row in studies.customdata]
    assert "nan" not in shown and "None" not in shown and "unknown" in shown
    assert "40" in shown or "60-69" in shown


def test_a_new_selection_is_announced_with_its_most_telling_label() -> None:
    note = "LGE 100% (67% of all) · HCM 100% (67% of all)"
    message = selection_message(2, note)
    assert message.startswith("2 studies selected: listed below the map")
    assert message.endswith("More common here: LGE 100% (67% of all)")
    assert selection_message(1, "") == "1 study selected: listed below the map"


def test_the_legend_is_a_key_not_a_toggle_that_hides_nothing() -> None:
    """Clicking a legend entry greyed it out and left its studies drawn: the entries are
    legend-only traces, the studies one trace."""
    legend = json.loads(embedding_map(_table(), DIAGNOSIS).to_json())["layout"]["legend"]
    assert legend["itemclick"] is False and legend["itemdoubleclick"] is False


def test_highlighted_categories_stand_out_and_the_rest_fade() -> None:
    """The legend cannot hide a category: a student picks the ones to see instead."""
    table = _table()
    assert map_legend(table, DIAGNOSIS).entries == ["HCM", "Normal", SEVERAL, "unknown"]
    assert map_legend(table, "LGE (label)").entries == ["absent", "present", "unknown"]
    assert map_legend(table, None) is None
    fig = embedding_map(table, DIAGNOSIS, highlight=["HCM", "unknown"])
    studies = next(t for t in fig.data if t.name == "studies")
    assert list(studies.marker.opacity) == [0.9, FADED, FADED, 0.9]
    plain = next(t for t in embedding_map(table, DIAGNOSIS).data if t.name == "studies")
    assert plain.marker.opacity == 0.85  # nothing highlighted: nothing faded


def test_a_colour_scale_offers_nothing_to_highlight() -> None:
    table = pd.DataFrame({"x": range(12), "y": range(12), "study_id": list("abcdefghijkl")})
    table["age"] = [float(v) for v in range(20, 32)]
    assert map_legend(table, "age") is None


def test_a_column_with_one_value_for_every_study_is_no_colour_choice() -> None:
    """The demo's scanner, matrix, manufacturer, views and source are the same for all 1,000
    studies: six of the colour box's choices drew the whole map in one colour."""
    table = _table().assign(matrix="256x256")
    assert "matrix" not in colour_options(table)
    table.loc[0, "matrix"] = "512x512"
    assert "matrix" in colour_options(table)


def test_label_columns_whose_names_read_alike_get_a_name_each() -> None:
    """``abc_def`` and ``abc def`` were both "Abc def (label)": the colour box then crashed
    ("truth value of a Series is ambiguous"), and a 0/1 ``diagnosis`` column beside the
    diagnosis one-hots crashed the page (Diagnosis inserted twice)."""
    labels = _labels().assign(**{"abc_def": [1.0, 0.0, 0.0, np.nan], "abc def": [0.0, 1.0, 1.0, 0]})
    table = labelled_map(_table()[["x", "y", "study_id", "site"]], labels)
    assert table.columns.is_unique
    assert {"Abc def (label)", "abc def (label)"} <= set(table.columns)
    assert {"Abc def (label)", "abc def (label)"} <= set(colour_options(table))
    own = labelled_map(table[["x", "y", "study_id"]], _labels().assign(diagnosis=[1.0, 0, 1, 0]))
    assert own.columns.is_unique and own[DIAGNOSIS].tolist() == [1.0, 0, 1, 0]  # the file's own
    names = label_names(["a_b", "a b", "A b"])  # each read "A b"; the last as written too
    assert names == {"a_b": "A b (label)", "a b": "a b (label)", "A b": "A b 2 (label)"}
    assert label_names(["site"], taken=["Site (label)"]) == {"site": "site (label)"}


def test_columns_are_counted_by_their_values_with_every_kind_of_missing_one_unknown() -> None:
    """colour_options counts values as they are, not as text (0.4 s a rerun at 50,000 studies):
    None, NaN and NA still count as one "unknown", and a column of lists still counts."""
    table = _table()[["x", "y", "study_id"]].assign(
        blank=pd.Series([None, np.nan, pd.NA, None], dtype=object),
        one_known=pd.Series([None, "yes", np.nan, "yes"], dtype=object),
        mixed=pd.Series([1.0, 1, np.nan, 1.0], dtype=object),
        same_lists=[[1, 2]] * 4,
        lists=[[1], [1], [2], [1]],
    )
    options = colour_options(table)
    assert "blank" not in options and "same_lists" not in options  # one colour for every study
    assert {"one_known", "mixed", "lists"} <= set(options)  # a value and unknown: two colours


def test_a_legend_worked_out_for_another_colour_is_not_drawn() -> None:
    table = _table()
    stale = map_legend(table, "LGE (label)")
    fig = embedding_map(table, DIAGNOSIS, highlight=["HCM"], legend=stale)
    names = [t.name for t in fig.data if t.name != "studies"]
    assert names == map_legend(table, DIAGNOSIS).entries == ["HCM", "Normal", SEVERAL, "unknown"]


def test_the_maps_alt_text_names_what_is_drawn_and_counts_in_words() -> None:
    """What a screen reader hears for the map: how many studies of which dataset, by which
    checkpoint's embeddings, coloured by what; one study is "1 study"."""
    many = map_description(1200, "UMAP", "demo/best.pt", "demo/internal", DIAGNOSIS)
    assert many.startswith("Scatter map of 1,200 studies of demo/internal")
    assert "UMAP of demo/best.pt's embeddings" in many and "coloured by Diagnosis" in many
    one = map_description(1, "PCA", "run/last.pt", "ds/tiny", None)
    assert one.startswith("Scatter map of 1 study of ds/tiny") and "coloured" not in one


def test_the_map_table_puts_each_point_beside_its_study_and_labels() -> None:
    """The Embeddings page's table (once built inside the page): x, y in the projection's order
    joined to each study's row, an unknown field strength (stored 0.0) NaN, a study missing from
    the dataset kept with blanks, and the labels joined when there are any."""
    studies = pd.DataFrame(
        {"study_id": ["s1", "s2", "s3"], "site": ["a", "b", "a"], "field_strength": [1.5, 0.0, 3.0]}
    )
    coords = np.array([[0.0, 1.0], [2.0, 3.0], [4.0, 5.0], [6.0, 7.0]])
    ids = ["s3", "s1", "s2", "gone"]
    table = map_table(ids, coords, studies, None)
    assert table["study_id"].tolist() == ids and table["x"].tolist() == [0.0, 2.0, 4.0, 6.0]
    assert table["site"].tolist()[:3] == ["a", "a", "b"] and pd.isna(table["site"].iloc[3])
    strengths = table["field_strength"]
    assert strengths.iloc[0] == 3.0 and strengths.iloc[1] == 1.5 and strengths.iloc[2:].isna().all()
    labelled = map_table(ids, coords, studies, _labels())
    assert labelled.set_index("study_id").loc["s1", DIAGNOSIS] == "HCM"
    assert labelled.set_index("study_id").loc["s2", DIAGNOSIS] == "Normal"
