"""Prompt sets for zero-shot classification: YAML load/save with validation.

```yaml
findings:               # binary: positive vs negative prompts (embeddings averaged per side)
  lv_dilation:
    positive: ["Left ventricle is dilated"]
    negative: ["Normal left ventricular size"]
diagnoses:              # multi-class: one prompt list per class
  hcm: ["Hypertrophic cardiomyopathy"]
```

Files are read with ``yaml.safe_load``; every problem is a ``DataError`` naming the file and key.
Keys need not be the standard ``FINDINGS`` / ``DIAGNOSES`` (users may add their own), but they must
be simple identifiers so they can be used as table columns.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

from model.atomic import atomic_create_text, atomic_write_text
from model.errors import DataError, not_found, short_repr

_KEY = re.compile(r"^[A-Za-z0-9_][A-Za-z0-9_.-]{0,63}$")
_MAX_PROMPT_CHARS = 500
DEFAULT_PROMPTS = (
    Path(__file__).resolve().parent.parent / "sample_data" / "prompts" / "default.yaml"
)
PARAPHRASE_PROMPTS = DEFAULT_PROMPTS.with_name("paraphrase.yaml")


def yaml_problem(err: Exception) -> str:
    """A YAML error in one line: what is wrong and where (line and column from 1). PyYAML's own
    text spans several lines, with the offending line and a caret, which breaks a one-line error
    of the command line and the log."""
    if isinstance(err, RecursionError):  # PyYAML composes nested lists by recursion
        return "lists or mappings nested too deeply"
    mark = getattr(err, "problem_mark", None)
    problem = getattr(err, "problem", None)
    if mark is None or not problem:
        return " ".join(str(err).split())
    return f"{problem} at line {mark.line + 1}, column {mark.column + 1}"


@dataclass(frozen=True)
class FindingPrompts:
    """Positive and negative wordings of one binary finding."""

    positive: tuple[str, ...]
    negative: tuple[str, ...]


@dataclass
class PromptSet:
    """Findings (positive/negative prompt lists) and diagnoses (one prompt list per class)."""

    findings: dict[str, FindingPrompts] = field(default_factory=dict)
    diagnoses: dict[str, list[str]] = field(default_factory=dict)

    @classmethod
    def load(cls, path: str | Path) -> PromptSet:
        """Read and validate a prompt-set YAML file."""
        path = Path(path)
        if not path.is_file():
            raise DataError(not_found("prompt set", path))
        try:
            data = yaml.safe_load(path.read_text(encoding="utf-8"))
        except (yaml.YAMLError, UnicodeDecodeError, RecursionError) as err:
            raise DataError(f"prompt set {path} is not valid YAML: {yaml_problem(err)}") from err
        return cls.from_dict(data, source=str(path))

    @classmethod
    def loads(cls, text: str, source: str = "prompt set") -> PromptSet:
        """Parse YAML text (e.g. from the dashboard's editor)."""
        try:
            data = yaml.safe_load(text)
        except (yaml.YAMLError, RecursionError) as err:
            raise DataError(f"{source} is not valid YAML: {yaml_problem(err)}") from err
        return cls.from_dict(data, source=source)

    @classmethod
    def from_dict(cls, data: Any, source: str = "prompt set") -> PromptSet:
        """Validate a parsed mapping; raises ``DataError`` naming the offending key."""
        if not isinstance(data, dict):
            raise DataError(f"{source}: expected a mapping with 'findings' and/or 'diagnoses'")
        unknown = sorted(set(data) - {"findings", "diagnoses"})
        if unknown:
            raise DataError(f"{source}: unknown top-level keys {unknown}; use findings/diagnoses")
        findings_raw = data.get("findings") or {}
        diagnoses_raw = data.get("diagnoses") or {}
        if not findings_raw and not diagnoses_raw:
            raise DataError(f"{source}: no findings and no diagnoses defined")
        findings = {
            key: finding_prompts(value, f"{source}: findings.{key}")
            for key, value in _mapping(findings_raw, f"{source}: findings").items()
        }
        diagnoses = {
            key: list(_prompt_list(value, f"{source}: diagnoses.{key}"))
            for key, value in _mapping(diagnoses_raw, f"{source}: diagnoses").items()
        }
        return cls(findings=findings, diagnoses=diagnoses)

    def to_dict(self) -> dict[str, Any]:
        out: dict[str, Any] = {}
        if self.findings:
            out["findings"] = {
                key: {"positive": list(p.positive), "negative": list(p.negative)}
                for key, p in self.findings.items()
            }
        if self.diagnoses:
            out["diagnoses"] = {key: list(v) for key, v in self.diagnoses.items()}
        return out

    def dumps(self) -> str:
        return yaml.safe_dump(self.to_dict(), sort_keys=False, allow_unicode=True, width=100)

    def save(self, path: str | Path, replace: bool = True) -> None:
        """Write the set as YAML atomically (validated first, so no invalid file is written);
        ``replace=False``: only as a new file (``FileExistsError`` when ``path`` exists)."""
        PromptSet.from_dict(self.to_dict(), source=str(path))
        (atomic_write_text if replace else atomic_create_text)(path, self.dumps())

    def all_texts(self) -> list[str]:
        """Every distinct prompt, in a stable order (for embedding once)."""
        texts: list[str] = []
        for prompts in self.findings.values():
            texts.extend(prompts.positive)
            texts.extend(prompts.negative)
        for prompts in self.diagnoses.values():
            texts.extend(prompts)
        return list(dict.fromkeys(texts))


def _mapping(value: Any, where: str) -> dict[str, Any]:
    if not isinstance(value, dict):
        raise DataError(f"{where}: expected a mapping of name -> prompts")
    for key in value:
        if not isinstance(key, str) or not _KEY.match(key):
            raise DataError(
                f"{where}: name {key!r}: use up to 64 plain letters a-z, digits and _ . - "
                "(no spaces or accents; it becomes a table column)"
            )
    return value


def _prompt_list(value: Any, where: str, yaml: bool = True) -> tuple[str, ...]:
    """Validated prompt strings; ``yaml``: the value was read from YAML, whose bare No, Yes, On or
    5 is a value (the message says to quote it), not from JSON."""
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list) or not value:
        raise DataError(f"{where}: expected a non-empty list of prompt strings")
    prompts = []
    for item in value:
        if yaml and isinstance(item, bool | int | float):  # YAML's bare No, Yes, On, 5 ...
            raise DataError(
                f"{where}: a prompt reads as {item!r}, not text: YAML takes a bare yes/no/on/off "
                'or number for a value; put the prompt in quotes ("No")'
            )
        if not isinstance(item, str) or not item.strip():
            # short: a YAML alias of nested lists written out in full was hundreds of MB
            raise DataError(f"{where}: every prompt must be non-empty text, got {short_repr(item)}")
        if len(item) > _MAX_PROMPT_CHARS:
            raise DataError(f"{where}: a prompt is longer than {_MAX_PROMPT_CHARS} characters")
        prompts.append(item.strip())
    return tuple(prompts)


