"""Zero-shot scoring for the dashboard: a text-embedding cache and one-call re-scoring.

Editing one prompt re-encodes only that prompt (every other prompt's embedding is cached), then
scores all studies with one matrix product (model/zeroshot.py), so a re-score of 10,000 studies
stays well under half a second on a CPU.
"""

from __future__ import annotations

import threading
from collections import OrderedDict
from collections.abc import Callable, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd

from model.errors import UserError
from model.evaluation.metrics import (
    RESAMPLES,
    binary_metrics,
    confusion_matrix,
    roc_curve_points,
)
from model.evaluation.tables import display_name
from model.labels import diagnosis_targets
from model.prompts import PromptSet
from model.schema import DIAGNOSES
from model.text_store import TextReading, TextStore
from model.zeroshot import score_diagnoses, score_findings

MAX_QUERY_CHARS = 500
_MAX_CACHED_TEXTS = 4096


class CachedTextEncoder:
    """``texts (N) -> float32 [N, D]`` unit-norm, remembering every text it has encoded.

    ``encode`` returns the vectors of the texts it is given, or their ``TextReading``s (which
    also say what the tower cannot read of them: ``readings``). With a ``store`` (a
    ``model.text_store.TextStore`` of the same checkpoint), texts an earlier process encoded are
    read back from disk and only the others reach ``encode``, which may build the model lazily;
    what it encodes is added to the store, unless the caller passes ``keep=False``: a search
    query is free text a user typed about a case, kept in this process's memory only (the
    store is a file anyone who may read the dataset may read)."""

    def __init__(
        self,
        encode: Callable[[list[str]], np.ndarray | dict[str, TextReading]],
        store: TextStore | None = None,
    ):
        self._encode = encode
        self._store = store
        self._cache: OrderedDict[str, TextReading] = OrderedDict()
        self._lock = threading.Lock()

    def __call__(self, texts: Sequence[str], keep: bool = True) -> np.ndarray:
        readings = self.readings(texts, keep)
        if not readings:
            return np.zeros((0, 0), np.float32)
        return np.stack([reading.vector for reading in readings])

    def readings(self, texts: Sequence[str], keep: bool = True) -> list[TextReading]:
        """How the tower read each of ``texts``, in their order; ``keep``: add what had to be
        encoded to the store."""
        texts = list(texts)
        with self._lock:
            missing = [t for t in dict.fromkeys(texts) if t not in self._cache]
            if missing and self._store is not None:
                stored = self._store.read()
                self._cache.update((t, stored[t]) for t in missing if t in stored)
                missing = [t for t in missing if t not in self._cache]
            if missing:
                found = self._read(missing)
                self._cache.update(found)
                if keep and self._store is not None:
                    self._store.add(found)
            found = [self._cache[t] for t in texts]
            while len(self._cache) > _MAX_CACHED_TEXTS:
                self._cache.popitem(last=False)
            return found

    def _read(self, texts: list[str]) -> dict[str, TextReading]:
        encoded = self._encode(texts)
        if isinstance(encoded, dict):
            return {text: encoded[text] for text in texts}
        return {
            text: TextReading(np.asarray(vector, dtype=np.float32))
            for text, vector in zip(texts, encoded, strict=True)
        }


def clean_query(text: str) -> str:
    """A search or prompt text, stripped; UserError when empty or too long."""
    cleaned = " ".join(str(text).split())
    if not cleaned:
        raise UserError("type some text first (the query is empty)")
    if len(cleaned) > MAX_QUERY_CHARS:
        raise UserError(
            f"the text is {len(cleaned)} characters long; keep it under {MAX_QUERY_CHARS}"
        )
    return cleaned


@dataclass(frozen=True)
class Scores:
    """Per-study probabilities: findings [N, F] and diagnoses [N, C], indexed by study_id."""

    findings: pd.DataFrame
    diagnoses: pd.DataFrame


def score_all(
    ids: Sequence[str],
    vectors: np.ndarray,
    prompts: PromptSet,
    encoder: CachedTextEncoder,
    scale: float,
) -> Scores:
    """Finding and diagnosis probabilities of every study (vectors float32 [N, D] unit-norm)."""
    findings = score_findings(vectors, prompts, encoder, scale, ids=ids)
    diagnoses = score_diagnoses(vectors, prompts, encoder, scale, ids=ids)
    return Scores(findings=findings, diagnoses=diagnoses)


ALL_STUDIES = "all splits"


def split_choices(splits: pd.Series) -> list[str]:
    """What the labels evaluation may cover: every study, or one split the dataset has
    (``splits``: each study's split), test first (the internal split the evaluation reports)."""
    present = set(splits.dropna().astype(str))
    return [ALL_STUDIES, *sorted(present, key=lambda s: (s != "test", s != "val", s))]


