"""Every page explains the technical words it shows, from one glossary.

A clinician reading the pages met "val", "R@k", "InfoNCE", "multiview tower", "UMAP", "AUC",
"preset", "epoch", "logit scale", "prototype" and "probe" with no word of what they mean. Each
word is defined once (``dashboard.glossary.WORDS``); pages list theirs under the title
(``page_header(words=...)``) and quote them in help tooltips (``meaning``), never retyped.
"""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest

from dashboard.glossary import TERMS, WORDS, glossary_lines, meaning
from dashboard.ui import WORDS_EXPANDER

ROOT = Path(__file__).resolve().parents[1]
PAGES = sorted((ROOT / "pages").glob("*.py"))
EXPLAINED = ("val", "R@k", "InfoNCE loss", "tower", "UMAP", "AUC", "preset", "epoch")
EXPLAINED += ("logit scale", "prototype", "linear probe")


def _glossary_words(tree: ast.AST) -> list[str]:
    """The words a page passes to ``meaning(...)`` and to ``page_header(words=...)``."""
    words = []
    for node in ast.walk(tree):
        if not isinstance(node, ast.Call) or not isinstance(node.func, ast.Name):
            continue
        if node.func.id == "meaning":
            words += [a.value for a in node.args if isinstance(a, ast.Constant)]
        for keyword in node.keywords if node.func.id == "page_header" else ():
            if keyword.arg == "words":
                words += [c.value for c in ast.walk(keyword.value) if isinstance(c, ast.Constant)]
    return words


def _sentences() -> list[str]:
    """The glossary's sentences, long enough that a page holding one copied it."""
    parts = [p for text in WORDS.values() for p in re.split(r"[.;:(]\s*", text)]
    return [p.strip() for p in parts if len(p.strip()) >= 30]


def test_the_words_the_audit_listed_are_defined_once() -> None:
    assert set(EXPLAINED) <= set(WORDS)
    assert meaning("AUC") == f"AUC: {WORDS['AUC']}"
    assert glossary_lines(["epoch"]) == [f"**epoch**: {WORDS['epoch']}"]
    # the Evaluate page's headline terms reuse the same definitions
    by_mark = dict(TERMS)
    for mark, word in (("AUC", "AUC"), ("prototype", "prototype"), ("logistic", "logistic")):
        assert WORDS[word] in by_mark[mark]
    assert WORDS["linear probe"].removesuffix(".") in by_mark["linear probe"]


@pytest.mark.parametrize("page", PAGES, ids=lambda p: p.stem)
def test_each_page_uses_only_glossary_words_and_retypes_none(page: Path) -> None:
    tree = ast.parse(page.read_text())
    unknown = [w for w in _glossary_words(tree) if w not in WORDS]
    assert not unknown, f"{page.name} uses words the glossary lacks: {unknown}"
    texts = [n.value for n in ast.walk(tree) if isinstance(n, ast.Constant)]
    texts = [t for t in texts if isinstance(t, str)]
    copied = [s for s in _sentences() for t in texts if s in t]
    assert not copied, f"{page.name} retypes glossary sentences: {copied}"


def test_every_page_lists_its_words() -> None:
    """Evaluate listed none: its headline glossary (``terms_used``) explains the headline's
    terms only, not the tabs' R@k, ROC or 95% CI."""
    for page in PAGES:
        assert _glossary_words(ast.parse(page.read_text())), page.name


@pytest.mark.slow
def test_the_train_page_explains_its_words(app) -> None:
    at = app("pages/train.py")
    assert not at.exception
    [words] = [e for e in at.expander if e.label == WORDS_EXPANDER]
    text = " ".join(m.value for m in words.markdown)
    for word in ("val", "R@k", "InfoNCE loss", "tower", "epoch", "preset"):
        assert f"**{word}**: {WORDS[word]}" in text, word
    [preset] = [s for s in at.selectbox if s.label == "Preset"]
    assert preset.help == meaning("preset")
