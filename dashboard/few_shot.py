"""The Few-shot page's model: each dataset's example set in the browser session, the helpers the
Embeddings page, the case cards and the Few-shot page add studies with, and saved sets.

An example set lives in ``session[SETS_KEY][dataset path]`` (a plain session key: Streamlit keeps
it while its user visits other pages), so examples picked on the map or on a case card are there
on the Few-shot page, and another dataset has its own set. Saved sets are the JSON files
``python -m model fewshot --examples`` reads, under ``DATA_ROOT/fewshot/<name>.json``.
"""

from __future__ import annotations

import functools
from collections.abc import Collection, Iterable, MutableMapping
from dataclasses import replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

import pandas as pd
import streamlit as st

from dashboard import cache
from dashboard.named_files import save_named_file
from dashboard.scoring import ALL_STUDIES, PAGE_RESAMPLES
from dashboard.settings import Settings
from model.errors import DataError
from model.example_set import MAX_FILE_BYTES, ExampleSet
from model.few_shot import (
    METHODS,  # noqa: F401 (the page's method choices: imported here)
    RankingEvaluation,
    evaluate_ranking,
    label_target,
    method_problem,
    score_table,
)
from model.prompts import FindingPrompts
from model.withdrawn_outputs import write_without_withdrawn

if TYPE_CHECKING:  # dashboard.context imports this module for its cached scores
    from dashboard.context import Studio

SETS_KEY = "fs-sets"
SNIPPET_CHARS = 90  # of an example's impression, in the page's lists
SAVE_WAIT_S = 30.0  # a forget running takes seconds; an ingest longer: the user saves again


def example_set(session: MutableMapping[str, Any], dataset: str) -> ExampleSet:
    """The example set of ``dataset`` (its folder path) in this session; empty at first."""
    return session.get(SETS_KEY, {}).get(dataset, ExampleSet())


def class_name(examples: ExampleSet) -> str | None:
    """The name the user gave the set's class; None while it has the default name, which the
    page neither shows nor quotes ("most like “class”" read as a class called class)."""
    return None if examples.name == ExampleSet().name else examples.name


def of_the_set(kind: str, examples: ExampleSet) -> str:
    """``kind`` ("examples", "counter-examples") of the set: "the examples of “amyloidosis”", or
    "the examples" while the class has no name yet."""
    name = class_name(examples)
    return f"the {kind}" if name is None else f"the {kind} of “{name}”"


def keep_set(session: MutableMapping[str, Any], dataset: str, examples: ExampleSet) -> None:
    """Make ``examples`` the example set of ``dataset`` in this session."""
    session[SETS_KEY] = {**session.get(SETS_KEY, {}), dataset: examples}


def add_examples(
    session: MutableMapping[str, Any], dataset: str, ids: Iterable[str], positive: bool
) -> tuple[ExampleSet, str]:
    """Add ``ids`` as examples (``positive``) or counter-examples of the dataset's set; returns
    the set and a line saying what was added, moved from the other side or already there (for a
    toast)."""
    ids = list(dict.fromkeys(str(i) for i in ids))
    before = example_set(session, dataset)
    sides = (before.positive, "examples"), (before.negative, "counter-examples")
    (same, kind), (other, other_kind) = sides if positive else sides[::-1]
    examples = before.with_added(ids, positive)
    keep_set(session, dataset, examples)
    there = set(same)
    new = [i for i in ids if i not in there]
    if not new:
        what = ids[0] if len(ids) == 1 else f"all {len(ids):,} studies"
        return examples, f"{what} already among {of_the_set(kind, examples)}"
    what = new[0] if len(new) == 1 else f"{len(new):,} studies"
    line = f"Added {what} to {of_the_set(kind, examples)} (Few-shot page)"
    moved = len(set(new) & set(other))
    if moved:
        line += f"; {moved:,} moved from the {other_kind}"
    if len(new) < len(ids):
        line += f"; {len(ids) - len(new):,} already there"
    return examples, line


def remove_examples(session: MutableMapping[str, Any], dataset: str, ids: Iterable[str]) -> None:
    keep_set(session, dataset, example_set(session, dataset).without(ids))


def drop_unknown(session: MutableMapping[str, Any], dataset: str, known: Iterable[str]) -> str:
    """Remove the set's studies that the dataset no longer has (re-ingested since they were
    picked, or a loaded file's) and say which, for the page to show ("" when none): by their
    place in the set unless they look like ingest's IDs (``ExampleSet.describe``)."""
    examples = example_set(session, dataset)
    gone = examples.unknown(known)
    if not gone:
        return ""
    keep_set(session, dataset, examples.without(gone))
    return (
        f"Dropped {len(gone)} example(s) no longer in this dataset (re-imported since they were "
        f"picked?): {examples.describe(gone)}"
    )


