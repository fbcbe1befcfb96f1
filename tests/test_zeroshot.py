"""Zero-shot scoring core: the paper's formula, class softmax, metrics, and scale."""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

from model.prompts import FindingPrompts, PromptSet
from model.zeroshot import (
    class_probabilities,
    finding_metrics,
    finding_probabilities,
    finding_prototypes,
    score_diagnoses,
    score_findings,
)

DIM = 16


def hash_encoder(texts: list[str]) -> np.ndarray:
    """A deterministic fake text encoder: unit vectors from a hash of each text."""
    rows = []
    for text in texts:
        seed = int.from_bytes(hashlib.sha256(text.encode()).digest()[:4], "big")
        rows.append(np.random.default_rng(seed).normal(size=DIM))
    vectors = np.asarray(rows, dtype=np.float32)
    return vectors / np.linalg.norm(vectors, axis=1, keepdims=True)


PROMPTS = PromptSet(
    findings={
        "lge": FindingPrompts(positive=("scar", "enhancement"), negative=("no scar",)),
        "lv_dilation": FindingPrompts(positive=("dilated LV",), negative=("normal LV size",)),
    },
    diagnoses={"hcm": ["hcm"], "normal": ["normal"], "nicm": ["dcm", "dilated cardiomyopathy"]},
)


def test_finding_probability_is_the_two_way_softmax() -> None:
    rng = np.random.default_rng(0)
    study = rng.normal(size=(5, DIM)).astype(np.float32)
    study /= np.linalg.norm(study, axis=1, keepdims=True)
    protos = finding_prototypes(PROMPTS, hash_encoder)
    probs = finding_probabilities(study, protos.positive, protos.negative, scale=50.0)
    for f in range(2):
        logits = 50.0 * torch.stack(
            [
                torch.from_numpy(study @ protos.positive[f]),
                torch.from_numpy(study @ protos.negative[f]),
            ],
            dim=1,
        )
        expected = torch.softmax(logits, dim=1)[:, 0].numpy()
        np.testing.assert_allclose(probs[:, f], expected, rtol=1e-5, atol=1e-6)


def test_prototype_is_renormalised_mean_of_prompts() -> None:
    protos = finding_prototypes(PROMPTS, hash_encoder)
    mean = hash_encoder(["scar", "enhancement"]).mean(axis=0)
    np.testing.assert_allclose(protos.positive[0], mean / np.linalg.norm(mean), rtol=1e-5)
    assert protos.names == ["lge", "lv_dilation"]


def test_study_at_the_positive_prompt_scores_high() -> None:
    protos = finding_prototypes(PROMPTS, hash_encoder)
    table = score_findings(
        np.stack([protos.positive[0], protos.negative[0]]),
        PROMPTS,
        hash_encoder,
        100.0,
        ids=["a", "b"],
    )
    assert list(table.index) == ["a", "b"] and list(table.columns) == ["lge", "lv_dilation"]
    assert table.loc["a", "lge"] > 0.99 and table.loc["b", "lge"] < 0.01


def test_diagnosis_probabilities_sum_to_one_and_pick_the_class() -> None:
    study = hash_encoder(["hcm", "normal"])
    table = score_diagnoses(study, PROMPTS, hash_encoder, scale=100.0)
    np.testing.assert_allclose(table.sum(axis=1), 1.0, rtol=1e-5)
    assert list(table.idxmax(axis=1)) == ["hcm", "normal"]
    logits = 100.0 * study @ finding_prototypes(PROMPTS, hash_encoder).positive.T
    assert class_probabilities(study, study, 1e4).argmax(axis=1).tolist() == [0, 1]
    assert logits.shape == (2, 2)


def test_raw_study_features_score_as_their_unit_vectors() -> None:
    """``encode_video`` returns raw features unless asked: a length-4 vector would otherwise
    score as if the scale were four times larger (probabilities pushed towards 0 and 1)."""
    study = hash_encoder(["scar", "normal", "dcm"])
    unit_findings = score_findings(study, PROMPTS, hash_encoder, 20.0)
    raw_findings = score_findings(4.0 * study, PROMPTS, hash_encoder, 20.0)
    pd.testing.assert_frame_equal(raw_findings, unit_findings, rtol=1e-5)
    unit_classes = score_diagnoses(study, PROMPTS, hash_encoder, 20.0)
    raw_classes = score_diagnoses(4.0 * study, PROMPTS, hash_encoder, 20.0)
    pd.testing.assert_frame_equal(raw_classes, unit_classes, rtol=1e-5)


def test_rescoring_ten_thousand_studies_is_one_matrix_product() -> None:
    rng = np.random.default_rng(1)
    study = rng.normal(size=(10_000, 256)).astype(np.float32)
    study /= np.linalg.norm(study, axis=1, keepdims=True)
    positive = study[:7].copy()
    negative = study[7:14].copy()
    probs = finding_probabilities(study, positive, negative, scale=100.0)
    assert probs.shape == (10_000, 7) and probs.dtype == np.float32
    assert np.isfinite(probs).all() and probs[0, 0] > 0.5


def test_metrics_match_sklearn_and_skip_unknown_labels() -> None:
    ids = [f"s{i}" for i in range(8)]
    probs = pd.DataFrame({"lge": [0.9, 0.8, 0.3, 0.6, 0.1, 0.2, 0.7, 0.4]}, index=ids)
    labels = pd.DataFrame({"lge": [1, 1, 0, 0, 0, np.nan, 1, 1]}, index=ids)
    table = finding_metrics(probs, labels).set_index("Label")
    known = labels["lge"].notna()
    y, p = labels["lge"][known].astype(int), probs["lge"][known]
    assert table.loc["lge", "AUC"] == pytest.approx(roc_auc_score(y, p))
    assert table.loc["lge", "n"] == 7 and table.loc["lge", "n_positive"] == 4
    assert table.loc["lge", "Accuracy"] == pytest.approx(((p >= 0.5).astype(int) == y).mean())
    assert table.loc["lge", "Sensitivity"] == pytest.approx(0.75)
    assert table.loc["lge", "Specificity"] == pytest.approx(2 / 3)


def test_metrics_give_nan_auc_when_one_class_is_missing() -> None:
    probs = pd.DataFrame({"lge": [0.9, 0.2]}, index=["a", "b"])
    labels = pd.DataFrame({"lge": [1, 1]}, index=["a", "b"])
    assert np.isnan(finding_metrics(probs, labels)["AUC"].iloc[0])
