"""The "Model card" download: the Markdown card ``python -m model card`` writes (``model.card``),
to hand to a collaborator with the checkpoint. The Train page offers it for a run's ``best.pt``
(its figures: the newest evaluation of its weights); the Evaluate page for the checkpoint an
evaluation measured, with that evaluation's figures (``--evaluation`` of the command).

The card is built on the click, not on each rerun of the run panel (it redraws every few
seconds), and kept while the files it reads are unchanged: the checkpoint and its metadata
sidecar, the run's ``config.json``, ``status.json`` and ``metrics.jsonl``, and every
evaluation summary under the data root (a new evaluation of these weights becomes the card's).
It never imports torch while the checkpoint's sidecar vouches for it: parameter counts come
from the metadata (recorded by training since 2026-12), or the card says they are not
recorded and that ``python -m model card`` counts them. A checkpoint or evaluation the card
cannot be built from gives a card that says why in one line, not a traceback.
"""

from __future__ import annotations

from pathlib import Path

import streamlit as st
from streamlit.delta_generator import DeltaGenerator

from dashboard.file_versions import append_version
from dashboard.inert_text import markdown_text
from model.card import card_facts
from model.card_markdown import render_card
from model.checkpoint_meta import sidecar_path
from model.errors import UserError

RUN_FILES = ("config.json", "status.json", "metrics.jsonl")
MIME = "text/markdown"


def card_version(checkpoint: Path, evaluations: Path) -> tuple:
    """What the card of ``checkpoint`` reads, as file versions: the checkpoint, its sidecar,
    its run's record and each evaluation summary under ``evaluations``."""
    files = [checkpoint, sidecar_path(checkpoint), *(checkpoint.parent / f for f in RUN_FILES)]
    summaries = sorted(evaluations.glob("*/summary.json")) if evaluations.is_dir() else []
    return (
        tuple(append_version(path) for path in files),
        tuple((path.parent.name, append_version(path)) for path in summaries),
    )


@st.cache_data(show_spinner=False, max_entries=8)
def _card_text(checkpoint: str, root: str, version: tuple, evaluation: str | None = None) -> str:
    """The card of ``checkpoint`` under data root ``root`` (``version``: ``card_version``),
    with the figures of ``evaluation`` (a folder), else of the newest that measured it."""
    path = Path(checkpoint)
    given = None if evaluation is None else [Path(evaluation)]
    try:
        facts = card_facts(path, given, count_weights=False, data_root=Path(root))
    except (UserError, OSError) as err:
        return f"# No model card for {path.parent.name}/{path.name}\n\n{err}\n"
    return render_card(facts, path.name)


def card_bytes(checkpoint: Path, data_root: Path, evaluation: Path | None = None) -> bytes:
    """The Markdown card of ``checkpoint``, its evaluation ``evaluation`` (a folder that
    measured its weights) or, without one, the newest under ``data_root``'s evaluations that
    measured them."""
    version = card_version(checkpoint, data_root / "evaluations")
    shown = None if evaluation is None else str(evaluation)
    return _card_text(str(checkpoint), str(data_root), version, shown).encode("utf-8")


def card_file_name(checkpoint: Path) -> str:
    """``RUN-best-model-card.md``: the run's name, told apart from another run's card."""
    return f"{checkpoint.parent.name}-{checkpoint.stem}-model-card.md"


def card_button(
    row: DeltaGenerator, checkpoint: Path, data_root: Path, evaluation: Path | None = None
) -> None:
    """The "Model card" download of ``checkpoint`` in ``row`` (built on the click): with the
    figures of ``evaluation``, the folder of the evaluation shown beside it, if one is given."""
    if evaluation is None:
        about = "this run's best.pt: its model, training data and settings, its newest evaluation"
    else:
        shown = markdown_text(f"{checkpoint.parent.name}/{checkpoint.name}")
        about = (
            f"{shown}, the checkpoint this evaluation measured: its model, training data and "
            "settings, this evaluation's figures"
        )
    row.download_button(
        "Model card",
        lambda: card_bytes(checkpoint, data_root, evaluation),
        file_name=card_file_name(checkpoint),
        mime=MIME,
        key=f"model-card-{checkpoint}",
        help=f"A Markdown model card (Hugging Face style) of {about}, limitations and how to "
        "load it.",
    )
