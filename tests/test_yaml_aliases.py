"""A YAML file of nested aliases ("billion laughs": a few hundred bytes that stand for millions
of strings) is refused with a short message: safe_load shares the aliased lists, but a message
quoting the value, or ``str`` of it, wrote every copy out (seconds of CPU and hundreds of MB for
a prompt set uploaded on the Zero-shot page; a MemoryError for a view map)."""

from __future__ import annotations

from pathlib import Path

import pytest

from model.data.views import ViewMap
from model.errors import DataError
from model.example_set import ExampleSet
from model.prompts import PromptSet

LEVELS = 6  # each level nine times the last: 9**6 * 9 strings when written out


def _laughs() -> tuple[str, str]:
    """YAML flow lists of nested aliases and the alias of the deepest one."""
    lists = ['&a0 ["lol","lol","lol","lol","lol","lol","lol","lol","lol"]']
    for level in range(1, LEVELS):
        lists.append(f"&a{level} [" + ", ".join([f"*a{level - 1}"] * 9) + "]")
    return "[" + ", ".join(lists) + "]", f"*a{LEVELS - 1}"


def test_a_prompt_set_of_nested_aliases_is_refused_with_a_short_message() -> None:
    anchors, deepest = _laughs()
    text = f'diagnoses:\n  x: {anchors}\nfindings:\n  lv:\n    positive: ["dilated"]\n'
    text += f"    negative: [{deepest}]\n"
    with pytest.raises(DataError) as refused:
        PromptSet.loads(text, "laughs.yaml")
    message = str(refused.value)
    assert message.startswith("laughs.yaml: findings.lv.negative: every prompt must be")
    assert len(message) < 300, len(message)


def test_a_view_map_of_nested_aliases_is_refused_with_a_short_message(tmp_path: Path) -> None:
    anchors, deepest = _laughs()
    path = tmp_path / "views.yaml"
    path.write_text(f"anchors: {anchors}\n'*cine*': {deepest}\n", encoding="utf-8")
    with pytest.raises(DataError) as refused:
        ViewMap.load(path)
    message = str(refused.value)
    assert "slot" in message and "is not one of" in message
    assert len(message) < 400, len(message)


DEEP = "[" * 20_000 + "]" * 20_000  # parsers that recurse stop with a RecursionError


def test_lists_nested_too_deeply_are_refused_with_a_message(tmp_path: Path) -> None:
    path = tmp_path / "deep.yaml"
    path.write_text(f"findings: {DEEP}\n", encoding="utf-8")
    refusals = [
        (lambda: PromptSet.loads(f"findings: {DEEP}\n", "deep.yaml"), "deep.yaml is not valid"),
        (lambda: PromptSet.load(path), f"prompt set {path} is not valid YAML"),
        (lambda: ViewMap.load(path), f"view map {path}"),
        (lambda: ExampleSet.loads(DEEP, "deep.json"), "deep.json"),
    ]
    for read, start in refusals:
        with pytest.raises(DataError) as refused:
            read()
        assert str(refused.value).startswith(start) and "nested too deeply" in str(refused.value)


def test_a_view_map_with_a_yaml_mistake_says_it_in_one_line(tmp_path: Path) -> None:
    """As a prompt set's does (``yaml_problem``): PyYAML's own text spans several lines."""
    path = tmp_path / "views.yaml"
    path.write_text("'*cine*': sax\n'*late*': [unclosed\n", encoding="utf-8")
    with pytest.raises(DataError) as refused:
        ViewMap.load(path)
    message = str(refused.value)
    assert message.startswith(f"view map {path} cannot be read: ") and "\n" not in message
    assert "line 2" in message or "line 3" in message
