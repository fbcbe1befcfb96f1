"""``python -m model index``: embed datasets with a checkpoint and upsert them into ChromaDB.

    python -m model index --checkpoint RUN/best.pt --data DATASET [--data DATASET2 ...]
        [--labels labels.csv] [--chroma-path DIR | --chroma-host H --chroma-port P] [--rebuild]

Study embeddings come from the dataset's embedding cache when the checkpoint and studies are
unchanged. The run is idempotent and resumable: rerunning writes only new or changed studies and
never duplicates one. A new checkpoint gets a new collection; the previous one stays searchable.
With the embedded index (default ``DATASET/../chroma``) only one index command may run per folder;
a second one waits ``--wait`` seconds and then stops with a clear message; none writes a folder a
Chroma server serves (``model.index.folder_users``: index through the server). ``--rebuild`` writes
the checkpoint's collection afresh (the way back from a damaged index, ``DamagedIndex``) while
searchers keep the old one until the new one is whole (``model.index.rebuild``); it first names
the datasets the old one holds that were not given, and stops unless ``--drop-others``.
The write holds the datasets' ingest locks shared (waiting at least 10 minutes for an ingest or
``forget`` to finish) and leaves out the studies a ``forget`` erased while it embedded
(``model.index.withdrawn_guard``).
"""

from __future__ import annotations

import argparse
import contextlib
import logging
import time
from pathlib import Path
from shlex import quote

import numpy as np
import pandas as pd
from chromadb.errors import NotFoundError

from model.errors import DamagedIndex, DataError, UserError
from model.index.client import (
    ChromaLocation,
    default_chroma_path,
    index_failures,
    open_client,
    probe_server,
    resolve_location,
)
from model.index.embedding_index import EmbeddingIndex
from model.index.folder_users import refuse_served
from model.index.fresh_process import ChildDied, run_in_fresh_process
from model.index.held_datasets import (
    HeldDataset,
    dropped_by_rebuild,
    identity_of,
    read_held_datasets,
    removed_by_rebuild,
    say_labels_state,
)
from model.index.label_fields import dataset_record
from model.index.metadata_lock import drop_left_locks
from model.index.rebuild import drop_dead_leftovers, drop_leftovers, rebuild_index
from model.index.records import IndexRecords, build_records, read_labels
from model.index.withdrawn_guard import WRITE_WAIT_S, during_write, without_withdrawn
from model.index.writer import UpsertReport, upsert_records
from model.index.writer_lock import WriterLock
from model.input_checks import check_inputs
from model.labels import label_file
from model.output_path import check_output_path

log = logging.getLogger(__name__)

INDEX_WAY = "index through the server: --chroma-host {host} --chroma-port {port}"


def add_chroma_arguments(parser: argparse.ArgumentParser) -> None:
    """``--chroma-path`` / ``--chroma-host`` / ``--chroma-port`` (shared with ``search``)."""
    group = parser.add_argument_group("index location (default: DATASET/../chroma)")
    group.add_argument("--chroma-path", type=Path, help="embedded Chroma folder")
    group.add_argument("--chroma-host", help="Chroma server host (env CMR_CHROMA_HOST)")
    group.add_argument("--chroma-port", help="Chroma server port (env CMR_CHROMA_PORT)")


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, type=Path, help="a .pt checkpoint")
    parser.add_argument(
        "--data",
        required=True,
        type=Path,
        nargs="+",
        action="extend",
        help="ingested datasets (--data A B or --data A --data B)",
    )
    parser.add_argument(
        "--labels",
        type=Path,
        nargs="+",
        action="extend",
        help="labels CSVs to attach findings, for every dataset; default: each dataset's own "
        "(DATASET/labels.csv, acdc_labels.csv, or the demo's raw labels)",
    )
    parser.add_argument(
        "--batch-size",
        type=int,
        default=None,
        help="studies per upsert (default: as many as the Chroma client takes in one call)",
    )
    parser.add_argument(
        "--wait", type=float, default=0.0, help="seconds to wait for another index writer"
    )
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))
    parser.add_argument(
        "--rebuild",
        action="store_true",
        help="write this checkpoint's index afresh from the given datasets (a damaged index) "
        "and replace the old one when done; other checkpoints' indexes are left alone",
    )
    parser.add_argument(
        "--drop-others",
        action="store_true",
        help="with --rebuild: drop the studies of datasets the old index holds that are not "
        "given with --data (without it, the rebuild names them and stops)",
    )
    add_chroma_arguments(parser)


