"""Numbers as the pages write them in sentences: durations a reader takes in at a glance."""

from __future__ import annotations

from pathlib import Path
from typing import Any


def duration_text(milliseconds: float) -> str:
    """``850 ms`` under a second, ``8.1 s`` under a minute, ``2 min 05 s`` beyond: "8146 ms"
    made a reader count digits on a projector."""
    if milliseconds < 999.5:  # 999.7 ms would read "1000 ms"
        return f"{max(milliseconds, 0):.0f} ms"
    seconds = milliseconds / 1000
    if seconds < 59.95:  # 59.96 s would read "60.0 s": a minute, written as one below
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    return f"{minutes} min {rest:02d} s"


def format_eta(seconds: Any) -> str:
    """``1h 02m`` / ``4m 10s`` / ``12s``; empty for unknown."""
    try:
        total = int(float(seconds))
    except (TypeError, ValueError):
        return ""
    if total < 0:
        return ""
    hours, rest = divmod(total, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours}h {minutes:02d}m"
    return f"{minutes}m {secs:02d}s" if minutes else f"{secs}s"


def progress_label(progress: dict) -> str:
    """A job's progress line, e.g. ``2/5 ingest · internal site · ingest: read headers —
    300/1000 · ETA of this part 1m 05s``: a pipeline step's progress is that of one of its parts
    (a site, a stage of the command), never of the step as a whole. A part of the stage under
    way follows its count with its own share done: ``train — 300/~1600 · epoch 3/~16 ·
    validating 40 %`` (``model.progress.Progress.part``)."""
    label = progress.get("stage") or "starting…"
    if progress.get("total"):
        about = "~" if progress.get("estimated") else ""  # a total a time budget still chooses
        label += f" — {progress.get('done', 0)}/{about}{progress['total']}"
    if progress.get("part"):
        label += f" · {progress['part']}"
        share = progress.get("part_fraction")
        if isinstance(share, int | float):
            label += f" {min(max(share, 0.0), 1.0):.0%}".replace("%", " %")
    eta = format_eta(progress.get("eta_s"))
    if eta:
        label += f" · ETA of this part {eta}" if progress.get("pipeline_step") else f" · ETA {eta}"
    return label


def relative(path: Path | None, root: Path) -> str:
    """``path`` shown relative to the data root when it lies inside it."""
    if path is None:
        return "—"
    try:
        return str(path.relative_to(root))
    except ValueError:
        return str(path)
