"""Deleting an evaluation from the Evaluate page, as Train deletes a run.

Evaluations (``DATA_ROOT/evaluations/NAME/``: tables, figures, report) were kept forever: a lab
that evaluates each checkpoint, and again after each prompt edit, had no way to drop the trial
ones but a shell on the server. ``delete_evaluation`` removes one folder the page lists, and
refuses while it may still be written: its evaluate job runs (here or on another host sharing
the root), or, without a summary (an evaluation writes it last), a file in it changed within
``WRITING_S`` (a ``python -m model evaluate`` the dashboard did not start).
"""

from __future__ import annotations

import shutil
from pathlib import Path

import streamlit as st

from dashboard.context import Studio
from dashboard.file_clock import silent_s
from dashboard.inert_text import markdown_text
from dashboard.jobs import JobManager
from dashboard.overview import running_evaluations
from dashboard.settings import Settings
from model.errors import UserError, storage_problem

WRITING_S = 300.0


def delete_evaluation(folder: Path, settings: Settings, jobs: JobManager) -> None:
    """Remove the evaluation ``folder`` (one directly under ``settings.evaluations_dir``);
    UserError, naming why, when it is not one or may still be written."""
    folder = Path(folder)
    if folder.parent.resolve() != settings.evaluations_dir.resolve() or folder.is_symlink():
        raise UserError(f"{folder} is not an evaluation of this data root")
    if not folder.is_dir():
        raise UserError(f"{folder.name} no longer exists (deleted already?)")
    if folder in running_evaluations(jobs.list("evaluate")):
        raise UserError(f"{folder.name} is still being written by its evaluate job; stop it first")
    if not (folder / "summary.json").is_file():
        quiet = silent_s([folder, *folder.iterdir()])
        if quiet is not None and quiet < WRITING_S:
            raise UserError(
                f"{folder.name} has no summary yet and changed {quiet:.0f} s ago: an evaluation "
                "may still be writing it; try again when it has finished or stopped"
            )
    try:
        shutil.rmtree(folder)
    except OSError as err:  # a read-only root also says what to do about it
        said = storage_problem(err) or f"{err.strerror or err} ({err.filename or folder})"
        raise UserError(f"cannot delete {folder.name}: {said}") from err


def delete_popover(studio: Studio, folder: Path, running: bool, forget: tuple[str, str]) -> None:
    """The page's *Delete evaluation* popover with its confirming button (disabled while the
    evaluation runs); once deleted, the session's choice (``forget``: its session-state key and
    the address's query key) is dropped and the page drawn again on the newest left."""
    with st.popover("Delete evaluation", disabled=running, key=f"delete-ev-popover-{folder}"):
        st.write(f"Delete {markdown_text(folder.name)}, its tables, figures and report for good?")
        if st.button(
            f"Delete {markdown_text(folder.name)}", type="primary", key=f"delete-ev-{folder}"
        ):
            try:
                delete_evaluation(folder, studio.settings, studio.jobs)
            except UserError as err:
                st.error(markdown_text(str(err)), icon=":material/block:")
                return
            st.session_state.pop(forget[0], None)
            st.query_params.pop(forget[1], None)
            st.rerun()
