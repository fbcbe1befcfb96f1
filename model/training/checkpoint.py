"""Checkpoints (config, weights, tokenizer reference, data fingerprint, resume state) and the
resume checks (``verify_resumable``, ``recover_last_checkpoint``, ``check_resumable_with``).

A checkpoint is a plain dictionary of tensors, numbers, strings, lists and dicts, so it loads with
``torch.load(weights_only=True)`` (no code runs on load). The model config travels as a JSON
string. Files are written atomically (``model.atomic``): a crash never leaves half a checkpoint,
and the previous ``last.pt`` stays valid until the new one is complete. Beside each lies its
metadata sidecar (``model.checkpoint_meta``), which tells readers its metadata without torch.

Layout::

    format="cmr-clip-checkpoint", format_version, config (JSON: {"name", "model", "train"}),
    state_dict, tokenizer (text model reference), data_fingerprint, fingerprint (hex of weights),
    epoch, step, extra (JSON), pretrained (names and fingerprint of the frozen text weights the
    state_dict leaves out, ``model.training.weights``), and for resume ``resume``: optimizer,
    scheduler, rng, trainer (counters, best metric).
"""

from __future__ import annotations

import dataclasses
import io
import json
import logging
import os
import pickle
import random
import re
import zipfile
from collections.abc import Callable, Collection
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from model.atomic import atomic_link_or_copy, atomic_write_bytes, sync_folder
from model.checkpoint_meta import (
    SIDECAR_SUFFIX,
    CheckpointFacts,
    CheckpointMeta,
    file_stamp,
    read_checkpoint_meta,
    read_sidecar,
    write_sidecar,
)
from model.clock import utc_stamp
from model.errors import CheckpointError, UserError
from model.nn.config import Preset
from model.nn.presets import model_mismatch
from model.training.distributed import usable_device
from model.training.weights import (
    load_weights,
    pretrained_record,
    split_pretrained,
    weights_fingerprint,
)

log = logging.getLogger(__name__)

FORMAT = "cmr-clip-checkpoint"
FORMAT_VERSION = 2  # 2: frozen pretrained weights stored by reference


def save_checkpoint(
    path: str | Path,
    model: nn.Module,
    config: dict[str, Any],
    *,
    data_fingerprint: str,
    epoch: int,
    step: int,
    tokenizer: str = "",
    resume_state: dict[str, Any] | None = None,
    extra: dict[str, Any] | None = None,
    pretrained: Collection[str] = (),
) -> str:
    """Write a checkpoint atomically; returns its fingerprint.

    ``resume_state`` holds ``optimizer``, ``scheduler``, ``rng`` and ``trainer`` state dicts
    (only plain types and tensors). ``extra`` is small JSON-able metadata (e.g. val metrics).
    ``pretrained`` names state-dict entries stored by reference (``model.training.weights``).
    Its metadata sidecar follows it (``model.checkpoint_meta``), so readers need no torch.
    """
    state_dict, record = split_pretrained(model, pretrained)
    fingerprint = weights_fingerprint(state_dict, record["fingerprint"] if record else "")
    payload: dict[str, Any] = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "config": json.dumps(config, sort_keys=True),
        "state_dict": state_dict,
        "tokenizer": tokenizer,
        "data_fingerprint": data_fingerprint,
        "fingerprint": fingerprint,
        "epoch": int(epoch),
        "step": int(step),
        "extra": json.dumps(extra or {}, sort_keys=True),
    }
    if record is not None:
        payload["pretrained"] = record
    if resume_state is not None:
        payload["resume"] = resume_state
    buffer = io.BytesIO()
    torch.save(payload, buffer)
    had_one = Path(path).is_file()  # a new run's first save has no earlier checkpoint to keep
    try:
        atomic_write_bytes(path, buffer.getvalue())
    except OSError as err:
        kept = "the previous checkpoint is unchanged" if had_one else "no checkpoint is kept yet"
        then = "continue with --resume" if had_one else "train again"
        raise CheckpointError(
            f"could not write checkpoint {path}: {os.strerror(err.errno) if err.errno else err}; "
            f"{kept} (free space or fix the folder, then {then})"
        ) from err
    write_sidecar(path, facts_from_payload(Path(path), payload), file_stamp(path))
    return fingerprint


def publish_copy(source: str | Path, target: str | Path) -> None:
    """Make ``target`` a copy of checkpoint ``source`` atomically (a hard link when possible).

    A later atomic replace of ``source`` makes a new file, so the link keeps the old content.
    The source's sidecar, when it describes it, is written for the copy too.
    """
    source, target = Path(source), Path(target)
    atomic_link_or_copy(source, target)
    facts = read_sidecar(source)
    if facts is not None:
        meta = dataclasses.replace(facts.meta, path=target)
        write_sidecar(target, CheckpointFacts(meta, facts.scale), file_stamp(target))


