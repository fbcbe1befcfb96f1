"""``report.md``: the evaluation's results in Markdown, for slides and write-ups.

``report.html`` is a page to read (every table, figure and the methods); a talk made in Markdown
(Marp, Quarto, reveal.js) or a lab wiki wants the parts one pastes: the headline sentence, which
model trained on what, the headline table, and each site's zero-shot AUCs with their intervals,
as pipe tables. Text from outside (site, label and model names) is escaped, so a name never
turns into a link, an image or a broken table.
"""

from __future__ import annotations

import re
from typing import Any

import pandas as pd

from model.evaluation.headline import HEADLINE_NOTE
from model.evaluation.methods import site_line
from model.evaluation.published import PUBLISHED_NOTE, PUBLISHED_TITLE
from model.evaluation.report import COMPARISON_NOTE, compact, published_view
from model.evaluation.subgroup_view import (
    SUBGROUP_NOTE,
    in_report_order,
    variable_names,
    variable_title,
    variable_view,
)
from model.evaluation.tables import COUNT_LABELS, MISSING, is_p_value, table_title

_SPECIAL = re.compile(r"([\\`*_\[\]<>|!#])")
# a site's zero-shot table as a slide shows it: what a row is, its AUC and interval, its counts
ZEROSHOT_COLUMNS = ("model", "Label", "AUC", "AUC 95% CI", *COUNT_LABELS.values())


def escaped(value: Any) -> str:
    """A cell as Markdown text: specials backslash-escaped, on one line; a blank as "–"."""
    if value is None or (isinstance(value, float) and pd.isna(value)):
        return MISSING
    text = f"{value:.3f}" if isinstance(value, float) else str(value)
    return _SPECIAL.sub(r"\\\1", " ".join(text.split()))


def pipe_table(table: pd.DataFrame) -> str:
    """``table`` as a Markdown pipe table (no index); numbers right-aligned."""
    columns = [str(c) for c in table.columns]
    numeric = [pd.api.types.is_numeric_dtype(table[c]) for c in table.columns]
    lines = [
        "| " + " | ".join(escaped(c) for c in columns) + " |",
        "|" + "|".join("---:" if n else "---" for n in numeric) + "|",
    ]
    for row in table.itertuples(index=False):
        lines.append("| " + " | ".join(escaped(v) for v in row) + " |")
    return "\n".join(lines)


def _zeroshot(table: pd.DataFrame) -> pd.DataFrame:
    view = compact(table)
    several = "model" in view and view["model"].nunique() > 1
    keep = [c for c in ZEROSHOT_COLUMNS if c in view and (c != "model" or several)]
    return view[keep]


def _comparison(table: pd.DataFrame | None) -> list[str]:
    """A site's paired comparison (the main model against each baseline): the AUC difference
    with its DeLong 95% CI and p-values, to significant digits as report.html writes them."""
    if table is None or table.empty:
        return []
    view = compact(table)
    for column in [c for c in view.columns if is_p_value(str(c))]:
        view[column] = [MISSING if pd.isna(v) else f"{v:.3g}" for v in view[column]]
    counts = [c for c in COUNT_LABELS.values() if c in view]
    keep = []
    for column in view.columns:  # the difference's CI beside it, the counts last, z left out
        if column not in counts and column != "z" and not str(column).endswith("95% CI"):
            keep += [column, *[c for c in view.columns if c == f"{column} 95% CI"]]
    keep += counts
    return [f"### {table_title('comparison')}", escaped(COMPARISON_NOTE), pipe_table(view[keep])]


def _subgroups(table: pd.DataFrame | None) -> list[str]:
    """A site's subgroup section: its note, then per variable the mean AUC per value."""
    if table is None or table.empty:
        return []
    parts = [f"### {table_title('subgroups')}", escaped(SUBGROUP_NOTE)]
    for variable in variable_names(table):
        title = variable_title(variable)
        parts += [
            f"#### {escaped(title)}",
            pipe_table(in_report_order(compact(variable_view(table, variable)))),
        ]
    return parts


def _published(zeroshot: pd.DataFrame, site: str) -> list[str]:
    """The site's zero-shot AUCs beside those published for CMR-CLIP, said to be theirs."""
    view = published_view(zeroshot, site)
    if view.empty:
        return []
    return [f"### {PUBLISHED_TITLE}", escaped(PUBLISHED_NOTE), pipe_table(view)]


def render_markdown(
    title: str,
    sentence: str,
    models: list[dict[str, Any]],
    key_figures: pd.DataFrame | None,
    sites: list[dict[str, Any]],
    tables: dict[str, dict[str, pd.DataFrame]],
) -> str:
    """The Markdown report: sentence, models, headline, then per site its zero-shot table, the
    paired comparison with each baseline (when there is one) and the subgroups."""
    parts = [f"# {escaped(title)}"]
    if sentence:
        parts.append(escaped(sentence))
    if models:
        shown = pd.DataFrame(models)
        parts.append(
            pipe_table(shown[[c for c in ("name", "trained on", "description") if c in shown]])
        )
    if key_figures is not None and not key_figures.empty:
        parts += ["## Headline", escaped(HEADLINE_NOTE), pipe_table(key_figures)]
    for site in sites:
        name = str(site.get("name"))
        parts += [f"## Site: {escaped(name)}", escaped(site_line(site)) + "."]
        zeroshot = tables.get(name, {}).get("zeroshot")
        if zeroshot is not None and not zeroshot.empty:
            parts += [f"### {table_title('zeroshot')}", pipe_table(_zeroshot(zeroshot))]
            parts += _published(zeroshot, name)
        parts += _comparison(tables.get(name, {}).get("comparison"))
        parts += _subgroups(tables.get(name, {}).get("subgroups"))
    parts.append("Every table, figure and the methods: report.html beside this file.")
    return "\n\n".join(parts) + "\n"
