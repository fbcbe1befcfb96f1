"""Streamlit building blocks shared by the pages: the page guard, empty states, job panels and
case cards. Report text is always rendered as plain text (``st.text``), never as HTML/Markdown;
names and messages that hold outside text go through ``markdown_text`` (``dashboard.inert_text``).
"""

from __future__ import annotations

import contextlib
import logging
from collections.abc import Callable, Iterator, Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard.context import EmptyState, Studio, rerun_page_if_choice_gone, session_settings
from dashboard.demo_wait_view import wait_for_demo
from dashboard.formatting import progress_label, relative
from dashboard.glossary import glossary_lines
from dashboard.inert_text import markdown_text
from dashboard.job import RUNNER_LOST, Job, stop_grace_s
from dashboard.jobs import JobManager
from dashboard.studies import PICKER_IDS, picker_ids
from model.errors import DataError, UserError, storage_problem

log = logging.getLogger(__name__)
CASE_KEY = "case_id"
LIKE_KEY = "like_id"
LIKE_ASKED_KEY = "like_asked"  # set by a card's More like this until the Case browser shows it
STUDIES_VIEW_KEY = "studies_view"
OWN_JOBS_KEY = "own-job-ids"  # the jobs this page session started (ui.launch)
WORDS_EXPANDER = "Words on this page"  # the glossary of the words a page shows
_STATE_ICONS = {
    "running": ":material/progress_activity:",
    "stopping": ":material/progress_activity:",
    "finished": ":material/check_circle:",
    "failed": ":material/error:",
    "cancelled": ":material/stop_circle:",
    "stopped": ":material/stop_circle:",
    "lost": ":material/warning:",
}


@contextlib.contextmanager
def page_guard(studio: Studio | None = None) -> Iterator[None]:
    """Show an empty state or a one-line error instead of a traceback for the wrapped body."""
    try:
        yield
    except EmptyState as empty:
        show_empty_state(empty, studio)
    except UserError as err:
        st.error(markdown_text(err), icon=":material/block:")
    except Exception as err:  # a bug: keep the traceback in the server log, not on the page
        problem = storage_problem(err) if isinstance(err, OSError) else None
        if problem is not None:  # a full disk, a read-only or forbidden folder: not a bug
            st.error(markdown_text(problem), icon=":material/block:")
            return
        log.exception("page failed")
        st.error(
            markdown_text(
                f"Something went wrong ({type(err).__name__}: {err}). The server log has details."
            )
        )


def show_empty_state(empty: EmptyState, studio: Studio | None) -> None:
    """An info box saying what is missing, what to do next, and a link or job button; while the
    demo build makes what is missing, which step does and the build's progress instead."""
    if studio is not None and wait_for_demo(empty, studio):
        return
    st.info(
        f"**{markdown_text(empty.title)}.** {markdown_text(empty.hint)}", icon=":material/info:"
    )
    if empty.page:
        st.page_link(empty.page, label="Go there", icon=":material/arrow_forward:")
    if empty.offer and studio is not None:
        jobs = studio.jobs
        latest = jobs.latest(empty.offer.kind)
        idle = latest is None or not latest.running
        if idle and st.button(empty.offer.label, type="primary", key=f"offer-{empty.offer.kind}"):
            launch(jobs, empty.offer.kind, empty.offer.command, empty.offer.label)
        job_panel(jobs, empty.offer.kind)


def launch(
    jobs: JobManager,
    kind: str,
    command: list[str],
    title: str,
    outputs: dict | None = None,
    env: dict[str, str] | None = None,
    refused: Callable[[str], None] | None = None,
    prepare: Callable[[], None] | None = None,
) -> None:
    """Start a background job (``JobManager.launch``) and rerun so its panel shows; errors
    become a message (or go to ``refused``, for a caller that draws them itself). The session
    keeps the ids of the jobs it started: a refusal tells only their starter to cancel one."""
    own: list[str] = st.session_state.setdefault(OWN_JOBS_KEY, [])
    try:
        job = jobs.launch(kind, command, title, outputs, env=env, prepare=prepare, own=own)
        own.append(job.id)
    except UserError as err:
        if refused is None:
            st.error(markdown_text(err), icon=":material/block:")
        else:
            refused(str(err))
        return
    st.rerun()


def job_panel(jobs: JobManager, kind: str) -> Job | None:
    """The latest job of ``kind``: live progress while it runs, the outcome when it ended."""
    job = jobs.latest(kind)
    if job is None:
        return None
    if job.running:
        _live_job(str(jobs.jobs_dir), job.id, jobs.zone)
    else:
        _job_body(jobs, job)
    return job


_STOP_REFUSALS = "job-stop-refusals"  # {job id: why its Cancel was refused}


