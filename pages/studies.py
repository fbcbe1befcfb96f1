"""Studies: browse and filter, open a case (cine player per view, LGE stack, report), import DICOM."""

from pathlib import Path
from typing import BinaryIO

import pandas as pd
import streamlit as st

from dashboard.context import EmptyState, Studio
from dashboard.explanations import EXPLAIN_HELP, explain_finding
from dashboard.importer import (
    ImportForm,
    check_one_source,
    discard_unfinished,
    ingest_command,
    keep_active_dataset,
    misspelt_label_columns,
    next_steps,
    plan_import,
    read_ingest_report,
    report_summary,
    retry_note,
    source_folder,
)
from dashboard.inert_text import markdown_table, markdown_text
from dashboard.page_memory import restore
from dashboard.sort_controls import sort_controls
from dashboard.studies import (
    STUDIES_VIEWS,
    VIEW_SLOTS,
    StudyFilter,
    apply_filter,
    case_metadata,
    column_label,
    display_table,
    filter_options,
    listed_rows,
    split_cine_lge,
    table_labels,
    view_from_query,
    view_slug,
)
from dashboard.study_order import order_words, ordered, sort_columns
from dashboard.study_reading import (
    READING_COLUMNS,
    READING_KEY,
    missing_line,
    reading_caption,
    study_reading,
)
from dashboard.ui import (
    CASE_FACTS_PX,
    CASE_KEY,
    OWN_JOBS_KEY,
    STUDIES_VIEW_KEY,
    job_panel,
    launch,
    page_guard,
    page_header,
    study_picker,
)
from dashboard.zip_ingest import check_upload, save_upload, zip_ingest_command

TABLE_KEY = "studies-table"
TABLE_IDS_KEY = "studies-table-ids"
SUMMARY_TABLE_ROWS = 20  # an ingest report's summary drawn as a table up to this many reasons
# an export copied whole into one zip holds its reports and labels beside the images
_IN_ZIP = "A path under the data root, or a file in the uploaded zip by its path there."
studio = Studio()
page_header(
    "Studies",
    "Browse studies, play every cine view, scroll the LGE stack, import DICOM.",
    words=("split", "ingest", "embedding"),
)
# Open case (other pages) sets the view in session state: a default given here as well makes
# Streamlit log a warning, with a stack, to the server's terminal.
# A reload starts a new session: the address (?view=, &study=) says where the user was.
restore({STUDIES_VIEW_KEY: view_from_query(st.query_params.get("view"))})
if CASE_KEY not in st.session_state and st.query_params.get("study"):
    st.session_state[CASE_KEY] = st.query_params["study"]
view = st.segmented_control(
    "Show",
    list(STUDIES_VIEWS.values()),
    key=STUDIES_VIEW_KEY,
    label_visibility="collapsed",
)
st.query_params["view"] = view_slug(view)
if view != "Case view":
    st.query_params.pop("study", None)


def browse() -> None:
    studies = studio.studies()
    options = filter_options(studies)
    # four to a row: seven in one row cut their labels and placeholders on a laptop screen
    cells = [cell for _ in range(0, len(options) + 1, 4) for cell in st.columns(4)]
    chosen = StudyFilter()
    for cell, (name, values) in zip(cells, options.items(), strict=False):
        label = column_label(name)
        chosen.values[name] = cell.multiselect(label, values, key=f"f-{name}", placeholder="All")
    chosen.views = cells[len(options)].multiselect(
        "Has views", list(VIEW_SLOTS), key="f-views", placeholder="Any"
    )
    chosen.text = st.text_input("Impression or study id contains", key="f-text")
    row = st.container(horizontal=True, gap="medium", vertical_alignment="bottom")
    # applied to every matching study before the listed rows are cut, unlike a header's sort
    columns = sort_columns(display_table(studies.head(0)).columns)
    column, descending = sort_controls(row, columns, "f", "every matching study")
    matching = ordered(display_table(apply_filter(studies, chosen)), column, descending)
    table, caption = listed_rows(matching, len(studies), order_words(column, descending))
    st.caption(caption)
    st.session_state[TABLE_IDS_KEY] = table["study_id"].astype(str).tolist()
    st.dataframe(
        table,
        hide_index=True,
        on_select=open_selected,
        selection_mode="single-row",
        key=TABLE_KEY,
        column_config={
            **table_labels(table),
            "impression": st.column_config.TextColumn(column_label("impression"), width="large"),
        },
    )


