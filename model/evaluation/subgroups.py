"""Zero-shot finding AUCs per subgroup of a site: sex, age band, manufacturer, field strength.

A reviewer asks whether the model works as well for women as for men, across ages and across
scanners (CLAIM, TRIPOD-AI). Each of the site's evaluated studies falls in one value of each
variable of ``studies.parquet`` (``SUBGROUP_VARIABLES``); a blank or unreadable value (an
anonymised export, an imported NIfTI, field strength 0) is the value ``unknown``, counted like
the others. Per value and finding: its studies with a known label, their positives and
negatives, and the zero-shot AUC with a 95% percentile bootstrap interval over the value's
patients (``metrics.bootstrap_counts`` with the evaluation's resamples and seed, each
resample's AUC by ``metrics.weighted_auc_rows``). As for the headline means (``label_means``),
the value's patients are drawn once per resample, shared by its findings, among its studies
with a known finding, so the mean over findings gets its interval from the same resamples.

A finding with under ``MIN_CLASS`` positives or negatives in a value is "not estimable": its
AUC and interval are blank and ``note`` gives its counts; a handful of studies of a class makes
the AUC jump by 0.1 or more with one study and collapses its interval. The mean over findings
(``MEAN_LABEL``) of every value of a variable is over the same findings, those estimable in
each of its values (``shared_findings``), so that two values' means compare; the note names
them where they are not all the site's findings. A variable with one value at a site (an external site
scanned on one machine) compares nothing, and its rows say so.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from model.evaluation.metrics import (
    LabelScores,
    auc_rows,
    bootstrap_counts,
    percentile_ci,
    weighted_auc_rows,
)
from model.evaluation.subgroup_view import (
    MEAN_LABEL,
    MIN_CLASS,
    SINGLE_VALUE,
    SUBGROUP_VARIABLES,
    UNKNOWN,
)
from model.evaluation.tables import display_name

COLUMNS: list[str] = [
    "variable", "value", "label_key", "Label", "studies", "patients", "positives",
    "negatives", "AUC", "auc_lo", "auc_hi", "auc_resamples", "compared_with", "difference",
    "difference_lo", "difference_hi", "note",
]  # fmt: skip
REFERENCE_NOTE = "the value the others are compared with"
_BLANKS = {"", "nan", "none", "unknown", "0", "0.0"}


def subgroup_values(studies: pd.DataFrame, variable: str) -> np.ndarray:
    """Each study's value of ``variable`` as text, object [N]; blank, missing, ``unknown`` (and
    a field strength of 0, what ingest writes for none) -> ``UNKNOWN``; field strengths as
    ``1.5 T``."""
    if variable not in studies.columns:
        return np.full(len(studies), UNKNOWN, dtype=object)
    column = studies[variable]
    if variable == "field_strength":
        tesla = pd.to_numeric(column, errors="coerce")
        text = tesla.map(lambda v: f"{v:g} T", na_action="ignore").fillna("")
        text = text.where(tesla.fillna(0) > 0, "")
    else:
        text = column.astype("string").fillna("").str.strip()
    blank = text.str.lower().isin(_BLANKS).to_numpy()
    return np.where(blank, UNKNOWN, text.to_numpy(dtype=object))


def _score_matrix(
    ids: list[str], scores: dict[tuple[str, str], LabelScores]
) -> tuple[list[str], np.ndarray, np.ndarray]:
    """(finding names, zero-shot scores float [N, F], labels float [N, F]; NaN where unknown)
    over the site's studies ``ids``, from the suite's per-study zero-shot scores."""
    names = [name for setting, name in scores if setting == "zero-shot"]
    position = pd.Index(ids)
    values = np.full((len(ids), len(names)), np.nan)
    labels = np.full((len(ids), len(names)), np.nan)
    for j, name in enumerate(names):
        scored = scores["zero-shot", name]
        rows = position.get_indexer(scored.ids)
        values[rows, j] = scored.scores
        labels[rows, j] = scored.labels
    return names, values, labels


def _resampled_aucs(
    values: np.ndarray, labels: np.ndarray, groups: np.ndarray, resamples: int, seed: int
) -> np.ndarray:
    """Each finding's AUC under each resample of the value's patients (among its studies with a
    known finding), float [R, F]; NaN where a resample draws no study of a class."""
    drawn = np.flatnonzero(~np.isnan(labels).all(axis=1))
    if resamples <= 0 or drawn.size < 2:
        return np.full((0, labels.shape[1]), np.nan)
    parts = []
    for counts in bootstrap_counts(drawn.size, resamples, seed, groups[drawn]):
        block = np.full((counts.shape[0], labels.shape[1]), np.nan)
        for j in range(labels.shape[1]):
            known = ~np.isnan(labels[drawn, j])
            rows = drawn[known]
            block[:, j] = weighted_auc_rows(values[rows, j], labels[rows, j], counts[:, known])
        parts.append(block)
    return np.concatenate(parts)


def _finding_rows(
    names: list[str], values: np.ndarray, labels: np.ndarray, resampled: np.ndarray
) -> list[dict]:
    """One row per finding of one value (``values``, ``labels``: its studies' [n, F])."""
    rows = []
    for j, name in enumerate(names):
        known = ~np.isnan(labels[:, j])
        positives = int((labels[known, j] == 1).sum())
        negatives = int(known.sum()) - positives
        row = {"label_key": name, "studies": int(known.sum()), "positives": positives}
        row |= {"negatives": negatives, "AUC": np.nan, "auc_lo": np.nan, "auc_hi": np.nan}
        if min(positives, negatives) < MIN_CLASS:
            row["note"] = (
                f"not estimable: {positives} positive, {negatives} negative "
                f"(under {MIN_CLASS} of a class)"
            )
        else:
            row["AUC"] = float(auc_rows(values[known, j], labels[known, j])[0])
            row["auc_lo"], row["auc_hi"] = percentile_ci(resampled[:, j])
            row["auc_resamples"] = int(np.isfinite(resampled[:, j]).sum())
        rows.append(row)
    return rows


def shared_findings(estimable: dict[str, list[bool]]) -> list[int]:
    """The findings (indices) a variable's means average: those estimable in every value of it
    that has one estimable at all, ``unknown`` aside (a blank value is no subgroup to compare
    with; a value with none is itself not estimable). ``estimable``: value -> per finding."""
    compared = [flags for value, flags in estimable.items() if value != UNKNOWN and any(flags)]
    if not compared:
        return []
    return [int(j) for j in np.flatnonzero(np.logical_and.reduce(compared))]


def _mean_row(rows: list[dict], resampled: np.ndarray, chosen: list[int], studies: int) -> dict:
    """The value's mean over the findings ``chosen`` (``shared_findings``), given where each of
    them is estimable here; its interval that of the resamples' means over them (a resample
    missing one finding's AUC left out), as the headline means'."""
    estimable = [bool(np.isfinite(row["AUC"])) for row in rows]
    row = {"label_key": MEAN_LABEL, "studies": studies, "AUC": np.nan}
    if chosen and all(estimable[j] for j in chosen):
        means = resampled[:, chosen].mean(axis=1)
        row["AUC"] = float(np.mean([rows[j]["AUC"] for j in chosen]))
        row["auc_lo"], row["auc_hi"] = percentile_ci(means)
        row["auc_resamples"] = int(np.isfinite(means).sum())
        row["note"] = _averaged(rows, chosen)
    else:
        why = (
            f"not estimable: {sum(estimable)} of {len(rows)} findings estimable (each needs "
            f"{MIN_CLASS} positive and {MIN_CLASS} negative studies)"
        )
        row["note"] = "; ".join(filter(None, [why, _averaged(rows, chosen) if chosen else ""]))
    return row


def _add_differences(
    means: dict[str, dict], resampled: dict[str, np.ndarray], sizes: dict[str, int]
) -> None:
    """Give each value's mean row (``means``) its difference from the reference value's mean:
    the known value with the most studies among those whose mean is estimable (its resampled
    means [R] in ``resampled``), named in ``compared_with``; the interval that of the resampled
    differences, the two values' patients drawn independently. The reference itself and a
    value without an estimable mean get no difference; a variable with one such value none."""
    known = [value for value in resampled if value != UNKNOWN]
    if len(resampled) < 2 or not known:
        return
    reference = max(known, key=lambda value: sizes[value])
    for value, row in means.items():
        if value == reference:
            row["note"] = "; ".join(filter(None, [REFERENCE_NOTE, row.get("note")]))
            continue
        row["compared_with"] = reference
        if value not in resampled:
            continue
        row["difference"] = row["AUC"] - means[reference]["AUC"]
        size = min(len(resampled[value]), len(resampled[reference]))
        drawn = resampled[value][:size] - resampled[reference][:size]
        row["difference_lo"], row["difference_hi"] = percentile_ci(drawn)


def _averaged(rows: list[dict], chosen: list[int]) -> str:
    """Which findings a mean is over, where not all: means of two values compare alike only
    over the same findings."""
    if len(chosen) == len(rows):
        return ""
    left_out = [display_name(row["label_key"]) for j, row in enumerate(rows) if j not in chosen]
    named = ", ".join(display_name(rows[j]["label_key"]) for j in chosen)
    which = f"all but {', '.join(left_out)}" if len(left_out) < len(chosen) else named
    return f"mean over the {len(chosen)} of {len(rows)} findings estimable in every value ({which})"


def _variable_rows(
    variable: str, found: np.ndarray, names: list[str], scored: tuple, config: tuple
) -> list[dict]:
    """Every row of one variable: per value its mean, then its findings. ``found``: each study's
    value [N]; ``scored``: (values, labels [N, F], groups [N]); ``config``: (resamples, seed)."""
    values, labels, groups = scored
    kinds = sorted(set(found) - {UNKNOWN}) + ([UNKNOWN] if UNKNOWN in found else [])
    parts = {}
    for value in kinds:
        members = np.flatnonzero(found == value)
        part = (values[members], labels[members])
        resampled = _resampled_aucs(*part, groups[members], *config)
        parts[value] = (members, _finding_rows(names, *part, resampled), resampled)
    chosen = shared_findings(
        {value: [np.isfinite(r["AUC"]) for r in part[1]] for value, part in parts.items()}
    )
    means = {v: _mean_row(p[1], p[2], chosen, p[0].size) for v, p in parts.items()}
    resampled_means = {
        value: part[2][:, chosen].mean(axis=1)
        for value, part in parts.items()
        if np.isfinite(means[value]["AUC"])
    }
    _add_differences(means, resampled_means, {value: p[0].size for value, p in parts.items()})
    rows = []
    for value, (members, per_finding, _) in parts.items():
        shared = {"variable": variable, "value": value}
        shared["patients"] = int(pd.unique(groups[members]).size)
        for row in (means[value], *per_finding):
            if len(kinds) == 1:
                row["note"] = "; ".join(filter(None, [SINGLE_VALUE, row.get("note")]))
            rows.append(shared | row)
    return rows


def subgroup_table(
    studies: pd.DataFrame,
    groups: np.ndarray,
    scores: dict[tuple[str, str], LabelScores],
    resamples: int,
    seed: int,
) -> pd.DataFrame:
    """``COLUMNS`` rows of one model at one site: per variable and value, its mean over findings
    then each zero-shot finding. ``studies``: the site's evaluated studies (index = study id, in
    site order), ``groups``: their patient keys [N]; ``scores``: the suite's per-study scores,
    of which the zero-shot ones are used. Empty without zero-shot findings."""
    names, values, labels = _score_matrix(list(studies.index), scores)
    if not names:
        return pd.DataFrame(columns=COLUMNS)
    rows = [
        row
        for variable in SUBGROUP_VARIABLES
        for row in _variable_rows(
            variable,
            subgroup_values(studies, variable),
            names,
            (values, labels, groups),
            (resamples, seed),
        )
    ]
    table = pd.DataFrame(rows).reindex(columns=COLUMNS)
    table["Label"] = table["label_key"].map(
        lambda key: "Mean over findings" if key == MEAN_LABEL else display_name(key)
    )
    table["note"] = table["note"].fillna("")
    counts = ["studies", "patients", "positives", "negatives", "auc_resamples"]
    table[counts] = table[counts].astype("Int64")  # whole; a mean's class counts blank
    return table
