"""Whether a finished evaluation still describes the checkpoint file it names.

An evaluation names its checkpoint by path (``runs/demo-cpu-small/best.pt``), and a path keeps
its name while its weights change: a resumed run rewrites ``best.pt`` when it improves, and
repairing a demo built by an older version retrains its model in place. Home's "Latest
evaluation" and the Evaluate page then showed the old weights' figures under the current
file's name. ``summary.json`` records the fingerprint of the weights it measured
(``models[0].fingerprint``); the checkpoint's sidecar (``model.checkpoint_meta``) says the
file's current one without importing torch. Where the sidecar cannot vouch for the file (none
yet, or stale), nothing is said: reading the weights to find out would cost a page torch.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from model.checkpoint_meta import read_sidecar


def evaluated_checkpoint(summary: dict[str, Any]) -> tuple[Path, str] | None:
    """The main checkpoint's path and the fingerprint of the weights the evaluation measured,
    None when the summary does not record both (an older or a damaged one)."""
    config = summary.get("config")
    models = summary.get("models")
    if not isinstance(config, dict) or not isinstance(models, list) or not models:
        return None
    path, main = config.get("checkpoint"), models[0]
    fingerprint = main.get("fingerprint") if isinstance(main, dict) else None
    if not isinstance(path, str) or not path or not isinstance(fingerprint, str) or not fingerprint:
        return None
    return Path(path), fingerprint


def weights_changed_note(summary: dict[str, Any]) -> str | None:
    """A line saying the evaluated checkpoint's file now holds other weights than the ones
    measured, None when it holds the same ones or that cannot be told cheaply."""
    evaluated = evaluated_checkpoint(summary)
    if evaluated is None:
        return None
    path, measured = evaluated
    facts = read_sidecar(path) if path.is_file() else None
    if facts is None or facts.meta.fingerprint == measured:
        return None
    shown = f"{path.parent.name}/{path.name}"
    return (
        f"{shown} now holds other weights ({facts.meta.fingerprint[:8]}, epoch "
        f"{facts.meta.epoch}) than this evaluation measured ({measured[:8]}): it was trained "
        "further or retrained since. These figures are the earlier model's; run the "
        "evaluation again for the current one."
    )
