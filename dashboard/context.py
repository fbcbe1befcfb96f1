"""What a page needs, resolved once per rerun: dataset, checkpoint, embeddings, encoder.

Each accessor raises ``EmptyState`` (what is missing and what to do next) instead of failing, so
every page shows a helpful empty state on a fresh install and fills in as things are built.
"""

from __future__ import annotations

import functools
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import pandas as pd
import streamlit as st

from dashboard import cache, few_shot
from dashboard.content_key import content_key
from dashboard.demo_wait import demo_wait, on_demo
from dashboard.empty_state import EmptyState, JobOffer  # noqa: F401 (pages import them here)
from dashboard.evaluation_view import evaluation_title
from dashboard.index_access import CaseIndexAccess
from dashboard.jobs import JobManager, model_command
from dashboard.reader_clock import reader_zone
from dashboard.settings import Settings
from model import embedding_cache
from model.errors import DataError, UserError  # noqa: F401 (pages catch them: imported here)
from model.labels import label_file
from model.prompt_reading import PairReading, read_prompt_pair
from model.schema import DatasetPaths

if TYPE_CHECKING:
    from model.index.client import ChromaLocation

T = TypeVar("T")


@dataclass(frozen=True)
class ZeroShotScoring:
    """Zero-shot ``Scores``, the milliseconds scoring took, and whether they came from the cache
    (so the time is that of an earlier rerun, not this one)."""

    scores: Any
    elapsed_ms: float
    reused: bool


@dataclass(frozen=True)
class PromptTextLimits:
    """Prompts read only up to ``context_length`` word pieces of a sentence (``cut``), and
    prompts with words the text tower reads as its unknown token (``unknown``: text -> words)."""

    cut: list[str]
    context_length: int
    unknown: dict[str, list[str]]


def session_settings() -> Settings:
    """The data root's settings, with the active dataset and checkpoint of this browser session
    (every session its own: another user's choice never changes an open page)."""
    return Settings.from_env(st.session_state if st.runtime.exists() else None)


def rerun_page_if_choice_gone() -> None:
    """Called first in each panel that redraws itself (a fragment with ``run_every``): when the
    checkpoint or dataset this session's page shows is gone, run the whole page again, whose
    header says so (``ui.gone_choice_notice``) and whose content moves on to the one used now.
    Without it, a page left open on a live panel never said so. A stat or two per redraw
    (``Settings.gone_choices``), no scan of the data root."""
    if session_settings().gone_choices():
        st.rerun(scope="app")


