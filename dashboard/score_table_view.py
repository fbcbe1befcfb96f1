"""The Zero-shot page's "Per-study probabilities" table: sorted and searched over every study
here (``dashboard.score_listing``), at most ``TABLE_ROWS`` rows sent, every study in the CSV."""

from __future__ import annotations

import pandas as pd
import streamlit as st

from dashboard.page_memory import remember, restore
from dashboard.score_listing import listed_scores, score_sort_columns
from dashboard.scoring import Scores, score_table, shown_score_table
from dashboard.sort_controls import sort_controls
from dashboard.studies import table_labels
from dashboard.study_order import DATASET_ORDER, DIRECTIONS

# kept while the user visits other pages (dashboard.page_memory)
TABLE_DEFAULTS = {"zs-sort": DATASET_ORDER, "zs-order": DIRECTIONS[0], "zs-find": ""}


def score_table_section(scores: Scores, studies: pd.DataFrame) -> None:
    """The table of each study's probabilities and its CSV download (``studies`` indexed by
    study_id): findings as bars, classes to 3 decimals, named as on every page."""
    table = shown_score_table(scores, studies)
    n_findings, n_classes = scores.findings.shape[1], scores.diagnoses.shape[1]
    bar = st.column_config.ProgressColumn(  # a width of its own: under a short name ("Lge")
        min_value=0.0,
        max_value=1.0,
        format="%.3f",
        width="medium",  # the bar was squeezed out
    )
    config = {
        **table_labels(table.reset_index()),  # named as on every page: Study ID, Site
        **{c: bar for c in table.columns[:n_findings]},
        **{  # the classes' probabilities to the cards' 3 decimals, not the default 4
            c: st.column_config.NumberColumn(format="%.3f")
            for c in table.columns[n_findings : n_findings + n_classes]
        },
    }
    st.subheader("Per-study probabilities")
    st.dataframe(
        listed_table(table), hide_index=True, column_config=config, key="zs-table", height=320
    )
    st.download_button(
        "Download scores CSV",
        lambda: score_table(scores, studies).to_csv(),  # keyed as labels.csv; built on a click
        file_name="zeroshot_scores.csv",
        mime="text/csv",
    )


def listed_table(table: pd.DataFrame) -> pd.DataFrame:
    """The rows of the score table to send: every study searched and sorted here by the
    controls drawn above the table, then the first ``TABLE_ROWS`` listed."""
    restore(TABLE_DEFAULTS)
    columns = score_sort_columns(table)
    if st.session_state["zs-sort"] not in columns:  # a finding of the set edited away
        st.session_state["zs-sort"] = DATASET_ORDER
    row = st.container(horizontal=True, gap="medium", vertical_alignment="bottom")
    column, descending = sort_controls(row, columns, "zs", "every study")
    text = row.text_input("Study id, site, split or diagnosis contains", key="zs-find")
    remember(TABLE_DEFAULTS)
    listed, caption = listed_scores(table, column, descending, text)
    st.caption(caption)
    return listed
