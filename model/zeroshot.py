"""Zero-shot scoring core: pure functions over unit-norm embeddings (numpy in, numpy/pandas out).

Findings (binary), as in CMR-CLIP::

    p(finding | study v) = softmax(scale * [cos(v, mean positive), cos(v, mean negative)])[0]
                         = sigmoid(scale * (cos(v, mean positive) - cos(v, mean negative)))

where "mean positive" is the re-normalised mean of the positive prompts' text embeddings.
Diagnoses (multi-class): softmax over ``scale * cos(v, mean class prompt)``.

Prompt embeddings come from a ``text_encoder``: any callable ``list[str] -> float32 [N, D]``
unit-norm (e.g. ``functools.partial(model.embed.embed_texts, model)``). Scoring itself is one
matrix product, so rescoring 10,000 studies after a prompt edit takes milliseconds.
No threshold is tuned on labels: accuracy / F1 use p >= 0.5.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from model.errors import CheckpointError, DataError
from model.prompts import PromptSet

TextEncoder = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class FindingPrototypes:
    """Per finding the mean positive and mean negative prompt embedding, each [F, D] unit-norm."""

    names: list[str]
    positive: np.ndarray
    negative: np.ndarray


@dataclass(frozen=True)
class ClassPrototypes:
    """Per class the mean prompt embedding [C, D] unit-norm."""

    names: list[str]
    vectors: np.ndarray


def _normalize(x: np.ndarray) -> np.ndarray:
    norm = np.linalg.norm(x, axis=-1, keepdims=True)
    return (x / np.maximum(norm, 1e-12)).astype(np.float32)


def _encode_unique(prompt_set: PromptSet, text_encoder: TextEncoder) -> dict[str, np.ndarray]:
    texts = prompt_set.all_texts()
    vectors = _normalize(np.asarray(text_encoder(texts), dtype=np.float32))
    if vectors.shape[0] != len(texts):
        raise ValueError(f"text encoder returned {vectors.shape[0]} vectors for {len(texts)} texts")
    return dict(zip(texts, vectors, strict=True))


def _mean_prototype(texts: Sequence[str], table: dict[str, np.ndarray]) -> np.ndarray:
    """Re-normalised mean of the prompts' unit embeddings: [D]."""
    return _normalize(np.mean([table[t] for t in texts], axis=0))


def finding_prototypes(prompt_set: PromptSet, text_encoder: TextEncoder) -> FindingPrototypes:
    """Embed every prompt once and average each finding's positive and negative prompts."""
    table = _encode_unique(prompt_set, text_encoder)
    names = list(prompt_set.findings)
    positive = np.stack([_mean_prototype(prompt_set.findings[n].positive, table) for n in names])
    negative = np.stack([_mean_prototype(prompt_set.findings[n].negative, table) for n in names])
    return FindingPrototypes(names=names, positive=positive, negative=negative)


def class_prototypes(prompt_set: PromptSet, text_encoder: TextEncoder) -> ClassPrototypes:
    """Embed every diagnosis prompt once and average per class."""
    table = _encode_unique(prompt_set, text_encoder)
    names = list(prompt_set.diagnoses)
    vectors = np.stack([_mean_prototype(prompt_set.diagnoses[n], table) for n in names])
    return ClassPrototypes(names=names, vectors=vectors)


def finding_logits(
    study_vecs: np.ndarray, positive: np.ndarray, negative: np.ndarray, scale: float
) -> np.ndarray:
    """Binary zero-shot logits scale * (cos(v, positive) - cos(v, negative)).

    study_vecs [N, D], positive/negative [F, D] (unit-norm) -> float32 [N, F]. Study vectors
    are normalised here (``encode_video`` gives raw features unless ``normalize=True``).
    """
    study_vecs = _normalize(np.asarray(study_vecs, dtype=np.float32))
    margin = study_vecs @ (positive - negative).T.astype(np.float32)
    return np.clip(scale * margin, -60.0, 60.0)


def finding_probabilities(
    study_vecs: np.ndarray, positive: np.ndarray, negative: np.ndarray, scale: float
) -> np.ndarray:
    """Binary zero-shot probabilities: the sigmoid of ``finding_logits``, float32 [N, F]."""
    return logit_probabilities(finding_logits(study_vecs, positive, negative, scale))


def logit_probabilities(logits: np.ndarray) -> np.ndarray:
    """Sigmoid of (clipped) zero-shot logits, float32 of the same shape."""
    return (1.0 / (1.0 + np.exp(-logits))).astype(np.float32)


