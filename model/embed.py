"""Study and text embeddings with a trained encoder, and the on-disk embedding cache.

``python -m model embed --checkpoint CKPT --data DATASET --out FILE`` (``model/embed_cli.py``)
writes ``FILE`` (``.npz``
with ``ids`` and ``vectors``, or ``.parquet`` with ``study_id`` + ``e0..e{D-1}``) and fills the
dataset's cache ``DATASET/embeddings/<checkpoint fp>-<dataset fp>.npz``, which
``cached_study_embeddings`` reuses until either the weights or the studies change (the folder
is kept bounded by ``model.embedding_cache``). Both files carry their ``provenance`` (checkpoint
and dataset fingerprints, the frames and image size the studies were read at, software versions),
which ``StudyEmbeddings.load`` gives back.
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np
import pandas as pd
import torch
from torch import nn
from torch.utils.data import DataLoader

from model import embedding_cache
from model.errors import DataError, UserError
from model.progress import Progress
from model.provenance import software_versions
from model.schema import DatasetPaths
from model.study_embeddings import StudyEmbeddings, cache_path
from model.text_store import prefill, shipped_prompt_texts

if TYPE_CHECKING:
    from model.training.checkpoint import CheckpointMeta

log = logging.getLogger(__name__)
# A query or an edited prompt is a handful of short sentences: one intra-op thread encodes it
# about as fast as two on an idle machine, and 10x faster on a busy one (oversubscribed OpenMP
# threads spin), so latency-critical small encodes run single-threaded.
SMALL_TEXT_BATCH = 16
_THREADS_LOCK = threading.Lock()


def model_device(model: nn.Module) -> torch.device:
    return next(model.parameters()).device


@contextlib.contextmanager
def single_intra_op_thread() -> Iterator[None]:
    """Run the block with one torch intra-op thread, restoring the previous count after.

    Serialised by a lock, so concurrent callers (dashboard sessions) cannot leave the process
    with the wrong thread count.
    """
    with _THREADS_LOCK:
        before = torch.get_num_threads()
        torch.set_num_threads(1)
        try:
            yield
        finally:
            torch.set_num_threads(before)


@contextlib.contextmanager
def evaluating(model: nn.Module) -> Iterator[None]:
    """Run the block in eval mode and put back the mode the model had: an embedding made in the
    middle of a notebook's training loop left the model in eval (no dropout) for the steps after."""
    was_training = model.training
    model.eval()
    try:
        yield
    finally:
        model.train(was_training)


def video_autocast(device: torch.device) -> contextlib.AbstractContextManager:
    """bf16 autocast on a CUDA device that has it (the GPU presets train in bf16), else none.

    The video tower dominates embedding time; on an H200 a ``paper`` study embeds at 10.5/s in
    bf16 (bench/RESULTS.md). The text tower stays in float32 (its frozen-state cache is float32).
    """
    if device.type == "cuda" and torch.cuda.is_bf16_supported():
        return torch.autocast("cuda", dtype=torch.bfloat16)
    return contextlib.nullcontext()


def text_threads(model: nn.Module, count: int) -> contextlib.AbstractContextManager:
    """The threads ``embed_texts`` encodes ``count`` texts on: one intra-op thread for a small
    request on CPU (``SMALL_TEXT_BATCH``), else torch's own (a caller that must reproduce its
    vectors to the bit, as validation's sentence loss does, encodes under the same)."""
    small = count <= SMALL_TEXT_BATCH and model_device(model).type == "cpu"
    return single_intra_op_thread() if small else contextlib.nullcontext()


@torch.no_grad()
def embed_texts(model: nn.Module, texts: Sequence[str], batch_size: int = 256) -> np.ndarray:
    """Unit-norm text embeddings: ``texts`` (a list of N strings) -> numpy float32 [N, D].

    Runs without gradients and in eval mode (the model's own mode is put back after). A single
    string raises ``UserError`` (it was read as a list of its characters). Small requests (at
    most ``SMALL_TEXT_BATCH`` texts on CPU) run on one intra-op thread.
    """
    if isinstance(texts, str):
        raise UserError(f"texts must be a list of strings, not one string: pass [{texts[:40]!r}]")
    with evaluating(model), text_threads(model, len(texts)):
        chunks = [
            model.encode_text(list(texts[i : i + batch_size]), normalize=True).float().cpu().numpy()
            for i in range(0, len(texts), batch_size)
        ]
    if not chunks:
        return np.zeros((0, _embed_dim(model)), dtype=np.float32)
    return np.concatenate(chunks).astype(np.float32)


def _embed_dim(model: nn.Module) -> int:
    return int(model.cfg.embed_dim)


def study_loader(
    ds: object,
    ids: Sequence[str],
    frames: int,
    size: int,
    batch_size: int = 16,
    num_workers: int = 0,
) -> DataLoader:
    """Batches of the studies ``ids`` in order, unaugmented, as ``embed_studies`` reads them."""
    from model.data.dataset import StudyVideoDataset

    videos = StudyVideoDataset(ds, list(ids), frames=frames, size=size, augment=False)
    return DataLoader(
        videos,
        batch_size=batch_size,
        shuffle=False,
        num_workers=num_workers,
        generator=torch.Generator().manual_seed(0),  # leave the global RNG untouched
    )


