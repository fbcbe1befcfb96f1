"""Embeddings: UMAP of the active checkpoint's study embeddings; colour, lasso, prompts on the map."""

import streamlit as st

from dashboard.context import Studio, UserError
from dashboard.formatting import relative
from dashboard.glossary import meaning
from dashboard.inert_text import markdown_text
from dashboard.map_figure import embedding_map, highlighted_rows, map_legend, selected_rows
from dashboard.map_labels import (
    NO_COLOUR,
    colour_options,
    default_colour,
    hover_columns,
    map_description,
    map_table,
    map_title,
    selection_message,
    selection_note,
)
from dashboard.map_prompts import METHODS, prompt_points
from dashboard.page_memory import changed
from dashboard.studies import column_label, listed_selection, table_labels
from dashboard.ui import (
    case_card,
    few_shot_buttons,
    labels_or_warning,
    page_guard,
    page_header,
)

studio = Studio()
page_header(
    "Embeddings",
    "Each point is a study; nearby studies look alike to the encoder. Click one, or lasso a "
    "group, to inspect.",
    words=("embedding", "encoder", "UMAP", "PCA", "prompt"),
)
# the map opens on Pan, where a click selects (Streamlit ignores clicks under the lasso and box)
SELECT_HINT = (
    "Click a study on the map to list it here (Shift+click adds more), or choose Lasso Select "
    "or Box Select in the map's toolbar and draw round a group; pick a row to see one. From "
    "the keyboard: choose categories in Highlight, then turn on Select the highlighted studies. "
    "The legend is a key, not a switch: clicking it hides nothing; to single categories out, "
    "choose them in Highlight."
)
PREVIEW_PX = 480  # the picked study's card: its four views legible, the page's width not needed


with page_guard(studio):
    # each control as wide as it needs (fixed columns cut "PCA" and "(none)" off at 800 px)
    row = st.container(horizontal=True, gap="medium")
    method = (
        row.segmented_control(
            "Map",
            METHODS,
            default=METHODS[0],
            key="e-method",
            help=f"{meaning('UMAP')}  \n{meaning('PCA')}",
        )
        or METHODS[0]
    )
    projection = studio.projection(method)
    # label columns named as on the Zero-shot and Evaluate pages ("LGE (label)"), one Diagnosis
    table = map_table(
        projection.ids, projection.coords, studio.studies(), labels_or_warning(studio)
    )
    options = colour_options(table)
    colour = row.selectbox(
        "Colour by",
        options,
        index=options.index(default_colour(options)),
        format_func=column_label,
        key="e-colour",
        width=240,
    )
    colour = None if colour == NO_COLOUR else colour
    legend = map_legend(table, colour)  # once a rerun: the Highlight box and the map read it
    categories = legend.entries if legend else []
    highlight = (
        row.multiselect(
            "Highlight",
            categories,
            key=f"e-highlight-{colour}",  # one per colouring: another's categories are not these
            placeholder="All",
            width=240,
            help="Draw these categories as usual and fade every other study (still selectable). "
            "The map's legend is a key only: clicking an entry hides nothing.",
        )
        if categories
        else []
    )
    prompt_text = st.text_input(  # a line of its own: beside the boxes it was cut at 800 px
        "Place prompts on the map (separate with |)",
        key="e-prompts",
        max_chars=2000,
        placeholder="e.g. hypertrophic cardiomyopathy | normal heart",
    )
    try:
        prompts = prompt_points(studio, prompt_text, method)
    except UserError as err:  # e.g. one prompt too long: the map and its selection stay
        st.warning(f"Prompts not placed on the map: {markdown_text(err)}")
        prompts = None
    checkpoint = studio.checkpoint_path()
    shown = (
        f"{checkpoint.parent.name}/{checkpoint.name}",
        relative(studio.dataset_path(), studio.settings.data_root),
    )
    figure = embedding_map(
        table,
        colour,
        prompts,
        hover=hover_columns(table, colour),
        method=method,
        highlight=highlight,
        legend=legend,
        title=map_title(method, *shown, colour),
    )
    event = st.plotly_chart(
        figure,
        on_select="rerun",
        selection_mode=("points", "box", "lasso"),
        key="e-map",
        alt=map_description(len(table), method, *shown, colour),
    )
    points = event.selection.points if event is not None else []
    rows = selected_rows(points, figure)
    # the keyboard's way to a selection (a lasso needs a mouse): the highlighted categories
    by_keys = st.toggle(
        "Select the highlighted studies",
        key="e-select-highlight",
        disabled=not highlight,
        help="Lists every study of the categories in Highlight, as a lasso round them would.",
    )
    if by_keys and not rows:
        rows = highlighted_rows(legend, highlight)
    chosen = table.iloc[rows]
    counted = f"{len(chosen):,} stud{'y' if len(chosen) == 1 else 'ies'}"  # not "1 studies"
    st.subheader(f"Selection: {counted}" if len(chosen) else "Selection")
    # remembered when empty too: the same lasso drawn again after a clear is news again
    fresh = changed("e-selection", tuple(chosen["study_id"].astype(str)))
    if len(chosen):
        note = selection_note(chosen, table)
        if fresh:
            st.toast(
                markdown_text(selection_message(len(chosen), note)),
                icon=":material/scatter_plot:",
            )
        if note:
            st.markdown(f"**More common here than on the whole map:** {markdown_text(note)}")
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
        few_shot_buttons(studio, chosen["study_id"].astype(str).tolist(), "e-map", "selection")
        ids = listed["study_id"].astype(str).tolist()
        # the grid is a canvas a screen reader cannot read, its row pick is Shift+Space: the
        # same pick from a box that lists the IDs
        typed = st.selectbox("Show a study", ids, index=None, key="e-pick-study", width=320)
        if typed is None and len(ids) == 1:  # one study clicked on the map: its card at once
            typed = ids[0]
        if picked.selection.rows:  # shown here: opening the Studies page lost the selection
            typed = ids[picked.selection.rows[0]]
        if typed is not None:
            row = chosen[chosen["study_id"].astype(str) == typed].iloc[0].to_dict()
            with st.container(width=PREVIEW_PX):
                case_card(studio, row, None, key="e-pick")
    else:
        st.caption(SELECT_HINT)
