"""What a page needs, resolved once per rerun: dataset, checkpoint, embeddings, encoder.

Each accessor raises ``EmptyState`` (what is missing and what to do next) instead of failing, so
every page shows a helpful empty state on a fresh install and fills in as things are built.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
import streamlit as st

from dashboard import cache
from dashboard.evaluation_view import evaluation_title
from dashboard.jobs import JobManager, model_command
from dashboard.settings import Settings
from model.errors import DamagedIndex, DataError
from model.labels import label_file
from model.prompt_reading import PairReading, read_prompt_pair

if TYPE_CHECKING:
    from model.index.client import ChromaLocation
    from model.index.embedding_index import EmbeddingIndex


@dataclass(frozen=True)
class JobOffer:
    """A background job an empty state can offer to start (kind, command, button label)."""

    kind: str
    command: list[str]
    label: str


@dataclass(frozen=True)
class ZeroShotScoring:
    """Zero-shot ``Scores``, the milliseconds scoring took, and whether they came from the cache
    (so the time is that of an earlier rerun, not this one)."""

    scores: Any
    elapsed_ms: float
    reused: bool


class EmptyState(Exception):  # noqa: N818 - a state, not an error
    """Something a page needs does not exist yet; carries the next step to take."""

    def __init__(
        self, title: str, hint: str, page: str | None = None, offer: JobOffer | None = None
    ):
        super().__init__(title)
        self.title = title
        self.hint = hint
        self.page = page
        self.offer = offer


def session_settings() -> Settings:
    """The data root's settings, with the active dataset and checkpoint of this browser session
    (every session its own: another user's choice never changes an open page)."""
    return Settings.from_env(st.session_state if st.runtime.exists() else None)


@dataclass
class Studio:
    """Lazy access to the active dataset, checkpoint and derived resources."""

    settings: Settings = field(default_factory=session_settings)
    _index_answers: dict[tuple, tuple[Any, Exception | None]] = field(
        default_factory=dict, init=False, repr=False
    )

    @property
    def jobs(self) -> JobManager:
        return JobManager(self.settings.jobs_dir)

    def dataset_path(self) -> Path:
        path = self.settings.active_dataset()
        if path is None:
            raise EmptyState(
                "No dataset yet",
                "Build the demo data on the Home page (one click), or import a DICOM folder or "
                "zip on the Studies page.",
                page="pages/home.py",
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

    def checkpoint_path(self) -> Path:
        path = self.settings.active_checkpoint()
        if path is None:
            raise EmptyState(
                "No trained checkpoint yet",
                "Train a model on the Train page, or build the demo on the Home page "
                "(it trains the cpu-small preset: about 15 minutes on 2 CPU cores).",
                page="pages/train.py",
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
        """Cached study embeddings; EmptyState offering an embed job when not computed yet."""
        path = self.embeddings_path()
        if not path.is_file():
            command = model_command(
                "embed",
                "--checkpoint",
                str(self.checkpoint_path()),
                "--data",
                str(self.dataset_path()),
                "--out",
                str(path),
            )
            raise EmptyState(
                "Study embeddings not computed yet",
                f"The active checkpoint has not embedded {self.dataset_path().name} yet. "
                "Compute them once in the background (progress shows on this page).",
                offer=JobOffer("embed", command, "Compute study embeddings"),
            )
        return cache.study_embeddings(str(path), cache.version_of(path))

    def projection(self, method: str = "UMAP") -> Any:
        self.embeddings()
        path = self.embeddings_path()
        return cache.projection(str(path), cache.version_of(path), method)

    def text_encoder(self) -> Any:
        return cache.text_encoder(*self._checkpoint_key())

    def logit_scale(self) -> float:
        return cache.logit_scale(*self._checkpoint_key())

    def zero_shot_scores(self, prompts: Any) -> ZeroShotScoring:
        """``Scores`` of every embedded study under ``prompts``, with how long scoring took and
        whether this call reused an earlier scoring of the same prompt set (cached)."""
        self.embeddings()  # raises EmptyState offering the embed job when missing
        embeddings = self.embeddings_path()
        asked_at = time.time()
        scores, elapsed_ms, finished_at = cache.zero_shot_scores(
            str(embeddings), cache.version_of(embeddings), *self._checkpoint_key(), prompts.dumps()
        )
        return ZeroShotScoring(scores, elapsed_ms, reused=finished_at < asked_at)

    def prompt_reading(self, positive: str, negative: str) -> PairReading:
        """How the checkpoint reads a positive and a negative wording: each one's closest report
        sentences of the active dataset (embedded once, cached) and their cosine."""
        sentences = cache.report_sentences(*self._dataset_key(), *self._checkpoint_key())
        return read_prompt_pair(positive, negative, self.text_encoder(), sentences)

    def finding_evaluation(self, probs: Any, labels: Any, threshold: float) -> Any:
        """Cached ROC/AUC-with-CI/threshold metrics of one finding (None: one class only)."""
        return cache.finding_evaluation(probs, labels, threshold)

    def evaluation_outputs(self, folder: Path) -> Any:
        """An evaluation folder's ``EvaluationOutputs``, read again when it is rewritten."""
        return cache.evaluation_outputs(str(folder), cache.version_of(folder / "summary.json"))

    def evaluation_title(self, folder: Path) -> str:
        """The evaluation picker's line for ``folder``: its name and the checkpoints evaluated."""
        version = cache.version_of(folder / "summary.json")
        return evaluation_title(folder, cache.evaluation_models(str(folder), version))

    def index_location(self) -> ChromaLocation:
        """The Chroma folder or server holding the active dataset's case index."""
        return self.settings.chroma_location(self.dataset_path())

    def _index_handle(self) -> EmbeddingIndex | None:
        """The cached index handle, or None when no embedded index folder exists yet.

        An embedded folder is opened only once ``python -m model index`` has created its
        database: the dashboard reads the index and never creates or writes it. It is read only
        in a state a child process has read first (``_unreadable_indexes``), and never the
        collections that crashed or hung that child: ``DamagedIndex`` when the checkpoint's own
        is one of them.
        """
        from model.index.read_check import unreadable

        location = self.index_location()
        fingerprint = str(self.checkpoint_summary()["fingerprint"])
        database: tuple[int, ...] = ()
        damaged: dict[str, str] = {}
        if not location.is_server:
            try:
                database = cache.file_identity(location.path / "chroma.sqlite3")
            except OSError:  # not built yet (or being rebuilt)
                return None
            damaged = self._unreadable_indexes(location)
            problem = unreadable(damaged, fingerprint)
            if problem:
                raise DamagedIndex(problem)
        path, version = self._checkpoint_key()
        handle = cache.case_index(
            location, location.describe(), fingerprint, path, version, database
        )
        handle.unreadable = frozenset(damaged)
        return handle

    @staticmethod
    def _unreadable_indexes(location: ChromaLocation) -> dict[str, str]:
        """The collections of the embedded folder ``location`` in its present state that crash
        or hang a process reading them, and why (checked in a child, once per state): this
        server process never opens them."""
        from model.index.read_check import folder_state

        assert location.path is not None
        state = folder_state(location.path)
        return cache.index_damage(location, location.describe(), state)

    def index(self) -> EmbeddingIndex | None:
        """The active checkpoint's case index, or None when it has no collection there.

        A ``UserError`` when the index does not answer (e.g. its server went away). Asked once
        per rerun (a Studio lives for one): a server that drops connections costs its timeout
        once, not once per caller."""
        from model.errors import UserError
        from model.index.client import index_failures

        key = (self.index_location(), self._checkpoint_key())
        if key not in self._index_answers:
            try:
                handle = self._index_handle()
                if handle is not None:
                    with index_failures(self.index_location()):
                        handle = handle if handle.exists() else None
                self._index_answers[key] = (handle, None)
            except UserError as err:
                self._index_answers[key] = (None, err)
        handle, error = self._index_answers[key]
        if error is not None:
            raise error
        return handle

    def missing_index(self) -> EmptyState:
        """Why the active checkpoint has no case index of the active dataset, with a job that
        builds it."""
        location = self.index_location()
        handle = self._index_handle()
        fingerprint = str(self.checkpoint_summary()["fingerprint"])[:12]
        title = f"No case index for the active checkpoint {fingerprint}"
        others = _other_indexes(handle) if handle is not None else []
        if handle is not None and handle.exists():
            title = f"The case index of checkpoint {fingerprint} lacks this dataset"
            why = (
                f"Its index in the {location.describe()} holds none of these "
                f"{self.dataset_path().name} studies (it was built for another dataset there, "
                "before they were ingested, or by a version that did not record dataset ids)"
            )
        elif others:
            held = ", ".join(others[:3])
            why = f"The {location.describe()} holds indexes of other checkpoints ({held})"
        else:
            why = f"The {location.describe()} holds no index yet"
        return EmptyState(
            title,
            f"{why}. Searching with the exact in-memory ranking instead; build the ChromaDB "
            "index in the background to search it here (and from `python -m model search`).",
            offer=self.index_offer(),
        )

    def partial_index(self, unindexed: int, searched: int) -> EmptyState:
        """The active checkpoint's index lacks ``unindexed`` of the ``searched`` studies, with
        the job that rebuilds it."""
        return EmptyState(
            f"The case index lacks {unindexed:,} of these {searched:,} studies",
            "They were ingested after the index was built, so no search finds them; rebuild the "
            "index in the background to search them too.",
            offer=self.index_offer(),
        )

    def damaged_index(self, problem: DamagedIndex) -> EmptyState:
        """The active checkpoint's index reads back wrong (``DamagedIndex``), with the job that
        rebuilds it from the data root's datasets it holds (``dashboard.index_rebuild``)."""
        from dashboard.index_rebuild import rebuild_plan

        try:
            handle = self._index_handle()
        except DamagedIndex:  # reading it crashes a process: the job reads it afresh
            handle = None
        location = self.index_location()
        siblings = [
            d for d in self.settings.datasets() if self.settings.chroma_location(d) == location
        ]
        plan = rebuild_plan(handle, self.dataset_path(), siblings) if handle else None
        hint = (
            f"{problem}. Searching with the exact in-memory ranking instead; rebuild the index "
            "in the background to search it again."
        )
        command = ["index", "--checkpoint", str(self.checkpoint_path()), "--rebuild"]
        for path in plan.datasets if plan else [self.dataset_path()]:
            command += ["--data", str(path)]
        if plan and plan.dropped:
            names = ", ".join(one.describe() for one in plan.dropped)
            hint += (
                f" Rebuilding drops {names} from it: not datasets of this data root, so whoever "
                "indexed them has to index them again."
            )
            command.append("--drop-others")
        offer = JobOffer("index", model_command(*command), "Rebuild the case index")
        return EmptyState("The case index is damaged", hint, offer=offer)

    def index_offer(self) -> JobOffer:
        """The background job that builds (or brings up to date) the active checkpoint's index
        of the active dataset."""
        command = [
            "index",
            "--checkpoint",
            str(self.checkpoint_path()),
            "--data",
            str(self.dataset_path()),
        ]
        labels = label_file(self.dataset_path())
        if labels is not None:
            command += ["--labels", str(labels)]
        return JobOffer("index", model_command(*command), "Build the case index")


def _other_indexes(handle: EmbeddingIndex) -> list[str]:
    """The checkpoint indexes where ``handle``'s is, largest first, then those that crash or
    hang a reader (named, never read)."""
    from model.index.collection_spec import COLLECTION_PREFIX

    held = [f"{c.checkpoint[:12]} ({c.count:,} studies)" for c in handle.collections() if c.count]
    return held + [
        f"{name.removeprefix(COLLECTION_PREFIX)[:12]} (damaged, not read)"
        for name in sorted(handle.unreadable)
        if name.startswith(COLLECTION_PREFIX)
    ]
