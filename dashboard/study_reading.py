"""The Studies page's "Model reading": what the active checkpoint makes of one study.

For the case a clinician opened: each finding's probability under the shipped default prompt
set, scored as the Zero-shot page scores it (``Studio.zero_shot_scores``, the same cache: a
visit to either page after the other costs nothing), where the study ranks among the dataset's
embedded studies for that finding, and what the dataset's labels say of it, so agreement shows
at a glance. The "Explain" under it is the Zero-shot page's (``explanations.show_explanation``).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import pandas as pd
import streamlit as st

from dashboard.empty_state import EmptyState
from dashboard.finding_summary import label_word
from dashboard.prompt_editor import load_prompt_set
from dashboard.scoring import display_name
from model.errors import DataError
from model.prompts import DEFAULT_PROMPTS, PromptSet

READING_KEY = "case-explain"  # the case view's explanation widgets' keys start with it
NO_LABEL_COLUMN = "no column"  # the labels file has no column of this finding

READING_COLUMNS = {
    "finding": st.column_config.TextColumn("Finding"),
    "probability": st.column_config.ProgressColumn(
        "Probability",
        format="%.3f",
        min_value=0.0,
        max_value=1.0,
        help="p(finding) with the shipped default prompts, as the Zero-shot page scores it",
    ),
    "rank": st.column_config.TextColumn(
        "Rank in dataset", help="1 is the study scored highest for this finding"
    ),
    "percentile": st.column_config.NumberColumn(
        "Percentile", format="%d", help="the share of the dataset's studies scored at most this"
    ),
    "label": st.column_config.TextColumn("Label", help="what the dataset's labels file says"),
}


@dataclass(frozen=True)
class StudyReading:
    """One study's reading: ``table`` (a row per finding: finding, probability, rank,
    percentile, and label when the dataset has labels), ``scores`` (finding key ->
    probability), the ``prompts`` scored and how many ``studies`` it is ranked among."""

    study_id: str
    table: pd.DataFrame
    scores: pd.Series
    prompts: PromptSet
    studies: int


def study_reading(studio: Any, study_id: str) -> StudyReading | None:
    """The reading of ``study_id``; None when the study embeddings lack it (embedded before
    the study was added). ``EmptyState`` without a checkpoint or study embeddings."""
    prompts = load_prompt_set(DEFAULT_PROMPTS)  # the Zero-shot page's first, default, set
    findings = studio.zero_shot_scores(prompts).scores.findings
    if study_id not in findings.index or findings.empty:
        return None
    table = reading_table(findings, study_id, _labels(studio))
    return StudyReading(study_id, table, findings.loc[study_id], prompts, len(findings))


def reading_table(
    findings: pd.DataFrame, study_id: str, labels: pd.DataFrame | None
) -> pd.DataFrame:
    """A row per finding of ``findings`` ([N studies, F findings] probabilities, indexed by
    study_id) for ``study_id``: its display name, probability, rank among the N ("3 of 240":
    ties share the best rank), percentile (the share of studies scored at most this, 0-100)
    and, when ``labels`` has a column of any finding, the label (``label_word``)."""
    row = findings.loc[study_id]
    scored = findings.notna().sum()
    rank = (findings > row).sum() + 1
    percentile = (100 * (findings <= row).sum() / scored.clip(lower=1)).round()
    table = pd.DataFrame(
        {
            "finding": [display_name(key) for key in findings.columns],
            "probability": row.to_numpy(dtype=float),
            "rank": [f"{r} of {n}" for r, n in zip(rank, scored, strict=True)],
            "percentile": percentile.astype(int).to_numpy(),
        }
    )
    words = [label_word(labels, key, study_id) for key in findings.columns]
    if any(word is not None for word in words):
        table["label"] = [word or NO_LABEL_COLUMN for word in words]
    return table


def reading_caption(reading: StudyReading) -> str:
    """What the table is: which prompts, among how many studies, and that it is no diagnosis."""
    return (
        f"The active checkpoint's zero-shot probability of each finding for this study, with "
        f"the shipped default prompts (as the Zero-shot page scores them), ranked among the "
        f"{reading.studies:,} embedded studies of this dataset. A model's reading to check "
        "against the images and the report, not a diagnosis."
    )


def missing_line(empty: EmptyState) -> str:
    """One short line for a case view without a reading: what is missing and what to do."""
    if empty.offer is not None:  # the study embeddings: the Zero-shot page offers the job
        todo = "compute them on the Zero-shot page (one click)"
    elif empty.page is not None and "train" in empty.page:
        todo = "train one on the Train page, or build the demo on Home"
    else:
        todo = empty.hint
    return f"No model reading: {empty.title[0].lower()}{empty.title[1:]}; {todo}."


def _labels(studio: Any) -> pd.DataFrame | None:
    """The dataset's labels; None without a file, or with one that cannot be read (the
    Zero-shot page's "Against labels" says what is wrong with it)."""
    try:
        return studio.labels()
    except DataError:
        return None
