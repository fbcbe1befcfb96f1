"""Evaluate: run the paper-style evaluation suite as a job, browse its tables and figures, export."""

import functools
from pathlib import Path

import streamlit as st

from dashboard.context import DataError, EmptyState, Studio
from dashboard.demo_wait_view import caution_while_demo_builds
from dashboard.evaluated_weights import evaluated_lines, weights_changed_note
from dashboard.evaluation_columns import (
    column_labels,
    downloads_in_order,
    figure_note,
    figures_in_order,
    in_site_order,
    shown_columns,
    site_names,
)
from dashboard.evaluation_delete import delete_popover
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
    column_formats,
    default_sites,
    download_name,
    evaluation_command,
    evaluation_labels,
    evaluation_named,
    grouped_tables,
    list_evaluations,
    zip_folder,
)
from dashboard.formatting import relative
from dashboard.glossary import terms_used
from dashboard.headline_view import quotable_sentence
from dashboard.inert_text import markdown_table, markdown_text
from dashboard.overview import running_evaluations
from dashboard.plots import fewshot_figure
from dashboard.prompt_editor import prompt_files
from dashboard.ui import job_panel, launch, page_guard, page_header

studio = Studio()
FOLDER_KEY = "ev-folder"
LAUNCHED_KEY = "ev-launched"  # the output folder of the evaluation this session launched
ADDRESS_KEY = "evaluation"  # ?evaluation=NAME: a shared link or a reload opens the same one
TAB_KEY = "tab"  # &tab=Few-shot: and the same tab (a tab's title, as the reports head it)
page_header(
    "Evaluate",
    "Zero-shot, few-shot, linear probes and retrieval — per site, in the paper's table format.",
    words=("zero-shot", "few-shot", "linear probe", "R@k", "AUC", "95% CI", "ROC", "prompt"),
)


def launch_section() -> None:
    settings = studio.settings
    checkpoint = studio.checkpoint_path()
    datasets = settings.datasets()
    with st.expander("New evaluation", expanded=not list_evaluations(settings)):
        st.caption(
            markdown_text(
                f"Evaluates the active checkpoint `{relative(checkpoint, settings.data_root)}` "
                "(choose another on the Train page)."
            )
        )
        caution_while_demo_builds(studio)
        with st.form("evaluate"):
            row = st.columns(2)
            shown = functools.partial(relative, root=settings.data_root)
            internal_at, external_at = default_sites(datasets, settings.active_dataset())
            dataset = row[0].selectbox(
                "Internal dataset",
                datasets,
                index=internal_at,
                format_func=shown,
                key="ev-internal",
            )
            external = row[1].selectbox(
                "External dataset (optional)",
                [None, *datasets],
                index=0 if external_at is None else external_at + 1,
                format_func=shown,
                key="ev-external",
            )
            prompts = prompt_files(settings)
            prompt_key = row[0].selectbox("Prompt set", list(prompts), key="ev-prompts")
            labels_text = row[1].text_input(
                "Labels CSV (optional)",
                help="Blank: each dataset's own labels.csv, or the demo's raw/<site>/labels.csv.",
            )
            compare = st.multiselect(
                "Compare with (optional)",
                [p for p in settings.checkpoints() if p != checkpoint],
                format_func=lambda p: f"{p.parent.name}/{p.name}",
                help="Other checkpoints, e.g. a static or flat tower: each is evaluated on the "
                "same studies and its AUCs compared with this model's (DeLong's test).",
                key="ev-compare",  # keyed: the choices stay while others' runs add checkpoints
            )
            submitted = st.form_submit_button("Run evaluation", type="primary")
        if submitted:
            start_evaluation(dataset, external, labels_text, prompts[prompt_key], compare)
    job_panel(studio.jobs, "evaluate")


def start_evaluation(
    dataset: Path, external: Path | None, labels_text: str, prompts: Path, compare: list[Path]
) -> None:
    """Launch the evaluate job the form describes, on the active checkpoint."""
    settings = studio.settings
    checkpoint = studio.checkpoint_path()
    sites = [dataset] if external is None else [dataset, external]
    try:
        labels = evaluation_labels(settings, sites, labels_text)
    except DataError as err:
        raise EmptyState("No labels for evaluation", f"{err}.") from None
    out, command = evaluation_command(
        settings, checkpoint, dataset, external, labels, prompts, compare
    )
    st.session_state[LAUNCHED_KEY] = out
    launch(
        studio.jobs,
        "evaluate",
        command,
        f"Evaluate {checkpoint.parent.name}/{checkpoint.name}",
        outputs={"folder": str(out)},
        refused=launch_refused,
    )


