"""A hospital's own label columns as index fields, and what the index records of its labels.

A labels CSV may hold columns beyond the findings and the one-hot diagnoses of
``model.schema`` (e.g. ``sarcoid``). Each such column becomes an int (0/1) metadata field of the
studies it labels (absent when blank, as a finding is) when ``own_label_fields`` lets it: the
labels reader already refuses a cell other than 1, 0 or blank, so every column is binary; a column
is left out, with one log line naming it and why, when its name looks like data (as
``model.errors.header_names`` judges a header cell) or like an identifier (the index keeps label
values only), is not a plain field name (letters, digits and ``_``, starting with a letter: the
``--where`` JSON takes it as typed), equals an index field (``site``, ``age_min``, ...) whatever
its case, or holds no 1 or 0 at all.

The collection's metadata records, under ``LABELS_KEY``, for each dataset (by its
``dataset_folder``, found by its ``dataset_id`` in a copied data root) the own label fields
indexed, a fingerprint of the label values the index holds of its studies (``values_fingerprint``: the indexed columns' values per study, whatever
the order of the file's rows and columns, its rows of other datasets' studies or its columns the
index does not take), the names of the labels files they came from and whether that was the
dataset's own labels file (``dataset_record``). ``label_fields`` is what a search accepts besides
``FIELD_TYPES`` (none for an index built before labels were recorded: the old behaviour), and
``compare_labels`` says whether the index holds the values of the dataset's labels file now
(``IndexedLabels``), and if not, whether it was built from that file since edited or from
another (``index --labels``). A record of an earlier version holds the whole file's hash instead
(``labels``), compared as it was: a changed file then says only that the index predates the
record of values (``stale_reason`` words each case for the Case browser, ``search`` and ``index``).
"""

from __future__ import annotations

import hashlib
import json
import logging
import re
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pandas as pd

from model.errors import header_names
from model.index.filters import FIELD_TYPES
from model.labels import KEY
from model.provenance import file_sha256
from model.schema import DIAGNOSES, FINDINGS

log = logging.getLogger(__name__)

LABELS_KEY = "indexed_labels"  # collection metadata: JSON {dataset_folder: dataset_record}
_FIELD_NAME = re.compile(r"[A-Za-z][A-Za-z0-9_]{0,62}")
_IDENTIFIER = re.compile(
    r"(^|_)(id|ids|uid|mrn|accession|patient|name|names|birth|dob|ssn)(_|$)",
    re.IGNORECASE,
)
_INDEX_FIELDS = {name.lower() for name in (*FIELD_TYPES, "dataset_folder", "row_hash")}


def own_label_fields(labels: pd.DataFrame, source: str | Path | None = None) -> list[str]:
    """The columns of ``labels`` (``read_labels_csv``: 1.0 / 0.0 / NaN) besides the findings and
    diagnoses that become index fields; each other one is logged, with why, when the labels
    file's name ``source`` is given (the index command's reading, not a page's rerun)."""
    fields = []
    for column in map(str, labels.columns):
        if column in FINDINGS or column in DIAGNOSES or column == KEY:
            continue
        why = _refusal(column, labels[column])
        if why and source is not None:
            log.info("labels file %s: column %s is not indexed: %s", source, _quoted(column), why)
        elif not why:
            fields.append(column)
    return fields


def _refusal(column: str, values: pd.Series) -> str:
    """Why ``column`` cannot be an index field; "" when it can."""
    if _quoted(column).startswith("[not shown]"):  # as error messages judge a header cell
        return "its name looks like data (4 digits in a row, or over 40 characters): rename it"
    if _IDENTIFIER.search(column):
        return "its name looks like an identifier, and the index keeps no identifiers"
    if not _FIELD_NAME.fullmatch(column):
        return (
            "a filter field name takes letters, digits and _ and starts with a letter "
            "(rename the column, e.g. to "
            f"{re.sub(r'[^A-Za-z0-9_]+', '_', column).strip('_') or 'label_1'!r})"
        )
    if column.lower() in _INDEX_FIELDS:
        return f"the index has a field {column.lower()!r} of its own (rename the column)"
    if values.isna().all():
        return "it holds no 1 or 0"
    return ""


def _quoted(column: str) -> str:
    """The column name quoted, or ``[not shown]`` when it looks like data (``header_names``)."""
    return "[not shown]" if header_names([column]).startswith("[not shown]") else repr(column)


