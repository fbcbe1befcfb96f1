"""How the model reads a prompt: unique report sentences with their study counts, nearest
neighbours by cosine, and the flags for a wording read against its intent (label-free)."""

from __future__ import annotations

import numpy as np
import pytest

from model.prompt_reading import (
    FLAG_SHARE,
    NEIGHBOURS,
    closest_alike,
    contradicts,
    embed_report_sentences,
    is_negative_statement,
    other_side_share,
    prompt_table,
    read_prompt,
    read_prompt_pair,
    unique_sentences,
)
from model.prompts import FindingPrompts, PromptSet
from model.sentences import heart_sides

IMPRESSIONS = [
    "No LGE. No pericardial effusion.",
    "No LGE. Dilated LV. Dilated LV.",
    "Subendocardial LGE of the inferior wall. No pericardial effusion.",
    "Normal LV size. No LGE.",
    "Subendocardial LGE of the lateral wall. Dilated LV.",
    "Transmural LGE of the inferior wall.",
    "Dilated LV with LGE.",
    "",
]
VOCABULARY = ["no", "normal", "lge", "subendocardial", "inferior", "wall", "dilated", "lv",
              "size", "pericardial", "effusion", "of", "the", "lateral", "transmural",
              "with"]  # fmt: skip


def bag_of_words(texts: list[str]) -> np.ndarray:
    """A transparent stand-in text tower: unit-norm word counts over ``VOCABULARY``."""
    rows = np.zeros((len(texts), len(VOCABULARY)), dtype=np.float32)
    for i, text in enumerate(texts):
        for word in text.lower().replace(".", " ").split():
            if word in VOCABULARY:
                rows[i, VOCABULARY.index(word)] += 1.0
    return rows / np.maximum(np.linalg.norm(rows, axis=1, keepdims=True), 1e-12)


def test_unique_sentences_count_studies_not_occurrences_commonest_first() -> None:
    texts, studies = unique_sentences(IMPRESSIONS)
    assert texts[0] == "No LGE." and studies[0] == 3
    assert texts[1] == "Dilated LV."
    assert dict(zip(texts, studies.tolist(), strict=True))["Dilated LV."] == 2  # 3 times, 2 studies
    assert texts[2] == "No pericardial effusion." and studies[2] == 2
    assert list(studies) == sorted(studies, reverse=True) and "" not in texts
    assert unique_sentences(IMPRESSIONS, limit=2)[0] == texts[:2]


@pytest.mark.parametrize(
    ("sentence", "negative"),
    [("No LGE.", True), ("Normal LV size.", True), ("Non-dilated RV.", True),
     ("Preserved LVEF (62%).", True), ("Subendocardial LGE.", False), ("Dilated LV.", False)],
)  # fmt: skip
def test_negative_statements_are_those_with_a_polarity_word(sentence: str, negative: bool) -> None:
    assert is_negative_statement(sentence) is negative


def test_neighbours_are_the_closest_sentences_in_order() -> None:
    sentences = embed_report_sentences(IMPRESSIONS, bag_of_words)
    prompt = bag_of_words(["Subendocardial LGE"])[0]
    table = read_prompt("Subendocardial LGE", prompt, sentences).neighbours
    assert len(table) == NEIGHBOURS < len(sentences.texts)
    expected = np.sort(sentences.vectors @ prompt)[::-1][:NEIGHBOURS]
    np.testing.assert_allclose(table["cosine"].to_numpy(), expected, rtol=1e-6)
    assert table["sentence"].iloc[0].startswith("Subendocardial LGE of the")
    top = dict(zip(sentences.texts, sentences.studies.tolist(), strict=True))
    assert table["studies"].tolist() == [top[s] for s in table["sentence"]]


# A text tower that reads a bare "LGE" beside the denials, as the demo checkpoints do.
READ_AS = {
    "No LGE.": (1.0, 0.0), "No myocardial LGE.": (0.98, 0.2), "No evidence of LGE.": (0.97, 0.25),
    "Normal LV size.": (0.9, -0.4), "No pericardial effusion.": (0.8, -0.6),
    "Subendocardial LGE.": (0.0, 1.0), "Transmural LGE.": (0.2, 0.98),
    "Mid-wall LGE.": (0.25, 0.97),
    "Dilated LV.": (-0.6, 0.8), "Patchy LGE.": (0.3, 0.95),
    "LGE": (0.95, 0.3), "No LGE": (1.0, 0.0), "Scar": (0.1, 0.99), "Dilated": (-0.5, 0.86),
    "Odd": (-0.7, -0.7),
}  # fmt: skip