def collect_records(
    checkpoint: Path,
    fingerprint: str,
    datasets: list[Path],
    labels_csvs: list[Path],
    device: str = "cpu",
) -> IndexRecords:
    """Embed (or reuse cached embeddings of) every dataset and build the index records.

    ``fingerprint`` is the checkpoint's, the index's name: a checkpoint replaced meanwhile (a run
    still training rewrites its ``best.pt``) is a ``DataError``, not another model's vectors in it.

    Without ``labels_csvs`` each dataset's own labels file (``model.labels.label_file``) is
    attached, as the dashboard's index job does, so a re-index never drops the findings filters.
    The records name each dataset's own label fields, the fingerprint of its label values and
    the labels files they came from (``dataset_record``), which the write records in the
    collection.
    """
    from model.data.dataset import CMRDataset
    from model.embed import cached_study_embeddings

    records = IndexRecords(ids=[], vectors=np.zeros((0, 0), np.float32), metadatas=[], documents=[])
    for path in datasets:
        ds = CMRDataset.open(path)
        own = label_file(Path(path))
        files = labels_csvs or ([own] if own else [])
        labels, used = _labels_for(ds.linkage(), files, Path(path))
        embeddings = cached_study_embeddings(checkpoint, ds, device=device)
        if embeddings.provenance["checkpoint_fingerprint"] != fingerprint:
            raise DataError(
                f"checkpoint {checkpoint} was replaced while indexing (it was {fingerprint[:12]}"
                "); run the index command again"
            )
        given = identity_of(ds, Path(path))
        name = given.pop("dataset")
        part = build_records(ds.studies, embeddings.ids, embeddings.vectors, name, labels, given)
        from_own = own is not None and [p.resolve() for p in used] == [own.resolve()]
        part.labels[given["dataset_folder"]] = dataset_record(
            labels, used, from_own, given["dataset_id"]
        )
        clash = set(part.ids) & set(records.ids)
        if clash:
            raise DataError(
                f"{len(clash)} study ids of {path} are already in another --data dataset, "
                f"e.g. {sorted(clash)[0]}"
            )
        records = records.concat(part)
    if not len(records):
        raise DataError("the given datasets hold no studies to index")
    return records


def check_rebuild_keeps(
    location: ChromaLocation, fingerprint: str, datasets: list[Path], drop_others: bool
) -> list[HeldDataset] | None:
    """Stop a rebuild that would drop datasets of the old index not given with ``--data``
    (unless ``drop_others``), naming them; an index that cannot be read is rebuilt anyway.
    Returns the datasets the old index holds (None when it cannot be read)."""
    from model.data.dataset import CMRDataset

    given = [identity_of(CMRDataset.open(path), Path(path)) for path in datasets]
    if location.is_server:
        with index_failures(location):
            held = read_held_datasets(location, fingerprint)
    else:
        try:
            with index_failures(location):
                held = run_in_fresh_process(read_held_datasets, location, fingerprint)
        except (ChildDied, UserError) as err:  # damaged: the rebuild is the way back
            log.warning(
                "cannot read which datasets the index of checkpoint %s holds (%s); rebuilding "
                "it from the given datasets only",
                fingerprint[:12],
                err,
            )
            return None
    dropped = dropped_by_rebuild(held, given)
    if not dropped:
        return held
    names = ", ".join(one.describe() for one in dropped)
    if drop_others:
        log.warning("the rebuild drops from the index of %s: %s", fingerprint[:12], names)
        return held
    raise UserError(
        f"the index of checkpoint {fingerprint[:12]} at {location.describe()} also holds "
        f"{names}, which a rebuild from the given datasets would drop: give them with --data "
        "too, or add --drop-others to drop them"
    )


def _labels_for(
    linkage: pd.DataFrame, labels_csvs: list[Path], dataset: Path
) -> tuple[pd.DataFrame | None, list[Path]]:
    """The labels of ``dataset``'s studies from whichever of the files holds them, and those
    files (a later one's row of a study wins)."""
    frames = {csv: read_labels(csv, linkage) for csv in labels_csvs}
    used = {csv: frame for csv, frame in frames.items() if len(frame)}
    if not used:
        if labels_csvs:
            log.info("%s: none of its studies is in %s", dataset.name, _names(labels_csvs))
        return None, []
    merged = pd.concat(used.values())
    merged = merged[~merged.index.duplicated(keep="last")]
    log.info(
        "%s: labels for %d of %d studies from %s",
        dataset.name,
        len(merged),
        len(linkage),
        _names(list(used)),
    )
    return merged, list(used)


def _names(paths: list[Path]) -> str:
    return ", ".join(str(path) for path in paths)


