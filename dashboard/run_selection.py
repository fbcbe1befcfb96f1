"""Which run the Train page shows below its runs table.

The table refreshes every few seconds while runs train. Its selection is a row number, so the
rows keep an order that training does not change (newest set up first; a folder's modification
time moves with every status write), the table's widget starts afresh whenever its rows change,
and the run the user picked stays the one shown, and the one Stop, Resume, Set active checkpoint
and Delete act on, until the user picks another.
"""

from __future__ import annotations

import hashlib
from collections.abc import MutableMapping
from pathlib import Path
from typing import Any

# written once when a run is set up (preset.json: by the Train page or a resume), else when a
# training session starts (config.json), else the status a queued run writes first
_SET_UP_FILES = ("preset.json", "config.json", "status.json")


def set_up_at(run: Path) -> float:
    """When ``run`` was set up (modification time of its first set-up file present), 0 if gone."""
    for name in (*_SET_UP_FILES, "."):
        try:
            return (run / name).stat().st_mtime
        except OSError:
            continue
    return 0.0


def in_table_order(runs: list[Path]) -> list[Path]:
    """``runs`` newest set up first, by name among equals: an order progress does not change."""
    return sorted(runs, key=lambda run: (-set_up_at(run), run.name))


def table_key(paths: list[str]) -> str:
    """The runs table's widget key: a new one (no row selected) whenever its rows change, so a
    row number never stands for another run than the one it was picked on."""
    digest = hashlib.sha1("\n".join(paths).encode("utf-8")).hexdigest()[:12]
    return f"runs-table-{digest}"


def shown_run(paths: list[str], rows: list[int], remembered: str | None) -> str:
    """The run to show: the selected row's, else the one last shown while it is still listed,
    else the first. ``paths`` is not empty."""
    if rows and 0 <= rows[0] < len(paths):
        return paths[rows[0]]
    if remembered in paths:
        return str(remembered)
    return paths[0]


PICKED_KEY = "train-picked-rows"  # the runs table's (key, selected rows) at the last rerun


def picked_now(session: MutableMapping[str, Any], key: str, rows: list[int]) -> bool:
    """Whether the table ``key``'s selected ``rows`` were picked since the last rerun: a table
    keeps its selection across reruns until its rows change, so a row picked before Launch
    training is still selected on the reruns after it, and is then no pick over the run
    launched."""
    seen = session.get(PICKED_KEY)
    session[PICKED_KEY] = (key, list(rows))
    return bool(rows) and seen != (key, list(rows))