def open_selected() -> None:
    """Row picked in the table: show that study in the case view on the next run."""
    rows = st.session_state[TABLE_KEY]["selection"]["rows"]
    ids = st.session_state.get(TABLE_IDS_KEY, [])
    if rows and rows[0] < len(ids):
        st.session_state[CASE_KEY] = ids[rows[0]]
        st.session_state[STUDIES_VIEW_KEY] = "Case view"


def case_view() -> None:
    studies = studio.studies()
    ids = studies["study_id"].astype(str).tolist()
    study_id = study_picker("Study", ids, st.session_state.get(CASE_KEY), key="case-select")
    if study_id is None:
        return
    st.session_state[CASE_KEY] = study_id
    st.query_params["study"] = study_id
    row = studies.set_index("study_id").loc[study_id]
    frames, unreadable = studio.readable_frames(study_id)  # a bad tensor hides no report
    cine, lge = split_cine_lge(frames)
    # side by side where the report and its table get 280 px, else the report under the cine
    # (two columns gave them a quarter of a narrow window: words cut, the table's values hidden)
    sides = st.container(horizontal=True, gap="medium")
    left, right = sides.container(), sides.container(width=CASE_FACTS_PX)
    with left:
        st.subheader("Cine")
        if unreadable:
            st.error(markdown_text(unreadable), icon=":material/broken_image:")
        elif cine:
            player = studio.case_player(study_id, tuple(cine))
            views = f"cine player: {len(cine)} views of study {study_id}"
            st.iframe(player, height="content", alt=views)  # rows as the width allows
        else:
            st.info("This study has no cine views.")
    with right:
        st.subheader("Report impression")
        st.text(str(row.get("impression") or "(no report)"))
        st.subheader("Metadata")
        # every field, wrapped: no scrolling inside a small table
        st.table(markdown_table(case_metadata(row)))
    with page_guard(studio):  # a checkpoint that cannot be read still shows the LGE below
        model_reading(study_id)
    if not unreadable:
        lge_stacks(lge)


def model_reading(study_id: str) -> None:
    """Each finding's probability for the study, its rank and label; "Explain" for one."""
    st.subheader("Model reading")
    try:
        reading = study_reading(studio, study_id)
    except EmptyState as empty:
        st.info(markdown_text(missing_line(empty)), icon=":material/info:")
        return
    if reading is None:
        st.info("This study is not in the study embeddings: compute them again to read it.")
        return
    st.caption(reading_caption(reading))
    st.dataframe(reading.table, hide_index=True, column_config=READING_COLUMNS)
    if st.toggle("Explain a finding's probability", key=READING_KEY, help=EXPLAIN_HELP):
        explain_finding(st, studio, reading.prompts, reading.scores, study_id, READING_KEY)


def lge_stacks(lge: dict) -> None:
    """Each LGE view: a slice slider over its stack, or its single image."""
    st.subheader("Late gadolinium enhancement")
    if not lge:
        st.info("This study has no LGE images.")
    for name, stack in lge.items():
        if len(stack) > 1:
            slice_no = st.slider(
                f"{name} slice", 1, len(stack), (len(stack) + 1) // 2, key=f"lge-{name}"
            )
            where = f"{name} · slice {slice_no}/{len(stack)}"
            st.image(stack[slice_no - 1], caption=markdown_text(where), width=320, alt=where)
        else:
            st.image(stack[0], caption=markdown_text(name), width=320, alt=name)


