"""One model on one site: zero-shot, few-shot, linear probes and retrieval.

Everything works on the site's study embeddings float [N, D] (unit-norm) and its label table;
each label is evaluated on the studies where it is known (blank values are left out and counted).
Problems that only affect part of the results (a one-class label column, a label without
prompts) are recorded in ``SiteResult.problems`` and the rest goes on.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from threadpoolctl import threadpool_limits

from model.evaluation.encoders import Encoder
from model.evaluation.fewshot import FewShotConfig, evaluate_label
from model.evaluation.fewshot_intervals import PatientDraws
from model.evaluation.headline import fewshot_source
from model.evaluation.inputs import SiteData
from model.evaluation.label_checks import flag_few_study_diagnoses as flag_few_diagnoses
from model.evaluation.label_checks import flag_thin_bootstraps, usable_findings
from model.evaluation.label_means import Resampled, resampled_aucs
from model.evaluation.metrics import RESAMPLES, DiagnosisScores, LabelScores
from model.evaluation.probes import ProbeConfig, SplitProbes
from model.evaluation.retrieval import (
    bidirectional_ranks,
    blank_by_construction,
    label_precision,
    summarise_ranks,
)
from model.evaluation.retrieval_intervals import precision_intervals, rank_intervals
from model.evaluation.site_probes import (
    CV_SETTING,
    SPLIT_SETTING,
    cross_validated_probes,
    train_split_results,
)
from model.evaluation.site_zeroshot import zeroshot_diagnosis, zeroshot_findings, zeroshot_logits
from model.evaluation.subgroups import subgroup_table
from model.prompt_reading import dataset_prompt_table
from model.prompts import PromptSet
from model.wording import counted

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class SuiteConfig:
    """Bootstrap resamples and seed for CIs, few-shot episodes, probe cross-validation, and
    whether to fit probes on the internal dataset's labelled train/val studies too.

    ``blas_threads`` caps BLAS/OpenMP threads during the metrics: the matrices are small, and
    on a busy machine extra threads spin and slow the run down many times over.
    """

    bootstrap: int = RESAMPLES
    blas_threads: int = 1
    seed: int = 0
    fewshot: FewShotConfig = field(default_factory=FewShotConfig)
    probe: ProbeConfig = field(default_factory=ProbeConfig)
    train_split_probes: bool = True


@dataclass
class SiteResult:
    """Tables (one row per label / k / direction) and curves of one model at one site.

    ``scores`` maps (setting, label) to the per-study scores behind its AUC (zero-shot and
    linear-probe findings), for paired comparisons between models (``model.evaluation.compare``);
    ``diagnosis_scores`` maps each diagnosis setting to its per-study class probabilities;
    ``prompts`` is how the model reads each prompt (``model.prompt_reading.prompt_table``);
    ``resampled`` holds each finding's AUC under every resample of the site's shared patient
    draw, per (source, label) (``label_means``: the headline means' intervals; not written);
    ``subgroups``: the zero-shot finding AUCs per sex, age band and scanner (``subgroups``).
    """

    model: str
    site: str
    counts: pd.DataFrame
    zeroshot: pd.DataFrame
    roc: dict[str, tuple[list[float], list[float]]]
    diagnosis: dict[str, dict]
    fewshot: pd.DataFrame
    probe: pd.DataFrame
    retrieval: pd.DataFrame
    problems: list[str] = field(default_factory=list)
    scores: dict[tuple[str, str], LabelScores] = field(default_factory=dict)
    diagnosis_scores: dict[str, DiagnosisScores] = field(default_factory=dict)
    prompts: pd.DataFrame = field(default_factory=pd.DataFrame)
    resampled: Resampled = field(default_factory=dict)
    subgroups: pd.DataFrame = field(default_factory=pd.DataFrame)


def fewshot_curves(
    vectors: np.ndarray,
    site: SiteData,
    findings: dict[str, np.ndarray],
    logits: dict[str, np.ndarray],
    config: FewShotConfig,
    problems: list[str],
    shared: tuple[np.ndarray, PatientDraws],
    resampled: Resampled,
) -> list[pd.DataFrame]:
    """Few-shot rows of every usable finding (no query shares a patient with the support; 95%
    intervals over the episodes and the site's patient draws ``shared`` by the findings:
    ``shared_draws``; each point's mean AUC per resample added to ``resampled``); a k a finding
    lacks studies or patients for, or kept under ``config.episodes`` episodes for, goes into
    ``problems``."""
    drawn, draws = shared
    curves = []
    for name, known in findings.items():
        y = site.labels[name].to_numpy()[known]
        prior = logits[name][known] if name in logits else None
        points: dict[tuple[str, int], np.ndarray] = {}
        curve = evaluate_label(
            vectors[known],
            y,
            name,
            config,
            prior,
            site.groups[known],
            draws.resamples,
            draws.seed,
            patients=draws.subset(np.flatnonzero(known[drawn])),
            resampled=points,
        )
        resampled.update({(fewshot_source(*point), name): v for point, v in points.items()})
        done = curve.reindex(columns=["k", "episodes"]).drop_duplicates()
        skipped = [k for k in config.shots if k not in set(done["k"])]
        if skipped:
            problems.append(
                f"site {site.name}: few-shot of '{name}' skipped for k = "
                f"{', '.join(map(str, skipped))}: a k-shot episode needs more than k studies of "
                f"each class ({int((y == 1).sum())} positive, {int((y == 0).sum())} negative), "
                "and a query of each class from a patient outside its support"
            )
        for k, kept in done[done["episodes"] < config.episodes].itertuples(index=False):
            problems.append(
                f"site {site.name}: few-shot of '{name}' at k = {k} over {kept} of "
                f"{config.episodes} episodes: the others left no query of a class from a "
                "patient outside their support"
            )
        curves.append(curve)
    return curves


def retrieval_table(
    vectors: np.ndarray,
    site: SiteData,
    encoder: Encoder,
    findings: dict[str, np.ndarray],
    problems: list[str],
    config: SuiteConfig,
) -> pd.DataFrame:
    """R@1/5/10 and median rank both ways; label-consistent precision@10 for report -> study,
    with its ceiling and chance level on the same studies; 95% patient-bootstrap intervals
    (``_lo/_hi``) of all but chance. Figures that the number of studies with a report fixes
    whatever the model (R@10 of 8 studies) are blank and said in ``problems``."""
    impressions = site.studies["impression"].fillna("").astype(str).to_numpy()
    has_text = np.char.str_len(impressions.astype(str)) > 0
    if has_text.sum() < 2:
        return pd.DataFrame()
    texts = impressions[has_text].tolist()
    text_vecs = np.asarray(encoder.texts(texts), dtype=np.float32)
    study_vecs = vectors[has_text]
    groups = site.groups[has_text]
    rows = [
        {
            "direction": direction,
            **summarise_ranks(ranks).as_row(),
            **rank_intervals(ranks, groups, config.bootstrap, config.seed),
        }
        for direction, ranks in bidirectional_ranks(study_vecs, text_vecs, texts).items()
    ]
    columns = [name for name in findings if name in site.labels.columns]
    if columns:
        labels = site.labels[columns].to_numpy()[has_text]
        precision, ceiling, chance = label_precision(text_vecs, study_vecs, labels, groups=groups)
        with_labels = ~np.isnan(labels).all(axis=1)
        for name, values in (("", precision), ("_ceiling", ceiling), ("_chance", chance)):
            rows[0][f"label_precision@10{name}"] = (
                float(np.nanmean(values[with_labels])) if with_labels.any() else np.nan
            )
        per_query = {"label_precision@10": precision, "label_precision@10_ceiling": ceiling}
        rows[0].update(
            precision_intervals(per_query, with_labels, groups, config.bootstrap, config.seed)
        )
    blanked = [blank_by_construction(row, len(texts)) for row in rows]
    if blanked[0]:  # report -> study's row has every column the other one has
        problems.append(
            f"site {site.name}: retrieval over {counted(len(texts), 'study')} with a report: "
            f"{', '.join(blanked[0])} left blank, as so few studies fix them whatever the model "
            "(every rank is at most the number of studies; a top 10 holding every other study "
            "has the chance level's precision)"
        )
    table = pd.DataFrame(rows)
    intervals = [c for c in table.columns if str(c).endswith(("_lo", "_hi"))]
    return table[[c for c in table.columns if c not in intervals] + intervals]


def evaluate_site(
    encoder: Encoder,
    site: SiteData,
    prompts: PromptSet,
    config: SuiteConfig,
    train_split: SplitProbes | None = None,
) -> SiteResult:
    """Every evaluation of one model at one site (embeddings computed or read from cache once).

    ``train_split``: the model's probes fitted on the internal train split
    (``site_probes.fit_train_split``), scored here beside the cross-validated ones.
    """
    vectors = np.asarray(encoder.studies(site.dataset, site.ids), dtype=np.float64)
    with threadpool_limits(limits=config.blas_threads):
        result = _evaluate_vectors(vectors, encoder, site, prompts, config, train_split)
    # outside the thread cap: this runs the text tower over every unique report sentence
    result.prompts = dataset_prompt_table(site.dataset, prompts, encoder.texts)
    return result


def shared_draws(
    site: SiteData, findings: dict[str, np.ndarray], config: SuiteConfig
) -> tuple[np.ndarray, PatientDraws]:
    """The site's one patient draw, shared by its findings (the headline means' intervals):
    (the studies it spans, int [n]: those with a known finding; their ``PatientDraws``). A
    study without labels weighs in no AUC: drawing its patient too would change every interval
    with how many such studies the site has, and at 50,000 studies the draw no longer fits in
    memory once, so each few-shot point would draw it again."""
    known = list(findings.values())
    drawn = np.flatnonzero(np.logical_or.reduce(known)) if known else np.empty(0, np.int64)
    resamples = config.bootstrap if findings else 0
    return drawn, PatientDraws(drawn.size, resamples, config.seed, site.groups[drawn])


def _evaluate_vectors(
    vectors: np.ndarray,
    encoder: Encoder,
    site: SiteData,
    prompts: PromptSet,
    config: SuiteConfig,
    train_split: SplitProbes | None,
) -> SiteResult:
    problems: list[str] = []
    scores: dict[tuple[str, str], LabelScores] = {}
    diagnoses: dict[str, DiagnosisScores] = {}
    findings = usable_findings(site, problems) if site.n_labelled else {}
    flag_few_diagnoses(site, problems)
    logits = zeroshot_logits(vectors, prompts, encoder)
    seeded = (config.bootstrap, config.seed)
    zeroshot, roc = zeroshot_findings(site, logits, findings, *seeded, problems, scores)
    zs_block, zs_rows = (
        zeroshot_diagnosis(vectors, site, prompts, encoder, *seeded, problems, diagnoses)
        if site.n_labelled
        else ({}, [])
    )
    drawn, draws = shared_draws(site, findings, config)
    resampled: Resampled = {}
    fewshot = fewshot_curves(
        vectors, site, findings, logits, config.fewshot, problems, (drawn, draws), resampled
    )
    diagnosis = {"zero-shot": zs_block}
    diagnosis[CV_SETTING], probe_rows = cross_validated_probes(
        vectors, site, findings, config.probe, config.bootstrap, problems, scores, diagnoses
    )
    on_drawn = {name: known[drawn] for name, known in findings.items()}
    resampled |= resampled_aucs(("zero-shot", CV_SETTING), on_drawn, scores, draws)
    if train_split is not None and site.n_labelled:
        diagnosis[SPLIT_SETTING], split_rows = train_split_results(
            vectors, site, findings, train_split, config.probe, config.bootstrap, scores, diagnoses
        )
        probe_rows += split_rows
    zeroshot = pd.concat([zeroshot, pd.DataFrame(zs_rows)], ignore_index=True)
    probe = pd.DataFrame(probe_rows)
    flag_thin_bootstraps(site, [zeroshot, probe], config.bootstrap, problems)
    return SiteResult(
        model=encoder.name,
        site=site.name,
        counts=site.label_counts(),
        zeroshot=zeroshot,
        roc=roc,
        diagnosis={setting: block for setting, block in diagnosis.items() if block},
        fewshot=pd.concat(fewshot, ignore_index=True) if fewshot else pd.DataFrame(),
        probe=probe,
        retrieval=retrieval_table(vectors, site, encoder, findings, problems, config),
        problems=problems,
        scores=scores,
        diagnosis_scores=diagnoses,
        resampled=resampled,
        subgroups=subgroup_table(site.studies, site.groups, scores, *seeded),
    )