def class_probabilities(study_vecs: np.ndarray, classes: np.ndarray, scale: float) -> np.ndarray:
    """Multi-class zero-shot probabilities: study_vecs [N, D] (normalised here), classes [C, D]
    unit-norm -> float32 [N, C]."""
    study_vecs = _normalize(np.asarray(study_vecs, dtype=np.float32))
    logits = scale * (study_vecs @ classes.T.astype(np.float32))
    logits -= logits.max(axis=1, keepdims=True)
    expo = np.exp(logits)
    return (expo / expo.sum(axis=1, keepdims=True)).astype(np.float32)


def score_findings(
    study_vecs: np.ndarray,
    prompt_set: PromptSet,
    text_encoder: TextEncoder,
    scale: float,
    ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Per-study finding probabilities: DataFrame [N, findings] indexed by ``ids`` if given."""
    if not prompt_set.findings:
        return pd.DataFrame(index=pd.Index(ids or [], name="study_id"))
    protos = finding_prototypes(prompt_set, text_encoder)
    probs = finding_probabilities(study_vecs, protos.positive, protos.negative, scale)
    return pd.DataFrame(probs, columns=protos.names, index=_index(ids, len(probs)))


def score_diagnoses(
    study_vecs: np.ndarray,
    prompt_set: PromptSet,
    text_encoder: TextEncoder,
    scale: float,
    ids: Sequence[str] | None = None,
) -> pd.DataFrame:
    """Per-study diagnosis probabilities: DataFrame [N, classes] (rows sum to 1)."""
    if not prompt_set.diagnoses:
        return pd.DataFrame(index=pd.Index(ids or [], name="study_id"))
    protos = class_prototypes(prompt_set, text_encoder)
    probs = class_probabilities(study_vecs, protos.vectors, scale)
    return pd.DataFrame(probs, columns=protos.names, index=_index(ids, len(probs)))


def _index(ids: Sequence[str] | None, n: int) -> pd.Index | None:
    if ids is None:
        return None
    if len(ids) != n:
        raise DataError(f"{len(ids)} study ids for {n} embeddings")
    return pd.Index(list(ids), name="study_id")


def finding_metrics(probs: pd.DataFrame, labels: pd.DataFrame) -> pd.DataFrame:
    """AUC, accuracy and F1 at p >= 0.5, sensitivity, specificity per finding.

    ``probs`` and ``labels`` share their index (study ids); label values 1/0, blank = unknown
    (those studies are left out of that finding). Columns follow the paper
    (``Label, Accuracy, F1-score, AUC``) plus ours. AUC is NaN when one class is absent.
    """
    from sklearn.metrics import f1_score, roc_auc_score  # the CLI's: not a dashboard page's

    rows = []
    for name in probs.columns:
        if name not in labels.columns:
            continue
        joined = pd.concat(
            [probs[name].rename("p"), labels[name].rename("y")], axis=1, join="inner"
        )
        joined = joined.dropna()
        y = joined["y"].astype(int).to_numpy()
        p = joined["p"].to_numpy()
        pred = (p >= 0.5).astype(int)
        n_pos = int(y.sum())
        both = 0 < n_pos < len(y)
        rows.append(
            {
                "Label": name,
                "Accuracy": float((pred == y).mean()) if len(y) else float("nan"),
                "F1-score": float(f1_score(y, pred, zero_division=0)) if len(y) else float("nan"),
                "AUC": float(roc_auc_score(y, p)) if both else float("nan"),
                "Sensitivity": float(pred[y == 1].mean()) if n_pos else float("nan"),
                "Specificity": float(1 - pred[y == 0].mean()) if n_pos < len(y) else float("nan"),
                "n": int(len(y)),
                "n_positive": n_pos,
            }
        )
    return pd.DataFrame(rows)


def checkpoint_scale(path: str | Path) -> float:
    """The checkpoint's learned softmax scale exp(logit_scale), capped at 100 as in CLIP, read
    from its metadata sidecar, else from its stored weights (memory-mapped), without building
    the model (``model.checkpoint_meta``): with its prompts' vectors stored
    (``model.text_store``) the dashboard scores a prompt set without torch."""
    from model.checkpoint_meta import checkpoint_facts

    scale = checkpoint_facts(path).scale
    if scale is None:
        raise CheckpointError(f"{path} holds no logit_scale: not a CMR-CLIP model's weights")
    return float(min(scale, 100.0))
