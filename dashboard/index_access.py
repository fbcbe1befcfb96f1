"""The active checkpoint's case index as the dashboard sees it (``Studio``'s index part).

The dashboard reads an index and never creates or writes it; an embedded folder is read only in
a state a child process has read first, and each way an index can be missing, partial or damaged
is an ``EmptyState`` carrying the background job that mends it.
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

from dashboard import cache
from dashboard.empty_state import EmptyState, JobOffer
from dashboard.formatting import relative
from dashboard.jobs import model_command
from model.errors import DamagedIndex
from model.labels import label_file
from model.schema import DatasetPaths
from model.wording import counted

if TYPE_CHECKING:
    from dashboard.settings import Settings
    from model.index.client import ChromaLocation
    from model.index.embedding_index import EmbeddingIndex
    from model.index.label_fields import IndexedLabels


class CaseIndexAccess:
    """Mixed into ``Studio``, whose dataset, checkpoint and settings it reads."""

    settings: Settings
    _index_answers: dict[tuple, tuple[Any, Exception | None]]

    if TYPE_CHECKING:

        def index_location(self) -> ChromaLocation: ...
        def checkpoint_summary(self) -> dict[str, Any]: ...
        def _checkpoint_key(self) -> tuple[str, tuple[float, ...]]: ...
        def dataset_path(self) -> Path: ...
        def checkpoint_path(self) -> Path: ...

    def _index_handle(self) -> EmbeddingIndex | None:
        """The cached index handle, or None when no embedded index folder exists yet.

        An embedded folder is opened only once ``python -m model index`` has created its
        database: the dashboard reads the index and never creates or writes it. It is read only
        in a state a child process has read first (``_unreadable_indexes``), and never the
        collections that crashed or hung that child: ``DamagedIndex`` when the checkpoint's own
        is one of them.
        """
        from model.index.private_copy import readable_location
        from model.index.read_check import unreadable

        location = readable_location(self.index_location())  # a folder this user cannot write
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
        texts = str(DatasetPaths(self.dataset_path()).embeddings)  # where its prompt vectors are
        return cache.case_index(
            location,
            location.describe(),
            fingerprint,
            path,
            version,
            database,
            texts,
            frozenset(damaged),
        )

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
        # its name, not its fingerprint: a reader knows the run, not a hash (the index run's
        # log names the fingerprint for whoever needs it)
        name = relative(self.settings.active_checkpoint(), self.settings.data_root)
        title = f"No case index for the active checkpoint {name}"
        others = _other_indexes(handle) if handle is not None else []
        if handle is not None and handle.exists():
            title = f"The case index of checkpoint {name} lacks this dataset"
            why = (
                f"Its index in the {location.describe()} holds none of these "
                f"{self.dataset_path().name} studies (it was built for another dataset there, "
                "before they were ingested, or by a version that did not record dataset ids)"
            )
        elif handle is not None and handle.swap_stalled:
            title = f"The case index of checkpoint {name} was left mid-rebuild"
            why = (
                f"Its last rebuild in the {location.describe()} stopped while swapping the new "
                "index in, so no index answers until an index run finishes the swap"
            )
        elif others:
            held = ", ".join(others[:3])
            whose = "another checkpoint's index" if len(others) == 1 else "other checkpoints'"
            why = f"The {location.describe()} holds only {whose} ({held})"
        else:
            why = f"The {location.describe()} holds no index yet"
        return EmptyState(
            title,
            f"{why}. Searching with the exact in-memory ranking instead; build the ChromaDB "
            "index in the background to search it here (and from `python -m model search`).",
            offer=self.index_offer(),
            demo_step="index",
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

    def outdated_index(self, state: IndexedLabels) -> EmptyState:
        """The active checkpoint's index holds other label values of the dataset than its labels
        file (``model.index.held_datasets.labels_state``: ``state``), with the job that indexes
        it again with that file; worded as ``search`` words it (``stale_reason``)."""
        from model.index.label_fields import stale_reason, stale_title

        reason = stale_reason(state, self.dataset_path().name)
        return EmptyState(
            stale_title(state),
            f"{reason}. The label filters use the labels file, so they "
            "are answered with the exact in-memory ranking until the index is built again; "
            "build it in the background to search it with them.",
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
    """The other checkpoints' indexes where ``handle``'s is, by size (largest first), then those
    that crash or hang a reader (never read); their fingerprints are left to the index's log."""
    from model.index.collection_spec import COLLECTION_PREFIX

    held = [counted(c.count, "study") for c in handle.collections() if c.count]
    return held + [
        "one damaged, not read"
        for name in sorted(handle.unreadable)
        if name.startswith(COLLECTION_PREFIX)
    ]
