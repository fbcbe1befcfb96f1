"""``python -m model embed --checkpoint CKPT --data DATASET --out FILE``: a dataset's study
embeddings (``model.embed.cached_study_embeddings``) written to ``FILE`` (``.npz`` or
``.parquet``, ``StudyEmbeddings.save``); the dataset's cache is filled on the way. ``FILE`` is
written holding the dataset's ingest lock shared, without the studies a ``forget`` erased while
they were embedded (``model.withdrawn_outputs``: the product's own format loses their rows)."""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import logging
from pathlib import Path

from model import embedding_cache
from model.embed import cache_path, cached_study_embeddings
from model.errors import CheckpointError, DataError, UserError
from model.output_path import check_output_path
from model.provenance import run_context
from model.schema import DatasetPaths
from model.withdrawn_outputs import committing, keep_held

log = logging.getLogger(__name__)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, type=Path, help="a .pt checkpoint")
    parser.add_argument("--data", required=True, type=Path, help="an ingested dataset folder")
    parser.add_argument(
        "--out",
        required=True,
        type=Path,
        help=".npz (ids [N], vectors float32 [N, D] unit-norm, provenance JSON) or .parquet "
        "(study_id, e0..e{D-1})",
    )
    parser.add_argument("--batch-size", type=int, default=16)
    parser.add_argument("--device", default="auto", choices=("auto", "cpu", "cuda"))


def run(args: argparse.Namespace) -> int:
    from model.data.dataset import CMRDataset
    from model.training.distributed import resolve_device

    if args.out.suffix not in (".npz", ".parquet"):
        raise UserError(f"--out {args.out} must end in .npz or .parquet")
    if args.batch_size <= 0:
        raise UserError("--batch-size must be > 0")
    check_output_path(args.out, "--out", folder=False)
    ds = CMRDataset.open(args.data)
    if not len(ds):
        raise DataError(f"dataset {args.data} holds no studies to embed")
    device = resolve_device(args.device)
    embeddings = cached_study_embeddings(
        args.checkpoint, ds, device=device, batch_size=args.batch_size
    )
    inside = args.out.parent.resolve() == DatasetPaths(Path(ds.root)).embeddings.resolve()
    if inside:
        _check_cache_name(args, cache_path(ds, embeddings.provenance["checkpoint_fingerprint"]))
    context = run_context(getattr(args, "argv", None))  # the command line, code, threads
    embeddings = dataclasses.replace(embeddings, provenance={**embeddings.provenance, **context})
    with committing([ds.root], "the embeddings"):
        keep = keep_held(embeddings.ids, [ds.root], "the embeddings")
        ids = [sid for sid, kept in zip(embeddings.ids, keep, strict=True) if kept]
        embeddings = dataclasses.replace(embeddings, ids=ids, vectors=embeddings.vectors[keep])
        with embedding_cache.writing(args.out.parent) if inside else contextlib.nullcontext():
            embeddings.save(args.out)  # (the dashboard's embed job writes the cache file itself)
    log.info(
        "wrote %d study embeddings (dim %d) to %s", len(embeddings.ids), embeddings.dim, args.out
    )
    return 0


def _check_cache_name(args: argparse.Namespace, cache: Path) -> None:
    """CheckpointError when ``--out``, in the dataset's cache folder, is named as the cache of
    other weights (or another version of the dataset) than ``cache``, the one of the weights
    embedded: the checkpoint was replaced since ``--out`` was named after it (a training still
    running rewrites its best.pt), and these embeddings would be read as the other weights'."""
    if embedding_cache.is_cache_name(args.out.name) and args.out.name != cache.name:
        raise CheckpointError(
            f"--out {args.out.name} names the embedding cache of other weights or another "
            f"version of the dataset than those embedded: {args.checkpoint} or {args.data} "
            f"changed since (a training still running replaces its best.pt); {args.out.name} is "
            f"not written, and the embeddings of the checkpoint as it is now are cached as "
            f"{cache.name}"
        )
