"""What a checkpoint says about itself (config, fingerprints, epoch, step, logit scale), read
without torch when the checkpoint's sidecar vouches for it.

Reading a checkpoint's metadata with ``torch.load`` costs importing torch (about 1.3 s on a
loaded 2-core machine), which a fresh dashboard's first Zero-shot, Embeddings or Case browser
visit paid only to learn a fingerprint, a context length and a scale, its study embeddings and
prompt vectors already stored. So beside each checkpoint ``best.pt`` lies a small JSON sidecar
``best.pt.meta.json`` with those facts, written atomically after the checkpoint
(``model.training.checkpoint.save_checkpoint``) or on the first read of a checkpoint without
one, when its folder can be written (``checkpoint_facts(..., remember=False)`` reads one and
writes nothing: what ``python -m model storage`` does, a dry run above all).

A sidecar is trusted only while the checkpoint is the very file it describes: its recorded
device, inode, size and modification time (ns) must all match the checkpoint's now. A
checkpoint replaced (a new inode), rewritten in place (a new mtime) or copied elsewhere with its
sidecar (another inode) is read with ``torch.load(weights_only=True)`` as before, and the
sidecar rewritten for it. A damaged, foreign or unreadable sidecar is ignored the same way.
The weights themselves are never read from here.
"""

from __future__ import annotations

import json
import logging
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from model.atomic import atomic_write_text

log = logging.getLogger(__name__)

SIDECAR_FORMAT = "cmr-clip-checkpoint-meta"
SIDECAR_VERSION = 1
SIDECAR_SUFFIX = ".meta.json"
MAX_SIDECAR_BYTES = 1 << 20  # a config of a few kB: a larger file is not one of ours
_UNWRITABLE: set[Path] = set()  # folders a sidecar could not be written in (said once)


@dataclass(frozen=True)
class CheckpointMeta:
    """What a checkpoint says about itself (everything but the tensors)."""

    path: Path
    config: dict[str, Any]
    fingerprint: str
    data_fingerprint: str
    epoch: int
    step: int
    tokenizer: str = ""
    extra: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class CheckpointFacts:
    """A checkpoint's ``meta`` and ``scale``: exp of its stored ``logit_scale`` weight (None
    when its weights hold none: not a CMR-CLIP model's)."""

    meta: CheckpointMeta
    scale: float | None


def sidecar_path(checkpoint: str | Path) -> Path:
    """``best.pt`` -> ``best.pt.meta.json`` beside it."""
    checkpoint = Path(checkpoint)
    return checkpoint.with_name(checkpoint.name + SIDECAR_SUFFIX)


def file_stamp(path: str | Path) -> dict[str, int]:
    """What names one version of one file: its device and inode (new when it is replaced),
    size and modification time in ns (new when it is rewritten in place)."""
    stat = os.stat(path)
    return {
        "device": stat.st_dev,
        "inode": stat.st_ino,
        "size": stat.st_size,
        "mtime_ns": stat.st_mtime_ns,
    }


def read_sidecar(checkpoint: str | Path) -> CheckpointFacts | None:
    """The facts the sidecar of ``checkpoint`` records, or None unless it describes the
    checkpoint as it is now (missing, damaged, foreign or stale sidecars are all None)."""
    checkpoint = Path(checkpoint)
    try:
        with open(sidecar_path(checkpoint), "rb") as handle:
            data = handle.read(MAX_SIDECAR_BYTES + 1)
        if len(data) > MAX_SIDECAR_BYTES:
            raise ValueError(f"larger than {MAX_SIDECAR_BYTES} bytes")
        record = json.loads(data.decode("utf-8"))
        if not isinstance(record, dict) or record.get("format") != SIDECAR_FORMAT:
            return None
        if record.get("format_version") != SIDECAR_VERSION:
            return None
        if record.get("checkpoint") != file_stamp(checkpoint):
            return None
        scale = record["scale"]
        meta = CheckpointMeta(
            path=checkpoint,
            config=_mapping(record["config"]),
            fingerprint=str(record["fingerprint"]),
            data_fingerprint=str(record["data_fingerprint"]),
            epoch=int(record["epoch"]),
            step=int(record["step"]),
            tokenizer=str(record["tokenizer"]),
            extra=_mapping(record["extra"]),
        )
        return CheckpointFacts(meta, None if scale is None else float(scale))
    except (OSError, UnicodeDecodeError, ValueError, KeyError, TypeError) as err:
        if not isinstance(err, FileNotFoundError):
            log.info("sidecar of %s ignored (%s); reading the checkpoint", checkpoint, err)
        return None


def write_sidecar(checkpoint: str | Path, facts: CheckpointFacts, stamp: dict[str, int]) -> None:
    """Write the sidecar of ``checkpoint`` atomically: ``facts`` of the file version ``stamp``
    (``file_stamp`` taken when the facts were read). Never raises: a folder that cannot be
    written keeps no sidecar (said once), and its checkpoint is read with torch each time."""
    checkpoint, meta = Path(checkpoint), facts.meta
    record = {
        "format": SIDECAR_FORMAT,
        "format_version": SIDECAR_VERSION,
        "checkpoint": stamp,
        "config": meta.config,
        "fingerprint": meta.fingerprint,
        "data_fingerprint": meta.data_fingerprint,
        "epoch": meta.epoch,
        "step": meta.step,
        "tokenizer": meta.tokenizer,
        "extra": meta.extra,
        "scale": facts.scale,
    }
    try:
        atomic_write_text(sidecar_path(checkpoint), json.dumps(record, sort_keys=True) + "\n")
    except (OSError, TypeError, ValueError) as err:
        if checkpoint.parent not in _UNWRITABLE:
            _UNWRITABLE.add(checkpoint.parent)
            log.info("no metadata sidecar written beside %s (%s)", checkpoint, err)


def checkpoint_facts(checkpoint: str | Path, remember: bool = True) -> CheckpointFacts:
    """The facts of ``checkpoint``: from its sidecar when that describes it, else read with
    ``torch.load(weights_only=True)`` (``CheckpointError`` for a missing, foreign or damaged
    file) and a sidecar written for the next reader unless ``remember`` is False (a reader that
    must write nothing: ``python -m model storage``)."""
    found = read_sidecar(checkpoint)
    if found is not None:
        return found
    from model.training.checkpoint import facts_from_payload, read_checkpoint

    checkpoint = Path(checkpoint)
    try:
        before = file_stamp(checkpoint)
    except OSError:
        before = None  # read_checkpoint names what is wrong with it
    facts = facts_from_payload(checkpoint, read_checkpoint(checkpoint))
    try:
        unchanged = before == file_stamp(checkpoint)
    except OSError:
        unchanged = False
    if remember and before is not None and unchanged:  # else replaced while read: left as is
        write_sidecar(checkpoint, facts, before)
    return facts


def read_checkpoint_meta(path: str | Path) -> CheckpointMeta:
    """Metadata only: from the sidecar when it describes the checkpoint, else read from the
    checkpoint (memory-mapped, so tensors are not read)."""
    return checkpoint_facts(path).meta


def _mapping(value: Any) -> dict[str, Any]:
    """``value`` when it is a JSON object; TypeError otherwise (a damaged sidecar)."""
    if not isinstance(value, dict):
        raise TypeError("a config or extra that is not a mapping")
    return value
