"""One evaluation's results as the Evaluate page shows them, below its picker and downloads.

First the overview, what a reader needs first: whether it is still running or never finished
(no ``summary.json``), whether the checkpoint it names now holds other weights than it
measured, which files could not be read, the headline (the sentence a slide quotes, the key
figures per site and what they mean), when it ran and on what per site, the problems it met
(labels by their names), its methods and the summary itself.

Then its tabs: one per group of tables (``grouped_tables``: zero-shot, few-shot, subgroups,
...), each site's internal first, and a Figures tab when the evaluation drew any. A table shows
rounded figures under readable headers (the CSV download beside it keeps every digit written);
a few-shot table brings its chart per label, a subgroup table its mean AUC per value of a
variable, and the paper's own figures are shown beside ours where there are some. The tab shown
is kept in the address (``&tab=Few-shot``), so a shared link opens the same one. Every text that
came from a file or a user is drawn as inert text.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import streamlit as st

from dashboard.evaluated_weights import evaluated_lines, weights_changed_note
from dashboard.evaluation_columns import (
    column_labels,
    figure_note,
    figures_in_order,
    in_site_order,
    shown_columns,
    site_names,
)
from dashboard.evaluation_tables import (
    HEADLINE_NOTE,
    MISSING,
    PUBLISHED_NOTE,
    PUBLISHED_TITLE,
    figure_text,
    finding_view,
    named_problems,
    published_beside,
    subgroup_note,
    variable_names,
    variable_title,
    variable_view,
)
from dashboard.evaluation_view import (
    EvaluationOutputs,
    column_formats,
    download_name,
    grouped_tables,
)
from dashboard.glossary import terms_used
from dashboard.headline_view import quotable_sentence
from dashboard.inert_text import markdown_table, markdown_text
from dashboard.plots import fewshot_figure

TAB_KEY = "tab"  # &tab=Few-shot: the tab shown (its title, as the reports head it)


def overview(outputs: EvaluationOutputs, root: Path, running: bool = False) -> None:
    """Unreadable files, the headline, when it ran, per-site counts, problems, methods and the
    summary; ``root``: the data root; ``running``: its evaluate job still writes it."""
    key_figures = outputs.key_figures_shown()
    if running:
        st.info(
            "This evaluation is still running: these are the tables it has written so far; "
            "the rest, its headline and its report come when it finishes."
        )
    elif not (outputs.folder / "summary.json").exists():
        st.warning(
            "This evaluation has no summary.json: it did not finish (it failed or was cancelled "
            "while writing its outputs), so its tables may be incomplete. Run it again."
        )
    if changed := weights_changed_note(outputs.summary, root):
        st.warning(markdown_text(changed), icon=":material/update:")
    if outputs.unreadable:
        st.warning(
            "Some files of this evaluation cannot be read and are left out; run the evaluation "
            "again to rewrite them:\n\n"
            + "\n".join(f"- {markdown_text(item)}" for item in outputs.unreadable)
        )
    if not key_figures.empty:
        st.subheader("Headline")
        sentence = outputs.sentence()
        if sentence:  # the line a slide quotes; the code block's copy button takes it whole
            quotable_sentence(sentence)
        # a table that wraps its cells: a data grid scrolled the second site out of sight at
        # 800 px, and hid the last rows behind a scroll
        st.table(markdown_table(key_figures.set_index("figure")))
        st.caption(HEADLINE_NOTE)
        terms = terms_used(key_figures["figure"], outputs.summary.get("config"))  # its own draws
        with st.expander("What these figures mean"):
            st.markdown("\n".join(f"- {term}" for term in terms))
    for line in [*evaluated_lines(outputs.folder, outputs.summary), *outputs.site_lines()]:
        st.caption(markdown_text(line))
    problems = named_problems(outputs.problems())  # labels by their names
    if problems:
        listed = "\n".join(f"- {markdown_text(p)}" for p in problems)
        st.warning("Problems of this run:\n\n" + listed)
    methods = outputs.methods()
    if methods:
        with st.expander("Methods"):
            st.markdown("\n".join(f"- {markdown_text(line)}" for line in methods))
    elif outputs.summary:
        st.caption(
            "Methods: not recorded by the version that wrote this evaluation; run it again "
            "for a report that states them."
        )
    if outputs.summary:
        with st.expander("summary.json"):
            st.json(outputs.summary, expanded=False)


def result_tabs(outputs: EvaluationOutputs) -> None:
    """The evaluation's tables, a tab per group, then its figures (a tab the address names
    that it lacks: the first)."""
    sites = site_names(outputs.summary)  # each site's tables and figures, internal first
    groups = grouped_tables(in_site_order(outputs.tables, sites))
    titles = list(groups) + (["Figures"] if outputs.images else [])
    tabs = st.tabs(titles, key=TAB_KEY, bind="query-params")
    for tab, (group, names) in zip(tabs, groups.items(), strict=False):
        with tab:
            for name in names:
                if group == "Subgroups" and variable_names(outputs.tables[name]):
                    subgroup_tables(outputs, name)
                else:
                    table_with_chart(outputs, group, name)
    if outputs.images:
        with tabs[-1]:
            figures(outputs, sites, groups)


def figures(outputs: EvaluationOutputs, sites: list[str], groups: dict[str, list[str]]) -> None:
    """Each figure (the ROC first) with a caption saying what it shows, as PNG and SVG."""
    images = [str(image.relative_to(outputs.folder)) for image in outputs.images]
    for where in figures_in_order(images, sites):
        image = outputs.folder / where
        short, description = figure_text(where)
        note = figure_note(where, outputs.image_widths.get(image, 0), groups)
        if note:
            st.caption(note)
        # the caption says what it shows: a projector's audience sees no alt text
        shown = markdown_text(f"{description}. File: {where}")
        st.image(str(image), caption=shown, alt=description)
        row = st.container(horizontal=True)  # the SVG scales on a slide, the PNG blurs
        for path in outputs.figure_files(image):
            row.download_button(
                f"{short} ({path.suffix[1:].upper()})",  # told apart by a screen reader
                path.read_bytes,
                file_name=download_name(outputs.folder, path),
                key=f"dl-{path}",
            )


def table_with_chart(outputs: EvaluationOutputs, group: str, name: str) -> None:
    """One output table (a few-shot table with its chart per label) and its CSV download."""
    table = outputs.tables[name]
    st.markdown(f"**{markdown_text(name)}**")
    chart = outputs.fewshot_chart(name) if group == "Few-shot" else None
    if chart is not None:
        fewshot, zeroshot = chart
        label = st.selectbox(
            "Label", list(dict.fromkeys(fewshot["Label"])), key=f"ev-fs-label-{name}"
        )
        st.plotly_chart(fewshot_figure(fewshot, zeroshot, label), key=f"ev-fs-{name}")
    data_table(table, f"ev-{name}")
    csv_download(outputs, name)
    published = published_beside(table, name, group)
    if published is not None:  # issue 4: theirs beside ours, said so
        st.markdown(f"**{PUBLISHED_TITLE}** ({markdown_text(Path(name).parent.name)})")
        st.caption(PUBLISHED_NOTE)
        data_table(published, f"ev-published-{name}")


def subgroup_tables(outputs: EvaluationOutputs, name: str) -> None:
    """A site's subgroups: per variable the mean AUC per value, then its rows per finding."""
    table = outputs.tables[name]
    st.markdown(f"**{markdown_text(name)}**")
    st.caption(subgroup_note(table))
    variable = st.selectbox(
        "Variable", variable_names(table), format_func=variable_title, key=f"ev-sg-{name}"
    )
    data_table(variable_view(table, variable), f"ev-sg-mean-{name}")
    data_table(finding_view(table, variable), f"ev-sg-findings-{name}")
    csv_download(outputs, name)


def data_table(table: pd.DataFrame, key: str) -> None:
    """An evaluation table as the page shows them: figures rounded (the CSV download keeps every
    digit written), readable headers, AUC and its interval first, a blank as the reports show
    it (the grid wrote "None" in a column of figures); the cells stay numbers, so a column
    still sorts by value."""
    formats = column_formats(table)
    labels = column_labels(table)  # a header, kept with the column's number format
    numbers = {
        c: st.column_config.NumberColumn(labels.get(c), format=f) for c, f in formats.items()
    }
    numbers.update(
        {c: st.column_config.Column(label) for c, label in labels.items() if c not in formats}
    )
    st.dataframe(
        table,
        hide_index=True,
        key=key,
        column_config=numbers,
        column_order=shown_columns(table),  # AUC and its interval in sight, not far right
        placeholder=MISSING,
    )


def csv_download(outputs: EvaluationOutputs, name: str) -> None:
    """The table ``name`` as the evaluation wrote it, read on a click."""
    path = outputs.folder / name
    st.download_button(
        "CSV", path.read_bytes, file_name=download_name(outputs.folder, path), key=f"dl-{name}"
    )
