"""Evaluate: run the paper-style evaluation suite as a job, browse its tables and figures, export."""

import functools
from pathlib import Path

import streamlit as st

from dashboard.context import DataError, EmptyState, Studio
from dashboard.demo_wait_view import caution_while_demo_builds
from dashboard.evaluated_weights import measured_checkpoint
from dashboard.evaluation_columns import downloads_in_order, site_names
from dashboard.evaluation_delete import delete_popover
from dashboard.evaluation_results_view import overview, result_tabs
from dashboard.evaluation_view import (
    default_sites,
    download_name,
    evaluation_command,
    evaluation_labels,
    evaluation_named,
    list_evaluations,
    zip_folder,
)
from dashboard.formatting import relative
from dashboard.inert_text import markdown_text
from dashboard.model_card import card_button
from dashboard.overview import running_evaluations
from dashboard.prompt_editor import prompt_files
from dashboard.ui import job_panel, launch, page_guard, page_header

studio = Studio()
FOLDER_KEY = "ev-folder"
LAUNCHED_KEY = "ev-launched"  # the output folder of the evaluation this session launched
ADDRESS_KEY = "evaluation"  # ?evaluation=NAME: a shared link or a reload opens the same one
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
    result_tabs(outputs)


def downloads(outputs) -> None:
    """The evaluation as a zip, each report file and the model card of the checkpoint it
    measured (while the file holds those weights), built and read on a click, not each rerun."""
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
    root = studio.settings.data_root
    if (measured := measured_checkpoint(outputs.summary, root)) is not None:
        card_button(row, measured, root, evaluation=outputs.folder)  # with these figures


with page_guard(studio):
    launch_section()
with page_guard(studio):
    results_section()
