"""The Train page's sweep controls: the grid's fields above the launch form (each option's
values, comma-separated, and the run count they make, checked as the user types: the fields
sit outside the form so that a change redraws the count), and, in Compare runs, the control
that extends a sweep's finished runs to more epochs (``model sweep`` again, one job).
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st

from dashboard.inert_text import markdown_text
from dashboard.sweep_launch import FIELDS, ExtendJob, extend_job, grid_count, sweep_epochs
from model.errors import UserError
from model.training.sweep_grid import DIMENSIONS
from model.training.sweep_record import read_record, record_path

SWEEP_NOTE = (
    "Several values, comma-separated: one run per value (per combination, with several "
    "fields), named after the run name and its values (RUN-NAME-lr3e-4-seed1), trained one "
    "after another in one job that Stop stops, by Launch training below. A value here "
    "replaces the form's learning rate or the preset's value. Compare runs ranks them."
)
PLACEHOLDERS = {
    "lr": "e.g. 1e-3, 3e-4, 1e-4",
    "text_lr": "e.g. 1e-5, 3e-5",
    "weight_decay": "e.g. 0.01, 0.1",
    "warmup_steps": "e.g. 0, 100",
    "seed": "e.g. 0, 1, 2",
}
EXTEND_HELP = (
    "Runs the sweep's own command again with this many epochs, as one job that Stop stops: "
    "each run finished at fewer epochs resumes from its last.pt to them (train --resume "
    "--epochs N); runs at as many or more are skipped."
)


def field_key(dest: str) -> str:
    """The widget key of a sweep field: ``train-sweep-lr``, ``train-sweep-text-lr``."""
    return "train-sweep-" + dest.replace("_", "-")


def sweep_fields() -> tuple[dict[str, str], bool]:
    """The sweep's fields, folded away (option -> its text; all empty: one run), and whether
    they make a grid Launch may start (a bad value or too many runs: one error line)."""
    with st.expander("Sweep: compare several values"):
        st.caption(SWEEP_NOTE)
        top, bottom = st.columns(3), st.columns(3)
        places = [*top, *bottom]
        fields = {
            d.dest: place.text_input(
                FIELDS[d.dest], placeholder=PLACEHOLDERS[d.dest], key=field_key(d.dest)
            )
            for d, place in zip(DIMENSIONS, places, strict=False)
        }
        try:
            count = grid_count(fields)
        except UserError as err:
            st.error(markdown_text(err), icon=":material/block:")
            return fields, False
        if count:
            st.caption(f"This sweep: {count}.")
    return fields, True


def extend_control(runs_dir: Path, sweep: str) -> ExtendJob | None:
    """*Extend sweep to N epochs* for the sweep ``sweep`` recorded in ``runs_dir``, shown once
    one of its runs finished: the job to launch once Extend sweep is pressed, else None."""
    record = record_path(runs_dir, sweep)
    found = read_record(record)
    if found is None or not any(r.state == "finished" for r in found.runs):
        return None
    done = sweep_epochs(runs_dir, found)
    if done is None:
        return None
    row = st.container(horizontal=True, vertical_alignment="bottom")
    epochs = row.number_input(
        "Extend sweep to N epochs",
        min_value=done + 1,
        max_value=max(1000, done + 1),
        value=done + 1,
        help=EXTEND_HELP,
        key=f"train-extend-{sweep}",
        width=220,
    )
    if not row.button("Extend sweep", key=f"train-extend-button-{sweep}"):
        return None
    return extend_job(record, int(epochs))
