"""Which labels a site can evaluate, and which rest on too few studies to be relied on.

A label column with no known value or one class only is skipped; one with fewer than
``FEW_STUDIES`` studies of a class is evaluated and flagged. Both are said in the site's
``problems`` (``suite.SiteResult.problems``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from model.evaluation.inputs import SiteData
from model.wording import counted

# Under this many studies of a class a finding's metrics are still computed but flagged: one
# study then moves its AUC by 0.1 or more, and a percentile bootstrap over a handful of
# positives can collapse to a zero-width interval (e.g. AUC 1.00, 95% CI 1.00-1.00).
FEW_STUDIES = 10
# A bootstrap resample that draws no study of a class has no AUC and is left out of the CI; when
# more than this share of them is, the CI rests on fewer resamples than asked and that is said.
SKIPPED_RESAMPLES = 0.05


def usable_findings(site: SiteData, problems: list[str]) -> dict[str, np.ndarray]:
    """Finding name -> bool mask of known rows, for findings with both classes among them; one
    with fewer than ``FEW_STUDIES`` studies of a class is kept and flagged in ``problems``."""
    usable = {}
    for name in site.finding_columns():
        values = site.labels[name]
        known = values.notna().to_numpy()
        if not known.any():
            problems.append(
                f"site {site.name}: label column '{name}' has no known value among the "
                f"{counted(len(known), 'study')} evaluated; it is skipped"
            )
            continue
        classes = values[known].unique()
        if classes.size < 2:
            problems.append(
                f"site {site.name}: label column '{name}' has one class only "
                f"({counted(int(known.sum()), 'known value')}, all {int(classes[0])}); it is "
                "skipped"
            )
            continue
        usable[name] = known
        positives = int((values[known] == 1).sum())
        negatives = int(known.sum()) - positives
        if min(positives, negatives) < FEW_STUDIES:
            problems.append(
                f"site {site.name}: '{name}' has {counted(positives, 'positive study')} and "
                f"{counted(negatives, 'negative study')} with a known value: too few (under "
                f"{FEW_STUDIES} of a class) for its "
                "AUC and confidence interval to be relied on"
            )
    return usable


def flag_few_study_diagnoses(site: SiteData, problems: list[str]) -> None:
    """List in ``problems`` each labelled diagnosis class with fewer than ``FEW_STUDIES``
    studies: its one-vs-rest rows are computed, but rest on too few studies to rely on."""
    usable, targets = site.diagnosis_targets(site.diagnosis_columns())
    for index, count in zip(*np.unique(targets[usable], return_counts=True), strict=True):
        if count < FEW_STUDIES:
            problems.append(
                f"site {site.name}: diagnosis '{site.diagnosis_columns()[index]}' has "
                f"{counted(int(count), 'study')}: too few (under {FEW_STUDIES}) for its "
                "one-vs-rest AUC and confidence interval to be relied on"
            )


def flag_thin_bootstraps(
    site: SiteData, tables: list[pd.DataFrame], resamples: int, problems: list[str]
) -> None:
    """List in ``problems`` each label whose AUC CI rests on fewer than
    (1 - ``SKIPPED_RESAMPLES``) of the ``resamples`` asked (rows' ``auc_resamples``): with two
    positives among 40 studies about one resample in eight draws neither."""
    with_counts = [t for t in tables if "auc_resamples" in t.columns]
    if resamples <= 0 or not with_counts:
        return
    rows = pd.concat(with_counts, ignore_index=True)
    thin = rows[rows["auc_resamples"] < (1 - SKIPPED_RESAMPLES) * resamples]
    for (name, used), part in thin.groupby(["label_key", "auc_resamples"], sort=False):
        settings = ", ".join(dict.fromkeys(part["setting"]))
        problems.append(
            f"site {site.name}: the AUC confidence interval of '{name}' ({settings}) rests on "
            f"{int(used)} of {resamples} bootstrap resamples: the others drew no study of a "
            "class and are left out"
        )
