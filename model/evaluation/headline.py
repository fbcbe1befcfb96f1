"""The evaluation's headline: the figures a reader looks for first, per model and site.

Built from the summary document's ``results`` records (``report.build_summary``), so the HTML
report and the dashboard, which reads ``summary.json``, show the same table:

    figure                               | internal | external
    zero-shot findings, mean AUC         |   0.930  |   0.921
    few-shot prototype, mean AUC (k = 1) |   0.767  |   0.749
    ...

Finding means leave out the diagnosis classes' one-vs-rest rows, which the zero-shot and probe
tables also hold. A mean is over the labels every column of its row has (few-shot skips a label
whose class sizes leave no query at that k, a site may lack a label), so the columns compare on
the same labels; a row's label count can differ from the zero-shot one. Every figure and
interval is read from what the suite already computed; nothing here touches labels or
embeddings. A mean's interval (``label_means``) is one the summary recorded for exactly the
labels the mean averages, shown only beside that mean.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd

from model.evaluation.inputs import is_finding

# The probe settings' names in the suite's rows (``site_probes`` writes them): defined here, where
# the headline reads them, so that the dashboard's import of the headline stays light.
CV_SETTING = "linear probe"  # patient-grouped cross-validation
SPLIT_SETTING = "train-split probe"  # fitted on the train split, read on the others

Record = dict[str, Any]
HEADLINE_NOTE = (
    "Means over the labels every column has (few-shot: with enough studies of each class for "
    "that k), so the columns compare on the same labels. Each figure shows its 95% CI in "
    "brackets where the run recorded one: a mean over labels resamples each site's patients "
    "once for all its labels and takes the percentile interval of the resamples' means over "
    "the same labels (an evaluation written before these intervals shows none). Each label's "
    "figure with its CI is in the tables below."
)


def mean_of(rows: list[Record], key: str, **match: object) -> float:
    """Mean of ``key`` over the rows whose fields equal ``match`` (None values skipped), or NaN."""
    values = [r[key] for r in rows if all(r.get(k) == v for k, v in match.items())]
    finite = [float(v) for v in values if v is not None and np.isfinite(float(v))]
    return float(np.mean(finite)) if finite else float("nan")


def finding_rows(result: Record, table: str) -> list[Record]:
    """The finding rows of ``result[table]`` (by the row's ``task``; ``inputs.is_finding`` for a
    row without one): the zero-shot and probe tables also hold one-vs-rest rows of the diagnosis
    classes."""
    return [row for row in result.get(table, []) if _is_finding_row(row)]


def _is_finding_row(row: Record) -> bool:
    task = row.get("task")
    return task == "finding" if task is not None else is_finding(str(row.get("label_key")))


PerLabel = dict[str, float]


def by_label(rows: list[Record], key: str, label: str = "label_key", **match: object) -> PerLabel:
    """label -> ``key`` of the rows whose fields equal ``match``, finite values only."""
    values = {
        str(r.get(label)): r[key]
        for r in rows
        if all(r.get(k) == v for k, v in match.items()) and r.get(key) is not None
    }
    return {name: float(v) for name, v in values.items() if np.isfinite(float(v))}


def _number(value: Any) -> float:
    return float("nan") if value is None else float(value)


@dataclass(frozen=True)
class Recorded:
    """A single figure the suite recorded with its 95% CI beside it (``<key>_lo``/``<key>_hi``):
    ``read(result, name)`` reads the value stored under ``name``."""

    read: Callable[[Record, str], float]
    key: str

    def __call__(self, result: Record) -> float:
        return self.read(result, self.key)

    def bounds(self, result: Record) -> tuple[float, float]:
        return (self.read(result, f"{self.key}_lo"), self.read(result, f"{self.key}_hi"))


def _diagnosis(setting: str) -> Recorded:
    return Recorded(
        lambda result, key: _number(result.get("diagnosis", {}).get(setting, {}).get(key)),
        "accuracy",
    )


def _report_to_study(key: str) -> Recorded:
    def read(result: Record, name: str) -> float:
        rows = [r for r in result.get("retrieval", []) if r.get("direction") == "report_to_study"]
        return _number(rows[0].get(name) if rows else None)

    return Recorded(read, key)


def fewshot_source(method: str, k: int) -> str:
    """The source key of a few-shot point's resampled means (``label_means``)."""
    return f"few-shot {method}, k = {k}"


@dataclass(frozen=True)
class LabelMean:
    """A figure that is a mean over labels: ``read`` gives a result's value per label, and
    ``source`` keys those labels' AUCs per patient resample (``suite.SiteResult.resampled``),
    from which ``label_means`` computes the mean's interval."""

    source: str
    read: Callable[[Record], PerLabel]

    def __call__(self, result: Record) -> PerLabel:
        return self.read(result)


def _fewshot(method: str, k: int) -> LabelMean:
    return LabelMean(
        fewshot_source(method, k),
        lambda result: by_label(result.get("fewshot", []), "auc", "label", method=method, k=k),
    )