def finding_prompts(value: Any, where: str, yaml: bool = True) -> FindingPrompts:
    """A binary finding's ``{"positive": [...], "negative": [...]}`` wordings, validated
    (DataError naming ``where``): a prompt set's findings (YAML) and an example set's prompts
    (JSON: ``yaml`` False)."""
    if not isinstance(value, dict):
        raise DataError(f"{where}: expected 'positive' and 'negative' prompt lists")
    missing = [side for side in ("positive", "negative") if side not in value]
    extra = sorted(map(str, set(value) - {"positive", "negative"}))
    unknown = f"unknown keys {extra}; use positive/negative"
    if missing:
        named = f" ({unknown})" if extra else ""  # a misspelt side ("negatives") says so
        raise DataError(f"{where}: missing {' and '.join(missing)} prompts{named}")
    if extra:
        raise DataError(f"{where}: {unknown}")
    finding = FindingPrompts(
        positive=_prompt_list(value["positive"], f"{where}.positive", yaml),
        negative=_prompt_list(value["negative"], f"{where}.negative", yaml),
    )
    if set(map(_wording, finding.positive)) == set(map(_wording, finding.negative)):
        raise DataError(
            f"{where}: the positive and negative prompts say the same thing, so every study "
            "would score 0.5; word the finding's absence as the negative prompt"
        )
    return finding


def _wording(prompt: str) -> str:
    """A prompt as the text tower tells it apart: case, spacing and a closing full stop aside."""
    return " ".join(prompt.casefold().rstrip(". ").split())