VALUES_RECORD = "values"  # IndexedLabels.record: this version's record of the values held
HASH_RECORD = "file hash"  # an earlier version's: the labels file's bytes
NO_RECORD = "none"  # none of a chosen own label column for the dataset's studies


@dataclass(frozen=True)
class IndexedLabels:
    """How the label values the index holds of one dataset stand against its labels file:
    ``current`` when they are the file's values (or nothing was recorded to judge by). Else
    ``record`` says what it was judged by: ``VALUES_RECORD``, and ``own`` says it was built from
    that file, edited since, otherwise from ``files`` (names; none when it was indexed without
    labels); ``HASH_RECORD``, an earlier version's record, and the file's bytes changed;
    ``NO_RECORD``, the index holds a chosen own label column of none of its studies."""

    current: bool
    own: bool = True
    files: tuple[str, ...] = ()
    record: str = VALUES_RECORD


def stale_title(state: IndexedLabels) -> str:
    """What is wrong with an index whose labels are not ``current`` (``stale_reason``: why), in
    the words both the Case browser and ``python -m model search`` use."""
    if state.record != VALUES_RECORD:
        return "The case index predates its record of this dataset's labels"
    if state.own:
        return "The case index is older than this dataset's labels"
    return "The case index holds other labels than this dataset's"


def stale_reason(state: IndexedLabels, dataset: str) -> str:
    """Why the label values the index holds of ``dataset`` (as the reader knows it: a name or a
    path) are not its labels file's, as a sentence without its closing full stop (each reader
    adds what it does about it); it starts with a capital, never with the dataset's name."""
    if state.record == HASH_RECORD:
        return (
            f"An earlier version built it and recorded only a hash of {dataset}'s labels file, "
            "which has changed since (perhaps only rows reordered or columns the index does not "
            "take), so whether the labels it holds still match is unknown; building it again "
            "records the label values themselves"
        )
    if state.record == NO_RECORD:
        return (
            f"Its studies of {dataset} were indexed by an earlier version, before the index took "
            "a labels file's own columns as filters; building it again adds them"
        )
    if state.own:
        return (
            f"The labels file of {dataset} changed since the index was built (values edited, "
            "a column added or removed)"
        )
    source = (
        f"with the labels of {', '.join(state.files)} (`python -m model index --labels`)"
        if state.files
        else "without labels (its labels file came later, or `--labels` named other files)"
    )
    return (
        f"Its studies of {dataset} were indexed {source}, not with {dataset}'s own labels file, "
        "whose values differ"
    )


def stale_note(state: IndexedLabels, dataset: str) -> str:
    """The one line ``python -m model search`` and ``python -m model index`` log for an index
    whose labels of ``dataset`` are not ``current``: ``stale_title``, ``stale_reason`` (the
    Case browser's words) and what a search's label filters use meanwhile."""
    return (
        f"{stale_title(state)}: {stale_reason(state, dataset)}; search's label filters use the "
        "labels the index holds until python -m model index runs again without --labels"
    )


def labels_fingerprint(paths: Iterable[str | Path]) -> str:
    """A short hash of the labels files' bytes ("" for none): what an index of an earlier
    version recorded of a dataset's labels (``compare_labels``)."""
    digests = [file_sha256(path) or "" for path in paths]
    if not digests:
        return ""
    if len(digests) == 1:
        return digests[0][:16]
    return hashlib.sha256("\n".join(digests).encode("utf-8")).hexdigest()[:16]


def values_fingerprint(labels: pd.DataFrame | None) -> str:
    """A short hash of the label values the index holds of a dataset's studies ("" for none):
    ``labels`` (``model.index.records.read_labels``, by study_id) with its columns and studies
    sorted and its studies without a value left out, so that only an edit of what the index
    holds changes it."""
    if labels is None or labels.empty:
        return ""
    frame = labels[~labels.index.duplicated(keep="last")]
    frame = frame[sorted(frame.columns, key=str)].dropna(how="all")
    frame = frame.astype({c: "Int64" for c in frame.columns if c != "diagnosis"})
    frame.index = frame.index.astype(str)
    text = frame.sort_index().to_csv(na_rep="", lineterminator="\n")
    return hashlib.sha256(text.encode("utf-8")).hexdigest()[:16]


