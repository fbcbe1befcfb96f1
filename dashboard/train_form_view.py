"""The Train page's launch form: the preset's overridable fields, in three rows.

``training_form`` draws it inside ``st.form`` and returns the ``TrainForm`` (and the GPUs
ticked) once submitted. The fields start at the preset's values (``preset_defaults``).
``start_from`` (above the form, so that a choice redraws it) picks fresh weights or a run's
checkpoint to fine-tune (``train --init-from``); with a checkpoint the model fields are its own
model's and locked: a checkpoint loads into no other model.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from dashboard.formatting import relative
from dashboard.glossary import meaning
from dashboard.inert_text import markdown_text
from dashboard.run_launch import checkpoint_model
from dashboard.runs import TrainForm, preset_defaults
from dashboard.settings import CHECKPOINT_FILES
from model.errors import UserError

TOWERS = ["multiview", "flat", "static"]
EPOCHS_HELP = f"{meaning('epoch')} With a time budget: the most it trains."
LR_HELP = f"{meaning('learning rate')} E.g. 0.001 or 1e-5."
BUDGET_HELP = "As many epochs as fit, judged from epochs five to seven; 0 = exactly Epochs"
MEMORY_NOTE = "Use it when a run stops for lack of GPU memory."
FRESH = "fresh weights"
START_KEY = "train-start-from"
START_HELP = (
    "Fresh weights train a new model; a run's checkpoint (its best.pt, else last.pt) is "
    "fine-tuned on the dataset chosen here, with a new optimiser and schedule."
)
FOLLOWS_CHECKPOINT = (
    "The model fields follow the checkpoint of {} (a checkpoint loads only into its own model); "
    "the preset and the fields below set the training."
)


def start_from(runs: list[Path], root: Path) -> Path | None:
    """The checkpoint a new run starts from (None: fresh weights), of the runs of this data root
    listed by name; each run's best.pt, else its last.pt. UserError once when the one chosen
    is gone (a Launch pressed then would have started from fresh weights)."""
    checkpoints = [
        next(found for found in map(run.joinpath, CHECKPOINT_FILES) if found.is_file())
        for run in runs
        if any(run.joinpath(name).is_file() for name in CHECKPOINT_FILES)
    ]
    before = st.session_state.get(START_KEY)  # the choice of the last run of the page
    choice = st.selectbox(
        "Start from",
        [FRESH, *checkpoints],
        format_func=lambda c: c if c == FRESH else f"{relative(c.parent, root)} ({c.name})",
        help=START_HELP,
        key=START_KEY,
    )
    if isinstance(before, Path) and before not in checkpoints:  # no silent fresh weights
        raise UserError(
            f"{relative(before, root)}, chosen to start from, no longer exists (deleted?): "
            "nothing launched; pick where to start from again"
        )
    return None if choice == FRESH else choice


def training_form(
    dataset: Path,
    name: str,
    preset: str,
    gpus: list[str],
    start: Path | None = None,
    sweep: dict[str, str] | None = None,
) -> tuple[TrainForm | None, list[str]]:
    """The preset's overridable fields; (form, GPUs chosen) once submitted, else (None, []).
    From checkpoint ``start``: its model's fields, locked (one error, no form, when it cannot
    be read). ``sweep``: the sweep fields above the form (``sweep_view``), its ``TrainForm``'s."""
    defaults = preset_defaults(preset)
    if start is not None:
        try:
            defaults.update(_model_fields(checkpoint_model(start)))
        except UserError as err:
            st.error(markdown_text(err), icon=":material/block:")
            return None, []
    with st.form(f"train-{preset}"):
        tower, frames, size, layers = _model_row(defaults, locked=start is not None)
        if start is not None:
            st.caption(FOLLOWS_CHECKPOINT.format(markdown_text(start.parent.name)))
        batch, epochs, budget, lr = _schedule_row(defaults)
        chosen, memory = _hardware_row(defaults, gpus)
        if not gpus:
            st.caption("No GPU detected: the run uses the CPU.")
        if not st.form_submit_button("Launch training", type="primary"):
            return None, []
    values = (int(frames), int(size), int(batch), int(epochs), float(lr), int(layers), budget)
    fields = {"init_from": start, "sweep": dict(sweep or {})}
    form = TrainForm(dataset, name, preset, tower, *values, **memory, **fields)
    return form, chosen


def _model_fields(model: dict[str, Any]) -> dict[str, Any]:
    """The form's model fields of a preset's model section."""
    video = model["video"]
    return {
        "tower": video["kind"],
        "frames": int(video["frames"]),
        "image_size": int(video["image_size"]),
        "text_layers": int(model["text"]["unlocked_layers"]),
    }


def _model_row(defaults: dict[str, Any], locked: bool) -> tuple[str, int, int, int]:
    """Video tower, frames, resolution and text layers unlocked (``locked``: shown, not set)."""
    row = st.columns(4)
    tower = row[0].selectbox(
        "Video tower",
        TOWERS,
        index=TOWERS.index(defaults["tower"]),
        help=meaning("tower"),
        disabled=locked,
    )
    frames = row[1].number_input("Frames", 1, 128, defaults["frames"], disabled=locked)
    size = row[2].number_input(
        "Resolution (px)", 16, 512, defaults["image_size"], step=16, disabled=locked
    )
    layers = row[3].number_input(
        "Text layers unlocked",
        0,
        6,
        defaults["text_layers"],
        help=meaning("text layers unlocked"),
        disabled=locked,
    )
    return tower, frames, size, layers


def _schedule_row(defaults: dict[str, Any]) -> tuple[int, int, float, float]:
    """Batch size, epochs, time budget (minutes) and learning rate."""
    row = st.columns(4)
    batch = row[0].number_input(
        "Batch size", 2, 4096, defaults["batch_size"], help=meaning("batch")
    )
    epochs = row[1].number_input("Epochs", 1, 1000, defaults["epochs"], help=EPOCHS_HELP)
    budget = row[2].number_input(
        "Time budget (min)",
        0.0,
        10080.0,
        defaults["time_budget_min"],
        step=1.0,
        format="%g",  # "13", not "13.00" minutes
        help=BUDGET_HELP,
    )
    lr = row[3].number_input("Learning rate", 1e-6, 1.0, defaults["lr"], format="%g", help=LR_HELP)
    return batch, epochs, budget, lr


def _hardware_row(defaults: dict[str, Any], gpus: list[str]) -> tuple[list[str], dict[str, Any]]:
    """GPUs ticked, and the two ways to fit a batch in less GPU memory (``TrainForm`` fields)."""
    # the checkbox as wide as its label (a quarter column cut it to "Gradient checkpoint…")
    row = st.container(horizontal=True, vertical_alignment="center", gap="medium")
    chosen = row.multiselect(
        "GPUs", gpus, default=gpus, help="The run uses only these; torchrun when more than one"
    )
    checkpointing = row.checkbox(
        "Gradient checkpointing",
        value=defaults["grad_checkpointing"],
        help="Recompute the video tower's blocks in backward: much less GPU memory, "
        f"about a quarter more time. {MEMORY_NOTE}",
    )
    pieces = row.number_input(
        "Micro-batches",
        1,
        256,
        defaults["accum_freq"],
        help=f"{meaning('micro-batches')} {MEMORY_NOTE}",
    )
    return chosen, {"grad_checkpointing": checkpointing, "accum_freq": int(pieces)}
