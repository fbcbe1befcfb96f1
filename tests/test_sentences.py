"""Impression sentences: splitting keeps numbers and abbreviations whole; dropping sentences and
words is seeded, and neither word dropout nor prompt-like fragments flip a statement's polarity;
chamber names abbreviate."""

from __future__ import annotations

import re

import numpy as np
from hypothesis import given
from hypothesis import strategies as st

from model.sentences import (
    FUNCTION_WORDS,
    POLARITY_WORDS,
    abbreviate_chambers,
    close_sentence,
    drop_sentences,
    drop_words,
    fragment_sentence,
    heart_sides,
    sentence_layout,
    split_sentences,
    vary_impression,
)

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


@given(st.sampled_from(split_sentences(IMPRESSION) + ["No pericardial effusion.",
       "Non-dilated right ventricle with normal systolic function.", "LV not dilated."]),
       st.floats(0.0, 0.95), st.integers(0, 2**32 - 1))  # fmt: skip
def test_word_drop_keeps_polarity_words_and_the_full_stop(sentence: str, rate: float, seed: int):
    kept = drop_words(sentence, rate, np.random.default_rng(seed))
    words = kept[:-1].split()
    assert kept.endswith(".") and split_sentences(kept) == [kept]
    assert {w.lower() for w in words} <= {w.lower() for w in sentence[:-1].split()}
    lower = [w.lower() for w in words]  # the first word kept is capitalised
    for cue in ("no", "non-dilated", "normal", "not"):
        assert (cue in sentence.lower().split()) <= (cue in lower), (sentence, kept)
    assert len([w for w in lower if w not in POLARITY_WORDS | {"non-dilated"}]) >= 1


def test_word_drop_shortens_sentences_and_keeps_asides_whole() -> None:
    sentence = "Mildly dilated LV (LVEDD 61.5 mm) with subendocardial inferior LGE."
    draws = {drop_words(sentence, 0.4, np.random.default_rng(seed)) for seed in range(60)}
    assert len(draws) > 10 and min(len(d) for d in draws) < len(sentence) // 2
    for draw in draws:
        assert ("(LVEDD" in draw) == ("61.5 mm)" in draw)
    assert drop_words(sentence, 0.0, np.random.default_rng(0)) == sentence
    assert drop_words("No LGE.", 0.9, np.random.default_rng(0)) == "No LGE."


def test_vary_impression_without_word_drop_is_sentence_drop_alone() -> None:
    for seed in range(10):
        alone = drop_sentences(IMPRESSION, 0.3, np.random.default_rng(seed))
        assert vary_impression(IMPRESSION, 0.3, 0.0, np.random.default_rng(seed)) == alone
    varied = {vary_impression(IMPRESSION, 0.0, 0.3, np.random.default_rng(s)) for s in range(20)}
    assert len(varied) > 10
    assert all(len(split_sentences(text)) == len(split_sentences(IMPRESSION)) for text in varied)


FRAGMENTED = [
    "Subendocardial LGE of the inferior wall.",
    "There is a small pericardial effusion.",
    "No myocardial LGE.",
    "Non-dilated right ventricle with normal systolic function.",
    "Mildly dilated LV (LVEDD 61.5 mm).",
]


@given(st.sampled_from(FRAGMENTED), st.integers(0, 2**32 - 1))
def test_fragment_keeps_polarity_and_one_or_two_adjacent_content_words(sentence: str, seed: int):
    fragment = fragment_sentence(sentence, np.random.default_rng(seed))
    assert fragment.endswith(".") and split_sentences(fragment) == [fragment]
    words = [w.lower() for w in re.findall(r"\([^)]*\)|\S+", sentence[:-1])]  # asides whole
    kept = [w.lower() for w in re.findall(r"\([^)]*\)|\S+", fragment[:-1])]
    polarity = [w for w in words if w in POLARITY_WORDS or w.startswith("non-")]
    assert [w for w in kept if w in polarity] == polarity  # every polarity word, in order
    content = [w for w in words if w not in polarity and w not in FUNCTION_WORDS]
    chosen = [w for w in kept if w not in polarity]
    assert 1 <= len(chosen) <= 2 and not set(chosen) & FUNCTION_WORDS
    start = content.index(chosen[0])
    assert content[start : start + len(chosen)] == chosen  # a run, in the sentence's order