def launch_refused(said: str) -> None:
    """Say why; the refused evaluation's folder (in the same second, the running one's) is not
    this session's to show once it finishes."""
    st.session_state.pop(LAUNCHED_KEY, None)
    st.error(markdown_text(said), icon=":material/block:")


def results_section() -> None:
    folders = list_evaluations(studio.settings)
    if not folders:
        st.info("No evaluation results yet. Run one above; tables and figures appear here.")
        return
    launched = st.session_state.get(LAUNCHED_KEY)
    if launched in folders and (launched / "summary.json").is_file():
        st.session_state[FOLDER_KEY] = launched  # it finished: show it, not the one shown before
        del st.session_state[LAUNCHED_KEY]
    asked = st.query_params.get(ADDRESS_KEY)
    if FOLDER_KEY not in st.session_state and asked:  # opened from an address naming one
        named = evaluation_named(folders, asked)
        if named is None:
            st.caption(markdown_text(f"No evaluation named {asked}: showing the newest."))
        else:
            st.session_state[FOLDER_KEY] = named
    live = running_evaluations(studio.jobs.list("evaluate"))
    folder = st.selectbox(
        "Evaluation",
        folders,
        format_func=lambda f: studio.evaluation_title(f, running=f in live),
        key=FOLDER_KEY,
    )
    st.query_params[ADDRESS_KEY] = Path(folder).name
    outputs = studio.evaluation_outputs(Path(folder))
    downloads(outputs)
    delete_popover(studio, Path(folder), Path(folder) in live, (FOLDER_KEY, ADDRESS_KEY))
    overview(outputs, studio.settings.data_root, running=Path(folder) in live)
    sites = site_names(outputs.summary)  # each site's tables and figures, internal first
    groups = grouped_tables(in_site_order(outputs.tables, sites))
    titles = list(groups) + (["Figures"] if outputs.images else [])
    tabs = st.tabs(titles, key=TAB_KEY, bind="query-params")  # one it lacks: the first
    for tab, (group, names) in zip(tabs, groups.items(), strict=False):
        with tab:
            for name in names:
                if group == "Subgroups" and variable_names(outputs.tables[name]):
                    subgroup_tables(outputs, name)
                else:
                    table_with_chart(outputs, group, name)
    if outputs.images:
        images = [str(image.relative_to(outputs.folder)) for image in outputs.images]
        with tabs[-1]:
            for where in figures_in_order(images, sites):  # the ROC first
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


def downloads(outputs) -> None:
    """The evaluation as a zip and each report file, built and read on a click, not each rerun."""
    row = st.container(horizontal=True)  # one row: stacked, they pushed the headline down
    row.download_button(
        "Download everything (zip)",
        functools.partial(zip_folder, outputs.folder),
        file_name=f"{outputs.folder.name}.zip",
        mime="application/zip",
    )
    names = [str(report.relative_to(outputs.folder)) for report in outputs.reports]
    for shown in downloads_in_order(names, site_names(outputs.summary)):  # reports first
        report = outputs.folder / shown  # the report, and each site's per-study scores
        row.download_button(
            f"Download {markdown_text(shown)}",
            report.read_bytes,
            file_name=download_name(outputs.folder, report),
            key=f"dl-{report}",
        )


def overview(outputs, root: Path, running: bool = False) -> None:
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


def table_with_chart(outputs, group: str, name: str) -> None:
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


def subgroup_tables(outputs, name: str) -> None:
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


def data_table(table, key: str) -> None:
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


def csv_download(outputs, name: str) -> None:
    path = outputs.folder / name  # the file as the evaluation wrote it, read on a click
    st.download_button(
        "CSV", path.read_bytes, file_name=download_name(outputs.folder, path), key=f"dl-{name}"
    )


with page_guard(studio):
    launch_section()
with page_guard(studio):
    results_section()