# The figures the headline sentence quotes (``headline_sentence``), named once.
ZERO_SHOT_FINDINGS = "zero-shot findings, mean AUC"
PROBE_FINDINGS = "linear probe findings, mean AUC (cross-validated)"
# A figure is one value per result, or per label (a LabelMean): those are averaged over the labels
# every column has.
FIGURES: dict[str, Callable[[Record], float | PerLabel]] = {
    ZERO_SHOT_FINDINGS: LabelMean(
        "zero-shot", lambda r: by_label(finding_rows(r, "zeroshot"), "auc")
    ),
    "zero-shot diagnosis, accuracy": _diagnosis("zero-shot"),
    "few-shot prototype, mean AUC (k = 1)": _fewshot("prototype", 1),
    "few-shot prototype, mean AUC (k = 8)": _fewshot("prototype", 8),
    "few-shot logistic, mean AUC (k = 8)": _fewshot("logistic", 8),
    "few-shot prompted, mean AUC (k = 8)": _fewshot("prompted", 8),
    PROBE_FINDINGS: LabelMean(
        CV_SETTING, lambda r: by_label(finding_rows(r, "probe"), "auc", setting=CV_SETTING)
    ),
    "linear probe diagnosis, accuracy (cross-validated)": _diagnosis(CV_SETTING),
    "linear probe diagnosis, accuracy (fitted on the train split)": _diagnosis(SPLIT_SETTING),
    "report → study, R@10": _report_to_study("R@10"),
    "report → study, label-consistent precision@10": _report_to_study("label_precision@10"),
    "report → study, label-consistent precision@10 ceiling": _report_to_study(
        "label_precision@10_ceiling"
    ),
}


def mean_sources() -> dict[str, str]:
    """figure -> source of each mean over labels in ``FIGURES`` (``LabelMean.source``), in order:
    the means whose intervals ``label_means`` computes."""
    return {figure: read.source for figure, read in FIGURES.items() if isinstance(read, LabelMean)}


def headline(results: list[Record]) -> pd.DataFrame:
    """``figure`` plus one column per site (``model · site`` when several models), in the
    order the results come; a mean is over the labels every column has (``common_mean``); rows
    no result has a value for are dropped. Empty when no results."""
    if not results:
        return pd.DataFrame()
    several = len({r.get("model") for r in results}) > 1
    names = [
        f"{r.get('model')} · {r.get('site')}" if several else str(r.get("site")) for r in results
    ]
    rows = [common_mean([read(r) for r in results]) for read in FIGURES.values()]
    table = pd.DataFrame(rows, columns=names)
    table.insert(0, "figure", list(FIGURES))
    return table[table.drop(columns="figure").notna().any(axis=1)].reset_index(drop=True)


def shared_labels(values: list[float | PerLabel]) -> list[str]:
    """The labels a mean row averages: those every column with any per-label values has, sorted
    (``label_means`` computes the mean's interval over exactly these)."""
    sets = [set(v) for v in values if isinstance(v, dict) and v]
    return sorted(set.intersection(*sets)) if sets else []


def common_mean(values: list[float | PerLabel]) -> list[float]:
    """One row's figures: single values as they are; per-label ones averaged over the labels
    every column with any has (NaN for a column with none, or when they share none)."""
    shared = shared_labels(values)

    def figure(value: float | PerLabel) -> float:
        if not isinstance(value, dict):
            return value
        return float(np.mean([value[name] for name in shared])) if shared and value else np.nan

    return [figure(v) for v in values]


def _mean_interval(figure: str, result: Record, labels: list[str]) -> tuple[float, float]:
    """The 95% interval the run recorded for a mean over labels (``label_means``), NaN unless it
    was computed over ``labels``, the labels the mean shown averages."""
    recorded = (result.get("mean_intervals") or {}).get(figure) or {}
    if not labels or recorded.get("labels") != labels:
        return (np.nan, np.nan)
    return (_number(recorded.get("auc_lo")), _number(recorded.get("auc_hi")))


def _bounds(figure: str, results: list[Record]) -> list[tuple[float, float]]:
    """Each result's 95% interval of ``figure``: a single figure's as the suite recorded it
    beside it, a mean's over the labels it averages; NaN where none was recorded."""
    read = FIGURES[figure]
    if isinstance(read, Recorded):
        return [read.bounds(r) for r in results]
    labels = shared_labels([read(r) for r in results])
    return [_mean_interval(figure, r, labels) for r in results]


def figure_text(value: float, low: float, high: float, ci: str = "") -> str | None:
    """One headline figure to 3 decimals with its 95% CI where recorded: ``0.925 (0.910–0.940)``,
    ``ci`` before the interval (``"95% CI "``); None for a blank."""
    if not np.isfinite(value):
        return None
    if not np.isfinite([low, high]).all():
        return f"{value:.3f}"
    return f"{value:.3f} ({ci}{low:.3f}–{high:.3f})"


def headline_text(results: list[Record], ci: str = "") -> pd.DataFrame:
    """``headline`` as text (``figure_text``, ``ci`` before each interval); "–" for a blank."""
    table = headline(results)
    if table.empty:
        return table
    text = table.astype(object)
    for row, figure in enumerate(table["figure"]):
        bounds = _bounds(figure, results)
        for column, (low, high) in zip(table.columns[1:], bounds, strict=True):
            text.at[row, column] = figure_text(table.at[row, column], low, high, ci) or "–"
    return text
