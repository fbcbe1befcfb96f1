"""The evaluation's single-file HTML report and the JSON summary the dashboard reads.

The HTML embeds every PNG as base64, so the one file can be mailed or archived on its own. The
JSON summary (schema in docs/ARCHITECTURE.md, "Evaluation outputs") holds every table as records
plus ROC points and confusion matrices; NaN becomes ``null``.
"""

from __future__ import annotations

import base64
import html
import math
import re
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from model.atomic import atomic_write_json, atomic_write_text
from model.evaluation.headline import HEADLINE_NOTE
from model.evaluation.label_means import mean_intervals
from model.evaluation.methods import site_line
from model.evaluation.print_columns import column_parts
from model.evaluation.published import (
    PUBLISHED_COLUMN,
    PUBLISHED_NOTE,
    PUBLISHED_TITLE,
    beside_published,
)
from model.evaluation.subgroup_view import (
    SUBGROUP_NOTE,
    in_report_order,
    variable_names,
    variable_title,
    variable_view,
)
from model.evaluation.suite import SiteResult
from model.evaluation.tables import (
    MISSING,
    comparison_labels,
    count_labels,
    figure_text,
    is_p_value,
    table_title,
    with_label_names,
)

SUMMARY_VERSION = 1
_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:1200px;color:#222}"
    "table{border-collapse:collapse;font-size:12px;margin:0.5em 0 1.5em}"
    "td,th{border:1px solid #ccc;padding:3px 6px;text-align:left}td.num{text-align:right}"
    "th{background:#f2f2f2}img{max-width:100%;margin:0.5em 0}.problem{color:#a40000}"
    ".lead{font-size:1.15em;max-width:60em}.nb{white-space:nowrap}"
    # a header or cell breaks at a space, a hyphen or an underscore (label_precision@10_ceiling,
    # ``_table``), never inside a word or a figure: breaking anywhere, to keep the retrieval
    # table (1,700 px wide) on the page, printed "hypertro" over "phy" and "p_val" over "ue"
    "th,td{overflow-wrap:normal;word-break:normal}"
    "figure{margin:1em 0}figcaption{font-size:0.9em;max-width:60em}"
    # a figure stays on one line ("0.019" printed as "0.0" over "19"); on a screen too narrow for
    # a table (1280 px at 150% zoom), the table scrolls on its own, not the page
    "td.num{white-space:nowrap}"
    "@media screen{table{display:block;max-width:100%;overflow-x:auto}}"
    # on paper: the page's width, smaller tables, and a row, a figure with its caption or a
    # heading with what follows it never split across two pages; headers repeat on each page
    "@media print{body{margin:0;max-width:none}table{font-size:9px}td,th{padding:2px 3px}"
    "tr,figure,img{break-inside:avoid}thead{display:table-header-group}"
    "h2,h3,h4{break-after:avoid}img{max-height:20cm}}"
)