def loadable_set(examples: ExampleSet, known: Collection[str], dataset: str) -> ExampleSet:
    """``examples`` when at least one of its studies is among ``known`` (the IDs of ``dataset``,
    named in the message); a DataError for a set of another dataset, so loading it does not
    replace the user's set with an empty one (the studies another dataset lacks are dropped,
    and named, by ``drop_unknown`` on the page's next run)."""
    if examples.ids and len(examples.unknown(known)) == len(examples.ids):
        raise DataError(
            f"none of the {len(examples.ids):,} studies of example set {examples.name!r} are in "
            f"dataset {dataset}: is it another dataset's set? Your set is unchanged"
        )
    return examples


def prompt_texts(examples: ExampleSet) -> dict[str, str]:
    """The set's wordings of the class (``positive``) and of its absence (``negative``), one
    sentence a line, as the ``prompted`` method's boxes show them ("" when there are none)."""
    typed = examples.prompts or FindingPrompts((), ())
    return {side: "\n".join(getattr(typed, side)) for side in ("positive", "negative")}


def reworded(examples: ExampleSet, texts: dict[str, str]) -> ExampleSet:
    """``examples`` with the wordings typed in the boxes (``prompt_texts``' sides), one sentence
    a line, blank lines dropped; no wording at all when both boxes are empty."""
    sides = {side: _lines(texts.get(side, "")) for side in ("positive", "negative")}
    return replace(examples, prompts=FindingPrompts(**sides) if any(sides.values()) else None)


def _lines(text: str) -> tuple[str, ...]:
    return tuple(line.strip() for line in str(text).splitlines() if line.strip())


def method_note(examples: ExampleSet, method: str) -> str | None:
    """Why ``method`` cannot rank the studies with ``examples`` yet, as a sentence for the page
    (``model.few_shot.method_problem``); None when it can."""
    problem = method_problem(examples, method)
    return None if problem is None else f"{problem[0].upper()}{problem[1:]}."


def ranking_truth(labels: pd.DataFrame, label: str, splits: pd.Series, split: str) -> pd.Series:
    """1 / 0 / NaN by study of ``label`` (``model.few_shot.label_target``: a diagnosis one
    against the rest) to compare the ranking with; with a ``split`` chosen (``splits``: each
    study's), the other splits' studies count as unlabelled. DataError for a missing column."""
    truth = label_target(labels, label)
    if split == ALL_STUDIES:
        return truth
    return truth.where(splits.reindex(truth.index).astype(str).eq(split))


def ranked_csv(scores: pd.DataFrame, studies: pd.DataFrame) -> str:
    """Every study's score as ``python -m model fewshot --out`` writes it, as CSV text (built
    when the page's download is clicked); ``studies`` indexed by study_id."""
    return score_table(scores, studies).to_csv(index=False)


def listed_examples(ids: Iterable[str], studies: pd.DataFrame) -> pd.DataFrame:
    """Rows (study_id, impression snippet) of ``ids`` for the page's lists; ``studies`` indexed
    by study_id."""
    ids = list(ids)
    impressions = studies.reindex(ids)["impression"].fillna("").astype(str)
    snippets = [
        text if len(text) <= SNIPPET_CHARS else text[: SNIPPET_CHARS - 1] + "…"
        for text in impressions
    ]
    return pd.DataFrame({"study_id": ids, "impression": snippets})


def ranked_table(
    scores: pd.DataFrame, studies: pd.DataFrame, rows: int | None = None
) -> pd.DataFrame:
    """The studies that are not examples, best first: rank, study_id, score, site, split,
    impression (``studies`` indexed by study_id); only the first ``rows`` when given (a large
    site's every study would be megabytes sent to the browser on each rerun)."""
    others = scores[scores["example"] == ""].sort_values("score", ascending=False, kind="stable")
    others = others.head(rows) if rows is not None else others
    table = others[["score"]].join(studies.reindex(others.index)[["site", "split", "impression"]])
    table = table.reset_index()
    table.insert(0, "rank", range(1, len(table) + 1))
    return table