def import_studies() -> None:
    settings = studio.settings
    st.write(
        f"Import a DICOM (or ACDC NIfTI) folder under the data root "
        f"{markdown_text(f'`{settings.data_root}`')}, or "
        "upload a zip of DICOM files (its reports and labels CSV may be in it too). Ingest runs "
        "in the background and writes a new dataset."
    )
    with st.form("import"):
        name = st.text_input("Dataset name", value="my-import")
        site = st.text_input("Site label", value="internal")
        folder_text = st.text_input(
            "DICOM folder (under the data root)",
            placeholder="raw/hospital-a/dicom",
            key="imp-folder",
        )
        upload = st.file_uploader("…or a zip of DICOM files", type=["zip"])
        files = st.columns(3)
        reports_text = files[0].text_input(
            "Reports CSV (optional)",
            placeholder="raw/reports.csv",
            help=f"accession_number,report (the impression is kept). {_IN_ZIP}",
        )
        labels_text = files[1].text_input(
            "Labels CSV (optional; evaluation only)",
            placeholder="raw/labels.csv",
            help="accession_number plus one column per finding or diagnosis (1, 0 or blank). "
            "Kept beside the dataset for ROC curves, evaluation and index filters; never "
            f"used in training. {_IN_ZIP}",
        )
        view_map_text = files[2].text_input(
            "View map (optional, YAML or CSV)",
            placeholder="raw/views.yaml",
            help="SeriesDescription patterns to view slots, for series named in ways ingest "
            'does not recognise, e.g. "*cine_sa*": sax, "*t1map*": ignore. '
            f"{_IN_ZIP}",
        )
        submitted = st.form_submit_button("Import and ingest", type="primary")
    if submitted:
        with page_guard(studio):  # a refused form still shows the ingest job's panel below
            form = ImportForm(name, site, reports_text, labels_text, view_map_text)
            start_import(form, folder_text, upload)
    job = job_panel(studio.jobs, "ingest")
    if job is None or job.running or not job.outputs.get("dataset"):
        return
    dataset = Path(job.outputs["dataset"])
    # the report this job wrote, not an earlier attempt's (job.json: the same file server's clock)
    report = read_ingest_report(dataset, since=(job.folder / "job.json").stat().st_mtime)
    if note := retry_note(job.state, dataset):
        st.info(markdown_text(note), icon=":material/restart_alt:")
    if job.state == "finished":
        label_typos(dataset)
        use_dataset(dataset)
    elif report.empty:  # ended early: no report of this ingest to show
        return
    ingest_report(report)


def label_typos(dataset: Path) -> None:
    """Name the imported labels columns that look like a misspelt finding or diagnosis."""
    if typos := misspelt_label_columns(dataset):
        st.warning(
            f"Labels columns that look misspelt: {', '.join(typos)}. Zero-shot, Evaluate and the "
            "index filters compare a finding only with the column of its exact name: correct the "
            f"header in {markdown_text(f'`{dataset}/labels.csv`')} (pages reread it).",
            icon=":material/spellcheck:",
        )


def use_dataset(dataset: Path) -> None:
    """Offer the imported dataset as the active one; once it is, say what to open next."""
    if studio.settings.active_dataset() != dataset.resolve():
        if not st.button(
            f"Use {markdown_text(dataset.name)} as the active dataset", key="use-import"
        ):
            return
        note = studio.settings.write_active(dataset=dataset)
        if not note:
            st.rerun()  # drawn again without the button
        st.info(markdown_text(note), icon=":material/lock:")  # a root this user cannot write
    st.success(markdown_text(next_steps(dataset)), icon=":material/arrow_forward:")
    links = st.container(horizontal=True)
    for page, title in (
        ("embeddings", "Embeddings"),
        ("zeroshot", "Zero-shot"),
        ("browser", "Case browser"),
    ):
        links.page_link(f"pages/{page}.py", label=title, icon=":material/arrow_forward:")


def start_import(form: ImportForm, folder_text: str, upload: BinaryIO | None) -> None:
    """Check the form and launch the ingest job; an upload is saved for the job to unpack (in
    this script run, unpacking stopped at any click on the page or a reload)."""
    settings = studio.settings
    check_one_source(folder_text, upload is not None)
    plan = plan_import(settings, form, upload)
    # before saving the upload: a refused one leaves nothing
    studio.jobs.check_idle("ingest", st.session_state.get(OWN_JOBS_KEY, ()))
    discard_unfinished(plan)
    keep_active_dataset(settings)  # the import is made active by its button only
    if upload is None:
        command = ingest_command(source_folder(settings, folder_text), plan)
    else:
        check_upload(upload)
        folder = settings.uploads_dir / plan.out.name
        # no Streamlit call from here to the job's start: a click or a reload waits for the copy
        spool = save_upload(upload, folder)
        command = zip_ingest_command(spool, folder, ingest_command(folder, plan))
    outputs = {"dataset": str(plan.out)}
    launch(studio.jobs, "ingest", command, f"Ingest {form.name}", outputs=outputs)


def ingest_report(report: pd.DataFrame) -> None:
    """What ingest skipped or rejected and why (also after a failed import: no usable study)."""
    st.subheader("Ingest report")
    if report.empty:
        st.success("Every file was ingested; nothing was skipped or rejected.")
    else:
        summary = report_summary(report)
        if len(summary) <= SUMMARY_TABLE_ROWS:  # each reason whole, wrapped: cut in a grid
            st.table(markdown_table(summary), hide_index=True)
        else:
            st.dataframe(summary, hide_index=True)
        with st.expander(f"All {len(report):,} entries"):
            st.dataframe(report, hide_index=True)


with page_guard(studio):
    if view == "Import":
        import_studies()
    elif view == "Case view":
        case_view()
    else:
        browse()
