"""95% intervals of the headline's means over labels, from one patient draw per site.

A mean over labels ("zero-shot findings, mean AUC") gets no valid interval from its labels' own
intervals: the labels are scored on the same patients, so their errors are correlated, and each
label's interval drew its own patients. Here the site's patients are resampled once per resample
(``fewshot_intervals.PatientDraws`` over the site's studies with a known finding,
``suite.shared_draws``, a study counting as often as its patient is drawn; a study without
labels weighs in no AUC), and that draw is shared by every label: a label's AUC under a
resample re-weights its known studies (its blank ones carry no weight), the resample's value is
the mean of those AUCs over the labels the headline averages, and the interval is the percentile
interval of the resamples' values. For a few-shot point a label's value under a resample is its
two-level one (``fewshot_intervals``: its own episode draw, the shared patient draw). For a label
without blanks the patient draw is its own interval's when the seeds agree (``--seed`` sets all):
the same patients in the same order, so its zero-shot and probe AUC per resample are taken from
that interval (``LabelScores.resampled_auc``) instead of computed again.

A resample in which an averaged label draws no study of a class has no AUC for that label and so
no mean over the label set: it is left out of the interval, and ``resamples`` counts those kept
(as ``auc_resamples`` per label). Averaging the other labels instead would change the label set
from one resample to the next.

The label set must be the headline's: a mean over the labels every column has
(``headline.shared_labels``), known only once every site is evaluated. So the suite keeps each
label's resampled AUCs in memory (``SiteResult.resampled``: float [R] per (source, label)), and
``mean_intervals`` computes each site's interval for exactly the headline's labels when the
summary is built. ``summary.json`` records the bounds with their label set (a result's
``mean_intervals``); the headline shows them only beside a mean over that same set.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from model.evaluation.fewshot_intervals import PatientDraws
from model.evaluation.headline import FIGURES, mean_sources, shared_labels
from model.evaluation.metrics import LabelScores, percentile_ci
from model.evaluation.weighted_auc import weighted_auc_of_items

Resampled = dict[tuple[str, str], np.ndarray]  # (source, label) -> AUC per resample, float [R]


def resampled_aucs(
    settings: tuple[str, ...],
    findings: dict[str, np.ndarray],
    scores: dict[tuple[str, str], LabelScores],
    draws: PatientDraws,
) -> Resampled:
    """Each finding's AUC of each of ``settings`` under each of the site's patient resamples:
    float [R] per (setting, label), NaN where the resample draws no study of a class.

    findings: label -> known bool [N] over the site's studies; scores: the suite's per-study
    scores (those of the known studies, in site order); draws: the site's draws over its N
    studies. The scores are fixed; a resample only re-weights each label's known studies. A
    label known on all N studies whose own interval has the draws' seed drew the same patients
    in the same order (``bootstrap_counts``): its interval's resampled AUCs are these, taken as
    they are. The others are computed in one pass over the draws for every setting."""
    if draws.resamples <= 0:
        return {}
    found: Resampled = {}
    pending: dict[tuple[str, str], np.ndarray] = {}
    for setting in settings:
        for name, mask in findings.items():
            scored = scores.get((setting, name))
            if scored is None:
                continue
            rows = np.flatnonzero(mask)
            if _drawn_alike(scored, rows, draws):
                found[setting, name] = scored.resampled_auc
            else:
                pending[setting, name] = rows
    parts: dict[tuple[str, str], list[np.ndarray]] = {key: [] for key in pending}
    for weights in draws.blocks() if pending else ():
        for key, rows in pending.items():
            scored = scores[key]
            parts[key].append(weighted_auc_of_items(scored.scores, scored.labels, weights, rows))
    return found | {key: np.concatenate(blocks) for key, blocks in parts.items()}


def _drawn_alike(scored: LabelScores, rows: np.ndarray, draws: PatientDraws) -> bool:
    """Whether ``scored``'s own interval drew what ``draws`` draws on its studies ``rows``: every
    study of the draw, the same seed and resamples (a label's patients are those of its
    studies, so the same studies are the same patients)."""
    own = scored.resampled_auc
    return (
        own is not None
        and scored.seed == draws.seed
        and draws.rows is None
        and rows.size == draws.n
        and own.size == draws.resamples
    )


def mean_intervals(records: list[dict[str, Any]], resampled: list[Resampled]) -> list[dict]:
    """Per result (``records``: the summary's result records; ``resampled``: each one's
    ``SiteResult.resampled``, in the same order), ``{figure: {"labels", "auc_lo", "auc_hi",
    "resamples"}}``: the 95% interval of each headline mean over exactly the labels the headline
    averages, the resamples where one of them has no AUC left out (``resamples`` counts those
    kept). A figure is missing for a result without resampled values of all those labels."""
    intervals: list[dict] = [{} for _ in records]
    for figure, source in mean_sources().items():
        labels = shared_labels([FIGURES[figure](record) for record in records])
        for found, draws in zip(intervals, resampled, strict=True):
            per_label = [draws.get((source, name)) for name in labels]
            if not labels or any(values is None for values in per_label):
                continue
            means = np.mean(np.stack(per_label), axis=0)  # NaN where a label has no AUC
            low, high = percentile_ci(means)
            found[figure] = {
                "labels": labels,
                "auc_lo": low,
                "auc_hi": high,
                "resamples": int(np.isfinite(means).sum()),
            }
    return intervals