@dataclass
class Studio(CaseIndexAccess):
    """Lazy access to the active dataset, checkpoint and derived resources."""

    settings: Settings = field(default_factory=session_settings)
    _index_answers: dict[tuple, tuple[Any, Exception | None]] = field(
        default_factory=dict, init=False, repr=False
    )
    _uses_recorded: set[Path] = field(default_factory=set, init=False, repr=False)
    _patients_memo: dict[str, Any] = field(default_factory=dict, init=False, repr=False)

    @property
    def jobs(self) -> JobManager:
        """The data root's jobs, their times in the reader's zone (``dashboard.reader_clock``)."""
        return JobManager(self.settings.jobs_dir, reader_zone())

    def dataset_path(self) -> Path:
        path = self.settings.active_dataset()
        if path is None:
            raise EmptyState(
                "No dataset yet",
                "Build the demo data on the Home page (one click), or import a DICOM folder or "
                "zip on the Studies page.",
                page="pages/home.py",
                demo_step="ingest",
            )
        return path

    def _dataset_key(self) -> tuple[str, tuple[float, ...]]:
        path = self.dataset_path()
        return str(path), cache.version_of(path / "studies.parquet", path / "dataset.json")

    def dataset(self) -> Any:
        return cache.dataset(*self._dataset_key())

    def studies(self) -> pd.DataFrame:
        return cache.studies(*self._dataset_key())

    def study_frames(self, study_id: str) -> dict:
        return cache.study_frames(*self._dataset_key(), study_id)

    def readable_frames(self, study_id: str) -> tuple[dict, str]:
        """(``study_frames``, "") of one study, or ({}, why) when its tensor file is missing or
        damaged, so a page can still show the study's report and metadata."""
        try:
            return self.study_frames(study_id), ""
        except DataError as err:
            return {}, str(err)

    def case_player(self, study_id: str, views: tuple[str, ...]) -> str:
        return cache.case_player(*self._dataset_key(), study_id, views)

    def labels(self, labels_csv: str | None = None) -> pd.DataFrame | None:
        """The dataset's labels (``labels_csv``, else ``label_file``), re-read when that file
        changes; None without one."""
        path, version = self._dataset_key()
        source = Path(labels_csv) if labels_csv else label_file(Path(path))
        if source is None or not source.is_file():
            return None
        return cache.labels(path, version, str(source), cache.version_of(source))

    def labels_prints(self) -> tuple[str, str]:
        """The dataset's own labels file's fingerprints as the case index takes it
        (``model.index.held_datasets.own_labels_prints``), re-read when it changes."""
        path, version = self._dataset_key()
        source = label_file(Path(path))
        if source is None or not source.is_file():
            return "", ""
        return cache.labels_prints(path, version, str(source), cache.version_of(source))

    def checkpoint_path(self) -> Path:
        path = self.settings.active_checkpoint()
        if path is None:
            raise EmptyState(
                "No trained checkpoint yet",
                "Train a model on the Train page, or build the demo on the Home page "
                "(it trains the cpu-small preset: about 15 minutes on 2 CPU cores).",
                page="pages/train.py",
                demo_step="train",
            )
        return path

    def _checkpoint_key(self) -> tuple[str, tuple[float, ...]]:
        path = self.checkpoint_path()
        return str(path), cache.version_of(path)

    def checkpoint_summary(self) -> dict[str, Any]:
        return cache.checkpoint_summary(*self._checkpoint_key())

    def embeddings_path(self) -> Path:
        return Path(cache.embedding_file(*self._dataset_key(), *self._checkpoint_key()))

    def embeddings(self) -> Any:
        """Cached study embeddings; EmptyState offering an embed job when not computed yet (or
        no longer: ``model.embedding_cache`` removes the least recently used), or when the cache
        file is damaged (the job computes it again). The cache's use is recorded once per
        Studio, that is per rerun (``_record_use``)."""
        path = self.embeddings_path()
        try:
            if path.is_file():
                found = cache.study_embeddings(str(path), cache.version_of(path))
                self._record_use(path)
                return found
        except DataError as err:
            if path.is_file():  # else removed since it was looked for
                raise self._embed_offer(
                    "Study embeddings are damaged",
                    f"{err}. Compute them again in the background (progress shows on this page).",
                ) from err
        raise self._not_computed()

    def _record_use(self, path: Path) -> None:
        """Record a use of the cache ``path`` (``embedding_cache.record_use``) the first time
        this rerun reads it: a page reads it through several accessors (the Embeddings page's
        map and its prompts, the Case browser's check and search), and every further mark in
        the same rerun is one more write, a round trip on a shared root, that changes nothing
        of the order ``tidy`` removes caches in. The next rerun (a new Studio) records again."""
        if path not in self._uses_recorded:
            embedding_cache.record_use(path)
            self._uses_recorded.add(path)

    def _not_computed(self) -> EmptyState:
        return self._embed_offer(
            "Study embeddings not computed yet",
            f"The active checkpoint has not embedded {self.dataset_path().name} yet. "
            "Compute them once in the background (progress shows on this page).",
        )

    def _from_embeddings(self, read: Callable[[str, tuple[float, ...]], T]) -> T:
        """``read(cache file, its version)``, after ``embeddings`` found the cache; a cache removed
        in between (tidied by another process) is offered as not computed, as ``embeddings``
        would now."""
        self.embeddings()
        path = self.embeddings_path()
        try:
            return read(str(path), cache.version_of(path))
        except DataError as err:
            if path.is_file():
                raise
            raise self._not_computed() from err

    def _embed_offer(self, title: str, hint: str) -> EmptyState:
        """``EmptyState`` offering the job that (re)computes the study embeddings cache file."""
        command = model_command(
            "embed",
            "--checkpoint",
            str(self.checkpoint_path()),
            "--data",
            str(self.dataset_path()),
            "--out",
            str(self.embeddings_path()),
        )
        offer = JobOffer("embed", command, "Compute study embeddings")
        return EmptyState(title, hint, offer=offer, demo_step="index")

    def projection(self, method: str = "UMAP") -> Any:
        self._wait_for_demo_map(method)
        return self._from_embeddings(lambda path, version: cache.projection(path, version, method))

    def _wait_for_demo_map(self, method: str) -> None:
        """``EmptyState`` (the demo's map step) while the running demo build has still to draw
        the map of these embeddings: fitting it here too would do the same work beside the build
        on the same cores. PCA is instant and the build draws none."""
        if method == "PCA" or demo_wait(self.jobs.latest("demo"), "map") is None:
            return
        if not on_demo(self.settings.active_dataset(), self.settings.data_root):
            return
        if not self._from_embeddings(functools.partial(_map_stored, method=method)):
            hint = "The demo build draws it once; the page reads it back from then on."
            raise EmptyState(f"No {method} map of these studies yet", hint, demo_step="map")

    def text_encoder(self) -> Any:
        """The checkpoint's cached text tower, its prompt vectors kept in the active dataset's
        ``embeddings/`` (``model.text_store``)."""
        folder = DatasetPaths(self.dataset_path()).embeddings
        return cache.text_encoder(*self._checkpoint_key(), str(folder))

    def logit_scale(self) -> float:
        return cache.logit_scale(*self._checkpoint_key())

    def zero_shot_scores(self, prompts: Any) -> ZeroShotScoring:
        """``Scores`` of every embedded study under ``prompts``, with how long scoring took and
        whether this call reused an earlier scoring of the same prompt set (cached)."""
        asked_at = time.time()
        scores, elapsed_ms, finished_at = self._from_embeddings(  # EmptyState when missing
            lambda path, version: cache.zero_shot_scores(
                path, version, *self._checkpoint_key(), prompts.dumps()
            )
        )
        return ZeroShotScoring(scores, elapsed_ms, reused=finished_at < asked_at)

    def unread_prompt_text(self, prompts: Any) -> PromptTextLimits:
        """What the checkpoint's text tower cannot read of ``prompts``: the prompts it reads only
        the start of (``TextTower.cut_texts``) and words it has no word pieces for, read with
        their vectors (stored: the model is not built for prompts read before)."""
        texts = prompts.all_texts()
        readings = dict(zip(texts, self.text_encoder().readings(texts), strict=True))
        return PromptTextLimits(
            cut=[text for text, reading in readings.items() if reading.cut],
            context_length=int(self.checkpoint_summary()["context_length"]),
            unknown={text: list(r.unknown) for text, r in readings.items() if r.unknown},
        )

    def prompt_reading(self, positive: str, negative: str) -> PairReading:
        """How the checkpoint reads a positive and a negative wording: each one's closest report
        sentences of the active dataset (embedded once, cached) and their cosine."""
        sentences = cache.report_sentences(*self._dataset_key(), *self._checkpoint_key())
        return read_prompt_pair(positive, negative, self.text_encoder(), sentences)

    def finding_evaluation(self, probs: Any, labels: Any, threshold: float) -> Any:
        """Cached ROC/AUC-with-CI/threshold metrics of one finding (None: one class only); the
        bootstrap draws the active dataset's patients."""
        patients, patients_key = self._patients()
        key = content_key(probs, labels, patients_key)
        return cache.finding_evaluation(key, threshold, probs, labels, patients)

    def few_shot_scores(self, examples: Any, method: str) -> pd.DataFrame:
        """``model.few_shot.few_shot_scores`` of every embedded study for the ``ExampleSet``
        (cached by its content); EmptyState offering the embed job when there are no
        embeddings yet."""
        if method != "prompted":  # an edit of the wording does not score them again
            examples = replace(examples, prompts=None)
        return self._from_embeddings(
            lambda path, version: few_shot.cached_scores(
                path, version, *self._checkpoint_key(), examples.dumps(), method
            )
        )

    def few_shot_evaluation(self, scores: pd.DataFrame, truth: pd.Series, label: str) -> Any:
        """``RankingEvaluation`` of few-shot ``scores`` against ``truth`` (1 / 0 / NaN by study),
        the examples and their patients' studies left out, the bootstrap drawing patients."""
        patients, patients_key = self._patients()
        key = content_key(scores, truth, patients_key)
        return few_shot.cached_evaluation(key, label, scores, truth, patients)

    def _patients(self) -> tuple[pd.Series, str]:
        """(the active dataset's patient key by study, its ``content_key``), worked out once per
        Studio (a page's rerun) and dataset version: every finding's evaluation reads them."""
        dataset = self._dataset_key()
        if self._patients_memo.get("dataset") != dataset:
            patients = self.studies().set_index("study_id")["patient_key"]
            self._patients_memo.update(dataset=dataset, patients=(patients, content_key(patients)))
        return self._patients_memo["patients"]

    def evaluation_outputs(self, folder: Path) -> Any:
        """An evaluation folder's ``EvaluationOutputs``, read again when it is rewritten."""
        return cache.evaluation_outputs(str(folder), cache.version_of(folder / "summary.json"))

    def evaluation_title(self, folder: Path, running: bool = False) -> str:
        """The evaluation picker's line for ``folder``: its name and the checkpoints evaluated;
        ``running``: an evaluate job still writes it (no summary yet, not a failure)."""
        if running:
            return f"{folder.name} · running (no summary yet)"
        version = cache.version_of(folder / "summary.json")
        return evaluation_title(folder, cache.evaluation_models(str(folder), version))

    def index_location(self) -> ChromaLocation:
        """The Chroma folder or server holding the active dataset's case index."""
        return self.settings.chroma_location(self.dataset_path())


def _map_stored(path: str, version: tuple[float, ...], method: str) -> bool:
    """Whether the ``method`` map of the study embeddings cached at ``path`` is kept beside them
    (``cache.projection`` then reads it back rather than fitting one)."""
    from model.projection import ProjectionConfig
    from model.projection_store import stored_map

    embeddings = cache.study_embeddings(path, version)
    config = ProjectionConfig(method=method)
    return stored_map(Path(path), embeddings.ids, embeddings.vectors, config) is not None
