"""Which datasets a checkpoint's index holds, which of them a rebuild would drop, and whether
the index holds the values of a dataset's labels file (``labels_state``).

One collection per checkpoint holds every dataset indexed with it: sibling datasets sharing an
embedded folder (``DATA_ROOT/imports/chroma``), or a colleague's datasets on a shared server. A
``--rebuild`` writes the collection afresh from the datasets it is given, so it names the others
first and goes on only when they are given too or ``--drop-others`` says to drop them.

A dataset is known by its name and, since they were recorded, its ``dataset_id`` and
``dataset_folder`` (``model.index.records.dataset_identity``): the same rules by which a re-index
prunes its own dataset's departed studies and nobody else's (``model.index.writer``).
"""

from __future__ import annotations

import json
import logging
import os
from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

import pandas as pd
from chromadb.api.models.Collection import Collection

from model.data.dataset import read_linkage
from model.data.store import SETTINGS_FILE
from model.errors import DataError
from model.index.client import ChromaLocation, open_client
from model.index.embedding_index import EmbeddingIndex
from model.index.filters import FIELD_TYPES
from model.index.label_fields import (
    NO_RECORD,
    IndexedLabels,
    compare_labels,
    dataset_label_fields,
    labels_fingerprint,
    stale_note,
    values_fingerprint,
    with_labels_recorded,
)
from model.index.records import dataset_identity, read_labels
from model.labels import label_file
from model.schema import DatasetPaths

if TYPE_CHECKING:
    from model.data.dataset import CMRDataset

log = logging.getLogger(__name__)
_PAGE = 5000


@dataclass(frozen=True)
class HeldDataset:
    """One dataset's studies in an index: its name, identity (None when not recorded), count,
    and their study ids (what a rebuild counts as removed: those its records lack)."""

    name: str
    dataset_id: str | None
    folder: str | None
    studies: int
    ids: frozenset[str] = field(default=frozenset(), repr=False, compare=False)

    def describe(self) -> str:
        return f"{self.name} ({self.studies:,} studies)"

    def is_one_of(self, given: list[dict[str, Any]]) -> bool:
        """Whether one of ``given`` (``{"dataset", "dataset_id", "dataset_folder"}``) is it."""
        return any(
            self.name == str(one["dataset"])
            and (
                self.dataset_id in (None, one["dataset_id"]) or self.folder == one["dataset_folder"]
            )
            for one in given
        )


def identity_of(dataset: CMRDataset, path: Path) -> dict[str, str]:
    """``dataset`` (its folder's name: `--data .` is the folder's own name, not ""),
    ``dataset_id`` and ``dataset_folder`` of the ``CMRDataset`` opened at ``path``."""
    salt_id = str(dataset.settings.get("salt_id", ""))
    return {"dataset": Path(os.path.abspath(path)).name, **dataset_identity(salt_id, path)}


def held_datasets(collection: Collection) -> list[HeldDataset]:
    """The datasets whose studies ``collection`` holds, largest first (metadata only is read)."""
    ids: defaultdict[tuple[str, str | None, str | None], set[str]] = defaultdict(set)
    offset = 0
    while True:
        page = collection.get(include=["metadatas"], limit=_PAGE, offset=offset)
        for sid, meta in zip(page["ids"], page["metadatas"] or [], strict=True):
            meta = meta or {}
            key = (str(meta.get("dataset", "")), meta.get("dataset_id"), meta.get("dataset_folder"))
            ids[key].add(sid)  # type: ignore[index]
        if len(page["ids"]) < _PAGE:
            break
        offset += _PAGE
    held = [
        HeldDataset(name, did, folder, len(sids), frozenset(sids))
        for (name, did, folder), sids in ids.items()
    ]
    return sorted(held, key=lambda one: (-one.studies, one.name))


def read_held_datasets(location: ChromaLocation, fingerprint: str) -> list[HeldDataset]:
    """The datasets in the checkpoint's index at ``location`` (none without an index). Run it
    in a fresh process for an embedded folder (``fresh_process``): a damaged one can crash it."""
    index = EmbeddingIndex(open_client(location), fingerprint)
    if not index.exists():
        return []
    return index.read(held_datasets)


