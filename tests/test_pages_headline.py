"""The evaluation's headline sentence on the pages a PI opens before a talk: Evaluate shows it
above the headline table, Home the latest evaluation's, each in a block with a copy button."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest
from test_eval_headline_sentence import _result, _summary

pytestmark = pytest.mark.slow


@pytest.fixture
def evaluation(data_root: Path):
    """A finished evaluation of two sites under the data root, removed after the test."""
    folder = data_root / "evaluations" / "eval-20260101-000000"
    (folder / "internal").mkdir(parents=True)
    (folder / "internal" / "zeroshot.csv").write_text("model,Label,AUC\nm,LGE,0.8\n")
    summary = _summary([_result("m/best", "internal"), _result("m/best", "external", 0.7)], ["m"])
    summary["models"] = [{"name": "m/best"}]
    summary["config"] = {"checkpoint": "/runs/m/best.pt", "compare": []}
    (folder / "summary.json").write_text(json.dumps(summary))
    yield folder
    shutil.rmtree(folder.parent, ignore_errors=True)


def _quoted(at) -> list[str]:
    return [block.value for block in at.code if "zero-shot (no labels in training)" in block.value]


def test_evaluate_shows_the_sentence_to_quote(app, evaluation: Path) -> None:
    """The page had a dozen-figure table and no sentence: a slide's line was typed by hand."""
    at = app("pages/evaluate.py")
    [sentence] = _quoted(at)
    assert "0.800 (95% CI 0.750–0.850) at internal (1,560 studies" in sentence
    assert "0.700 (95% CI 0.650–0.850) at external" in sentence
    assert not at.exception


def test_home_counts_evaluations_and_quotes_the_latest(app, evaluation: Path) -> None:
    """Home said nothing of evaluations: no count, no result, no way to the tables."""
    at = app("pages/home.py")
    assert next(m for m in at.metric if m.label == "Evaluations").value == "1"
    [sentence] = _quoted(at)
    assert sentence.startswith("m/best, zero-shot")
    assert any("eval-20260101-000000" in c.value for c in at.caption)
    assert not at.exception


def test_home_without_evaluations_says_nothing_of_one(app, data_root: Path) -> None:
    at = app("pages/home.py")
    assert next(m for m in at.metric if m.label == "Evaluations").value == "0"
    assert not _quoted(at)
    assert "Latest evaluation" not in [h.value for h in at.subheader]


def test_home_quotes_the_latest_finished_evaluation_not_a_newer_unfinished_one(
    app, evaluation: Path
) -> None:
    """A newer evaluation still running (no summary.json yet) took Home's place: it showed
    "no summary.json (did not finish)" and no sentence while a finished one sat beside it."""
    newer = evaluation.parent / "eval-20260102-000000"
    (newer / "internal").mkdir(parents=True)
    (newer / "internal" / "zeroshot.csv").write_text("model,Label,AUC\nm,LGE,0.9\n")
    os.utime(evaluation, (1, 1))  # the finished one is the older folder
    at = app("pages/home.py")
    assert next(m for m in at.metric if m.label == "Evaluations").value == "2"
    [sentence] = _quoted(at)
    assert sentence.startswith("m/best, zero-shot")
    captions = " ".join(c.value for c in at.caption)
    assert "eval-20260101-000000" in captions
    assert "eval-20260102-000000 has no summary yet" in captions
    assert not at.exception


def _keyed_blocks(at, key: str) -> list:
    """The blocks of the page made by ``st.container(key=key)``."""
    found, blocks = [], [at.main]
    while blocks:
        block = blocks.pop()
        if type(block.proto).__name__ == "Block" and block.proto.id.endswith(f"-{key}"):
            found.append(block)
        blocks += list(getattr(block, "children", {}).values())
    return found


@pytest.mark.parametrize("page", ["pages/evaluate.py", "pages/home.py"])
def test_the_sentence_is_in_body_text_a_projector_reads_and_copied_in_one_click(
    app, evaluation: Path, page: str
) -> None:
    """The sentence was 14 px monospace (``st.code``'s): the smallest text on a projected page.
    It stays a code block, for its copy button, in the page's font at 1.25 rem, styled through
    its container's documented ``st-key-`` class, not a class of Streamlit's own."""
    from dashboard.headline_view import SENTENCE_KEY

    at = app(page)
    [block] = _keyed_blocks(at, SENTENCE_KEY)
    [sentence] = [code.value for code in block.get("code")]
    assert sentence.startswith("m/best, zero-shot") and sentence == _quoted(at)[0]
    [style] = [h.proto.body for h in at.get("html") if f".st-key-{SENTENCE_KEY}" in h.proto.body]
    rule = style.split("{", 1)[1]
    assert "font-family: inherit" in rule and "font-size: 1.25rem" in rule
    assert "st-emotion" not in style and "data-testid" not in style