def check_ready(studio: Studio) -> None:
    """Raise the ranking's empty state or checkpoint error on the page's first draw, as the
    Case browser and Zero-shot pages do: a damaged or foreign checkpoint, study embeddings not
    computed yet (or still being made by the demo build). Else the page said nothing of either
    until the user had picked examples, then told them their picking could not be ranked."""
    studio.checkpoint_summary()
    studio.embeddings()


def saved_sets(settings: Settings) -> dict[str, Path]:
    """Example sets saved under the data root, by name."""
    folder = settings.fewshot_dir
    return {p.stem: p for p in sorted(folder.glob("*.json"))} if folder.is_dir() else {}


def loaded_set(source: Path | BinaryIO, known: Collection[str], dataset: str) -> ExampleSet:
    """The example set saved at ``source`` (a path) or uploaded (a file), when it is one of
    ``dataset``'s (``loadable_set``); DataError naming what is wrong with it."""
    loaded = ExampleSet.load(source) if isinstance(source, Path) else uploaded_set(source)
    return loadable_set(loaded, known, dataset)


def uploaded_set(upload: BinaryIO) -> ExampleSet:
    """An uploaded example-set JSON file (``.name``, ``.getvalue()``); DataError when bad."""
    source = f"example set {getattr(upload, 'name', 'upload')}"
    data = upload.getvalue()
    if len(data) > MAX_FILE_BYTES:
        raise DataError(f"{source} is over {MAX_FILE_BYTES // 1024} KB; is it one?")
    return ExampleSet.loads(data, source=source)


def save_example_set(
    settings: Settings,
    examples: ExampleSet,
    name: str,
    replaceable: Collection[Path] = (),
    overwrite: bool = False,
    dataset: Path | None = None,
) -> Path:
    """Write ``DATA_ROOT/fewshot/<name>.json`` atomically. An existing file is replaced only when
    it is one of ``replaceable`` (the sets this session saved or loaded) or when asked to
    ``overwrite``, as prompt sets are (``save_prompt_set``). UserError when it cannot be written.
    With the set's ``dataset``, written holding its ingest lock shared, without the studies a
    ``forget`` erased since the page read them (``model.withdrawn_outputs``)."""
    from dashboard.importer import check_name

    path = settings.fewshot_dir / f"{check_name(name, 'class name')}.json"
    if dataset is None:
        return save_named_file(path, examples.save, "example set", replaceable, overwrite)

    def save(target: Path, replace: bool) -> None:
        write = functools.partial(examples.save, target, replace)
        what = "the example set"
        write_without_withdrawn(target, write, examples.ids, [dataset], what, SAVE_WAIT_S)

    return save_named_file(path, save, "example set", replaceable, overwrite)


@st.cache_data(show_spinner=False, max_entries=16)
def cached_scores(
    embeddings_path: str,
    embeddings_version: tuple[float, ...],
    checkpoint: str,
    checkpoint_version: tuple[float, ...],
    examples_json: str,
    method: str,
) -> pd.DataFrame:
    """``model.few_shot.few_shot_scores`` of every study, keyed by the example set's JSON (its
    prompts included) and the method: a rerun without an edit (another label to compare with)
    costs a lookup. ``prompted`` embeds the set's prompts with the checkpoint's text tower."""
    from model.few_shot import few_shot_scores as score
    from model.few_shot import prompt_logits

    emb = cache.study_embeddings(embeddings_path, embeddings_version)
    examples = ExampleSet.loads(examples_json)
    prior = None
    if method == "prompted" and examples.prompts is not None:
        folder = str(Path(embeddings_path).parent)  # the dataset's embeddings/: its prompt vectors
        encoder = cache.text_encoder(checkpoint, checkpoint_version, folder)
        scale = cache.logit_scale(checkpoint, checkpoint_version)
        prior = prompt_logits(emb.vectors, examples.prompts, encoder, scale)
    return score(emb.vectors, emb.ids, examples, method, prior_logits=prior)


@st.cache_data(show_spinner=False, max_entries=64)
def cached_evaluation(
    key: str, label: str, _scores: pd.DataFrame, _truth: pd.Series, _patients: pd.Series
) -> RankingEvaluation:
    """``evaluate_ranking`` (AUC, patient bootstrap CI) memoised on ``key``, the
    ``content_key`` of the scores, truth and patient keys (Streamlit hashing them itself read
    every study's values on each rerun), and the label; ``PAGE_RESAMPLES``, as the Zero-shot
    page's ROC (1,000 took 4 s at 50,000 studies, on every edit of the set)."""
    return evaluate_ranking(_scores, _truth, _patients, label, resamples=PAGE_RESAMPLES)
