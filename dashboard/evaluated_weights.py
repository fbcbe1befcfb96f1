"""Whether a finished evaluation still describes the checkpoint file it names, and when it ran.

An evaluation names its checkpoint by path (``runs/demo-cpu-small/best.pt``), and a path keeps
its name while its weights change: a resumed run rewrites ``best.pt`` when it improves, and
repairing a demo built by an older version retrains its model in place. Home's "Latest
evaluation" and the Evaluate page then showed the old weights' figures under the current
file's name. ``summary.json`` records the fingerprint of the weights it measured
(``models[0].fingerprint``); the checkpoint's sidecar (``model.checkpoint_meta``) says the
file's current one without importing torch. Where the sidecar cannot vouch for the file (none
yet, or stale), nothing is said: reading the weights to find out would cost a page torch. The
summary names the checkpoint relative to the data root (an older one by its full path, one
outside the data root by its folder and name alone: nothing is said of it either;
``model.evaluation.recorded_paths``).

When it ran is its ``run.json`` (``model.evaluation.run_times``), kept apart from the summary
so that a repeat writes the same summary: a reviewer asks, and an earlier figure is told from
a rerun's by its date.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from dashboard.formatting import duration_text
from dashboard.reader_clock import reader_zone
from model.checkpoint_meta import read_sidecar
from model.clock import local_clock
from model.evaluation.recorded_paths import recorded_path
from model.evaluation.run_times import RunTimes, read_run_times


def evaluated_checkpoint(summary: dict[str, Any], root: Path) -> tuple[Path, str] | None:
    """The main checkpoint's path (under ``root``, the data root, when the summary records it
    relative to it) and the fingerprint of the weights the evaluation measured, None when the
    summary does not record both (an older or a damaged one) or names a file outside the data
    root."""
    config = summary.get("config")
    models = summary.get("models")
    if not isinstance(config, dict) or not isinstance(models, list) or not models:
        return None
    path, main = recorded_path(config, config.get("checkpoint"), root), models[0]
    fingerprint = main.get("fingerprint") if isinstance(main, dict) else None
    if path is None or not isinstance(fingerprint, str) or not fingerprint:
        return None
    return path, fingerprint


def measured_checkpoint(summary: dict[str, Any], root: Path) -> Path | None:
    """The checkpoint file (under the data root ``root``) whose weights the evaluation of
    ``summary`` measured, for its model card; None when the summary does not name it with its
    fingerprint (``evaluated_checkpoint``), the file is gone, or its sidecar says it now holds
    other weights. A file its sidecar cannot vouch for is given: the card checks the weights."""
    evaluated = evaluated_checkpoint(summary, root)
    if evaluated is None or not evaluated[0].is_file():
        return None
    path, measured = evaluated
    facts = read_sidecar(path)
    return None if facts is not None and facts.meta.fingerprint != measured else path


def weights_changed_note(summary: dict[str, Any], root: Path) -> str | None:
    """A line saying the evaluated checkpoint's file (under the data root ``root``) now holds
    other weights than the ones measured, None when it holds the same ones or that cannot be
    told cheaply."""
    evaluated = evaluated_checkpoint(summary, root)
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


def evaluated_line(times: RunTimes | None, zone: str) -> str | None:
    """``Evaluated 2026-12-07 04:14 CET, in 4 min 38 s.`` in the reader's ``zone`` (an IANA
    name); without the duration for an evaluation before ``run.json``; None when not known."""
    if times is None:
        return None
    when = local_clock(times.finished, "%Y-%m-%d %H:%M", zone)
    took = "" if times.duration_s is None else f", in {duration_text(times.duration_s * 1000)}"
    return f"Evaluated {when}{took}."


def evaluated_lines(folder: Path, summary: dict[str, Any]) -> list[str]:
    """The page's line saying when the evaluation in ``folder`` ran, in the reader's zone
    (``evaluated_line``); none when that is not known."""
    line = evaluated_line(read_run_times(folder, summary), reader_zone())
    return [line] if line else []
