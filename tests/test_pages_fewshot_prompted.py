"""The Few-shot page's ``prompted`` method over the tiny data root: the wordings typed, the
ranked table with and without examples, the wordings kept with the set across page visits."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from streamlit.testing.v1 import AppTest
from streamlit.testing.v1.element_tree import TextArea

from tests.test_pages_fewshot import add, only_set, texts

pytestmark = pytest.mark.slow

WORDS = {"positive": "Late gadolinium enhancement\nScar in the septum", "negative": "No scar"}


def box(at: AppTest, side: str) -> TextArea:
    return next(t for t in at.text_area if str(t.key).startswith(f"fs-prompt-{side}:"))


def ranked(at: AppTest) -> pd.DataFrame:
    return next(d.value for d in at.dataframe if "rank" in d.value.columns)


def test_prompted_ranks_by_the_wording_then_the_examples_and_keeps_it(app) -> None:
    at = app("pages/fewshot.py")
    at.radio(key="fs-method").set_value("prompted").run()
    assert "needs the class in words" in texts(at)
    assert not any("rank" in d.value.columns for d in at.dataframe)
    box(at, "positive").set_value(WORDS["positive"]).run()
    assert "word its absence too" in texts(at)
    box(at, "negative").set_value(WORDS["negative"]).run()
    assert not at.exception and not at.error, [e.value for e in [*at.exception, *at.error]]
    zero_shot = ranked(at)
    assert len(zero_shot) == 24  # no examples: every study, by the wording alone
    assert zero_shot["score"].between(0, 1).all() and zero_shot["score"].is_monotonic_decreasing
    assert any(
        c.value.startswith("Score: the probability, 0 to 1, of the zero-shot") for c in at.caption
    )
    add(at, "s000001", True)
    add(at, "s000002", False)
    refitted = ranked(at).set_index("study_id")["score"]
    assert len(refitted) == 22
    assert not refitted.equals(zero_shot.set_index("study_id")["score"].reindex(refitted.index))
    saved = json.loads(only_set(at).dumps())
    assert saved["prompts"] == {
        "positive": ["Late gadolinium enhancement", "Scar in the septum"],
        "negative": ["No scar"],
    }
    at.switch_page("pages/zeroshot.py").run()
    at.switch_page("pages/fewshot.py").run()
    assert not at.exception and not at.error
    assert at.radio(key="fs-method").value == "prompted"
    assert box(at, "positive").value == WORDS["positive"]
    assert box(at, "negative").value == WORDS["negative"]
    assert ranked(at).set_index("study_id")["score"].equals(refitted)
    at.button(key="fs-clear").click().run()  # clears the examples, not the wording
    assert not only_set(at).ids and only_set(at).prompt_problem() is None
    assert len(ranked(at)) == 24


def test_a_half_typed_wording_is_said_to_be_left_out_of_a_save(app) -> None:
    """A set saved or downloaded keeps only a complete wording: with the class worded and not
    its absence, the page says the wording will not go with the set (it went silently)."""
    at = app("pages/fewshot.py")
    add(at, "s000001", True)
    at.radio(key="fs-method").set_value("prompted").run()
    box(at, "positive").set_value(WORDS["positive"]).run()
    assert "prompts" not in json.loads(only_set(at).dumps())
    left_out = [c.value for c in at.caption if "not saved or downloaded" in c.value]
    assert left_out and "word its absence too" in left_out[0], [c.value for c in at.caption]
    box(at, "negative").set_value(WORDS["negative"]).run()
    assert "prompts" in json.loads(only_set(at).dumps())
    assert not any("not saved or downloaded" in c.value for c in at.caption)