@st.fragment(run_every=2.0)
def _live_job(jobs_dir: str, job_id: str, zone: str | None) -> None:
    rerun_page_if_choice_gone()
    jobs = JobManager(jobs_dir, zone)  # the page's manager's: its times in the reader's zone
    job = jobs.get(job_id)
    _job_body(jobs, job)
    if not job.running:
        st.rerun(scope="app")


def _job_body(jobs: JobManager, job: Job) -> None:
    icon = _STATE_ICONS.get(job.state.split(" on ")[0], "•")  # "running on HOST" too
    with st.container(border=True):
        head, button = st.columns([5, 1])
        head.markdown(f"{icon} **{markdown_text(job.title)}** — {job.state}")
        head.caption(job.origin[:1].upper() + job.origin[1:])  # capitalize() lowercased JST
        if job.running:
            if job.orphan:
                head.warning(RUNNER_LOST, icon=":material/warning:")
            _stop_controls(jobs, job, head, button)
            fraction = job.progress.get("fraction")
            label = progress_label(job.progress)
            st.progress(min(max(float(fraction or 0.0), 0.0), 1.0), text=label)
        elif job.state in ("failed", "lost"):
            st.error(markdown_text(job.outcome))
        elif job.state == "stopped":
            st.info(markdown_text(job.outcome), icon=":material/stop_circle:")
        with st.expander("Log", expanded=job.state in ("failed", "lost")):
            st.code(job.log_tail(60) or "(no output yet)", language=None)


def _stop_controls(
    jobs: JobManager, job: Job, head: DeltaGenerator, button: DeltaGenerator
) -> None:
    """Cancel, or Force stop once the stop is overdue; a refused stop (a job another account
    started) is a message on the panel until the next click, past the live panel's redraws."""
    refusals: dict[str, str] = st.session_state.setdefault(_STOP_REFUSALS, {})
    try:
        if job.stop_overdue:
            head.caption(
                f"Still stopping after its grace of {stop_grace_s(job.kind):.0f} s. Force "
                "stop kills it and every process it started (a run keeps its last.pt)."
            )
            if button.button("Force stop", key=f"force-stop-{job.id}"):
                jobs.force_stop(job.id)
                st.rerun(scope="app")
        elif job.stopping:
            head.caption("Stopping: the job ends its current step first.")
        elif button.button("Cancel", key=f"cancel-{job.id}"):
            refusals.pop(job.id, None)
            jobs.cancel(job.id, wait=False)
            st.rerun(scope="app")
    except UserError as err:  # kept: the live panel redraws every 2 s and dropped it at once
        refusals[job.id] = str(err)
    if job.id in refusals:
        head.error(markdown_text(refusals[job.id]), icon=":material/block:")


def labels_or_warning(studio: Studio) -> pd.DataFrame | None:
    """The active dataset's labels, or None with a warning naming what is wrong with its labels
    file: a bad labels file costs the label colours and ROC curves, not the page."""
    try:
        return studio.labels()
    except DataError as err:
        st.warning(f"Labels not used: {markdown_text(err)}")
        return None


CARD_PX = 250  # a card's narrowest: its grid fills the row (250 px cards left gaps at 768-1024 px)
CASE_FACTS_PX = 280  # the case view's report and metadata column, beside the cine player


def card_cells(count: int) -> list[DeltaGenerator]:
    """``count`` case-card places in reading order, in equal columns ``CARD_PX`` or wider."""
    grid = st.grid(min_column_width=CARD_PX, gap="medium")
    return [grid.cell() for _ in range(count)]


def case_card(studio: Studio, row: dict, similarity: float | None, key: str) -> None:
    """A case card: thumbnail strip, impression (plain text), metadata, open / more-like-this.

    A study whose views cannot be read (its tensor missing or damaged) gets a black strip and
    the reason, so one such study does not replace the other cards with an error."""
    from dashboard.studies import thumbnail_strip

    with st.container(border=True):
        frames, unreadable = studio.readable_frames(str(row["study_id"]))
        views = f"views of study {row['study_id']}"
        st.image(np.asarray(thumbnail_strip(frames)), width="stretch", clamp=True, alt=views)
        if unreadable:
            st.caption(f"Views unavailable: {markdown_text(unreadable)}")
        facts = f"{row.get('site', '')} · {row.get('age_band', '')} {row.get('sex', '')}"
        study = markdown_text(row["study_id"])  # each button's tooltip names it: alike otherwise
        title = f"**{study}** · {markdown_text(facts)}"
        if similarity is not None:
            title += f" · similarity {similarity:.3f}"
        st.markdown(title)
        st.text(str(row.get("impression") or "(no report impression)"))
        buttons = st.container(horizontal=True)  # wraps: two columns cut them to "Ope…" "Mor…"
        if buttons.button("Open case", key=f"open-{key}", help=f"Open study {study}'s views"):
            open_case(str(row["study_id"]))
        if buttons.button("More like this", key=f"like-{key}", help=f"Studies like {study}"):
            st.session_state[LIKE_KEY] = str(row["study_id"])
            st.session_state[LIKE_ASKED_KEY] = True
            st.switch_page("pages/browser.py")
        with buttons.popover("Few-shot", icon=":material/category:"):
            few_shot_buttons(studio, [str(row["study_id"])], key=key)


