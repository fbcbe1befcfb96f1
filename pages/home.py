"""Home: what exists (data, checkpoint, index) and a one-click demo build with live progress."""

import streamlit as st

from dashboard.context import Studio
from dashboard.evaluated_weights import weights_changed_note
from dashboard.formatting import relative
from dashboard.headline_view import quotable_sentence
from dashboard.inert_text import markdown_text
from dashboard.launch import DEMO_TITLE  # the demo job's title, as run.sh's build has it
from dashboard.overview import (
    demo_command,
    demo_minutes,
    latest_finished,
    studio_status,
    unwritable_root,
)
from dashboard.storage_summary import storage_line
from dashboard.ui import job_panel, launch, page_guard, page_header

studio = Studio()
page_header(
    ":material/cardiology: CMR-CLIP Studio",
    "Contrastive video–text encoder for cardiac MRI: zero-shot findings, case search and an "
    "embedding map, trained from studies and their report impressions — no manual labels.",
    words=("encoder", "embedding", "checkpoint", "ingest", "preset", "zero-shot", "few-shot")
    + ("UMAP", "AUC", "ROC", "linear probe"),
)

FIRST_TRIES = (
    ("pages/browser.py", "Case browser: describe a study, e.g. dilated LV with mid-wall LGE"),
    ("pages/zeroshot.py", "Zero-shot: how well plain wordings find each finding, no labels used"),
    ("pages/embeddings.py", "Embeddings: the map of every study; colour it by diagnosis"),
    ("pages/studies.py", "Studies: play a study's cine views and scroll its LGE images"),
)
DATASET_KEY = "home-dataset"
PICKED_KEY = "home-dataset-picked"

with page_guard(studio):
    picked = st.session_state.pop(PICKED_KEY, None)  # only a pick made here
    note = studio.settings.write_active(dataset=picked) if picked is not None else None
    if note:  # a data root this user cannot write: the pick holds for this session
        st.info(markdown_text(note), icon=":material/lock:")
    status = studio_status(studio.settings)
    root = studio.settings.data_root
    c1, c2, c3, c4, c5 = st.columns(5)
    c1.metric("Datasets", f"{len(status.datasets):,}")  # 1,300 as on every other page
    c2.metric("Studies", f"{sum(d.studies for d in status.datasets):,}")
    c3.metric("Training runs", f"{status.runs:,}")
    c4.metric("Evaluations", f"{len(status.evaluations):,}")
    if status.index_server:  # shared: the embedded folders beside the datasets are not used
        shown = markdown_text(f"{status.index_server}: every page searches it.")
        c5.metric("Search index", "Server", help=shown)
    else:
        c5.metric("Search indexes", f"{len(status.indexes):,}")
    st.markdown(
        f"**Data root** {markdown_text(f'`{root}`')} · **active dataset** "
        f"{markdown_text(f'`{relative(status.active_dataset, root)}`')} · **active checkpoint** "
        f"{markdown_text(f'`{relative(status.active_checkpoint, root)}`')}"
    )
    if on_disk := storage_line(root):  # counted in the background, every 10 minutes at most
        st.caption(on_disk)
    if unwritable := unwritable_root(root):  # read-only or full: what cannot be done here
        st.warning(markdown_text(unwritable), icon=":material/lock:")

    latest, unfinished = latest_finished(status.evaluations)
    if latest is not None:  # the result to open a talk with, and where its tables are
        st.subheader("Latest evaluation")
        st.caption(markdown_text(studio.evaluation_title(latest)))
        outputs = studio.evaluation_outputs(latest)
        if changed := weights_changed_note(outputs.summary, root):
            st.warning(markdown_text(changed), icon=":material/update:")
        sentence = outputs.sentence()
        if sentence:  # at a projector's size, copied whole with the code block's button
            quotable_sentence(sentence)
        if unfinished:
            st.caption(
                markdown_text(
                    f"{unfinished[0].name} has no summary yet (running, or it stopped before "
                    "the end): Evaluate shows what it wrote."
                )
            )
        st.page_link("pages/evaluate.py", label="Its tables, figures and report: Evaluate")

    st.subheader("Quick start")
    demo_job = studio.jobs.latest("demo")
    if status.demo_built:
        st.success("The demo is ready. First things to try:")
        for page, label in FIRST_TRIES:
            st.page_link(page, label=label, icon=":material/arrow_forward:")
    else:
        total, training = demo_minutes()
        st.write(
            "Build the demo end to end on this machine: generate synthetic CMR studies (two "
            "sites) → read their DICOM in (ingest) → train the small CPU encoder (preset "
            "`cpu-small`) → embed and index every study → draw the map. It takes about "
            f"{total} minutes on 2 idle CPU cores, {training} of them training, and runs in the "
            "background: you can leave or refresh this page, or stop `./run.sh`. Studies opens "
            "after step 2 (ingest); Zero-shot, Few-shot, Case browser and Embeddings after "
            "step 4 (index). Until then each page says what it is waiting for."
        )
    running = demo_job is not None and demo_job.running
    label = "Check and repair the demo" if status.demo_built else "Build the demo"
    repair_help = (
        "Redoes only what is missing or damaged (each site's studies and dataset are checked "
        "against what their build left), retrains the demo model when its dataset was redone "
        "(the earlier run is kept beside it), then rebuilds the index. To start afresh, delete "
        "demo/ and runs/demo-cpu-small/ under the data root."
    )
    if st.button(
        label,
        type="secondary" if status.demo_built else "primary",
        disabled=running,
        help=repair_help if status.demo_built else None,
    ):
        launch(studio.jobs, "demo", demo_command(studio.settings), DEMO_TITLE)
    job_panel(studio.jobs, "demo")

    if status.datasets:
        st.subheader("Datasets")
        st.dataframe(
            [{"dataset": relative(d.path, root), "studies": d.studies} for d in status.datasets],
            hide_index=True,
            column_config={"studies": st.column_config.NumberColumn(format="localized")},
        )
        paths = [d.path for d in status.datasets]
        if status.active_dataset in paths:  # chosen here, in another tab or on another page
            st.session_state[DATASET_KEY] = status.active_dataset
        st.selectbox(
            "Active dataset (used by every page)",
            paths,
            format_func=lambda p: relative(p, root),
            key=DATASET_KEY,
            on_change=lambda: st.session_state.update({PICKED_KEY: st.session_state[DATASET_KEY]}),
        )
    st.subheader("Pages")
    st.markdown(
        "- **Studies** — browse studies, play every cine view, scroll the LGE stack, import DICOM\n"
        "- **Train** — launch and watch training runs, choose the active checkpoint\n"
        "- **Embeddings** — UMAP of studies, colour by any column, lasso to a case table\n"
        "- **Zero-shot** — edit prompts, score every study, ROC/AUC when labels exist\n"
        "- **Few-shot** — pick example studies of a class, rank every other study by them\n"
        "- **Case browser** — natural-language search and more-like-this\n"
        "- **Evaluate** — paper-style tables: zero-shot, few-shot, probes, retrieval"
    )
