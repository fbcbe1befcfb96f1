"""The Embeddings page's maps kept on disk beside the study-embedding cache they were fitted from.

Fitting UMAP (and compiling its numba kernels) takes tens of seconds in each new process; a map
is plain arrays, so ``stored_projection`` keeps each fitted ``Projection`` as
``<cache name>.map-<key>.npz`` (``model.embedding_cache.map_file``; ``key`` hashes the
``ProjectionConfig``) and later processes read it back without importing umap. The file records
a digest of the embeddings it was fitted from and the config: a data root copied or moved
elsewhere (new files, with or without their modification times) reads its maps back, while a
map of another version of the cache, of another config, or damaged is fitted again, never
shown (maps of earlier versions, which recorded the cache file's inode, size and modification
time, are read by its size and modification time). It is
written atomically under the embedding caches' writers lock, so ``tidy`` (which removes a
cache's maps with it) never removes one being written; where the folder cannot be written the
map is only kept in memory.

``python -m model map --checkpoint CKPT --data DATASET [--data ...]`` fits and keeps the UMAP map
of each dataset's cached embeddings (the demo build's last step).
"""

from __future__ import annotations

import argparse
import dataclasses
import hashlib
import json
import logging
import os
import zipfile
from pathlib import Path
from typing import Any

import numpy as np

from model import embedding_cache
from model.projection import MIN_STUDIES, Projection, ProjectionConfig, fit_projection

log = logging.getLogger(__name__)
FORMAT = 1  # what the file holds; a new layout gets a new key, so old files are refitted
_ARRAYS = ("ids", "coords", "sample", "anchor_coords", "neighbors", "source")


def map_path(cache: Path, config: ProjectionConfig) -> Path:
    """The map file of ``config`` fitted from the embedding cache ``cache``."""
    key = hashlib.sha256(_config_text(config).encode("utf-8")).hexdigest()[:16]
    return embedding_cache.map_file(cache, key)


def stored_projection(
    cache: Path, ids: list[str], vectors: np.ndarray, config: ProjectionConfig
) -> Projection:
    """The map of the embeddings ``ids`` / ``vectors`` read from the cache file ``cache``: read
    from its map file when that holds a map of these embeddings and ``config``, else fitted
    (``fit_projection``) and kept there (not without the cache file: it is tidied with it)."""
    found = stored_map(cache, ids, vectors, config)
    if found is not None:
        return found
    projection = fit_projection(ids, vectors, config)
    if cache.is_file():
        _write(map_path(cache, config), projection, ids, _source(ids, vectors, config))
    return projection


def stored_map(
    cache: Path, ids: list[str], vectors: np.ndarray, config: ProjectionConfig
) -> Projection | None:
    """The map of these embeddings and ``config`` kept beside ``cache``, or None when none is
    (yet): fitting none, so a page can wait for the demo build's map instead of fitting its own."""
    source = _source(ids, vectors, config)
    return _read(map_path(cache, config), cache, source, ids, vectors)


def _config_text(config: ProjectionConfig) -> str:
    return json.dumps({"format": FORMAT, **dataclasses.asdict(config)}, sort_keys=True)


def _source(ids: list[str], vectors: np.ndarray, config: ProjectionConfig) -> str:
    """What the map is fitted from: a digest of the embeddings (their studies and vectors, not
    the cache file's place or times) and the config."""
    digest = hashlib.sha256("\n".join(ids).encode("utf-8"))
    digest.update(np.ascontiguousarray(vectors, np.float32).tobytes())
    return json.dumps({"config": _config_text(config), "embeddings": digest.hexdigest()})


def _fitted_from(stored: str, cache: Path, source: str) -> bool:
    """Whether a map recording ``stored`` was fitted from ``source``; a map of an earlier
    version recorded its cache file's inode, size and modification time: it counts while the
    size and time are the cache's (the inode is another in a copied data root)."""
    if stored == source:
        return True
    try:
        old = json.loads(stored)
        stat = os.stat(cache)
    except (ValueError, OSError):
        return False
    version = old.get("cache") if isinstance(old, dict) else None
    return (
        isinstance(version, dict)
        and old.get("config") == json.loads(source)["config"]
        and (version.get("size"), version.get("mtime_ns")) == (stat.st_size, stat.st_mtime_ns)
    )