def refusal_reason(err: Exception) -> str:
    """torch's refusal in one plain line (its own text suggests unsafe loading, in colour)."""
    text = re.sub(r"\x1b\[[0-9;]*m", "", str(err)).strip()
    if "Weights only load failed" in text:
        return "it holds Python objects besides weights, which are never unpickled"
    if "mmap can only be used" in text:
        return "not a PyTorch zip checkpoint (a plain pickle or an old format)"
    return text.splitlines()[0] if text else type(err).__name__


def read_checkpoint(path: str | Path, map_location: str | torch.device = "cpu") -> dict[str, Any]:
    """The raw checkpoint dictionary, validated; foreign or broken files raise CheckpointError."""
    path = Path(path)
    if path.is_dir():
        raise CheckpointError(
            f"checkpoint {path} is a folder; give its .pt file (a run's best.pt or last.pt)"
        )
    if not path.is_file():
        raise CheckpointError(f"checkpoint {path} does not exist")
    if path.name.endswith(".pt" + SIDECAR_SUFFIX):  # the name a shell completes to beside it
        name = path.name.removesuffix(SIDECAR_SUFFIX)
        raise CheckpointError(f"{path} is a checkpoint's metadata; give the checkpoint, {name}")
    try:
        payload = torch.load(path, map_location=map_location, weights_only=True, mmap=True)
    except (
        pickle.UnpicklingError,
        RuntimeError,
        zipfile.BadZipFile,
        EOFError,
        ValueError,
        OSError,
    ) as err:
        raise CheckpointError(
            f"{path} is not a loadable CMR-CLIP checkpoint (refused by the safe loader: "
            f"{refusal_reason(err)})"
        ) from err
    if not isinstance(payload, dict) or payload.get("format") != FORMAT:
        raise CheckpointError(
            f"{path} is a PyTorch file but not a CMR-CLIP checkpoint (another model family?)"
        )
    if int(payload.get("format_version", 0)) > FORMAT_VERSION:
        raise CheckpointError(
            f"{path} was written by a newer version (format {payload['format_version']}); "
            "update the package"
        )
    return payload


def meta_from_payload(path: Path, payload: dict[str, Any]) -> CheckpointMeta:
    """The metadata of a payload ``read_checkpoint`` returned."""
    try:
        config = json.loads(payload["config"])
        extra = json.loads(payload.get("extra") or "{}")
    except (KeyError, TypeError, json.JSONDecodeError) as err:
        raise CheckpointError(f"{path}: the stored model config is unreadable") from err
    return CheckpointMeta(
        path=path,
        config=config,
        fingerprint=str(payload.get("fingerprint", "")),
        data_fingerprint=str(payload.get("data_fingerprint", "")),
        epoch=int(payload.get("epoch", 0)),
        step=int(payload.get("step", 0)),
        tokenizer=str(payload.get("tokenizer", "")),
        extra=extra,
    )


def republish_best(last: Path, best: Path, step: int) -> None:
    """A run killed between writing ``last`` (the best step) and copying it: copy it now."""
    if best.is_file() and read_checkpoint_meta(best).step == step:
        return
    log.warning("best.pt missed the copy of step %d before the interruption; copying", step)
    publish_copy(last, best)


def facts_from_payload(path: Path, payload: dict[str, Any]) -> CheckpointFacts:
    """The metadata and logit scale (exp of the stored weight) of a ``read_checkpoint`` payload,
    as its sidecar records them (``model.checkpoint_meta``)."""
    state = payload.get("state_dict")
    value = state.get("logit_scale") if isinstance(state, dict) else None
    scale = None if value is None else float(value.detach().float().exp())
    return CheckpointFacts(meta_from_payload(path, payload), scale)


def load_checkpoint(
    path: str | Path, device: str | torch.device = "cpu"
) -> tuple[nn.Module, CheckpointMeta]:
    """Rebuild the model from the stored config and load its weights (eval mode, on ``device``)."""
    from model.nn.clip_model import CMRClip
    from model.nn.presets import model_config_from_dict

    path, device = Path(path), usable_device(device)
    payload = read_checkpoint(path)
    meta = meta_from_payload(path, payload)
    try:
        model = CMRClip(model_config_from_dict(meta.config["model"]))
    except (KeyError, TypeError, ValueError, UserError) as err:
        raise CheckpointError(f"{path}: the stored model config is not valid here: {err}") from err
    load_weights(model, payload, path)
    train = meta.config.get("train") or {}  # a checkpoint without one read at the video config's
    model.input_frames = int(train.get("frames") or model.input_frames)
    model.input_size = int(train.get("image_size") or model.input_size)
    model.to(device).eval()
    return model, meta