def scores_of_split(scores: Scores, splits: pd.Series, choice: str) -> Scores:
    """The scores of the studies of one split (``splits`` indexed by study_id), or all of them
    for ``ALL_STUDIES``."""
    if choice == ALL_STUDIES:
        return scores
    keep = splits.reindex(scores.findings.index).astype(str).eq(choice).to_numpy()
    return Scores(findings=scores.findings[keep], diagnoses=scores.diagnoses[keep])


def score_table(scores: Scores, studies: pd.DataFrame) -> pd.DataFrame:
    """The per-study scores for the page's CSV download, keyed as the labels file and
    ``python -m model zeroshot --out`` name them, indexed by study_id: the finding probabilities (the first columns), ``dx_<class>``
    probabilities, ``predicted_dx``, and the study's site and split (``studies`` indexed by
    study_id). A name taken twice (a finding called ``site``) gets a `` (2)`` suffix instead of
    stopping the page."""
    predicted = _predicted(scores)
    named = None if predicted is None else predicted.rename("predicted_dx")
    return _joined(scores.findings, scores.diagnoses.add_prefix("dx_"), named, studies)


def shown_score_table(scores: Scores, studies: pd.DataFrame) -> pd.DataFrame:
    """``score_table`` as the page shows it: labels by the names the Evaluate page gives them
    (``display_name``: ``NICM``, not ``nicm``), diagnoses as ``dx: <name>`` and the
    ``predicted diagnosis`` by name."""
    findings = scores.findings.rename(columns=display_name)
    diagnoses = scores.diagnoses.rename(columns=diagnosis_name)
    predicted = _predicted(scores)
    named = None if predicted is None else predicted.map(display_name).rename("predicted diagnosis")
    return _joined(findings, diagnoses, named, studies)


def diagnosis_name(key: str) -> str:
    """A diagnosis class as the page names it beside the findings: ``dx: NICM``."""
    return f"dx: {display_name(key)}"


def _predicted(scores: Scores) -> pd.Series | None:
    """Each study's most probable class (None without a diagnosis column to choose from)."""
    return None if scores.diagnoses.empty else scores.diagnoses.idxmax(axis=1)


def _joined(
    findings: pd.DataFrame,
    diagnoses: pd.DataFrame,
    predicted: pd.Series | None,
    studies: pd.DataFrame,
) -> pd.DataFrame:
    parts = [findings, diagnoses]
    if predicted is not None:
        parts.append(predicted.to_frame())
    parts.append(studies[["site", "split"]].reindex(findings.index))
    table = pd.concat(parts, axis=1)
    taken = {"study_id"}  # the index, a column once the table is shown or saved
    names = []
    for name in map(str, table.columns):
        unique, copy = name, 1
        while unique in taken:
            copy += 1
            unique = f"{name} ({copy})"
        taken.add(unique)
        names.append(unique)
    table.columns = names
    table.index.name = "study_id"
    return table


def prompt_choices(scores: Scores) -> dict[str, pd.Series]:
    """Each finding and diagnosis of the scores by its shown name (``NICM`` as ``dx: NICM``) ->
    its probabilities, for the page's top-scoring studies."""
    choices = {display_name(c): scores.findings[c] for c in scores.findings.columns}
    choices.update({diagnosis_name(c): scores.diagnoses[c] for c in scores.diagnoses.columns})
    return choices


# a finding's metrics as the Evaluate page's tables name them (AUC, F1-score), and its CI bounds
METRIC_NAMES = {
    "auc": "AUC",
    "accuracy": "Accuracy",
    "f1": "F1-score",
    "sensitivity": "Sensitivity",
    "specificity": "Specificity",
}
CI = ("95% CI low", "95% CI high")


# The pages' patient bootstraps: the evaluation's 1,000 resamples took 6 s a finding at 50,000
# studies, redrawn on every edit. The draws are the evaluation's own (seed 0), only fewer: the
# same studies get the same AUC, and with as many resamples the same CI.
PAGE_RESAMPLES = 300


def interval_note(other: str) -> str:
    """Why a page's 95% CI can differ a little from ``other``'s (the place that reports the same
    AUC over the same studies with the evaluation's ``RESAMPLES``): fewer resamples."""
    return (
        f"95% CIs from {PAGE_RESAMPLES:,} resamples of patients ({other} draws "
        f"{RESAMPLES:,}, so its bounds for the same studies can differ in the third decimal; "
        "the AUC is the same)"
    )


