"""The Zero-shot page's overview of a prompt set against the labels: every finding's AUC with its
95% CI in one table, and the findings that have no labels column to be compared with.

The page showed one finding's ROC at a time, and a finding whose name matched no labels column
(a typo such as ``lv_dysfuntion``, or a tried finding left named ``custom``) was dropped from
its finding picker without a word, so a clinician's own prompt never got an AUC and nothing
said why.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence

import numpy as np
import pandas as pd

from dashboard.scoring import CI, FindingEvaluation, Scores, diagnosis_name
from model.evaluation.tables import display_name
from model.labels import diagnosis_targets, did_you_mean, unlabelled

SUMMARY_COLUMNS = ("Finding", "AUC", *CI, "Studies", "Positive")


def auc_summary(results: Mapping[str, FindingEvaluation | None]) -> pd.DataFrame:
    """One row per labelled finding, in the prompt set's order: its AUC with the 95% CI, the
    studies with a known label and how many are positive. A finding with one class only
    (``None``) keeps its row with a blank AUC, so that no finding silently goes missing."""
    rows = []
    for key, result in results.items():
        if result is None:
            rows.append({"Finding": display_name(key)})
            continue
        low, high = result.auc_ci
        rows.append(
            {
                "Finding": display_name(key),
                "AUC": result.auc,
                CI[0]: low,
                CI[1]: high,
                "Studies": result.n,
                "Positive": int(result.truth.sum()),
            }
        )
    table = pd.DataFrame(rows, columns=list(SUMMARY_COLUMNS))
    for column in ("Studies", "Positive"):
        table[column] = table[column].astype("Int64")
    return table


def unlabelled_findings(findings: Iterable[str], columns: Iterable[str]) -> list[str]:
    """Each finding with no labels column of its exact name, as shown text, with the closest
    unused column when its name looks like a typo of one (``model.labels.unlabelled``)."""
    return [f"`{name}`" + did_you_mean(close, "`") for name, close in unlabelled(findings, columns)]


def label_truth(labels: pd.DataFrame, key: str, classes: Sequence[str] = ()) -> pd.Series:
    """The labels column ``key`` (1 / 0 / NaN, indexed as ``labels``) as the page counts it. For a
    diagnosis class (``key`` in the prompt set's ``classes``) a row with exactly one class marked
    1 is read as the confusion matrix reads it (``diagnosis_targets``): 1 for that class and 0
    for every other, blanks included, since the classes are exclusive. Without this a study
    labelled NICM with a blank HCM cell was "not labelled" on the HCM cards although the
    confusion matrix counts it as not HCM. Other rows keep the column as written."""
    column = labels[key].astype(float)
    if key not in classes:
        return column
    classes = list(classes)
    usable, targets = diagnosis_targets(labels, classes)
    onehot = np.where(targets == classes.index(key), 1.0, 0.0)
    return column.where(~usable, pd.Series(onehot, index=labels.index))


def choice_classes(scores: Scores, choice: str) -> list[str]:
    """The prompt set's diagnosis classes when ``choice`` (a ``prompt_choices`` name) is one of
    them, for ``label_truth``; none for a finding, whose column is read as written."""
    classes = [str(c) for c in scores.diagnoses.columns]
    return classes if choice in {diagnosis_name(c) for c in classes} else []


def label_word(
    labels: pd.DataFrame | None, key: str, study_id: str, classes: Sequence[str] = ()
) -> str | None:
    """What the labels file says of one study for a finding or diagnosis ``key``, for its
    top-scoring card: ``labelled present`` / ``labelled absent`` / ``not labelled``; None when
    there are no labels or no column of that name. A clinician checking the top studies read
    the reports to learn what the page already knew. A diagnosis class of ``classes`` is read
    one-hot (``label_truth``)."""
    if labels is None or key not in labels.columns:
        return None
    value = label_truth(labels.reindex([study_id]), key, classes).iloc[0]
    if pd.isna(value):
        return "not labelled"
    return "labelled present" if float(value) == 1 else "labelled absent"


TOP = "Highest scores"
FALSE_POSITIVES = "Highest scores labelled absent"
MISSED = "Lowest scores labelled present"
# what a view's studies are, for saying that there are none: "No study is labelled absent for LGE"
VIEW_STUDIES = {TOP: "scored", FALSE_POSITIVES: "labelled absent", MISSED: "labelled present"}


def case_views(labels: pd.DataFrame | None, key: str) -> list[str]:
    """Which studies the top-scoring cards can show for the finding or class ``key``: the
    highest scores, and with a labels column of its name the model's likeliest mistakes, the
    cases a clinician checks to learn what a prompt gets wrong."""
    if labels is None or key not in labels.columns:
        return [TOP]
    return [TOP, FALSE_POSITIVES, MISSED]


def shown_cases(
    probs: pd.Series,
    labels: pd.DataFrame | None,
    key: str,
    view: str,
    count: int = 6,
    classes: Sequence[str] = (),
) -> pd.Series:
    """The ``count`` studies the ``view`` shows (``case_views``), their probabilities in the
    order shown: highest first, or for the missed positives lowest first. A diagnosis class of
    ``classes`` is read one-hot (``label_truth``), as the confusion matrix reads it."""
    if view == TOP or view not in case_views(labels, key):
        return probs.sort_values(ascending=False).head(count)
    truth = label_truth(labels.reindex(probs.index), key, classes)
    if view == FALSE_POSITIVES:
        return probs[truth == 0].sort_values(ascending=False).head(count)
    return probs[truth == 1].sort_values(ascending=True).head(count)
