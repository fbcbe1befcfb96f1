"""Embeddings: UMAP of the active checkpoint's study embeddings; colour, lasso, prompts on the map."""

import pandas as pd
import streamlit as st

from dashboard.context import Studio
from dashboard.inert_text import markdown_text
from dashboard.map_figure import embedding_map, selected_rows
from dashboard.scoring import clean_query
from dashboard.studies import column_label, known_field_strength, listed_selection, table_labels
from dashboard.ui import (
    few_shot_buttons,
    labels_or_warning,
    open_case,
    page_guard,
    page_header,
)
from model.errors import UserError
from model.evaluation.tables import display_name
from model.projection import METHODS

studio = Studio()
page_header(
    "Embeddings",
    "Each point is a study; nearby studies look alike to the encoder. Lasso to inspect.",
)
HOVER = ("site", "split", "age_band", "sex")


def map_table(method: str) -> pd.DataFrame:
    projection = studio.projection(method)
    coords = pd.DataFrame(projection.coords, columns=["x", "y"])
    coords["study_id"] = projection.ids
    table = coords.merge(studio.studies(), on="study_id", how="left")
    if "field_strength" in table.columns:  # an unknown one (stored 0.0) coloured as unknown
        table["field_strength"] = known_field_strength(table["field_strength"])
    labels = labels_or_warning(studio)
    if labels is not None:  # named as on the Zero-shot and Evaluate pages: "LGE (label)"
        named = labels.rename(columns=lambda key: f"{display_name(key)} (label)")
        table = table.merge(named, left_on="study_id", right_index=True, how="left")
    return table


def colour_options(table: pd.DataFrame) -> list[str]:
    skip = {"x", "y", "study_id", "impression", "patient_key", "view_frames"}
    return ["(none)", *[c for c in table.columns if c not in skip]]


def prompt_points(text: str, method: str) -> pd.DataFrame | None:
    prompts = [clean_query(t) for t in text.split("|") if t.strip()]
    if not prompts:
        return None
    vectors = studio.text_encoder()(prompts)
    xy = studio.projection(method).place(vectors)
    return pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "text": prompts})


with page_guard(studio):
    # each control as wide as it needs (fixed columns cut "PCA" and "(none)" off at 800 px)
    row = st.container(horizontal=True, gap="medium")
    method = (
        row.segmented_control(
            "Map", METHODS, default=METHODS[0], key="e-method", help="UMAP (cosine) or instant PCA"
        )
        or METHODS[0]
    )
    table = map_table(method)
    colour = row.selectbox(
        "Colour by", colour_options(table), format_func=column_label, key="e-colour", width=240
    )
    prompt_text = row.text_input(
        "Place prompts on the map (separate with |)", key="e-prompts", max_chars=2000
    )
    try:
        prompts = prompt_points(prompt_text, method)
    except UserError as err:  # e.g. one prompt too long: the map and its selection stay
        st.warning(f"Prompts not placed on the map: {markdown_text(err)}")
        prompts = None
    figure = embedding_map(
        table, None if colour == "(none)" else colour, prompts, hover=HOVER, method=method
    )
    event = st.plotly_chart(
        figure, on_select="rerun", selection_mode=("points", "box", "lasso"), key="e-map"
    )
    points = event.selection.points if event is not None else []
    chosen = table.iloc[selected_rows(points, figure)]
    st.subheader(f"Selection: {len(chosen):,} studies" if len(chosen) else "Selection")
    if len(chosen):
        listed, caption = listed_selection(chosen)
        st.caption(caption)
        picked = st.dataframe(
            listed,
            hide_index=True,
            column_config=table_labels(listed),
            on_select="rerun",
            selection_mode="single-row",
            key="e-table",
        )
        if picked.selection.rows:
            open_case(str(chosen.iloc[picked.selection.rows[0]]["study_id"]))
        few_shot_buttons(studio, chosen["study_id"].astype(str).tolist(), "e-map", "selection")
    else:
        st.caption(
            "Use the lasso or box tool on the map (or click a point) to list studies here; pick a row to open it."
        )