def _read(
    path: Path, cache: Path, source: str, ids: list[str], vectors: np.ndarray
) -> Projection | None:
    """The map kept at ``path`` when it is intact and fitted from ``source`` and these
    embeddings; None (logged) when it is missing, stale or damaged."""
    if not path.is_file():
        return None
    try:
        with np.load(path, allow_pickle=False) as data:
            arrays = {name: data[name] for name in _ARRAYS}
        if not _fitted_from(str(arrays["source"]), cache, source):
            log.info("map %s was fitted from another version of its embeddings; refitting", path)
            return None
        return _checked(arrays, ids, np.asarray(vectors, np.float32))
    except FileNotFoundError:  # tidied away since it was looked for
        return None
    except (OSError, KeyError, ValueError, TypeError, EOFError, zipfile.BadZipFile) as err:
        log.warning("map %s is damaged (%s); fitting it again", path, err)
        return None


def _checked(arrays: dict[str, Any], ids: list[str], vectors: np.ndarray) -> Projection:
    """The ``Projection`` the arrays hold, after checking they fit the embeddings (ValueError)."""
    coords = np.asarray(arrays["coords"], np.float32)
    sample = np.asarray(arrays["sample"])
    anchor_coords = np.asarray(arrays["anchor_coords"], np.float32)
    n = len(ids)
    if arrays["ids"].tolist() != ids or coords.shape != (n, 2):
        raise ValueError("its studies are not those of the embeddings")
    if sample.ndim != 1 or not len(sample) or sample.dtype.kind not in "iu":
        raise ValueError("no fitted studies")
    if sample.min() < 0 or sample.max() >= n or anchor_coords.shape != (len(sample), 2):
        raise ValueError("its fitted studies are not those of the embeddings")
    if not (np.isfinite(coords).all() and np.isfinite(anchor_coords).all()):
        raise ValueError("coordinates are not finite")
    neighbors = int(arrays["neighbors"])
    return Projection(ids, coords, sample, vectors[sample], anchor_coords, neighbors)


def _write(path: Path, projection: Projection, ids: list[str], source: str) -> None:
    """Keep ``projection`` at ``path`` (atomic, under the writers lock); only a warning when
    the folder cannot be written: the map is then fitted again by the next process."""
    arrays = {
        "ids": np.asarray(ids, dtype=str),
        "coords": projection.coords,
        "sample": projection.sample,
        "anchor_coords": projection.anchor_coords,
        "neighbors": np.asarray(projection.neighbors),
        "source": np.asarray(source),
    }
    refused = embedding_cache.keep_beside(path, arrays)
    if refused:  # a dataset shared read-only: the map only saves time
        log.warning("map %s not kept (%s); it is fitted again in the next process", path, refused)


def add_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--checkpoint", required=True, type=Path, help="a .pt checkpoint")
    parser.add_argument(
        "--data",
        required=True,
        type=Path,
        nargs="+",
        action="extend",
        help="ingested datasets (--data A B or --data A --data B, as index takes them); each "
        "embedded first when not cached",
    )


def run(args: argparse.Namespace) -> int:
    from model.data.dataset import CMRDataset
    from model.embed import cache_path, cached_study_embeddings
    from model.progress import Progress
    from model.training.distributed import resolve_device

    config = ProjectionConfig()
    # every dataset opened first: a typo'd last one stops the command before the first map
    datasets = [CMRDataset.open(folder) for folder in args.data]
    with Progress(f"{config.method} map", total=len(args.data), unit="dataset") as bar:
        for folder, ds in zip(args.data, datasets, strict=True):
            if len(ds) < MIN_STUDIES[config.method]:
                log.info("%s: too few studies for a %s map; none made", folder, config.method)
            else:
                found = cached_study_embeddings(args.checkpoint, ds, resolve_device("auto"))
                # the weights embedded: a run still training may have replaced the file since
                cache = cache_path(ds, found.provenance["checkpoint_fingerprint"])
                stored_projection(cache, found.ids, found.vectors, config)
                _say_where(map_path(cache, config), folder, config.method)
            bar.update(1)
    return 0


def _say_where(path: Path, folder: Path, method: str) -> None:
    """Log where the map of ``folder`` is kept, or (a warning) that none could be kept there:
    the map only saves time, so the command (the demo's last step) goes on."""
    if path.is_file():
        log.info("%s map of %s: %s", method, folder, path)
    else:  # the cache or the map could not be written there (warned above)
        log.warning(
            "no %s map kept in %s: the folder cannot be written; the Embeddings page fits the "
            "map in memory there instead",
            method,
            path.parent,
        )