def run(args: argparse.Namespace) -> int:
    from model.training.checkpoint import read_checkpoint_meta
    from model.training.distributed import resolve_device

    if args.batch_size is not None and args.batch_size <= 0:
        raise UserError("--batch-size must be > 0")
    if args.drop_others and not args.rebuild:
        raise UserError("--drop-others goes with --rebuild")
    location = resolve_location(
        args.chroma_path, args.chroma_host, args.chroma_port, default_chroma_path(args.data[0])
    )
    if location.is_server:
        probe_server(location)  # before the embedding, which can take an hour
    else:
        check_output_path(location.path, "index folder", folder=True)
        refuse_served(location.path, "writing it as an embedded index", INDEX_WAY)
    check_inputs(datasets=args.data, labels=args.labels or [])  # before embedding any of them
    fingerprint = read_checkpoint_meta(args.checkpoint).fingerprint
    device = str(resolve_device(args.device))
    lock = (
        contextlib.nullcontext()  # a Chroma server serialises its writers itself
        if location.is_server
        else WriterLock(location.path, wait_s=args.wait)
    )
    with lock:  # taken before embedding, so a second writer fails fast
        held = None
        if args.rebuild:
            held = check_rebuild_keeps(location, fingerprint, args.data, args.drop_others)
        started = time.perf_counter()
        records = collect_records(
            args.checkpoint, fingerprint, args.data, args.labels or [], device
        )
        embedded = time.perf_counter()
        with during_write(args.data, max(args.wait, WRITE_WAIT_S)), index_failures(location):
            records = without_withdrawn(records, args.data)  # erased by a forget meanwhile
            report = _write(location, fingerprint, records, args.batch_size, args.rebuild)
    finished = time.perf_counter()
    removed = str(report.removed)
    if args.rebuild:  # a fresh collection: what it removed is what the old one held beyond it
        removed = "?" if held is None else str(removed_by_rebuild(held, records.ids))
    log.info(
        "index %s at %s: %d studies (%d written, %d unchanged, %s removed); "
        "embedding %.1f s, upsert %.1f s, %.0f studies/s overall",
        fingerprint[:12],
        location.describe(),
        report.total,
        report.written,
        report.unchanged,
        removed,
        embedded - started,
        finished - embedded,
        len(records) / max(finished - started, 1e-9),
    )
    say_labels_state(args.data, report.labels)
    log.info("search it: %s", search_command(args, location))
    return 0


def search_command(args: argparse.Namespace, location: ChromaLocation) -> str:
    """The ``search`` command line that reads the index just written (the same checkpoint and
    the same index location, in the options the user gave for it)."""
    where = f"--data {quote(str(args.data[0]))}"
    if location.is_server:
        where = f"--chroma-host {quote(str(location.host))} --chroma-port {location.port}"
    elif args.chroma_path:
        where = f"--chroma-path {quote(str(location.path))}"
    return f'python -m model search "QUERY" --checkpoint {quote(str(args.checkpoint))} {where}'


def _write(
    location: ChromaLocation,
    fingerprint: str,
    records: IndexRecords,
    batch_size: int | None,
    rebuild: bool = False,
) -> UpsertReport:
    """Upsert ``records``; into an embedded folder from a fresh process (``fresh_process``)."""
    if location.is_server:  # the server's own process holds the index
        return _write_here(location, fingerprint, records, batch_size, rebuild)
    try:
        return run_in_fresh_process(
            _write_here, location, fingerprint, records, batch_size, rebuild
        )
    except ChildDied as err:
        raise DamagedIndex(f"the index writer {err}: the index may be damaged") from err


def _write_here(
    location: ChromaLocation,
    fingerprint: str,
    records: IndexRecords,
    batch_size: int | None,
    rebuild: bool = False,
) -> UpsertReport:
    client = open_client(location)
    if location.is_server:
        drop_dead_leftovers(client)
    else:  # the writer lock: no rebuild or metadata update is under way, whatever is left
        drop_dead_leftovers(client, older_than_s=0)
        drop_left_locks(client)
    if rebuild:
        return rebuild_index(client, fingerprint, records, batch_size, location.is_server)
    if not location.is_server:
        drop_leftovers(client, fingerprint)  # those without a heartbeat, of earlier versions
    try:
        return upsert_records(EmbeddingIndex(client, fingerprint), records, batch_size=batch_size)
    except NotFoundError as err:  # a --rebuild on the same server swapped the collection
        raise UserError(
            f"the index on {location.describe()} was replaced while this run wrote to it (a "
            "--rebuild finished meanwhile?); rerun the same command: it writes only the studies "
            "the index lacks"
        ) from err