def test_fragments_reach_bare_finding_names_and_leave_short_sentences() -> None:
    sentence = "Subendocardial LGE of the inferior wall."
    draws = {fragment_sentence(sentence, np.random.default_rng(seed)) for seed in range(60)}
    assert {"LGE.", "Subendocardial LGE.", "Inferior wall."} <= draws
    assert "Of the." not in draws and "The." not in draws
    for short in ("No LGE.", "Preserved LVEF.", "Effusion"):
        assert fragment_sentence(short, np.random.default_rng(0)) == short


def test_vary_impression_fragments_some_sentences_and_is_unchanged_without_them() -> None:
    for seed in range(10):
        plain = vary_impression(IMPRESSION, 0.3, 0.3, np.random.default_rng(seed))
        assert vary_impression(IMPRESSION, 0.3, 0.3, np.random.default_rng(seed), 0.0) == plain
    sentences = split_sentences(IMPRESSION)
    varied = [
        vary_impression(IMPRESSION, 0.0, 0.0, np.random.default_rng(s), 0.5) for s in range(40)
    ]
    assert all(len(split_sentences(text)) == len(sentences) for text in varied)
    first = {split_sentences(text)[0] for text in varied}
    assert sentences[0] in first and min(len(s) for s in first) < len(sentences[0])
    assert all("No LGE." in text for text in varied)  # too short to cut


def test_abbreviate_chambers_in_any_case_and_leaves_other_words() -> None:
    cases = {
        "The left ventricle is dilated.": "The LV is dilated.",
        "Left ventricular mass; RIGHT VENTRICULAR dilatation.": "LV mass; RV dilatation.",
        "Mildly dilated right ventricle (RVEDV 190 mL).": "Mildly dilated RV (RVEDV 190 mL).",
        "Left atrial enlargement. Right atrium normal.": "LA enlargement. RA normal.",
        "Biventricular dilatation; both ventricles; right heart strain; leftventricle.": None,
    }
    for text, expected in cases.items():
        assert abbreviate_chambers(text) == (expected or text)
        assert abbreviate_chambers(abbreviate_chambers(text)) == abbreviate_chambers(text)
    assert len(split_sentences(abbreviate_chambers(IMPRESSION))) == len(split_sentences(IMPRESSION))


def test_heart_sides_from_abbreviations_and_words() -> None:
    cases = {
        "Dilated RV; reduced RVEF of 39%.": {"right"},
        "Enlarged left heart chamber": {"left"},
        "lv dilated": {"left"},
        "The RA is enlarged. Reduced LVEF.": {"left", "right"},
        "RIGHT VENTRICULAR dilatation": {"right"},
        "No LGE. Bright signal, leftover contrast; la la.": set(),
        "Nodule in the right lower lobe. LGE in the LAD territory.": set(),
        "Left-sided effusion; the right atrium.": {"left", "right"},
        "Biventricular dilatation.": set(),
    }
    for text, expected in cases.items():
        assert heart_sides(text) == expected, text


def test_close_sentence_adds_one_full_stop_only_where_none_closes_the_text() -> None:
    cases = {
        "Myocardial LGE": "Myocardial LGE.",
        "Dilated LV (LVEDD 64 mm)  ": "Dilated LV (LVEDD 64 mm).",
        "No LGE.": "No LGE.",
        "Effusion?": "Effusion?",
        "": "",
        "   ": "",
    }
    for text, closed in cases.items():
        assert close_sentence(text) == closed
        assert close_sentence(closed) == closed
