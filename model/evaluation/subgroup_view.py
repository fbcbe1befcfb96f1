"""The subgroup table (``subgroups.csv``) as the reports and the Evaluate page show it.

One compact table per variable (sex, age band, manufacturer, field strength): per value its
studies and patients, the mean zero-shot AUC over findings with its 95% interval, how many
findings were estimable, and a note. Pandas only (no scipy): the dashboard reads it too, from
the CSV; ``subgroups`` computes the table.
"""

from __future__ import annotations

import pandas as pd

SUBGROUP_VARIABLES: tuple[str, ...] = ("sex", "age_band", "manufacturer", "field_strength")
VARIABLE_NAMES = {
    "sex": "Sex",
    "age_band": "Age band",
    "manufacturer": "Manufacturer",
    "field_strength": "Field strength",
}
MIN_CLASS = 5  # fewer positives or negatives than this in a subgroup: not estimable
UNKNOWN = "unknown"  # a blank or unreadable value (anonymised export, imported NIfTI)
MEAN_LABEL = "mean"  # the label_key of a value's mean over findings
SINGLE_VALUE = "the only value at this site: nothing to compare"
AUC_NOTE = (
    "Zero-shot finding AUC per subgroup of the site's evaluated studies, by the value "
    "studies.parquet records (blank or unreadable values grouped as 'unknown'), with its 95% "
    "patient-bootstrap interval; per value the mean over findings, over the same findings for "
    "every value of a variable (those estimable in each; the note names them where not all). "
    "Not estimable: under "
    f"{MIN_CLASS} positive or {MIN_CLASS} negative studies of the finding in the subgroup; "
    "its AUC is not given, its counts are (subgroups.csv has every finding's row)."
)
DIFFERENCE_NOTE = (
    "Difference: a value's mean minus that of the value it is compared with (the known value "
    "with most studies), with the 95% interval of the resampled differences; an interval that "
    "holds 0 shows no evidence that the model works differently in the two subgroups."
)
SUBGROUP_NOTE = f"{AUC_NOTE} {DIFFERENCE_NOTE}"  # the reports', written with the differences
VIEW_COLUMNS = ["model", "value", "studies", "patients", "AUC", "auc_lo", "auc_hi"]
# a value's difference from the value it is compared with (tables written before had none)
DIFFERENCE_COLUMNS = ["compared_with", "difference", "difference_lo", "difference_hi"]
# a compact view's columns as the reports show them: each interval beside its figure
REPORT_ORDER = [
    "model", "value", "studies", "patients", "AUC", "AUC 95% CI", "compared with", "difference",
    "difference 95% CI",
]  # fmt: skip
REQUIRED = {*VIEW_COLUMNS, "variable", "label_key", "Label", "positives", "negatives", "note"}


def subgroup_note(table: pd.DataFrame) -> str:
    """What the Subgroups tab says of ``table``: ``SUBGROUP_NOTE``, less its sentence on the
    differences for a table written before they were (it has no such column to explain)."""
    return SUBGROUP_NOTE if "difference" in table.columns else AUC_NOTE


def variable_names(table: pd.DataFrame) -> list[str]:
    """The variables ``table`` (a ``subgroups.csv``) has rows of, in ``SUBGROUP_VARIABLES``
    order; none for a table without the columns the views read."""
    if not set(table.columns) >= REQUIRED:  # a damaged file: shown as it is, not by variable
        return []
    present = set(table["variable"].astype(str))
    return [v for v in SUBGROUP_VARIABLES if v in present] + sorted(
        present - set(SUBGROUP_VARIABLES)
    )


def variable_title(variable: str) -> str:
    """How a variable is headed (``age_band`` -> ``Age band``)."""
    return VARIABLE_NAMES.get(variable, variable.replace("_", " ").capitalize())


def variable_view(table: pd.DataFrame, variable: str) -> pd.DataFrame:
    """One variable's compact table: per model and value, its counts, the mean AUC over findings
    with ``auc_lo``/``auc_hi``, ``findings estimable`` ("5 of 7") and the mean's ``note``;
    the model column only where the table holds several models."""
    rows = table[table["variable"].astype(str) == variable]
    findings = rows[rows["label_key"] != MEAN_LABEL]
    keys = ["model", "value"]
    estimable = findings.groupby(keys, sort=False)["AUC"].agg(["count", "size"])
    words = estimable["count"].astype(str) + " of " + estimable["size"].astype(str)
    means = rows[rows["label_key"] == MEAN_LABEL]
    view = means[VIEW_COLUMNS + [c for c in DIFFERENCE_COLUMNS if c in means.columns]].copy()
    view["value"] = view["value"].astype(str)
    view["findings estimable"] = [
        words.get((model, value), "0 of 0")
        for model, value in zip(means["model"], means["value"], strict=True)
    ]
    view["note"] = means["note"].fillna("").astype(str)
    if "compared_with" in view.columns:
        compared = view.pop("compared_with").fillna("").astype(str)
        view.insert(view.columns.get_loc("difference"), "compared with", compared)
    if view["model"].nunique() <= 1:
        view = view.drop(columns="model")
    return view.reset_index(drop=True)


def in_report_order(view: pd.DataFrame) -> pd.DataFrame:
    """A compacted ``variable_view`` (``report.compact``: its interval folded into text) with the
    interval beside the AUC, where ``compact`` put it last."""
    first = [c for c in REPORT_ORDER if c in view.columns]
    return view[first + [c for c in view.columns if c not in first]]


def finding_view(table: pd.DataFrame, variable: str) -> pd.DataFrame:
    """One variable's rows per finding (the means left out), the columns a reader compares."""
    rows = table[(table["variable"].astype(str) == variable) & (table["label_key"] != MEAN_LABEL)]
    columns = ["model", "value", "Label", "studies", "positives", "negatives", "AUC"]
    view = rows[[*columns, "auc_lo", "auc_hi", "note"]].copy()
    counts = ["studies", "positives", "negatives"]  # read back as floats: the means' are blank
    view[counts] = view[counts].astype("Int64")
    view["note"] = view["note"].fillna("").astype(str)
    if view["model"].nunique() <= 1:
        view = view.drop(columns="model")
    return view.reset_index(drop=True)
