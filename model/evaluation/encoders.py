"""The models compared in one evaluation run, behind one small interface.

An ``Encoder`` turns a dataset's studies into unit-norm vectors and texts into unit-norm vectors
of the same space, and carries the zero-shot logit scale. Our checkpoints go through the on-disk
embedding cache (``model.embed.cached_study_embeddings``); the general-purpose CLIP baseline lives
in ``baselines.py``.
"""

from __future__ import annotations

import functools
import logging
import math
from collections.abc import Callable
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

from model.errors import CheckpointError, DataError

log = logging.getLogger(__name__)

MAX_SCALE = 100.0
StudyEncoder = Callable[[object, list[str]], np.ndarray]
TextEncoder = Callable[[list[str]], np.ndarray]


@dataclass(frozen=True)
class Encoder:
    """A named model: ``studies(dataset, ids) -> float32 [N, D]``, ``texts(list) -> [N, D]``."""

    name: str
    kind: str
    studies: StudyEncoder
    texts: TextEncoder
    scale: float
    description: str = ""
    weights: str = ""  # a checkpoint's weights fingerprint: the same weights under two names
    trained_on: str = ""  # the fingerprint of the dataset a checkpoint trained on
    checkpoint: Path | None = None  # a checkpoint's file: its run folder names that dataset


def memoised(encode: TextEncoder) -> TextEncoder:
    """Wrap a text encoder so each distinct text is embedded once per run (prompts repeat per
    site, impressions per direction)."""
    table: dict[str, np.ndarray] = {}

    def texts(batch: list[str]) -> np.ndarray:
        new = list(dict.fromkeys(t for t in batch if t not in table))
        if new:
            table.update(zip(new, np.asarray(encode(new), dtype=np.float32), strict=True))
        return np.stack([table[t] for t in batch]) if batch else np.zeros((0, 0), np.float32)

    return texts


def checkpoint_name(path: Path) -> str:
    """Run-folder name for ``RUN/last.pt`` / ``RUN/best.pt``, else the file stem."""
    if path.stem in ("last", "best") and path.parent.name:
        return f"{path.parent.name}/{path.stem}"
    return path.stem


def _select(
    ids_available: list[str], vectors: np.ndarray, ids: list[str], source: str
) -> np.ndarray:
    position = {study_id: i for i, study_id in enumerate(ids_available)}
    missing = [study_id for study_id in ids if study_id not in position]
    if missing:
        raise DataError(f"{source}: no embedding for study {missing[0]} ({len(missing)} missing)")
    return vectors[[position[study_id] for study_id in ids]].astype(np.float32)


def checkpoint_encoder(path: str | Path, device: str = "cpu") -> Encoder:
    """Load a CMR-CLIP checkpoint (safe loader) as an ``Encoder``.

    Raises CheckpointError for a missing, foreign or broken file, naming the path.
    """
    from model.embed import cached_study_embeddings, embed_texts
    from model.training.checkpoint import load_checkpoint

    path = Path(path)
    model, meta = load_checkpoint(path, device=device)
    try:
        scale = min(math.exp(float(model.logit_scale.detach().cpu())), MAX_SCALE)
    except AttributeError as err:
        raise CheckpointError(f"{path}: the model has no logit scale (not a CLIP model)") from err
    video = meta.config.get("model", {}).get("video", {})

    def studies(dataset: object, ids: list[str]) -> np.ndarray:
        cached = cached_study_embeddings(path, dataset, device=device, loaded=(model, meta))
        return _select(cached.ids, cached.vectors, ids, f"checkpoint {path}")

    return Encoder(
        name=checkpoint_name(path),
        kind="checkpoint",
        studies=studies,
        texts=memoised(functools.partial(embed_texts, model)),
        scale=scale,
        description=f"{video.get('kind', '?')} video tower, epoch {meta.epoch}, {meta.fingerprint}",
        weights=meta.fingerprint,
        trained_on=meta.data_fingerprint,
        checkpoint=path,
    )


def unique_names(encoders: list[Encoder]) -> list[Encoder]:
    """Rename duplicates ``name``, ``name (2)``, ... so tables and plots stay unambiguous."""
    seen: dict[str, int] = {}
    renamed = []
    for encoder in encoders:
        count = seen.get(encoder.name, 0) + 1
        seen[encoder.name] = count
        if count > 1:
            encoder = replace(encoder, name=f"{encoder.name} ({count})")
        renamed.append(encoder)
    return renamed
