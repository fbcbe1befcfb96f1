"""The Train page's launch form: the preset's overridable fields, in three rows.

``training_form`` draws it inside ``st.form`` and returns the ``TrainForm`` (and the GPUs
ticked) once submitted. The fields start at the preset's values (``preset_defaults``).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import streamlit as st

from dashboard.glossary import meaning
from dashboard.runs import TrainForm, preset_defaults

TOWERS = ["multiview", "flat", "static"]
EPOCHS_HELP = f"{meaning('epoch')} With a time budget: the most it trains."
LR_HELP = f"{meaning('learning rate')} E.g. 0.001 or 1e-5."
BUDGET_HELP = "As many epochs as fit, judged from epochs five to seven; 0 = exactly Epochs"
MEMORY_NOTE = "Use it when a run stops for lack of GPU memory."


def training_form(
    dataset: Path, name: str, preset: str, gpus: list[str]
) -> tuple[TrainForm | None, list[str]]:
    """The preset's overridable fields; (form, GPUs chosen) once submitted, else (None, [])."""
    defaults = preset_defaults(preset)
    with st.form(f"train-{preset}"):
        tower, frames, size, layers = _model_row(defaults)
        batch, epochs, budget, lr = _schedule_row(defaults)
        chosen, memory = _hardware_row(defaults, gpus)
        if not gpus:
            st.caption("No GPU detected: the run uses the CPU.")
        if not st.form_submit_button("Launch training", type="primary"):
            return None, []
    values = (int(frames), int(size), int(batch), int(epochs), float(lr), int(layers), budget)
    return TrainForm(dataset, name, preset, tower, *values, **memory), chosen


def _model_row(defaults: dict[str, Any]) -> tuple[str, int, int, int]:
    """Video tower, frames, resolution and text layers unlocked."""
    row = st.columns(4)
    tower = row[0].selectbox(
        "Video tower", TOWERS, index=TOWERS.index(defaults["tower"]), help=meaning("tower")
    )
    frames = row[1].number_input("Frames", 1, 128, defaults["frames"])
    size = row[2].number_input("Resolution (px)", 16, 512, defaults["image_size"], step=16)
    layers = row[3].number_input(
        "Text layers unlocked",
        0,
        6,
        defaults["text_layers"],
        help=meaning("text layers unlocked"),
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
