"""Impression sentences: splitting keeps numbers and abbreviations whole; dropping is seeded."""

from __future__ import annotations

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from model.sentences import drop_sentences, sentence_layout, split_sentences

IMPRESSION = (
    "Mildly dilated LV (LVEDD 61.5 mm). Reduced LVEF of 38%. No LGE. "
    "(Incidental) small hiatus hernia. 2 mm pericardial fluid, likely physiological."
)


def test_split_keeps_decimals_and_parentheses_inside_sentences() -> None:
    assert split_sentences(IMPRESSION) == [
        "Mildly dilated LV (LVEDD 61.5 mm).",
        "Reduced LVEF of 38%.",
        "No LGE.",
        "(Incidental) small hiatus hernia.",
        "2 mm pericardial fluid, likely physiological.",
    ]


def test_a_text_without_boundaries_is_one_sentence() -> None:
    assert split_sentences("dilated left ventricle") == ["dilated left ventricle"]
    assert split_sentences("  ") == [""]
    assert split_sentences("Ends with a stop.") == ["Ends with a stop."]


def test_drop_is_deterministic_and_keeps_order() -> None:
    kept = drop_sentences(IMPRESSION, 0.5, np.random.default_rng(3))
    assert kept == drop_sentences(IMPRESSION, 0.5, np.random.default_rng(3))
    parts = split_sentences(kept)
    source = split_sentences(IMPRESSION)
    assert parts == [s for s in source if s in parts]
    assert drop_sentences(IMPRESSION, 0.0, np.random.default_rng(3)) == IMPRESSION


def test_drop_rates_vary_the_text_across_draws() -> None:
    draws = {drop_sentences(IMPRESSION, 0.3, np.random.default_rng(seed)) for seed in range(40)}
    assert len(draws) > 5 and IMPRESSION in draws


@given(st.lists(st.sampled_from(split_sentences(IMPRESSION)), min_size=1, max_size=8),
       st.floats(0.0, 0.95), st.integers(0, 2**32 - 1))  # fmt: skip
def test_drop_always_keeps_at_least_one_sentence(sentences: list[str], rate: float, seed: int):
    kept = drop_sentences(" ".join(sentences), rate, np.random.default_rng(seed))
    assert kept and set(split_sentences(kept)) <= set(sentences)


def test_layout_lists_every_occurrence_with_its_owner() -> None:
    flat, owner = sentence_layout(["A b. C d.", "C d.", ""])
    assert flat == ["A b.", "C d.", "C d.", ""] and owner == [0, 0, 1, 2]
