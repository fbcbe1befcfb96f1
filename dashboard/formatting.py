"""Numbers as the pages write them in sentences: durations a reader takes in at a glance."""

from __future__ import annotations


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