def verified_weights(path: Path) -> tuple[dict[str, Any], CheckpointMeta]:
    """The payload and meta of checkpoint ``path`` whose weights hash to its stored fingerprint
    (catches silent corruption inside tensor data); CheckpointError if they do not."""
    payload = read_checkpoint(path)
    meta = meta_from_payload(path, payload)
    state_dict = payload.get("state_dict")
    record = pretrained_record(payload, path)
    reference = record["fingerprint"] if record else ""
    if (
        not isinstance(state_dict, dict)
        or weights_fingerprint(state_dict, reference) != meta.fingerprint
    ):
        raise CheckpointError(f"{path} is damaged: its weights do not match its fingerprint")
    return payload, meta


def verify_resumable(path: str | Path) -> CheckpointMeta:
    """Meta of a checkpoint a run can resume from; CheckpointError if it is damaged
    (``verified_weights``) or holds no resume state."""
    payload, meta = verified_weights(Path(path))
    if "resume" not in payload:
        raise CheckpointError(f"{path} holds no resume state")
    return meta


def recover_last_checkpoint(last: Path, best: Path) -> None:
    """Before a resume: keep ``last`` if usable, else fall back to ``best`` (with a warning).

    A damaged ``last`` is moved aside to ``last.damaged-<time>.pt`` (nothing is deleted; the
    folder fsynced, so the move outlives a power cut) and replaced by a copy of ``best``. With no usable fallback, CheckpointError says what to do.
    """
    if not last.exists():
        return  # the run folder's own check reports a missing last.pt
    try:
        verify_resumable(last)
        return
    except CheckpointError as err:
        problem = str(err)
    try:
        meta = verify_resumable(best)
    except CheckpointError as err:
        raise CheckpointError(
            f"cannot resume: {problem}, and {best.name} cannot replace it ({err}). "
            f"Restore {last.name} from a backup, or start a new run with another --out"
        ) from None
    aside = last.with_name(f"{last.stem}.damaged-{utc_stamp()}.pt")
    os.replace(last, aside)
    sync_folder(last.parent)  # the set-aside is on disk before last.pt is made again
    publish_copy(best, last)
    log.warning(
        "%s; moved it to %s and resuming from %s (step %d): steps after it are redone",
        problem,
        aside.name,
        best.name,
        meta.step,
    )


def check_resumable_with(meta: CheckpointMeta, preset: Preset, same_data: Callable) -> None:
    """UserError naming why a run cannot continue from ``meta`` with ``preset`` on a dataset
    (``same_data``: its ``matches_fingerprint``): another model, another dataset, or another
    batch size (its steps, epochs and learning-rate schedule count batches of its own size)."""
    if mismatch := model_mismatch(preset, meta.config.get("model")):
        raise CheckpointError(f"cannot resume: {mismatch}; leave --preset out to use the run's")
    if not same_data(meta.data_fingerprint):
        raise UserError("cannot resume: the dataset changed since this run started")
    batch = meta.config.get("train", {}).get("batch_size", preset.train.batch_size)
    if batch != preset.train.batch_size:
        raise UserError(
            f"cannot resume: the run trains on batches of {batch} studies, not "
            f"{preset.train.batch_size}; leave --batch-size out (torchrun over more GPUs spreads "
            "a batch thinner), or start a new run with another --out"
        )


def seed_all(seed: int) -> None:
    """Seed torch's, numpy's and Python's generators, the ones ``capture_rng`` records."""
    torch.manual_seed(seed)
    np.random.seed(seed % 2**32)
    random.seed(seed)


def capture_rng() -> dict[str, Any]:
    """This process's random states (torch, CUDA, numpy, python) as checkpoint-safe values."""
    numpy_state, python_state = np.random.get_state(), random.getstate()
    state: dict[str, Any] = {
        "torch": torch.get_rng_state(),
        "numpy": [
            numpy_state[0],
            torch.from_numpy(numpy_state[1].astype(np.int64)),
            *numpy_state[2:],
        ],
        "python": [python_state[0], list(python_state[1]), python_state[2]],
    }
    if torch.cuda.is_available():
        state["cuda"] = torch.cuda.get_rng_state_all()
    return state


def restore_rng(state: dict[str, Any]) -> None:
    """Put back the random states ``capture_rng`` took."""
    torch.set_rng_state(state["torch"])
    kind, keys, *rest = state["numpy"]
    np.random.set_state((kind, keys.numpy().astype(np.uint32), *rest))
    version, internal, gauss = state["python"]
    random.setstate((version, tuple(internal), gauss))
    if "cuda" in state and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])
