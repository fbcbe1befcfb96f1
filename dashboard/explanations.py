""" "Explain": which view, frame and region drive a study's probability of a finding.

One builder, ``show_explanation``, for the Zero-shot page's top-scoring studies
(``explain_section``) and the Studies page's case view (``dashboard.study_reading``), each
under widget keys of its own. The occlusions (``model.explain``) run through the checkpoint's
model, loaded once by the shared ``cache.checkpoint_model``, on the server's background worker
(``dashboard.explain_worker``): the page stays usable while they run, a fragment polls until
the result is there, and a rerun meanwhile starts nothing again. Each explanation is cached (a
few, bounded) by checkpoint fingerprint, dataset, study and the finding's prompt texts, so a
return to the same study and finding costs nothing. The finding's probability is the page's
own: the same text vectors, the same scale and the study read as its embedding was.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd
import streamlit as st

from dashboard import cache
from dashboard.context import rerun_page_if_choice_gone
from dashboard.explain_plots import (
    absent_views,
    frame_curves,
    present_views,
    region_map,
    view_bars,
)
from dashboard.explain_worker import DaemonThread, ExplainWorker, failure_text
from dashboard.inert_text import markdown_text
from dashboard.scoring import display_name
from model.prompts import FindingPrompts, PromptSet
from model.schema import VIEW_SLOTS

if TYPE_CHECKING:  # model.explain imports torch: loaded on the first explanation, not the visit
    from model.explain import Explanation

EXPLAIN_KEY = "zs-explain"  # the Zero-shot page's widget keys start with it
POLL_S = 0.5  # how often the waiting message looks whether the explanation is ready


@dataclass(frozen=True)
class StudyExplanation:
    """An ``Explanation`` and the frame each view's region map is drawn over (``frames:
    [V, H, W]`` in [0, 1], each view's peak frame as the model read it)."""

    found: Explanation
    frames: np.ndarray


@st.cache_data(show_spinner=False, max_entries=8)
def explanation(
    checkpoint: str,
    ckpt_version: tuple[float, ...],
    fingerprint: str,
    studies: tuple[str, tuple[float, ...]],
    study_id: str,
    prompts: tuple[tuple[str, ...], tuple[str, ...]],
    scale: float,
    _dataset: Any,
    _text_encoder: Any,
) -> StudyExplanation:
    """The occlusion explanation of ``study_id`` of ``_dataset`` (keyed by ``studies``: its
    table's path and version) for the finding worded by ``prompts`` (positive, negative);
    ``fingerprint`` (of the checkpoint's weights) is part of the key. Called on the worker's
    thread: the cached functions it calls show no spinner there (nested in this one)."""
    from model.explain import explain_with_model, finding_vectors, study_input

    model, _ = cache.checkpoint_model(checkpoint, ckpt_version)
    single = PromptSet(findings={"finding": FindingPrompts(*prompts)})
    positive, negative = finding_vectors(single, "finding", _text_encoder)
    study = study_input(_dataset, study_id, model.input_frames, model.input_size)
    found = explain_with_model(model, study, (positive, negative, scale))
    peaks = found.peak_frames()
    frames = study.video[np.arange(len(peaks)), peaks].numpy()
    return StudyExplanation(found=found, frames=frames)


def default_finding(findings: list[str], page_choice: str | None, study_scores: pd.Series) -> str:
    """The finding to explain first: the one the page shows (``page_choice``, a key) when it is
    a finding, else the study's highest-scoring finding."""
    if page_choice in findings:
        return str(page_choice)
    scored = study_scores.reindex(findings).astype(float)
    return str(scored.idxmax()) if scored.notna().any() else findings[0]


def reading_sentence(finding: str) -> str:
    """How to read the charts, in one sentence."""
    return (
        f"Red: occluding this view, frame or region lowers the probability of {finding} (the "
        f"model's score leans on it); blue: occluding it raises the probability. Values are "
        "percentage points (pp) of the probability; an absent view has nothing to occlude. "
        "This shows what the score depends on, a correlate: not what causes the finding."
    )


@st.cache_resource(show_spinner=False)
def explain_worker() -> ExplainWorker:
    """The server's explanation worker: one thread (an explanation uses every core)."""
    return ExplainWorker(DaemonThread("explain"))


def explain_section(
    studio: Any, prompts: PromptSet, findings: pd.DataFrame, page_choice: str | None, ids: list
) -> None:
    """The Zero-shot page's "Explain" control under the top-scoring studies ``ids``
    (``findings``: their finding probabilities, indexed by study_id); ``page_choice`` the key
    of the page's chosen prompt."""
    names = list(prompts.findings)
    if not names or not ids:
        return
    if not st.toggle("Explain a study's score", key=EXPLAIN_KEY, help=EXPLAIN_HELP):
        return
    row = st.columns(2)
    study = row[0].selectbox("Study", ids, key=f"{EXPLAIN_KEY}-study")
    explain_finding(row[1], studio, prompts, findings.loc[study], study, EXPLAIN_KEY, page_choice)