def dataset_record(
    labels: pd.DataFrame | None, files: list[Path], own: bool = False, dataset_id: str = ""
) -> dict[str, Any]:
    """What the collection records of one dataset: the own label fields of its ``labels``
    (``model.index.records.read_labels``; None without), the fingerprint of their values, the
    names of the labels ``files`` they came from, whether that is the dataset's ``own``, and its
    ``dataset_id`` (the salt id), by which a copy of the dataset finds the record
    (``dataset_labels_record``)."""
    fields = (
        [] if labels is None else [c for c in labels.columns if c not in (*FINDINGS, "diagnosis")]
    )
    record = {
        "fields": sorted(map(str, fields)),
        "values": values_fingerprint(labels),
        "files": [Path(path).name for path in files],
        "own": bool(own),
    }
    return {**record, "dataset_id": dataset_id} if dataset_id else record


def recorded_labels(metadata: dict[str, Any] | None) -> dict[str, dict[str, Any]]:
    """dataset_folder -> its ``dataset_record`` (or an earlier version's ``{"fields", "labels"}``)
    from a collection's metadata ({} for an index built before they were recorded, or an
    unreadable record)."""
    text = (metadata or {}).get(LABELS_KEY)
    try:
        recorded = json.loads(text) if isinstance(text, str) else {}
    except json.JSONDecodeError:
        log.warning("the index's record of its label fields is unreadable; ignoring it")
        return {}
    return recorded if isinstance(recorded, dict) else {}


def with_labels_recorded(
    metadata: dict[str, Any] | None, datasets: dict[str, dict[str, Any]]
) -> dict[str, Any]:
    """A collection's ``metadata`` with ``datasets`` (dataset_folder -> record) recorded."""
    recorded = {**recorded_labels(metadata), **datasets}
    return {**(metadata or {}), LABELS_KEY: json.dumps(recorded, sort_keys=True)}


def label_fields(metadata: dict[str, Any] | None) -> frozenset[str]:
    """Every own label field the index holds, of any dataset."""
    fields: set[str] = set()
    for record in recorded_labels(metadata).values():
        fields.update(str(name) for name in record.get("fields", []))
    return frozenset(fields)


def dataset_labels_record(
    metadata: dict[str, Any] | None, dataset_folder: str, dataset_id: str = ""
) -> dict[str, Any] | None:
    """The index's record of one dataset's labels: the one under its ``dataset_folder``, else
    the one naming its ``dataset_id``. A data root copied or moved whole keeps the index, but
    the hash of each dataset's resolved folder changes with the place; without the second look
    the copy read as indexed before labels were recorded, and its own label filters as absent."""
    recorded = recorded_labels(metadata)
    record = recorded.get(dataset_folder)
    if record is None and dataset_id:
        same = [one for _, one in sorted(recorded.items()) if isinstance(one, dict)]
        record = next((one for one in same if one.get("dataset_id") == dataset_id), None)
    return record if isinstance(record, dict) else None


def dataset_label_fields(
    metadata: dict[str, Any] | None, dataset_folder: str, dataset_id: str = ""
) -> frozenset[str]:
    """The own label fields the index holds of one dataset's studies (none when it did not
    record that dataset's: indexed before label fields were recorded)."""
    record = dataset_labels_record(metadata, dataset_folder, dataset_id) or {}
    return frozenset(str(name) for name in record.get("fields", []))


def compare_labels(
    metadata: dict[str, Any] | None,
    dataset_folder: str,
    values: str,
    file_hash: str,
    dataset_id: str = "",
) -> IndexedLabels:
    """Whether the index holds the label values of the dataset's labels file now, whose
    ``values_fingerprint`` is ``values`` and ``labels_fingerprint`` ``file_hash`` (what an
    earlier version recorded); current when the index did not record the dataset's labels."""
    record = dataset_labels_record(metadata, dataset_folder, dataset_id)
    if record is None:
        return IndexedLabels(current=True)
    if "values" not in record:  # recorded by an earlier version: the whole file's hash
        return IndexedLabels(current=record.get("labels", "") == file_hash, record=HASH_RECORD)
    files = tuple(str(name) for name in record.get("files", []))
    return IndexedLabels(record["values"] == values, bool(record.get("own")), files)
