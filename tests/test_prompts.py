"""Prompt sets: shipped files, YAML round trip, and clear errors for bad input."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.errors import DataError
from model.prompts import DEFAULT_PROMPTS, PARAPHRASE_PROMPTS, FindingPrompts, PromptSet
from model.schema import DIAGNOSES, FINDINGS


@pytest.mark.parametrize("path", [DEFAULT_PROMPTS, PARAPHRASE_PROMPTS])
def test_shipped_sets_cover_the_schema(path: Path) -> None:
    prompts = PromptSet.load(path)
    assert tuple(prompts.findings) == FINDINGS
    assert tuple(prompts.diagnoses) == DIAGNOSES
    assert all(p.positive and p.negative for p in prompts.findings.values())


def test_paraphrases_differ_from_default_wording() -> None:
    default = set(PromptSet.load(DEFAULT_PROMPTS).all_texts())
    paraphrase = set(PromptSet.load(PARAPHRASE_PROMPTS).all_texts())
    assert not default & paraphrase


def test_save_and_load_round_trip(tmp_path: Path) -> None:
    prompts = PromptSet(
        findings={"lge": FindingPrompts(positive=("Scar present",), negative=("No scar",))},
        diagnoses={"hcm": ["Hypertrophic cardiomyopathy"], "normal": ["Normal heart"]},
    )
    path = tmp_path / "set.yaml"
    prompts.save(path)
    again = PromptSet.load(path)
    assert again == prompts
    assert again.all_texts() == [
        "Scar present",
        "No scar",
        "Hypertrophic cardiomyopathy",
        "Normal heart",
    ]


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ("- just a list", "expected a mapping"),
        ("findings: {}\ndiagnoses: {}", "no findings and no diagnoses"),
        ("finding:\n  lge: {positive: [a], negative: [b]}", "unknown top-level keys"),
        ("findings:\n  lge: {positive: [a]}", "findings.lge: missing negative"),
        (
            "findings:\n  lge: {positive: [], negative: [b]}",
            "findings.lge.positive: expected a non-empty",
        ),
        ("findings:\n  lge: {positive: [''], negative: [b]}", "must be non-empty text"),
        ("findings:\n  lge: {positive: [LGE], negative: [No]}", r"reads as False.*in quotes"),
        ("diagnoses:\n  normal: [Normal, 5]", r"reads as 5.*in quotes"),
        ("findings:\n  lge: {positive: [a], negative: [b], maybe: [c]}", "unknown keys"),
        (  # a misspelt side is named, not only the side it leaves missing
            "findings:\n  lge: {positive: [a], negatives: [b]}",
            r"findings.lge: missing negative prompts \(unknown keys \['negatives'\]; use "
            r"positive/negative\)",
        ),
        ("diagnoses:\n  'bad key!': [a]", "name 'bad key!': use up to 64 plain letters a-z"),
        ("findings:\n  épanchement: {positive: [a], negative: [b]}", "no spaces or accents"),
        ("diagnoses:\n  hcm: 3", "diagnoses.hcm: expected a non-empty list"),
        (
            "findings:\n  lge: {positive: [LGE, Scar.], negative: [scar, ' lge ']}",
            r"findings.lge: the positive and negative prompts say the same thing.*score 0.5",
        ),
        ("findings: [unclosed", "not valid YAML"),
    ],
)
def test_invalid_sets_name_the_problem(text: str, message: str) -> None:
    with pytest.raises(DataError, match=message):
        PromptSet.loads(text, source="test.yaml")


def test_missing_file_and_python_tags_are_refused(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="does not exist"):
        PromptSet.load(tmp_path / "nope.yaml")
    evil = tmp_path / "evil.yaml"
    evil.write_text("findings: !!python/object/apply:os.system ['true']\n")
    with pytest.raises(DataError, match="not valid YAML"):
        PromptSet.load(evil)


def test_a_single_string_is_accepted_as_a_one_prompt_list() -> None:
    prompts = PromptSet.loads("diagnoses:\n  hcm: Hypertrophic cardiomyopathy\n")
    assert prompts.diagnoses == {"hcm": ["Hypertrophic cardiomyopathy"]}


def test_a_yaml_syntax_error_is_one_line_naming_where() -> None:
    """PyYAML's message spans lines (the offending line and a caret): the command's one error
    line became several."""
    with pytest.raises(DataError) as raised:
        PromptSet.loads("findings:\n  lge:\n    positive: [Scar\n", source="p.yaml")
    message = str(raised.value)
    assert "\n" not in message
    assert message.startswith("p.yaml is not valid YAML: ") and "at line 4, column 1" in message