def explain_finding(
    place: Any,
    studio: Any,
    prompts: PromptSet,
    scores: pd.Series,
    study: str,
    key: str,
    page_choice: str | None = None,
) -> None:
    """A "Finding" picker in ``place`` (a column, or ``st``) over the findings of ``prompts``,
    first the page's ``page_choice`` else the study's highest of ``scores`` (finding key ->
    probability), then the explanation of ``study`` for it, under widget keys starting with
    ``key`` (the picker's is kept per page choice, else per study)."""
    names = list(prompts.findings)
    first = default_finding(names, page_choice, scores)
    finding = place.selectbox(
        "Finding",
        names,
        index=names.index(first),
        format_func=display_name,
        key=f"{key}-finding-{page_choice or study}",
    )
    show_explanation(studio, prompts.findings[finding], study, display_name(finding), key)


def show_explanation(
    studio: Any, wording: FindingPrompts, study: str, shown: str, key: str
) -> None:
    """The explanation of ``study``'s probability of the finding worded ``wording`` (shown as
    ``shown``), under widget keys starting with ``key``: computed in the background, a message
    saying so (redrawn every ``POLL_S``) until it is ready, then its charts."""
    job_key, job = _request(studio, wording, study)
    worker = explain_worker()
    future = worker.request(job_key, job).future
    if not future.done() or future.cancelled():
        words = (
            f"Occluding each view, frame and region of {study} in turn and scoring {shown} "
            "again each time, in the background: the rest of the page stays usable "
            "(seconds on an idle CPU, a minute or more on a busy one; kept after)…"
        )
        _waiting(job_key, job, markdown_text(words))
    elif future.exception() is not None:
        st.error(markdown_text(failure_text(future.exception())), icon=":material/error:")
        if st.button("Try again", key=f"{key}-again"):
            worker.forget(job_key)
            st.rerun()
    else:
        _drawn(future, shown, study, key)


def _request(
    studio: Any, wording: FindingPrompts, study: str
) -> tuple[Hashable, Callable[[], StudyExplanation]]:
    """(the explanation's cache key, the job computing it): what the job needs is read here,
    on the script thread, where the page's caches are."""
    checkpoint = studio.checkpoint_path()
    table = studio.dataset_path() / "studies.parquet"
    key = (
        str(checkpoint),
        cache.version_of(checkpoint),
        str(studio.checkpoint_summary()["fingerprint"]),
        (str(table), cache.version_of(table)),
        study,
        (tuple(wording.positive), tuple(wording.negative)),
        float(studio.logit_scale()),
    )
    dataset, text_encoder = studio.dataset(), studio.text_encoder()
    return key, lambda: explanation(*key, dataset, text_encoder)


@st.fragment(run_every=POLL_S)
def _waiting(job_key: Hashable, job: Callable[[], StudyExplanation], words: str) -> None:
    """``words`` and the seconds so far, until the explanation is ready: then the whole page
    runs again, draws it and stops polling."""
    rerun_page_if_choice_gone()
    pending = explain_worker().request(job_key, job)  # asked again: still wanted
    if pending.future.done() and not pending.future.cancelled():
        st.rerun()
    st.info(f"{words} {pending.seconds():.0f} s so far.", icon=":material/hourglass_top:")


def _drawn(future: Future, shown: str, study: str, key: str) -> None:
    """The finished explanation: what it says in a caption, then its charts."""
    result: StudyExplanation = future.result()
    found = result.found
    st.caption(
        f"p({markdown_text(shown)}) = {found.probability:.3f} for {markdown_text(study)}. "
        + markdown_text(reading_sentence(shown))
        + f" {found.occlusions:,} occlusions took {found.seconds:.1f} s; squares of "
        f"{found.grid.patch} px."
    )
    _charts(result, shown, study, key)


def _charts(result: StudyExplanation, shown: str, study: str, key: str) -> None:
    found = result.found
    missing = absent_views(found, VIEW_SLOTS)
    if missing:
        st.caption(f"Absent from this study (nothing to occlude): {', '.join(missing)}.")
    row = st.columns(2)
    row[0].plotly_chart(view_bars(found, VIEW_SLOTS, shown), key=f"{key}-views")
    row[1].plotly_chart(frame_curves(found, VIEW_SLOTS, shown), key=f"{key}-frames")
    names = present_views(found, VIEW_SLOTS)
    strongest = max(names, key=lambda n: found.views[VIEW_SLOTS.index(n)])  # raises it most
    name = st.selectbox(
        "Region map of view",
        names,
        index=names.index(strongest),
        key=f"{key}-view-{study}",  # another study may lack the view picked before
    )
    view = VIEW_SLOTS.index(name)
    figure = region_map(found, result.frames[view], view, name)
    st.plotly_chart(figure, key=f"{key}-regions")


EXPLAIN_HELP = (
    "Occlusion: each view, each frame and each square of each view is hidden in turn (a view "
    "or frame left out as if the study lacked it; a square filled with the view's mean "
    "intensity) and the study is scored again. The difference is how much the probability "
    "leaned on that part."
)