def json_safe(value: Any) -> Any:
    """Recursively turn NaN/inf into None and numpy scalars/arrays into plain Python."""
    if isinstance(value, dict):
        return {str(k): json_safe(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [json_safe(v) for v in value]
    if isinstance(value, np.ndarray):
        return json_safe(value.tolist())
    if isinstance(value, np.generic):
        value = value.item()
    if isinstance(value, float) and not math.isfinite(value):
        return None
    return value


def records(table: pd.DataFrame) -> list[dict[str, Any]]:
    """DataFrame -> JSON-safe list of row dicts."""
    return json_safe(table.to_dict(orient="records")) if not table.empty else []


def build_summary(
    results: list[SiteResult],
    sites: list[dict[str, Any]],
    models: list[dict[str, str]],
    files: dict[str, list[str]],
    problems: list[str],
    config: dict[str, Any],
    comparisons: dict[str, pd.DataFrame] | None = None,
) -> dict[str, Any]:
    """The summary document (see docs/ARCHITECTURE.md, "Evaluation outputs"), the same for the
    same evaluation run again (when it ran is in ``run.json``, ``run_times``); each result
    records the 95% intervals of the headline's means over labels (``label_means``), over the
    labels the headline averages across these results."""
    summary = json_safe(
        {
            "version": SUMMARY_VERSION,
            "config": config,
            "models": models,
            "sites": sites,
            "results": [
                {
                    "model": r.model,
                    "site": r.site,
                    "zeroshot": records(r.zeroshot),
                    "diagnosis": r.diagnosis,
                    "fewshot": records(r.fewshot),
                    "probe": records(r.probe),
                    "retrieval": records(r.retrieval),
                    "subgroups": records(r.subgroups),
                    "roc": {k: {"fpr": f, "tpr": t} for k, (f, t) in r.roc.items()},
                    "problems": r.problems,
                }
                for r in results
            ],
            "comparisons": [row for t in (comparisons or {}).values() for row in records(t)],
            "files": files,
            "problems": problems,
        }
    )
    found = mean_intervals(summary["results"], [r.resampled for r in results])
    for record, intervals in zip(summary["results"], found, strict=True):
        record["mean_intervals"] = json_safe(intervals)
    return summary


def write_summary(path: Path, summary: dict[str, Any]) -> None:
    atomic_write_json(path, summary)


def _image(path: Path, number: int, site: dict[str, Any]) -> str:
    """A figure with its caption under it: its number, what it shows and where its numbers are,
    and how many studies and patients are behind it (a printed page has no tooltip)."""
    data = base64.b64encode(path.read_bytes()).decode("ascii")
    described = figure_text(path)[1]
    alt = html.escape(described)
    caption = html.escape(f"Figure {number}. {described}. {site['name']}: {site_line(site)}.")
    return (
        f'<figure><img alt="{alt}" src="data:image/png;base64,{data}">'
        f"<figcaption>{caption}</figcaption></figure>"
    )


_SIGNED_INTERVAL = r"[-+]\d[\d.]* to [-+]\d[\d.]*"  # a difference's: "-0.010 to +0.100"
_NUMBER_CELL = re.compile(
    r"<td>([-+−]?[\d.,]+(?:e[-+]?\d+)?(?: \([\d.]+–[\d.]+\))?|[\d.]+–[\d.]+|"
    + _SIGNED_INTERVAL
    + r"|–)</td>"
)
_TEXT = re.compile(r">([^<>]+)<")  # the text between two tags of a table
_INTERVAL = re.compile(r"\d[\d.]*–\d[\d.]*|" + _SIGNED_INTERVAL)
_SHOWN_CIS = {"auc": "AUC 95% CI", "difference": "difference 95% CI"}
_DIAGNOSIS_CIS = {"accuracy": "Accuracy 95% CI", "macro_f1": "macro-F1 95% CI"}
_RETRIEVAL_CIS = {
    name: f"{name} 95% CI"
    for name in (
        "R@1",
        "R@5",
        "R@10",
        "median_rank",
        "label_precision@10",
        "label_precision@10_ceiling",
    )
}
COMPARISON_NOTE = (
    "The first model against each other one on the same studies: AUC difference "
    "(first − other) with DeLong's 95% CI and two-sided p-value, a patient's studies counted "
    "together where it has several (Obuchowski's clustered variance); p_holm is Holm-adjusted "
    "over the labels of one comparison and setting, not across settings or sites."
)
_NOTES = {
    "comparison": COMPARISON_NOTE,
    "probe": "Logistic regression on the frozen embeddings. 'linear probe': patient-grouped "
    "cross-validation on this site's evaluated studies. 'train-split probe': fitted once on the "
    "internal dataset's labelled train and val studies (n_fit) and applied unchanged here.",
    "prompts": "How each model reads each prompt: its closest report sentences in the site's "
    "dataset (cosine; no labels). 'contradicts' marks a positive prompt whose neighbours are "
    "mostly negative statements ('No ...', 'Normal ...'), or a negative prompt whose neighbours "
    "mostly are not: its zero-shot scores then mean something else than its words. 'other_side' "
    "marks a prompt naming one side of the heart whose neighbours mostly name only the other "
    "(a right-ventricular wording read as left-ventricular sentences); a flagged prompt gets a "
    "'suggestion', the closest report sentence with its polarity and side. 'unfamiliar' "
    "marks a prompt whose closest report sentence is below cosine 0.8: nothing in the reports "
    "reads like it.",
}


def _interval(metric: str, low: float, high: float) -> str:
    if pd.isna(low) or pd.isna(high):
        return MISSING
    if metric == "median_rank":
        return f"{low:g}–{high:g}"
    return f"{low:+.3f} to {high:+.3f}" if metric == "difference" else f"{low:.2f}–{high:.2f}"


def compact(table: pd.DataFrame) -> pd.DataFrame:
    """Reader-sized view of a metrics table: CIs folded into "low–high" text, keys dropped.
    A table with an AUC shows its interval (and a comparison its difference's); one without
    (diagnosis) shows those of its accuracy and macro-F1, the figures it compares."""
    view = table.copy()
    shown = _SHOWN_CIS if "AUC" in view.columns else {**_SHOWN_CIS, **_DIAGNOSIS_CIS}
    shown = {**shown, **_RETRIEVAL_CIS}
    metrics = ("auc", "difference", "accuracy", "macro_f1", "f1", "sensitivity", "specificity")
    for metric in (*metrics, *_RETRIEVAL_CIS):
        low, high = f"{metric}_lo", f"{metric}_hi"
        if low in view.columns and high in view.columns:
            if metric in shown:
                view[shown[metric]] = [
                    _interval(metric, a, b) for a, b in zip(view[low], view[high], strict=True)
                ]
            view = view.drop(columns=[low, high])
    hidden = [c for c in ("label_key", "site", "auc_sd", "auc_resamples") if c in view.columns]
    columns = list(table.columns)  # counts and a comparison headed as the Evaluate page heads them
    headers = count_labels(columns) | _comparison_headers(columns)
    return view.drop(columns=hidden).rename(columns=headers)


def _comparison_headers(columns: list[str]) -> dict[str, str]:
    """A comparison's AUCs and difference headed as the Evaluate page heads them (``auc_a`` ->
    ``AUC, model``), its difference's interval with them; {} for another table."""
    named = comparison_labels(columns)
    if "difference" in named:
        named[_SHOWN_CIS["difference"]] = f"{named['difference']} 95% CI"
    return named


def _table(table: pd.DataFrame) -> str:
    """``table`` as HTML (``compact``), in parts of its columns where it would not fit a printed
    page (``column_parts``)."""
    view = compact(table)
    # pandas writes a blank of a nullable integer column (n_fit of a cross-validated row) as
    # <NA> whatever na_rep or formatters say: those columns go in as text, and so do p-values,
    # to 3 significant digits (a DeLong p of 1e-7 to 3 decimals read p = 0.000)
    for column, values in view.items():
        if isinstance(values.dtype, pd.Int64Dtype):
            view[column] = [MISSING if pd.isna(v) else str(v) for v in values]
        elif is_p_value(str(column)) and pd.api.types.is_float_dtype(values):
            view[column] = [MISSING if pd.isna(v) else f"{v:.3g}" for v in values]
    return "".join(_html(view[part]) for part in column_parts(view))


def _html(view: pd.DataFrame) -> str:
    page = view.to_html(index=False, float_format=lambda v: f"{v:.3f}", na_rep=MISSING, border=0)
    # figures right-aligned, names left (all right-aligned, a label column read ragged)
    page = _NUMBER_CELL.sub(r"<td class='num'>\1</td>", page)
    # a name of underscored words may break after an underscore (<wbr>: copied, it adds nothing)
    page = _TEXT.sub(lambda found: ">" + found[1].replace("_", "_<wbr>") + "<", page)
    # an interval on one line: a narrow column broke "0.558–" over "0.680)"; a span, not an
    # invisible joiner, so that a figure copied onto a slide is the text it reads
    return _INTERVAL.sub(lambda found: f"<span class='nb'>{found[0]}</span>", page)


def published_view(zeroshot: pd.DataFrame, site: str) -> pd.DataFrame:
    """The site's zero-shot AUCs (first model) with their 95% CI and counts, then the AUC
    published for CMR-CLIP at the site of that name, last and headed as not ours; empty when
    nothing was published for it. report.html and report.md show the same view."""
    view = compact(beside_published(zeroshot, site))
    if view.empty:
        return view
    first = [c for c in ("model", "Label", "AUC", "AUC 95% CI") if c in view]
    rest = [c for c in view.columns if c not in (*first, PUBLISHED_COLUMN)]
    return view[[*first, *rest, PUBLISHED_COLUMN]]


def _published(zeroshot: pd.DataFrame, site: str) -> str:
    view = published_view(zeroshot, site)
    if view.empty:
        return ""
    note = html.escape(PUBLISHED_NOTE)
    return f"<h3>{html.escape(PUBLISHED_TITLE)}</h3><p>{note}</p>{_table(view)}"


def render_html(
    title: str,
    tables: dict[str, dict[str, pd.DataFrame]],
    plots: dict[str, list[Path]],
    sites: list[dict[str, Any]],
    models: list[dict[str, str]],
    problems: list[str],
    key_figures: pd.DataFrame | None = None,
    methods: list[str] | None = None,
    sentence: str = "",
) -> str:
    """One self-contained HTML page: the headline sentence (``headline_sentence``), models,
    the headline (``headline.headline``), problems, the methods (``methods.methods_lines``),
    then per site every table and figure."""
    parts = [
        f"<!doctype html><html><head><meta charset='utf-8'><title>{html.escape(title)}</title>"
    ]
    parts.append(f"<style>{_STYLE}</style></head><body><h1>{html.escape(title)}</h1>")
    if sentence:  # the line to quote, first: what a reader (or a slide) takes away
        parts.append(f"<p class='lead'>{html.escape(sentence)}</p>")
    parts.append(_table(pd.DataFrame(models)))
    if key_figures is not None and not key_figures.empty:
        parts.append(f"<h2>Headline</h2><p>{html.escape(HEADLINE_NOTE)}</p>{_table(key_figures)}")
    if problems:  # after the results they qualify, each label by the name its tables give it
        parts.append("<h2>Problems</h2><ul>")
        parts += [f"<li class='problem'>{html.escape(with_label_names(p))}</li>" for p in problems]
        parts.append("</ul>")
    if methods:
        parts.append("<h2>Methods</h2><ul>")
        parts += [f"<li>{html.escape(line)}</li>" for line in methods]
        parts.append("</ul>")
    figures = 0  # numbered through the report, as a reader cites them
    for site in sites:
        name = site["name"]
        parts.append(f"<h2>Site: {html.escape(name)}</h2>")
        parts.append(f"<p>{html.escape(site_line(site))}.</p>")
        for table_name, table in tables.get(name, {}).items():
            if table_name == "subgroups":  # one compact table per variable; the CSV has all
                title = html.escape(table_title(table_name))
                parts.append(f"<h3>{title}</h3><p>{html.escape(SUBGROUP_NOTE)}</p>")
                parts += [
                    f"<h4>{html.escape(variable_title(v))}</h4>"
                    + _table(in_report_order(compact(variable_view(table, v))))
                    for v in variable_names(table)
                ]
                continue
            note = f"<p>{html.escape(_NOTES[table_name])}</p>" if table_name in _NOTES else ""
            title = html.escape(table_title(table_name))
            parts.append(f"<h3>{title}</h3>{note}{_table(table)}")
            if table_name == "zeroshot":
                parts.append(_published(table, name))
        for path in (path for path in plots.get(name, []) if path.exists()):
            figures += 1
            parts.append(_image(path, figures, site))
    parts.append("</body></html>")
    return "\n".join(parts)


def write_html(path: Path, page: str) -> None:
    atomic_write_text(path, page)
