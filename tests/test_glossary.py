"""The Evaluate page says what its headline's terms mean, in plain words.

The headline read "few-shot prototype, mean AUC (k = 1)", "linear probe" and "label-consistent
precision@10 ceiling"; the Methods say how each is computed, but nothing told a cardiologist
what a prototype, a probe or R@10 is.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from dashboard.glossary import TERMS, terms_used
from model.evaluation.tables import with_label_names


def test_each_term_a_headline_uses_is_explained_once_and_no_other() -> None:
    figures = ["zero-shot findings, mean AUC", "few-shot prototype, mean AUC (k = 1)"]
    meanings = terms_used(figures)
    assert [m.split("**")[1] for m in meanings] == ["AUC", "Zero-shot", "Few-shot (k)", "Prototype"]
    assert terms_used(["report → study, R@10", "report → study, R@10"]) == [
        meaning for mark, meaning in TERMS if mark == "R@"
    ]
    assert terms_used([]) == []


def test_the_draws_and_folds_are_the_evaluations_own() -> None:
    """The glossary said "drawn 100 times" and "five times" whatever ``--episodes`` and
    ``--folds`` the evaluation ran with; summary.json records both."""
    figures = ["few-shot prototype, mean AUC (k = 1)", "linear probe, mean AUC"]
    config = {"suite": {"fewshot": {"episodes": 20}, "probe": {"folds": 3}}}
    _auc, fewshot, _prototype, probe = terms_used(figures, config)
    assert "drawn 20 times" in fewshot and "100" not in fewshot
    assert "2/3 of the site's patients" in probe and "3 times" in probe and "five" not in probe
    for missing in (None, {}, {"suite": {"fewshot": {"episodes": "x"}, "probe": {"folds": 1}}}):
        _auc, fewshot, _prototype, probe = terms_used(figures, missing)
        assert "drawn many times" in fewshot and not any(ch.isdigit() for ch in probe)


@pytest.mark.slow
def test_the_evaluate_page_explains_the_terms_of_its_headline(app, data_root: Path) -> None:
    folder = data_root / "evaluations" / "eval-20260101-000000"
    result = {
        "model": "m",
        "site": "internal",
        "zeroshot": [{"label_key": "lge", "auc": 0.9}],
        "fewshot": [{"label": "lge", "method": "prototype", "k": 1, "auc": 0.6}],
        "probe": [{"label_key": "lge", "setting": "linear probe", "auc": 0.95}],
        "retrieval": [{"direction": "report_to_study", "R@10": 0.4, "label_precision@10": 0.3}],
    }
    try:
        (folder / "internal").mkdir(parents=True)
        (folder / "internal" / "zeroshot.csv").write_text("model,Label,AUC\nm,LGE,0.9\n")
        suite = {"fewshot": {"episodes": 30}, "probe": {"folds": 4}}
        summary = {"config": {"checkpoint": "/runs/a/best.pt", "suite": suite}, "results": [result]}
        (folder / "summary.json").write_text(json.dumps(summary))
        at = app("pages/evaluate.py")
        assert not at.exception
        [glossary] = [e for e in at.expander if e.label == "What these figures mean"]
        text = " ".join(m.value for m in glossary.markdown)
        assert "drawn 30 times" in text and "3/4 of the site's patients" in text
        for term in ("**Prototype**", "**Linear probe**", "**R@10**", "precision@10"):
            assert term in text, term
        assert "**Logistic**" not in text  # the headline has no logistic row
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)


def test_a_problem_line_names_labels_as_the_tables_do() -> None:
    """The runner's problems quote label keys ('pericardial_effusion') under tables that name
    them (Pericardial effusion); other quoted text is left as written."""
    line = "site internal: few-shot of 'lv_hypertrophy' skipped; 'nicm' and 'other_thing' kept"
    assert with_label_names(line) == (
        "site internal: few-shot of Left ventricle hypertrophy skipped; NICM and 'other_thing' kept"
    )


@pytest.mark.slow
def test_the_evaluate_page_lists_problems_with_label_names(app, data_root: Path) -> None:
    folder = data_root / "evaluations" / "eval-20260101-000000"
    try:
        (folder / "internal").mkdir(parents=True)
        (folder / "internal" / "zeroshot.csv").write_text("model,Label,AUC\nm,LGE,0.9\n")
        problems = ["site internal: 'pericardial_effusion' has 8 positive and 148 negative studies"]
        summary = {"config": {"checkpoint": "/runs/a/best.pt"}, "results": [], "problems": problems}
        (folder / "summary.json").write_text(json.dumps(summary))
        at = app("pages/evaluate.py")
        [warning] = [w.value for w in at.warning if "Problems of this run" in w.value]
        assert "Pericardial effusion has 8 positive" in warning and "'pericardial" not in warning
    finally:
        shutil.rmtree(folder.parent, ignore_errors=True)