def few_shot_buttons(studio: Studio, ids: list[str], key: str, what: str = "") -> None:
    """Add ``ids`` to the examples or the counter-examples of the active dataset's few-shot
    set (the Few-shot page), with a toast saying so. ``what``: the buttons' object ("selection")."""
    from dashboard.few_shot import add_examples

    dataset = str(studio.dataset_path())
    row = st.container(horizontal=True)
    for positive, kind in ((True, "examples"), (False, "counter-examples")):
        label = f"Add {what} to {kind}" if what else f"Add to {kind}"
        if row.button(label, key=f"fs-{kind}-{key}"):
            _examples, added = add_examples(st.session_state, dataset, ids, positive)
            st.toast(markdown_text(added), icon=":material/category:")


def open_case(study_id: str) -> None:
    """Show one study in the Studies page's case view."""
    st.session_state[CASE_KEY] = study_id
    st.session_state[STUDIES_VIEW_KEY] = "Case view"
    st.switch_page("pages/studies.py")


def study_picker(label: str, ids: list[str], current: str | None, key: str) -> str | None:
    """A study ID picker that sends at most ``PICKER_IDS`` IDs per rerun (a large site's every
    ID would be hundreds of kB each time): beyond that, a box narrows the list by typed text."""
    typed = ""
    if len(ids) > PICKER_IDS:
        typed = st.text_input(
            f"{label}: type part of its ID",
            key=f"{key}-find",
            placeholder=f"{len(ids):,} studies; the first {PICKER_IDS:,} are listed",
        )
    listed, matching = picker_ids(ids, typed, current, PICKER_IDS)
    if typed.strip() and not matching:
        st.warning(f"No study ID contains '{markdown_text(typed.strip())}'.")
    elif matching > PICKER_IDS:
        st.caption(f"{matching:,} IDs match; type more of the ID to list them all.")
    if not listed:
        return None
    # its kept (or just set) value wins over ``current``; index only picks a new picker's value
    index = listed.index(current) if current in listed and key not in st.session_state else 0
    return st.selectbox(label, listed, index=index, key=key)


def page_header(title: str, subtitle: str, words: Sequence[str] = ()) -> None:
    """Title and one-line description; first makes sure the page runs inside app.py's navigation.
    ``words``: the glossary words the page shows, listed in plain language, folded, below."""
    _ensure_navigation()
    st.title(title)
    st.caption(subtitle)
    gone_choice_notice()
    if words:
        with st.expander(WORDS_EXPANDER, icon=":material/menu_book:"):
            st.markdown("\n".join(f"- {line}" for line in glossary_lines(words)))


def gone_choice_notice() -> None:
    """Say when the checkpoint or dataset this session's pages used was deleted (perhaps on
    another dashboard) and which they use now: they move on to another by themselves, and
    without a word a page showed another model's scores under the same headings."""
    settings = session_settings()
    gone = settings.gone_choices()
    for name in ("dataset", "checkpoint"):  # the dataset first: the default checkpoint follows it
        if name not in gone:
            continue
        now = settings.active_dataset() if name == "dataset" else settings.active_checkpoint()
        root = settings.data_root
        instead = f"`{relative(now, root)}`" if now is not None else "none (there is no other)"
        st.warning(
            markdown_text(
                f"The {name} `{relative(Path(gone[name]), root)}` these pages used no longer "
                f"exists (deleted, here or on another dashboard); they use {instead} now."
            ),
            icon=":material/delete:",
        )


def _ensure_navigation() -> None:
    """Leave Streamlit's legacy pages/ mode if a fresh server started in it: a fresh server whose first request asks for a sub-page URL (a bookmark of /zeroshot) runs
    ``pages/zeroshot.py`` directly, before app.py's ``st.navigation`` has turned the legacy
    ``pages/`` auto-discovery off. Turn it off here and rerun through app.py instead.
    """
    from streamlit import config
    from streamlit.runtime.pages_manager import PagesManager

    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        # AppTest re-creates this state on every run (a "fresh server" each time), so a rerun
        # there would only drop the widget event being tested; a real server reruns once.
        if not config.get_option("global.appTest"):
            st.rerun()


def split_picker(
    container: DeltaGenerator, splits: pd.Series, key: str, width: int | str = "stretch"
) -> str:
    """The "Studies" choice of a labels comparison: every split, or one (``scoring.split_choices``
    of ``splits``, each study's split)."""
    from dashboard.scoring import split_choices

    return container.selectbox(
        "Studies",
        split_choices(splits),
        key=key,
        width=width,
        help="The model was trained on the train split's reports; the Evaluate page reports an "
        "internal dataset's test split (an external site's every study).",
    )
