"""Interactive few-shot classification: rank every study by its likeness to a user's examples.

Given the study embeddings and an ``ExampleSet`` (a handful of studies that show a condition and,
optionally, some that do not), every study gets a score; the examples are marked in the output
and never counted when the ranking is checked against labels. The math is the evaluation's
(``model.evaluation.fewshot``) on one episode whose support is the user's examples:

- ``prototype``: cos(v, mean example) - cos(v, mean counter-example). With no counter-examples
  the counter-prototype is the mean of every other study (all but the examples), so the score
  says how much more a study resembles the examples than the dataset at large;
- ``logistic``: the evaluation's L2 logistic probe (C = ``FewShotConfig.probe_c``) fitted on the
  examples (1) and counter-examples (0); the score is its probability. Needs one of each;
- ``prompted``: the same logistic regression (C = ``FewShotConfig.prompted_c``) with the set's
  zero-shot logit, scale * (cos(v, mean positive prompt) - cos(v, mean negative prompt))
  (``prompt_logits``), as a fixed offset: a fit that starts from the zero-shot classifier and
  moves from it only as far as the examples show. Needs the set's prompts; with no examples the
  score is the zero-shot probability itself, and examples of one side only are sound (the prompts
  stand for the other side).

``evaluate_ranking`` checks the scores against a label column: AUC with a patient-bootstrap 95%
CI over the studies that are neither examples nor studies of an example's patient (a repeat
scan of an example's patient would be found by its likeness to that patient, as in
``Episodes.query_mask``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass

import numpy as np
import pandas as pd

from model.errors import DataError, UserError
from model.evaluation.fewshot import (
    Episodes,
    FewShotConfig,
    logistic_probabilities,
    prototype_scores,
)
from model.evaluation.metrics import RESAMPLES, binary_metrics
from model.example_set import ExampleSet
from model.labels import diagnosis_targets
from model.prompts import FindingPrompts, PromptSet
from model.schema import DIAGNOSES
from model.zeroshot import TextEncoder, finding_logits, finding_prototypes, logit_probabilities

METHODS = ("prototype", "logistic", "prompted")
FITTED = ("logistic", "prompted")  # the methods that fit a logistic regression
# The logistic fit solves [n, n] systems over its n examples: 1,000 took 3 s on 2 cores, a lasso of
# 10,000 would take an hour and 2 GB; the prototype takes any number at once.
MAX_LOGISTIC_EXAMPLES = 1000
EXAMPLE, COUNTER_EXAMPLE = "example", "counter-example"


def method_problem(examples: ExampleSet, method: str) -> str | None:
    """Why ``method`` cannot score with ``examples`` (too few of a kind), else None."""
    if method not in METHODS:
        return f"unknown few-shot method {method!r}; use one of {', '.join(METHODS)}"
    if method == "prompted":
        problem = examples.prompt_problem()
        if problem is not None:
            return f"the prompted method needs the class in words: {problem}"
    elif not examples.positive:
        return "add at least one example of the class to rank the studies"
    if method == "logistic" and not examples.negative:
        return (
            "the logistic method needs at least one counter-example as well; add one, or use "
            "the prototype method"
        )
    if method in FITTED and len(examples.ids) > MAX_LOGISTIC_EXAMPLES:
        return (
            f"the {method} method fits at most {MAX_LOGISTIC_EXAMPLES:,} examples and "
            f"counter-examples, and this set has {len(examples.ids):,}; use the prototype method"
        )
    return None


def prompt_logits(
    vectors: np.ndarray, prompts: FindingPrompts, text_encoder: TextEncoder, scale: float
) -> np.ndarray:
    """The zero-shot logits float32 [N] of ``prompts`` for every study (``vectors`` [N, D]), as the
    Zero-shot page and the evaluation's prompted probe compute them: the ``prompted`` prior."""
    prototypes = finding_prototypes(PromptSet(findings={"class": prompts}), text_encoder)
    return finding_logits(vectors, prototypes.positive, prototypes.negative, scale)[:, 0]


def few_shot_scores(
    vectors: np.ndarray,
    ids: Sequence[str],
    examples: ExampleSet,
    method: str = "prototype",
    config: FewShotConfig = FewShotConfig(),
    prior_logits: np.ndarray | None = None,
) -> pd.DataFrame:
    """Columns ``score`` (higher: more like the examples) and ``example`` (``example``,
    ``counter-example`` or blank) for every study, indexed by study_id in the order of ``ids``.

    vectors: float [N, D] unit-norm study embeddings of ``ids``; prior_logits: float [N], the
    ``prompted`` method's ``prompt_logits`` of the set's prompts. UserError when the method has
    too few examples or no prompts, or when the set names a study not among ``ids``.
    """
    problem = method_problem(examples, method)
    if problem is not None:
        raise UserError(problem)
    ids = [str(i) for i in ids]
    examples.check_known(ids, "the dataset")
    row = {study_id: i for i, study_id in enumerate(ids)}
    positive = np.array([row[i] for i in examples.positive], dtype=int)
    negative = np.array([row[i] for i in examples.negative], dtype=int)
    episode = Episodes(positive=positive[None], negative=negative[None])
    if method == "prompted":
        if prior_logits is None or len(prior_logits) != len(ids):
            raise ValueError("the prompted method needs the prompts' logits of every study")
        scores = prompted_scores(vectors, episode, np.asarray(prior_logits, float), config)
    elif method == "logistic":
        scores = logistic_probabilities(vectors, episode, config.probe_c, config.newton_steps)
    else:
        if negative.size == 0:
            negative = np.setdiff1d(np.arange(len(ids)), positive)
            if negative.size == 0:
                raise UserError("every study is an example: there is no other study to rank")
        scores = prototype_scores(
            vectors, Episodes(positive=positive[None], negative=negative[None])
        )
    marks = np.full(len(ids), "", dtype=object)
    marks[[row[i] for i in examples.positive]] = EXAMPLE
    marks[[row[i] for i in examples.negative]] = COUNTER_EXAMPLE
    index = pd.Index(ids, name="study_id")
    return pd.DataFrame(
        {"score": np.asarray(scores[0], dtype=float), "example": marks}, index=index
    )


