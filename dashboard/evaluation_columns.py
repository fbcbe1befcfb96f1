"""The order the Evaluate page shows an evaluation table's columns in (the CSV keeps its own).

The tables are written in the paper's order (model, Label, Accuracy, F1-score, AUC, ...) with
every 95% interval at the far end, so on a laptop the per-finding table showed the model's name
on every row and the AUC's interval only after scrolling right past a dozen columns.
"""

from __future__ import annotations

from collections.abc import Iterable

import pandas as pd

from model.evaluation.tables import comparison_labels, count_labels, slug

LEAD = ("value", "Label", "direction", "setting", "method", "k", "AUC")  # what a row is, its AUC
BOUNDS = ("_lo", "_hi")


def _interval_base(column: str) -> str:
    """The name a figure's interval columns are written under: ``AUC`` -> ``auc``,
    ``F1-score`` -> ``f1``, ``macro-F1`` -> ``macro_f1``, ``R@10`` -> ``r@10``."""
    return column.lower().replace("-score", "").replace("-", "_")


def shown_columns(table: pd.DataFrame) -> list[str]:
    """The table's columns for display: what a row is (Label, setting, method, k) and its AUC
    first, each figure followed by its 95% interval (``<figure>_lo``, ``<figure>_hi``), then the
    rest as written; text columns other than Label with one value on every row (model, site,
    task) last, as they tell the rows nothing apart."""
    columns = [str(c) for c in table.columns]
    bounds = {c.lower(): c for c in columns if c.endswith(BOUNDS)}
    same = {
        c
        for c in columns
        if len(table) > 1
        and c != "Label"  # a table of one label still reads by it
        and not pd.api.types.is_numeric_dtype(table[c])
        and table[c].nunique(dropna=False) <= 1
    }
    figures = [c for c in columns if c not in bounds.values()]
    lead = [c for c in LEAD if c in figures and c not in same]
    rest = [c for c in figures if c not in lead]
    ordered = lead + [c for c in rest if c not in same] + [c for c in rest if c in same]
    shown: list[str] = []
    for column in ordered:
        shown.append(column)
        shown.extend(_own_bounds(column, bounds))
    return shown + [c for c in columns if c not in shown]


def _own_bounds(column: str, bounds: dict[str, str]) -> Iterable[str]:
    """The interval columns written for ``column`` (``bounds``: lower-cased name -> column)."""
    base = _interval_base(column)
    return [bounds[base + end] for end in BOUNDS if base + end in bounds]


def in_site_order(names: Iterable[str], sites: Iterable[str]) -> list[str]:
    """Output file names (``internal/zeroshot.csv``) with the sites' files in the order the
    evaluation lists its sites (internal first), each site's in their given order; names of no
    listed site after them. Sorted by name, a site called external came before the internal.
    A site's folder is its name as a file name (``slug``: ``Hospital B`` -> ``Hospital_B``), so
    that is what a name is matched by."""
    order: dict[str, int] = {}
    for at, site in enumerate(sites):
        order.setdefault(slug(site), at)
    names = list(names)
    return sorted(names, key=lambda name: order.get(name.split("/")[0], len(order)))


# a site's figures in reading order: the headline's ROC first, then the comparison with other
# models, the few-shot curves, the confusion matrices (sorted by name, ROC came last)
FIGURE_ORDER = ("roc_", "comparison_", "fewshot_", "confusion_")


# A figure wider than this is shrunk on a tablet's page (768-1024 px wide) until its 7-8 pt text
# is unreadable: the few-shot panels, four abreast, are 1,322 px wide and were drawn at half size.
WIDE_FIGURE_PX = 900
# figure kind -> the tab that draws its data as an interactive chart, readable at any width
INTERACTIVE_TAB = {"fewshot_": "Few-shot"}


def figure_note(name: str, width_px: int, tabs: Iterable[str]) -> str | None:
    """A line above the figure ``name`` (``internal/plots/fewshot_m.png``) when it is too wide
    to read on a tablet (``WIDE_FIGURE_PX``) and one of the page's ``tabs`` draws its data as an
    interactive chart, pointing there; None otherwise (the figure reads as it is)."""
    stem = name.rsplit("/", 1)[-1]
    tab = next((tab for kind, tab in INTERACTIVE_TAB.items() if stem.startswith(kind)), None)
    if width_px <= WIDE_FIGURE_PX or tab is None or tab not in set(tabs):
        return None
    return (
        f"On a narrow screen this figure's text is small: the **{tab}** tab draws the same "
        "curves as an interactive chart, one label at a time."
    )


def figures_in_order(names: Iterable[str], sites: Iterable[str]) -> list[str]:
    """Figure paths (``internal/plots/roc_m.png``) by site (``in_site_order``), then by kind in
    ``FIGURE_ORDER`` (other kinds last), each kind's in their given order."""

    def kind(name: str) -> int:
        stem = name.rsplit("/", 1)[-1]
        return next(
            (at for at, p in enumerate(FIGURE_ORDER) if stem.startswith(p)), len(FIGURE_ORDER)
        )

    return in_site_order(sorted(names, key=kind), sites)


def downloads_in_order(names: Iterable[str], sites: Iterable[str]) -> list[str]:
    """Report files (top level: report.html, report.md) first, then each site's, in site order:
    the report is what a talk takes; sorted with the sites', it came last."""
    names = list(names)
    top = [n for n in names if "/" not in n]
    return top + in_site_order([n for n in names if "/" in n], sites)


def site_names(summary: dict) -> list[str]:
    """The site names of an evaluation's ``summary.json`` in its order (internal first)."""
    sites = summary.get("sites")
    listed = sites if isinstance(sites, list) else []
    return [str(s["name"]) for s in listed if isinstance(s, dict) and "name" in s]


CONFUSION_ROWS = "labelled ↓ · predicted →"


def column_labels(table: pd.DataFrame) -> dict[str, str]:
    """Headers the page gives columns whose written names do not say what they hold: a
    confusion matrix's first column ``true`` (its rows are the labelled diagnosis, its other
    columns the predicted one, which the header ``true`` alone did not say); a comparison's
    AUCs by the table's ``model`` and ``baseline`` columns; intervals by their figure; a per-label
    table's counts as report.md heads them (``n_positive`` read as code on a slide)."""
    columns = [str(c) for c in table.columns]
    if columns[:1] == ["true"]:
        return {"true": CONFUSION_ROWS}
    named = comparison_labels(columns)
    return count_labels(columns) | named | interval_labels(columns, named)


def interval_labels(columns: list[str], named: dict[str, str] | None = None) -> dict[str, str]:
    """A figure's interval columns headed by the figure (by its header in ``named`` when it
    has one), as the page shows them beside it: ``auc_lo`` -> ``AUC CI low``, ``f1_hi`` ->
    ``F1-score CI high`` (the CSV's names read as code on a screenshot of the table)."""
    bounds = {c.lower(): c for c in columns if c.endswith(BOUNDS)}
    labels = {}
    for figure in (c for c in columns if c not in bounds.values()):
        header = (named or {}).get(figure, figure)
        for column in _own_bounds(figure, bounds):
            labels[column] = f"{header} CI {'low' if column.lower().endswith('_lo') else 'high'}"
    return labels