@dataclass(frozen=True)
class FindingEvaluation:
    """ROC points, AUC with its 95% CI and threshold metrics for one finding, and the scored,
    labelled studies' probabilities (``scores`` float [n]) and labels (``truth`` int [n])."""

    fpr: np.ndarray
    tpr: np.ndarray
    auc: float
    auc_ci: tuple[float, float]
    table: pd.DataFrame
    n: int
    scores: np.ndarray
    truth: np.ndarray


def known_pairs(probs: pd.Series, labels: pd.Series) -> tuple[np.ndarray, np.ndarray]:
    """(probabilities float [K], labels int [K]) of the studies both scored and labelled 1 or 0."""
    joined = _known(probs, labels)
    return joined["p"].to_numpy(), joined["y"].astype(int).to_numpy()


def _known(probs: pd.Series, labels: pd.Series) -> pd.DataFrame:
    """Columns p, y indexed by study id: the studies both scored and labelled 1 or 0."""
    return pd.concat([probs.rename("p"), labels.rename("y")], axis=1, join="inner").dropna()


def _patient_groups(ids: pd.Index, patients: pd.Series) -> np.ndarray:
    """str [K]: each study's patient key, or the study id itself where its patient is unknown."""
    keys = patients.reindex(ids).fillna("").to_numpy(dtype=str)
    return np.where(keys == "", ids.to_numpy(dtype=str), keys)


def evaluate_finding(
    probs: pd.Series,
    labels: pd.Series,
    threshold: float,
    resamples: int = PAGE_RESAMPLES,
    patients: pd.Series | None = None,
) -> FindingEvaluation | None:
    """Metrics of one finding against 1/0 labels (blank labels skipped); None if one class is
    absent. ``patients`` (patient keys by study id) makes the bootstrap draw patients, each
    with all their studies, as the evaluation suite does: a patient's repeat scans are not
    independent, and drawing them one by one narrows the intervals."""
    known = _known(probs, labels)
    p, y = known["p"].to_numpy(), known["y"].astype(int).to_numpy()
    if y.size == 0 or y.min() == y.max():
        return None
    groups = None if patients is None else _patient_groups(known.index, patients)
    result = binary_metrics(
        p, y, resamples=resamples, seed=0, decisions=(p >= threshold), groups=groups
    )
    fpr, tpr = roc_curve_points(p, y)
    rows = []
    for name, shown in METRIC_NAMES.items():
        bounds = result.ci.get(name, (float("nan"), float("nan")))
        rows.append(
            {"Metric": shown, "Value": getattr(result, name), **dict(zip(CI, bounds, strict=True))}
        )
    return FindingEvaluation(
        fpr=fpr,
        tpr=tpr,
        auc=result.auc,
        auc_ci=result.ci.get("auc", (float("nan"), float("nan"))),
        table=pd.DataFrame(rows),
        n=int(y.size),
        scores=p,
        truth=y,
    )


def why_no_roc(probs: pd.Series, labels: pd.Series) -> str:
    """Why ``evaluate_finding`` has no ROC for these scored studies and labels (it returned None)."""
    _, known = known_pairs(probs, labels)
    if known.size == 0:
        return "no scored study has a known (1 or 0) label"
    kind = "positive" if known[0] == 1 else "negative"
    return f"all {len(known):,} scored studies with a known label are {kind}"


@dataclass(frozen=True)
class DiagnosisConfusion:
    """Zero-shot diagnoses against one-hot labels: ``matrix`` int [C, C] (true x predicted) over
    every class of the prompt set (``classes``), the accuracy over the ``n`` studies with a known
    class, and the labelled diagnoses the prompt set has no class for (their studies left out)."""

    matrix: np.ndarray
    classes: list[str]
    accuracy: float
    n: int
    left_out: list[str]


def diagnosis_confusion(probs: pd.DataFrame, labels: pd.DataFrame) -> DiagnosisConfusion | None:
    """The confusion of the predicted diagnoses (the most probable class of the prompt set, as in
    the score table and the evaluation) with the labels, read as the evaluation reads them
    (``diagnosis_targets``: one class marked 1, the others 0 or blank); None without a labelled
    study of a prompted class."""
    classes = list(probs.columns)
    labels = labels.reindex(probs.index)
    usable, targets = diagnosis_targets(labels, classes)
    if not usable.any():
        return None
    true_idx = targets[usable]
    pred_idx = probs.to_numpy()[usable].argmax(axis=1)
    left_out = [
        c for c in DIAGNOSES if c not in classes and c in labels.columns and labels[c].eq(1).any()
    ]
    return DiagnosisConfusion(
        matrix=confusion_matrix(true_idx, pred_idx, len(classes)),
        classes=classes,
        accuracy=float((true_idx == pred_idx).mean()),
        n=int(usable.sum()),
        left_out=left_out,
    )
