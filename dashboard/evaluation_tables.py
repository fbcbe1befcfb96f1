"""The Evaluate page's words for an evaluation's tables and figures, from ``model.evaluation``,
whose Markdown report says the same: the published CMR-CLIP figures beside a site's zero-shot
table, the subgroup views, the figures' names and the headline's note. The page draws them;
what they say is worked out here and in the model, never on the page."""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from model.evaluation.headline import HEADLINE_NOTE
from model.evaluation.published import PUBLISHED_NOTE, PUBLISHED_TITLE, beside_published
from model.evaluation.subgroup_view import (
    finding_view,
    subgroup_note,
    variable_names,
    variable_title,
    variable_view,
)
from model.evaluation.tables import MISSING, figure_text, with_label_names

__all__ = [  # what the page names or calls of the model's evaluation views, through this module
    "HEADLINE_NOTE",
    "MISSING",
    "PUBLISHED_NOTE",
    "PUBLISHED_TITLE",
    "figure_text",
    "finding_view",
    "named_problems",
    "published_beside",
    "subgroup_note",
    "variable_names",
    "variable_title",
    "variable_view",
]


def published_beside(table: pd.DataFrame, name: str, group: str) -> pd.DataFrame | None:
    """The labels of a site's zero-shot ``table`` (the file ``name``, ``SITE/...csv``, of the
    page's ``group`` tab) beside the AUCs CMR-CLIP published for that site; None for another
    group's table or a site with no published figure."""
    if group != "Zero-shot":
        return None
    published = beside_published(table, Path(name).parent.name)
    return None if published.empty else published


def named_problems(problems: list[str]) -> list[str]:
    """An evaluation's problem lines with each quoted label key named as the tables name it:
    the runner writes its keys, which a clinician reads as code."""
    return [with_label_names(problem) for problem in problems]