def prompted_scores(
    vectors: np.ndarray, episode: Episodes, prior_logits: np.ndarray, config: FewShotConfig
) -> np.ndarray:
    """float [1, N]: the evaluation's prompted probe fitted on ``episode``; with no examples,
    the prompts' zero-shot probabilities (the fit's answer to no data)."""
    if episode.support.size == 0:
        return logit_probabilities(prior_logits)[None]
    return logistic_probabilities(
        vectors, episode, config.prompted_c, config.newton_steps, prior_logits
    )


def score_table(scores: pd.DataFrame, studies: pd.DataFrame) -> pd.DataFrame:
    """Every study as ``python -m model fewshot --out`` writes it (and the Few-shot page
    downloads it): study_id, site, split, score, example; the highest score first. ``studies``:
    the dataset's studies indexed by study_id."""
    table = studies.reindex(scores.index)[["site", "split"]].join(scores)
    return table.sort_values("score", ascending=False, kind="stable").reset_index()


def label_target(labels: pd.DataFrame, label: str) -> pd.Series:
    """1 / 0 / NaN by study of ``label``: the column as it is; for a diagnosis class, one
    against the rest: a study left blank there whose known diagnosis is another class
    (``diagnosis_targets``) is 0 too. DataError naming the columns when there is no such column."""
    if label not in labels.columns:
        columns = ", ".join(map(str, labels.columns))
        raise DataError(f"the labels have no column {label!r}; their columns: {columns}")
    truth = labels[label].astype(float)
    if label not in DIAGNOSES:
        return truth
    classes = [c for c in DIAGNOSES if c in labels.columns]
    usable, target = diagnosis_targets(labels, classes)
    another = usable & (target != classes.index(label))
    return truth.mask(truth.isna() & another, 0.0)


@dataclass(frozen=True)
class RankingEvaluation:
    """AUC (95% CI over patients) of the few-shot scores for one label, over the ``n`` studies
    with a known label left once the ``examples`` and the ``same_patient`` studies (other studies
    of an example's patient) are left out; those two count only studies with a known label, so
    the three add up to the studies checked (one split's, when the others' labels are blank)."""

    label: str
    auc: float
    auc_lo: float
    auc_hi: float
    n: int
    n_positive: int
    examples: int
    same_patient: int

    def as_row(self) -> dict[str, float | int | str]:
        return asdict(self)


def evaluate_ranking(
    scores: pd.DataFrame,
    truth: pd.Series,
    patients: pd.Series,
    label: str,
    resamples: int = RESAMPLES,
) -> RankingEvaluation:
    """``scores`` (``few_shot_scores``) against ``truth`` (1 / 0 / NaN by study_id); patients:
    patient keys by study_id (a study without one is its own patient). DataError when the
    studies left have no known label of both classes."""
    ids = scores.index.astype(str)
    groups = patients.reindex(ids).fillna("").astype(str).to_numpy()
    groups = np.where(groups == "", ids.to_numpy(dtype=str), groups)
    marked = scores["example"].to_numpy() != ""
    support = np.flatnonzero(marked)
    episode = Episodes(positive=support[None], negative=np.zeros((1, 0), dtype=int))
    query = episode.query_mask(len(ids), groups)[0]
    known = truth.reindex(ids).to_numpy(dtype=float)
    checked = np.isfinite(known)  # a study outside the scope (another split) has no label here
    used = query & checked
    y = known[used].astype(int)
    if y.size == 0 or y.min() == y.max():
        have = "no studies" if y.size == 0 else f"only {'positive' if y[0] else 'negative'} studies"
        raise DataError(
            f"{label}: {have} with a known label are left once the examples and their patients' "
            "studies are left out, so there is no AUC"
        )
    result = binary_metrics(
        scores["score"].to_numpy()[used], y, resamples=resamples, seed=0, groups=groups[used]
    )
    low, high = result.ci.get("auc", (np.nan, np.nan))
    return RankingEvaluation(
        label=label,
        auc=result.auc,
        auc_lo=low,
        auc_hi=high,
        n=int(y.size),
        n_positive=int(y.sum()),
        examples=int((marked & checked).sum()),
        same_patient=int((~query & ~marked & checked).sum()),
    )