def read_as(texts: list[str]) -> np.ndarray:
    rows = np.array([READ_AS[text] for text in texts], dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_pair_flags_a_wording_read_against_its_intent() -> None:
    sentences = embed_report_sentences([" ".join(list(READ_AS)[:10])], read_as)
    flagged = read_prompt_pair("LGE", "No LGE", read_as, sentences)
    assert flagged.positive.negative_share == 1.0 >= FLAG_SHARE
    [warning] = [w for w in flagged.warnings() if "read like a negative statement" in w]
    assert flagged.positive.suggestion == "Patchy LGE."  # the closest sentence stating LGE
    assert warning.endswith(
        "A report wording to try (the closest with its polarity and side): “Patchy LGE.”."
    )
    clear = read_prompt_pair("Scar", "No LGE", read_as, sentences)
    assert clear.positive.negative_share == 0.0 and clear.negative.negative_share == 1.0
    assert clear.warnings() == [] and 0.0 < clear.cosine < flagged.cosine <= 1.0
    inverted = read_prompt_pair("Scar", "Dilated", read_as, sentences)
    assert [w for w in inverted.warnings() if "negative prompt" in w]
    odd = read_prompt_pair("Odd", "No LGE", read_as, sentences)
    assert [w for w in odd.warnings() if w.startswith("“Odd” is unlike anything")]
    assert len(odd.warnings()) == 1 and odd.positive.neighbours["cosine"].iloc[0] < 0.8


def test_a_pair_typed_the_wrong_way_round_is_called_swapped_not_misread() -> None:
    sentences = embed_report_sentences([" ".join(list(READ_AS)[:10])], read_as)
    swapped = read_prompt_pair("No LGE", "Scar", read_as, sentences)
    assert contradicts(swapped.positive, positive=True)  # read as worded, the other way round
    [warning] = swapped.warnings()
    assert warning.startswith("The two prompts look swapped: the positive prompt “No LGE”")
    assert "“Scar” states it" in warning and warning.endswith("Swap the two.")


def test_a_dataset_without_reports_reads_nothing_and_flags_nothing() -> None:
    sentences = embed_report_sentences(["", None], bag_of_words)
    reading = read_prompt_pair("LGE", "No LGE", bag_of_words, sentences)
    assert reading.positive.neighbours.empty and reading.warnings() == []


def test_prompt_table_reads_every_prompt_and_marks_the_contradicting_ones() -> None:
    def scaled(texts: list[str]) -> np.ndarray:  # an encoder that does not normalise
        return 3.0 * read_as(texts)

    sentences = embed_report_sentences([" ".join(list(READ_AS)[:10])], scaled)
    prompts = PromptSet(findings={"lge": FindingPrompts(("LGE", "Scar"), ("No LGE", "Dilated"))})
    table = prompt_table(prompts, scaled, sentences, k=2)
    assert table["prompt"].tolist() == ["LGE", "Scar", "No LGE", "Dilated"]
    assert table["side"].tolist() == ["positive", "positive", "negative", "negative"]
    assert table["contradicts"].tolist() == [True, False, False, True]
    assert not table["unfamiliar"].any()
    assert table["closest"].iloc[2].startswith("No LGE. (1.00) | ")  # vectors renormalised
    assert set(table["label_key"]) == {"lge"}
    assert prompt_table(prompts, read_as, embed_report_sentences([""], read_as)).empty


def test_prompt_table_flags_over_the_same_neighbours_as_the_page() -> None:
    # "Mixed" has two "No ..." sentences closest, then three positive ones: the table shows 2,
    # but its share and flag count the page's NEIGHBOURS, so both read the prompt alike
    vectors = {**READ_AS, "Mixed": (0.75, 0.66)}

    def encode(texts: list[str]) -> np.ndarray:
        return np.array([vectors[text] for text in texts], dtype=np.float32)

    sentences = embed_report_sentences([" ".join(list(READ_AS)[:10])], encode)
    prompts = PromptSet(findings={"lge": FindingPrompts(("Mixed",), ("No LGE",))})
    row = prompt_table(prompts, encode, sentences, k=2).iloc[0]
    page = read_prompt_pair("Mixed", "No LGE", encode, sentences).positive
    assert row["closest"].count(" | ") == 1 and row["closest"].startswith("No evidence of LGE.")
    assert row["negative_share"] == page.negative_share == 0.4
    assert not row["contradicts"] and not contradicts(page, positive=True)


# A text tower that reads right-heart wordings beside left-ventricular sentences.
SIDED = {
    "Dilated LV.": (1.0, 0.0), "Mildly enlarged LV cavity.": (0.99, 0.1),
    "The LV is dilated.": (0.97, 0.25), "Dilated LV (LVEDD 64 mm).": (0.95, 0.3),
    "Normal LV size.": (0.2, 1.0), "LV cavity size within normal limits.": (0.25, 0.97),
    "Normal left ventricular dimensions.": (0.18, 1.0), "LV of normal size.": (0.3, 0.95),
    "Dilated RV.": (0.6, 0.6), "Normal RV size.": (0.55, 0.65), "No LGE.": (-1.0, 0.2),
    "Enlarged right heart chamber": (0.98, 0.15), "Dilated RV": (0.6, 0.62),
    "RV cavity of normal dimensions": (0.22, 0.99), "Normal right ventricle": (0.55, 0.66),
    "The RV contracts well": (0.9, 0.45),
}  # fmt: skip


def read_sided(texts: list[str]) -> np.ndarray:
    rows = np.array([SIDED[text] for text in texts], dtype=np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def test_other_side_share_counts_sentences_naming_only_the_other_side() -> None:
    texts = ["Dilated LV.", "Normal LV size.", "Dilated RV; normal LV.", "No LGE."]
    sentences = [heart_sides(text) for text in texts]
    assert other_side_share("Enlarged right heart chamber", sentences) == 0.5
    assert other_side_share("Reduced RVEF", sentences[:2]) == 1.0
    assert other_side_share("Dilated LV", sentences) == 0.0
    assert np.isnan(other_side_share("Myocardial LGE", sentences))  # names no side
    assert np.isnan(other_side_share("Biventricular: LV and RV dilated", sentences))  # both
    assert np.isnan(other_side_share("Dilated RV", []))


def test_a_right_heart_wording_read_as_left_heart_is_flagged() -> None:
    sentences = embed_report_sentences([" ".join(list(SIDED)[:11])], read_sided)
    misread = read_prompt_pair(
        "Enlarged right heart chamber", "RV cavity of normal dimensions", read_sided, sentences
    )
    assert misread.positive.other_side_share == misread.negative.other_side_share == 0.8
    warnings = [w for w in misread.warnings() if "name only the left" in w]
    assert len(warnings) == 2 and warnings[0].startswith("“Enlarged right heart chamber” names")
    assert warnings[0].endswith("(the closest with its polarity and side): “Dilated RV.”.")
    assert warnings[1].endswith("(the closest with its polarity and side): “Normal RV size.”.")
    clear = read_prompt_pair("Dilated RV", "Normal right ventricle", read_sided, sentences)
    assert clear.positive.other_side_share == 0.6 < FLAG_SHARE
    assert clear.warnings() == []
    prompts = PromptSet(
        findings={
            "rv_dilation": FindingPrompts(
                ("Enlarged right heart chamber", "Dilated RV"), ("Normal right ventricle",)
            )
        }
    )
    table = prompt_table(prompts, read_sided, sentences)
    assert table["other_side"].tolist() == [True, False, False]
    assert table["suggestion"].tolist() == ["Dilated RV.", "", ""]  # for flagged prompts only


def test_closest_alike_keeps_the_prompts_polarity_and_side_or_finds_none() -> None:
    sentences = embed_report_sentences([" ".join(list(SIDED)[:11])], read_sided)

    def alike(prompt: str) -> str | None:
        return closest_alike(prompt, sentences.vectors @ read_sided([prompt])[0], sentences)

    assert alike("Enlarged right heart chamber") == "Dilated RV."
    assert alike("Dilated RV") == "Dilated RV."
    assert alike("RV cavity of normal dimensions") == "Normal RV size."
    assert alike("Normal right ventricle") == "Normal RV size."
    only_left = embed_report_sentences(["Dilated LV. Normal LV size."], read_sided)
    none = closest_alike("Dilated RV", only_left.vectors @ read_sided(["Dilated RV"])[0], only_left)
    assert none is None
    reading = read_prompt("Dilated RV", read_sided(["Dilated RV"])[0], only_left)
    assert reading.suggestion is None
    assert reading.try_instead() == "Try the wording the reports use for the finding."


def test_a_pairs_negative_prompt_is_suggested_a_normal_statement_whatever_its_words() -> None:
    """ "Contracts well" has no polarity word: read alone it is matched with findings."""
    sentences = embed_report_sentences([" ".join(list(SIDED)[:11])], read_sided)
    vector = read_sided(["The RV contracts well"])[0]
    assert closest_alike("The RV contracts well", sentences.vectors @ vector, sentences) == (
        "Dilated RV."
    )
    pair = read_prompt_pair("Dilated RV", "The RV contracts well", read_sided, sentences)
    assert pair.negative.suggestion == "Normal RV size."
    assert pair.positive.suggestion == "Dilated RV."
    flagged = prompt_table(
        PromptSet(
            findings={"rv_dilation": FindingPrompts(("Dilated RV",), ("The RV contracts well",))}
        ),
        read_sided,
        sentences,
    ).set_index("side")
    assert flagged.loc["negative", "contradicts"]  # read among the findings: flagged
    assert flagged.loc["negative", "suggestion"] == "Normal RV size."