def own_labels_prints(
    dataset: Path, linkage: pd.DataFrame | None = None, parsed: pd.DataFrame | None = None
) -> tuple[str, str]:
    """(``values_fingerprint``, ``labels_fingerprint``) of ``dataset``'s own labels file
    (``model.labels.label_file``) as an index of it takes its values (``linkage``: its
    linkage.csv, read when not given; ``parsed``: the file's ``read_labels_csv``, read when not
    given); ("", "") without one or one the index cannot take."""
    own = label_file(dataset)
    if own is None:
        return "", ""
    if linkage is None:
        linkage = read_linkage(DatasetPaths(dataset).linkage)
    try:
        values = values_fingerprint(read_labels(own, linkage, parsed))
    except DataError:
        return "", ""
    return values, labels_fingerprint([own])


def labels_state(
    collection_metadata: dict[str, Any] | None,
    dataset: Path,
    prints: tuple[str, str] | None = None,
    chosen: Iterable[str] = (),
) -> IndexedLabels:
    """Whether the index holds the label values of ``dataset``'s own labels file now
    (``model.index.label_fields.compare_labels``; ``prints``: its ``own_labels_prints``, read
    when not given): current for an index that did not record them, and for a dataset without
    a labels file (its index may hold labels given with ``index --labels``). Not current either
    when it lacks one of the ``chosen`` label fields (a search's filters) that are the file's own
    columns for this dataset's studies: a sibling dataset's field of the same name does not
    count, and asking the index for it would find none of this dataset's studies."""
    values, file_hash = prints if prints is not None else own_labels_prints(dataset)
    folder = dataset_identity("", dataset)["dataset_folder"]
    salt_id = dataset_salt_id(dataset)
    state = (
        compare_labels(collection_metadata, folder, values, file_hash, salt_id)
        if file_hash
        else IndexedLabels(current=True)
    )
    own = set(chosen) - set(FIELD_TYPES)
    if state.current and not own <= dataset_label_fields(collection_metadata, folder, salt_id):
        return IndexedLabels(current=False, record=NO_RECORD)
    return state


def dataset_salt_id(dataset: Path) -> str:
    """The ``salt_id`` in ``dataset``'s dataset.json (its ``dataset_id`` in the index), "" when
    it cannot be read: the index's label record is then looked up by the folder alone."""
    try:
        settings = json.loads((Path(dataset) / SETTINGS_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return ""
    return str(settings.get("salt_id", "")) if isinstance(settings, dict) else ""


def removed_by_rebuild(held: list[HeldDataset], kept: Iterable[str]) -> int:
    """How many of the ``held`` studies a rebuild writing the ``kept`` study ids removes: the
    other datasets' it drops and its own datasets' departed ones (its write report cannot
    tell, as it writes a fresh collection)."""
    kept = set(kept)
    return sum(len(one.ids - kept) for one in held)


def dropped_by_rebuild(held: list[HeldDataset], given: list[dict[str, Any]]) -> list[HeldDataset]:
    """Those of ``held`` that a rebuild from the ``given`` datasets' identities would drop."""
    return [one for one in held if not one.is_one_of(given)]


def say_labels_state(datasets: list[Path], recorded: dict[str, dict[str, Any]]) -> None:
    """One line for each dataset whose label values the index now holds (``recorded``: its
    record of every dataset's labels after the write) are not its own labels file's, in the
    words of ``search`` and the Case browser (``stale_note``): a given one indexed with
    ``--labels`` from another file with other values, or from files that label none of its
    studies; a sibling beside them that it was not given, whose labels it keeps but cannot
    refresh (its labels file edited since it was indexed)."""
    metadata = with_labels_recorded(None, recorded)
    for path in [*datasets, *sibling_datasets(datasets, set(recorded))]:
        try:
            state = labels_state(metadata, Path(path))
        except (OSError, ValueError) as err:  # another account's linkage.csv, say: the index is
            log.info("cannot tell whether the index holds the labels of %s: %s", path, err)
            continue  # written already, and a sibling's files are no reason to fail the run
        if not state.current:
            log.warning("%s", stale_note(state, str(path)))


def sibling_datasets(datasets: list[Path], folders: set[str]) -> list[Path]:
    """The dataset folders beside ``datasets`` (in their parent folders) not among them whose
    labels the index records (``folders``: ``dataset_folder`` hashes), by name."""
    given = {Path(path).resolve() for path in datasets}
    found = set()
    for parent in {path.parent for path in given}:
        try:
            beside = list(parent.iterdir())
        except OSError as err:  # a folder it may not list: no sibling to name
            log.info("cannot look for datasets beside the given ones in %s: %s", parent, err)
            continue
        for path in beside:
            # os.path.isfile: False for a folder this account may not enter (a disk's lost+found)
            if path.resolve() in given or not os.path.isfile(path / "studies.parquet"):
                continue
            if dataset_identity("", path)["dataset_folder"] in folders:
                found.add(path)
    return sorted(found)
