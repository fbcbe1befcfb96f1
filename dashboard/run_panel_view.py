"""The Train page's run panel: the run picked in the Runs table, below it.

Its state and facts (what it trained, on what, its sweep), its live curves, the log of a failure,
one row of buttons (Stop; Resume with the memory options a resume may change; Set active
checkpoint; Delete run behind a confirmation; the Model card download) and what those buttons
said last, then its train.log. The panel redraws itself every few seconds (the page's fragment);
a resume launches a job, which the page does (``resume``: the job runner and its GPUs are the
page's), so this module draws and answers the clicks, nothing more.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard.context import Studio, UserError
from dashboard.glossary import meaning
from dashboard.inert_text import markdown_text
from dashboard.job import Job
from dashboard.model_card import card_button
from dashboard.plots import loss_curve, validation_curves
from dashboard.reader_clock import reader_zone
from dashboard.run_compare import facts_line, open_estimate, run_facts
from dashboard.run_state import state_with_job
from dashboard.run_view import failure_log, keep_notes, show_notes
from dashboard.runs import (
    CHECKPOINT_ONLY,
    delete_run,
    job_for_run,
    log_tail,
    ran_out_of_gpu_memory,
    read_metrics,
    read_status,
    run_is_live,
    selection_caption,
    shown_state,
    throughput_line,
)

SHOWN_RUN_KEY = "train-shown-run"  # the run below the table, kept across refreshes

# resume(run, its job or None, with gradient checkpointing, micro-batches): launch the job
Resume = Callable[[Path, Job | None, bool, int], None]


def training_curves(run: Path) -> None:
    """The run's loss (with its throughput) and validation curves, side by side."""
    metrics = read_metrics(run)
    left, right = st.columns(2)
    left.plotly_chart(loss_curve(metrics), key=f"loss-{run.name}")
    left.caption(throughput_line(metrics))
    right.plotly_chart(validation_curves(metrics), key=f"val-{run.name}")
    right.caption(selection_caption(run))


@dataclass(frozen=True)
class RunPanel:
    """The panel of the run shown below the table, on ``studio``'s data root; ``resume``
    launches a Resume's job."""

    studio: Studio
    resume: Resume

    def show(self, run: Path) -> None:
        """``run``'s state, facts, curves, buttons, what they said and its log."""
        status = read_status(run)
        state = shown_state(status, run, reader_zone())
        job = job_for_run(self.studio.jobs.list("train"), run)
        st.subheader(f"{markdown_text(run.name)} — {state_with_job(state, status, job)}")
        # config.json's record (else preset.json), and the sweep it belongs to
        facts = run_facts(run, self.studio.settings.data_root, with_sweep=True)
        line = facts_line(facts, open_estimate(status, run_is_live(state)))
        if line:  # what it trained, on what: a slide's "model" line
            st.markdown(markdown_text(line))
        if status.get("message"):
            st.caption(markdown_text(status["message"]))
        if state == CHECKPOINT_ONLY:
            st.caption(
                "A checkpoint without its run folder (copied from another machine?): no curves, "
                "log or resume. Set it active to use it; copy its whole run folder for the rest."
            )
        else:
            training_curves(run)
        failure_log(run, state, job)
        # one row that wraps: four fixed columns cut the labels short on a laptop screen
        buttons = st.container(horizontal=True, vertical_alignment="center")
        running = run_is_live(state) or (job is not None and job.running)
        self.stop_and_resume(buttons, run, job, running, state, status, facts.micro_batches or 1)
        self.activate_or_delete(buttons, run, running)
        if (run / "best.pt").is_file():  # what a collaborator gets with the checkpoint
            card_button(buttons, run / "best.pt", self.studio.settings.data_root)
        show_notes(run)  # kept: this panel redraws itself every few seconds
        with st.expander("train.log"):
            st.code(log_tail(run), language=None)

    def stop_and_resume(
        self,
        buttons: DeltaGenerator,
        run: Path,
        job: Job | None,
        running: bool,
        state: str,
        status: dict,
        micro_batches: int,
    ) -> None:
        """The run's Stop, and its Resume with the memory options a resume may change (the
        micro-batches start at the run's own, ``micro_batches``)."""
        stopping = job is not None and job.stopping
        # keyed by the run: a click meant for a run deleted meanwhile never acts on the next
        if buttons.button("Stop", disabled=not running or stopping, key=f"stop-{run}"):
            if job is None or not job.running:
                stop_here = (
                    "This run was not started from this dashboard; stop it where it was launched."
                )
                keep_notes(run, [("error", stop_here)])
            else:
                self.studio.jobs.cancel(job.id, wait=False)  # the job panel: "stopping" till done
                st.rerun()
        resumable = not running and state != CHECKPOINT_ONLY and (run / "last.pt").exists()
        resume_clicked = buttons.button("Resume", disabled=not resumable, key=f"resume-{run}")
        checkpointing = buttons.checkbox(
            "with gradient checkpointing",
            value=ran_out_of_gpu_memory(status),
            key=f"resume-checkpointing-{run.name}",
            help="Less GPU memory for about a quarter more time; the run continues exactly.",
        )
        pieces = buttons.number_input(
            "micro-batches",
            1,
            256,
            micro_batches,
            key=f"resume-micro-batches-{run.name}",
            help=f"{meaning('micro-batches')} The run may resume with another number.",
            width=140,
        )
        if resume_clicked:
            self.resume(run, job, checkpointing, int(pieces))

    def activate_or_delete(self, buttons: DeltaGenerator, run: Path, running: bool) -> None:
        """Set the run's best.pt (else last.pt) active, or delete the run after a confirmation."""
        best = run / "best.pt" if (run / "best.pt").exists() else run / "last.pt"
        activate = buttons.button(
            "Set active checkpoint", disabled=not best.exists(), key=f"set-active-{run}"
        )
        if activate:
            note = self.studio.settings.write_active(checkpoint=best)  # a note on a read-only root
            keep_notes(run, [("success", f"Active checkpoint: {best}"), ("info", note)])
        with buttons.popover("Delete run", disabled=running, key=f"delete-popover-{run}"):
            st.write(f"Delete {markdown_text(run.name)}, its checkpoints and its log for good?")
            if st.button(f"Delete {markdown_text(run.name)}", type="primary", key=f"delete-{run}"):
                try:
                    delete_run(run, running, self.studio.settings)
                except UserError as err:  # e.g. a read-only root: said below, as other buttons'
                    keep_notes(run, [("error", str(err))])
                else:
                    st.session_state.pop(SHOWN_RUN_KEY, None)  # deleted here: no "it is gone"
                    st.rerun()
