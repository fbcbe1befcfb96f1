"""A few-shot example set: a class name and the study IDs a user marked as its examples
(``positive``) and counter-examples (``negative``), saved as the JSON ``python -m model fewshot
--examples`` reads and the dashboard's Few-shot page saves, loads and downloads::

    {"name": "amyloidosis", "positive": ["s0001", "s0007"], "negative": ["s0003"]}

An optional ``"prompts": {"positive": [...], "negative": [...]}`` words the class and its
absence, as a prompt set's finding (``model.prompts``), for the ``prompted`` method. A file
without it is a set without prompts.

Study IDs are the dataset's pseudonymous ``study_id`` values, never patient identifiers; but a
file's IDs are whatever its author typed, so a message names one by its text only when it has
the shape of ingest's IDs, and by its place in the set otherwise (``ExampleSet.describe``).
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from model.atomic import atomic_create_text, atomic_write_text
from model.errors import DataError, not_found
from model.prompts import FindingPrompts, finding_prompts
from model.schema import is_study_pseudonym

MAX_FILE_BYTES = 1024 * 1024  # thousands of IDs fit in a few hundred KB
_SHOWN_IDS = 5  # unknown IDs a message names before "and N more"


@dataclass(frozen=True)
class ExampleSet:
    """``positive`` / ``negative``: study IDs in the order they were added, none in both;
    ``prompts``: the class's wording and its absence's (as typed: either side may be empty on the
    page; ``prompt_problem`` says what is wrong, and only sound prompts are saved)."""

    name: str = "class"
    positive: tuple[str, ...] = ()
    negative: tuple[str, ...] = ()
    prompts: FindingPrompts | None = None

    @property
    def ids(self) -> tuple[str, ...]:
        return self.positive + self.negative

    def with_added(self, ids: Iterable[str], positive: bool) -> ExampleSet:
        """The set with ``ids`` added as examples (``positive``) or counter-examples; an ID
        already on the other side moves to this one."""
        new = [str(i) for i in ids]
        same, other = (self.positive, self.negative) if positive else (self.negative, self.positive)
        added = tuple(dict.fromkeys([*same, *new]))
        kept = tuple(i for i in other if i not in set(new))
        if positive:
            return replace(self, positive=added, negative=kept)
        return replace(self, positive=kept, negative=added)

    def without(self, ids: Iterable[str]) -> ExampleSet:
        """The set with ``ids`` removed from both lists."""
        gone = {str(i) for i in ids}
        return replace(
            self,
            positive=tuple(i for i in self.positive if i not in gone),
            negative=tuple(i for i in self.negative if i not in gone),
        )

    def unknown(self, known: Iterable[str]) -> list[str]:
        """The IDs of the set that are not among ``known`` (e.g. a re-ingested dataset's)."""
        present = set(map(str, known))
        return [i for i in self.ids if i not in present]

    def check_known(self, known: Sequence[str], dataset: str) -> None:
        """DataError naming the IDs of the set that ``dataset`` (its IDs ``known``) lacks
        (``describe``: where they are in the set, unless they look like ingest's IDs)."""
        missing = self.unknown(known)
        if missing:
            raise DataError(
                f"example set {self.name!r}: {len(missing)} study ID(s) are not in {dataset}: "
                f"{self.describe(missing)}"
            )

    def describe(self, ids: Sequence[str]) -> str:
        """``ids`` of the set for a message: those shaped like the study IDs ingest gives
        (``is_study_pseudonym``) by their text, any other by its place in the set ("positive
        #2", 1 for the first of the list), never its text (a user may have pasted a medical
        record number); the first few, then how many more."""
        places = {i: f"positive #{n}" for n, i in enumerate(self.positive, 1)}
        places.update({i: f"negative #{n}" for n, i in enumerate(self.negative, 1)})
        named = [i if is_study_pseudonym(i) else places.get(i, "one not in the set") for i in ids]
        more = f" and {len(ids) - _SHOWN_IDS} more" if len(ids) > _SHOWN_IDS else ""
        hidden = any(not is_study_pseudonym(i) for i in ids[:_SHOWN_IDS])
        note = " (IDs not shaped like this dataset's are not shown)" if hidden else ""
        return f"{', '.join(named[:_SHOWN_IDS])}{more}{note}"

    def prompt_problem(self) -> str | None:
        """Why the set's prompts cannot score (none, a side left blank, both sides alike)."""
        positive, negative = (
            (self.prompts.positive, self.prompts.negative) if self.prompts else ((), ())
        )
        if not positive and not negative:
            return "word the class and its absence (positive and negative prompts)"
        if not positive or not negative:
            return f"word {'the class' if not positive else 'its absence'} too"
        try:
            finding_prompts(_prompts_dict(self.prompts), "prompts")
        except DataError as err:  # "prompts: the positive and negative prompts say the same ..."
            return str(err).removeprefix("prompts: ")
        return None

    def to_dict(self) -> dict[str, Any]:
        data: dict[str, Any] = {
            "name": self.name,
            "positive": list(self.positive),
            "negative": list(self.negative),
        }
        if self.prompts is not None and self.prompt_problem() is None:
            data["prompts"] = _prompts_dict(self.prompts)
        return data

    def dumps(self) -> str:
        return json.dumps(self.to_dict(), indent=2) + "\n"

    def save(self, path: str | Path, replace: bool = True) -> None:
        """Write the set as JSON atomically; ``replace=False``: only as a new file
        (``FileExistsError`` when ``path`` exists)."""
        (atomic_write_text if replace else atomic_create_text)(path, self.dumps())

    @classmethod
    def load(cls, path: str | Path) -> ExampleSet:
        """Read and validate an example-set JSON file (DataError naming what is wrong)."""
        path = Path(path)
        if not path.is_file():
            raise DataError(not_found("example set", path))
        if path.stat().st_size > MAX_FILE_BYTES:
            raise DataError(f"example set {path} is over {MAX_FILE_BYTES // 1024} KB; is it one?")
        return cls.loads(path.read_bytes(), source=f"example set {path}")

    @classmethod
    def loads(cls, data: str | bytes, source: str = "example set") -> ExampleSet:
        """Parse example-set JSON text (DataError naming what is wrong)."""
        try:
            parsed = json.loads(data)
        except (json.JSONDecodeError, UnicodeDecodeError) as err:
            raise DataError(f"{source} is not valid JSON: {err}") from err
        except RecursionError as err:  # an upload of [[[[...]]]]: json decodes by recursion
            raise DataError(f"{source}: lists or objects nested too deeply") from err
        return cls.from_dict(parsed, source)

    @classmethod
    def from_dict(cls, data: Any, source: str = "example set") -> ExampleSet:
        if not isinstance(data, dict):
            raise DataError(f"{source}: expected an object with name, positive and negative")
        unknown = sorted(set(data) - {"name", "positive", "negative", "prompts"})
        if unknown:
            raise DataError(
                f"{source}: unknown keys {unknown}; use name, positive, negative, prompts"
            )
        name = data.get("name", "class")
        if not isinstance(name, str) or not name.strip():
            raise DataError(f"{source}: name must be a non-empty text")
        positive = _id_list(data.get("positive", []), f"{source}: positive")
        negative = _id_list(data.get("negative", []), f"{source}: negative")
        both = [i for i in positive if i in set(negative)]
        if both:
            one = both[0]
            where = (
                f"study {one} is"
                if is_study_pseudonym(one)
                else f"the study ID at positive #{positive.index(one) + 1} and negative "
                f"#{negative.index(one) + 1} (not shown: not shaped like this dataset's IDs) is"
            )
            raise DataError(f"{source}: {where} both an example and a counter-example")
        prompts = data.get("prompts")
        if prompts is not None:
            prompts = finding_prompts(prompts, f"{source}: prompts", yaml=False)
        return cls(name=name.strip(), positive=positive, negative=negative, prompts=prompts)


def _prompts_dict(prompts: FindingPrompts) -> dict[str, list[str]]:
    return {"positive": list(prompts.positive), "negative": list(prompts.negative)}


def _id_list(value: Any, where: str) -> tuple[str, ...]:
    """A list of study-ID texts, duplicates dropped in order."""
    if not isinstance(value, list) or not all(isinstance(v, str) and v.strip() for v in value):
        raise DataError(f"{where} must be a list of study IDs (texts)")
    return tuple(dict.fromkeys(v.strip() for v in value))
