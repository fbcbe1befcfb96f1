"""Zero-shot evaluation of one model at one site: findings and diagnoses, with 95% CIs.

Findings: p = sigmoid(scale * (cos(study, mean positive prompt) - cos(study, mean negative
prompt))), evaluated on each finding's known studies at p >= 0.5 (no tuned threshold);
diagnoses: the arg-max of the softmax over the class prompts, with one-vs-rest rows per class.
The per-study scores are kept for paired comparisons between models (``compare``).
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from model.evaluation.encoders import Encoder
from model.evaluation.inputs import SiteData
from model.evaluation.metrics import (
    DiagnosisScores,
    LabelScores,
    binary_metrics,
    diagnosis_scores,
    label_scores,
    roc_curve_points,
)
from model.evaluation.probes import one_vs_rest
from model.evaluation.site_probes import binary_row, diagnosis_block
from model.labels import closest_name, did_you_mean
from model.prompts import PromptSet
from model.zeroshot import (
    finding_logits,
    finding_prototypes,
    logit_probabilities,
    score_diagnoses,
)


def zeroshot_findings(
    site: SiteData,
    logits: dict[str, np.ndarray],
    findings: dict[str, np.ndarray],
    resamples: int,
    seed: int,
    problems: list[str],
    scores: dict[tuple[str, str], LabelScores],
) -> tuple[pd.DataFrame, dict[str, tuple[list[float], list[float]]]]:
    """Zero-shot finding metrics (p >= 0.5, no tuned threshold) and ROC points per finding.

    ``logits``: ``zeroshot_logits`` of the site's studies (one entry per prompted finding);
    each finding's probabilities are added to ``scores``; 95% CIs over ``resamples`` patient
    resamples seeded by ``seed``.
    """
    rows, roc = [], {}
    unclaimed = [n for n in logits if n not in site.labels.columns]  # prompted, no column
    for name, known in findings.items():
        if name not in logits:
            hint = did_you_mean(closest_name(name, unclaimed))
            problems.append(
                f"no prompts for label '{name}' in the prompt set{hint}; zero-shot skipped for it"
            )
            continue
        p = logit_probabilities(logits[name])[known]
        y = site.labels[name].to_numpy()[known]
        result = binary_metrics(p, y, resamples, seed, groups=site.groups[known])
        rows.append(binary_row(name, "zero-shot", result, "finding"))
        scores["zero-shot", name] = label_scores(
            site.ids, known, p, y, (result.resampled_auc, seed)
        )
        fpr, tpr = roc_curve_points(p, y)
        roc[name] = (fpr.round(5).tolist(), tpr.round(5).tolist())
    return pd.DataFrame(rows), roc


def zeroshot_logits(
    vectors: np.ndarray, prompts: PromptSet, encoder: Encoder
) -> dict[str, np.ndarray]:
    """Zero-shot logit float32 [N] of every finding the prompt set covers: the zero-shot scores
    and the prompted few-shot probe's prior (prompts embedded once per site)."""
    if not prompts.findings:
        return {}
    prototypes = finding_prototypes(prompts, encoder.texts)
    logits = finding_logits(vectors, prototypes.positive, prototypes.negative, encoder.scale)
    return {name: logits[:, j] for j, name in enumerate(prototypes.names)}


def zeroshot_diagnosis(
    vectors: np.ndarray,
    site: SiteData,
    prompts: PromptSet,
    encoder: Encoder,
    resamples: int,
    seed: int,
    problems: list[str],
    diagnoses: dict[str, DiagnosisScores],
) -> tuple[dict, list[dict]]:
    """Softmax over class prompts: accuracy, macro-F1, confusion and one-vs-rest rows; the
    per-study probabilities are added to ``diagnoses``."""
    classes = list(prompts.diagnoses)
    labelled = [c for c in site.diagnosis_columns() if site.labels[c].eq(1).any()]
    unclaimed = [c for c in classes if c not in site.labels.columns]  # prompted, no column
    for name in labelled:
        if name not in prompts.diagnoses:
            hint = did_you_mean(closest_name(name, unclaimed))
            problems.append(
                f"no prompts for diagnosis '{name}' in the prompt set{hint}; "
                "its studies are left out of zero-shot diagnosis"
            )
    usable, targets = site.diagnosis_targets(classes)
    if not classes or not usable.any():
        return {}, []
    probabilities = score_diagnoses(
        vectors[usable], prompts, encoder.texts, encoder.scale
    ).to_numpy()
    per_class = one_vs_rest(
        probabilities, targets[usable], classes, resamples, seed, site.groups[usable]
    )
    rows = [binary_row(name, "zero-shot", r, "diagnosis") for name, r in per_class.items()]
    block = diagnosis_block(
        "zero-shot",
        classes,
        targets[usable],
        probabilities.argmax(axis=1),
        site.groups[usable],
        resamples,
        seed,
    )
    diagnoses["zero-shot"] = diagnosis_scores(
        site.ids, usable, classes, probabilities, targets[usable]
    )
    return block, rows
