"""The demo build seen from other pages: an empty state that waits for the build's step making
what is missing, with its live progress, and a caution above forms whose work would compete with
the build for this machine's cores (``dashboard.demo_wait`` holds the rules, this module the UI)."""

from __future__ import annotations

import streamlit as st

from dashboard.context import EmptyState, Studio, rerun_page_if_choice_gone
from dashboard.demo_wait import demo_busy_note, demo_step, demo_wait, on_demo
from dashboard.formatting import progress_label
from dashboard.inert_text import markdown_text
from dashboard.jobs import JobManager


def wait_for_demo(empty: EmptyState, studio: Studio) -> bool:
    """Show ``demo_wait``'s note when the running demo build makes what is missing (on the
    demo's data); False when it does not apply."""
    settings = studio.settings
    if not on_demo(settings.active_dataset(), settings.data_root):
        return False
    wait = demo_wait(studio.jobs.latest("demo"), empty.demo_step)
    if wait is None:
        return False
    note = f"**{markdown_text(empty.title)}.** {markdown_text(wait.note)}"
    st.info(note, icon=":material/hourglass_top:")
    st.page_link("pages/home.py", label="The demo build on Home", icon=":material/home:")
    _demo_progress(str(settings.jobs_dir), wait.job_id, wait.step)
    return True


def caution_while_demo_builds(studio: Studio) -> None:
    """A warning above a training or evaluation form while the demo build runs
    (``demo_busy_note``): started now, either slows the build and may weaken its model."""
    note = demo_busy_note(studio.jobs.latest("demo"))
    if note is not None:
        st.warning(markdown_text(note), icon=":material/speed:")


@st.fragment(run_every=2.0)
def _demo_progress(jobs_dir: str, job_id: str, step: int) -> None:
    """The demo build's progress bar; the page reruns once the build has passed ``step``."""
    rerun_page_if_choice_gone()
    job = JobManager(jobs_dir).get(job_id)
    if not job.running or demo_step(job.progress) > step:
        st.rerun(scope="app")
    fraction = min(max(float(job.progress.get("fraction") or 0.0), 0.0), 1.0)
    st.progress(fraction, text=progress_label(job.progress))