@torch.no_grad()
def encode_studies(
    model: nn.Module, batches: Iterable[dict], ids: Sequence[str]
) -> StudyEmbeddings:
    """Unit-norm embeddings of the studies ``ids`` read as ``batches`` (``study_loader``'s, in
    that order): each video ``[V, T, S, S] -> [D]``. On a GPU the video tower runs under bf16
    autocast (``video_autocast``); in eval mode, the model's own put back after."""
    device = model_device(model)
    chunks: list[np.ndarray] = []
    with evaluating(model), Progress("embed studies", total=len(ids), unit="study") as bar:
        for batch in batches:
            with video_autocast(device):
                vectors = model.encode_video(
                    batch["video"].to(device),
                    batch["view_mask"].to(device),
                    batch["frame_mask"].to(device),
                    normalize=True,
                )
            chunks.append(vectors.float().cpu().numpy())
            bar.update(len(batch["study_id"]))
    vectors = np.concatenate(chunks) if chunks else np.zeros((0, _embed_dim(model)), np.float32)
    return StudyEmbeddings(ids=list(ids), vectors=vectors.astype(np.float32))


def embed_studies(
    model: nn.Module,
    ds: object,
    ids: Sequence[str] | None = None,
    batch_size: int = 16,
    frames: int | None = None,
    size: int | None = None,
    num_workers: int = 0,
) -> StudyEmbeddings:
    """Unit-norm study embeddings: for each id, video [V, T, S, S] -> [D]; float32 [N, D].

    ``frames`` / ``size`` default to what the model was trained on (``model.input_frames`` /
    ``input_size``: a loaded checkpoint's ``train.frames`` / ``train.image_size``), as the
    ``embed`` command reads them.
    """
    ids = list(ds.ids() if ids is None else ids)
    frames = int(frames or model.input_frames)
    size = int(size or model.input_size)
    loader = study_loader(ds, ids, frames, size, batch_size, num_workers)
    embeddings = encode_studies(model, loader, ids)
    provenance = {
        "dataset": str(ds.root),
        "data_fingerprint": ds.fingerprint(),
        "frames": frames,
        "image_size": size,
        "versions": software_versions(),
    }
    return dataclasses.replace(embeddings, provenance=provenance)


def cached_study_embeddings(
    checkpoint_path: str | Path,
    ds: object,
    device: str | torch.device = "cpu",
    batch_size: int = 16,
    loaded: tuple[nn.Module, CheckpointMeta] | None = None,
) -> StudyEmbeddings:
    """Every study of ``ds`` embedded with the checkpoint, computed once and cached on disk
    (when the dataset folder cannot be written, computed each time, with a warning).

    ``loaded``: the ``load_checkpoint(checkpoint_path)`` the caller holds, whose weights are then
    the ones embedded even if the file was replaced since (a run still training rewrites its
    ``best.pt``), so its study and text embeddings come from one model. The ``provenance``
    adds ``checkpoint`` and ``checkpoint_fingerprint`` (the key of the cache file) to what
    ``embed_studies`` records (dataset, data_fingerprint, frames, image_size, versions).
    """
    from model.training.checkpoint import load_checkpoint, read_checkpoint_meta

    meta = loaded[1] if loaded else read_checkpoint_meta(checkpoint_path)
    cached = _read_cache(cache_path(ds, meta.fingerprint), ds)
    if cached is None:
        model, meta = loaded or load_checkpoint(checkpoint_path, device=device)
        embedded = embed_studies(model, ds, batch_size=batch_size)
        cached = _naming_checkpoint(embedded, checkpoint_path, meta.fingerprint, ds)
        # keyed by the weights embedded: the file may have been replaced since its meta was read
        _write_cache(cached, cache_path(ds, meta.fingerprint), DatasetPaths(Path(ds.root)))
        # the model is built: store the shipped prompts' vectors for the dashboard's first visit
        prefill(
            cache_path(ds, meta.fingerprint).parent, meta.fingerprint, model, shipped_prompt_texts()
        )
    embedding_cache.tidy(DatasetPaths(Path(ds.root)).embeddings)
    return _naming_checkpoint(cached, checkpoint_path, meta.fingerprint, ds)


def _naming_checkpoint(
    embeddings: StudyEmbeddings, checkpoint_path: str | Path, fingerprint: str, ds: object
) -> StudyEmbeddings:
    """``embeddings`` whose provenance also names the checkpoint and dataset they came from (a
    cache file written before provenance was recorded has only these)."""
    record = {
        "checkpoint": str(checkpoint_path),
        "checkpoint_fingerprint": fingerprint,
        "dataset": str(ds.root),
        "data_fingerprint": ds.fingerprint(),
    }
    return dataclasses.replace(embeddings, provenance={**embeddings.provenance, **record})


def _read_cache(path: Path, ds: object) -> StudyEmbeddings | None:
    """The cache file's embeddings when it holds every study of ``ds`` (its use recorded), else
    None."""
    if not path.exists():
        return None
    try:
        cached = StudyEmbeddings.load(path)
    except DataError as err:  # damaged on disk: the cache only saves time
        if not isinstance(err.__cause__, FileNotFoundError):  # else tidied away meanwhile
            log.warning("%s; recomputing it", err)
        return None
    if cached.ids != list(ds.ids()):
        log.info("embedding cache %s is stale; recomputing", path.name)
        return None
    embedding_cache.record_use(path)
    return cached


def _write_cache(embeddings: StudyEmbeddings, path: Path, paths: DatasetPaths) -> None:
    """``embeddings`` (named after the checkpoint) saved as the cache file ``path``, unless a
    ``forget`` erased some of their studies from the dataset while they were computed (checked
    under the writers lock, which its tidying takes): the file would keep their vectors."""
    try:
        with embedding_cache.writing(path.parent):
            held = set(pd.read_parquet(paths.studies, columns=["study_id"])["study_id"])
            if not held.issuperset(embeddings.ids):
                log.info("embedding cache %s not written: studies were erased meanwhile", path)
                return
            embeddings.save(path)
    except (OSError, UserError) as err:  # a dataset shared read-only: the cache only saves time
        log.warning(
            "embedding cache %s not written (%s); the embeddings are computed again next time",
            path,
            err.strerror or err,
        )
