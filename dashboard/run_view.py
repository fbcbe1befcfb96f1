"""Parts of the Train page's run panel: the log of a run that failed, and what its buttons say.

The panel redraws itself every few seconds (a Streamlit fragment, for live curves), and a
message drawn once by a button's click is gone at the next redraw: a refused Resume on a
read-only data root ("cannot start the train job: ... Read-only file system") showed for two
seconds. So a button's outcome is kept in the session (``keep_notes``) and drawn at every redraw
(``show_notes``) until that run's next click replaces it, or the whole page runs again
(``forget_notes``: another page visited, a form submitted, a job started).
"""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

import streamlit as st

from dashboard.inert_text import markdown_text
from dashboard.job import Job
from dashboard.runs import RUN_TABLE_HEADERS, log_tail

if TYPE_CHECKING:  # a private module of Streamlit's: its name for what st.column_config makes
    from streamlit.elements.lib.column_types import ColumnConfig

_NOTES_KEY = "train-run-notes"  # {run path: [(kind, text), ...]}
_ICONS = {"error": ":material/block:", "info": ":material/lock:", "success": None}


def keep_notes(run: Path, notes: list[tuple[str, str | None]]) -> None:
    """Replace what ``run``'s buttons said with ``notes`` (kind: error / info / success; a None
    text is left out)."""
    kept = [(kind, text) for kind, text in notes if text]
    st.session_state.setdefault(_NOTES_KEY, {})[str(run)] = kept


def show_notes(run: Path) -> None:
    """Draw what ``run``'s buttons said last, if anything."""
    for kind, text in st.session_state.get(_NOTES_KEY, {}).get(str(run), []):
        getattr(st, kind)(markdown_text(text), icon=_ICONS[kind])


def forget_notes() -> None:
    """Drop every run's notes: the page runs afresh, and what they answered is no longer new."""
    st.session_state.pop(_NOTES_KEY, None)


def failure_log(run: Path, state: str, job: Job | None) -> None:
    """The last lines of the log that says why ``run`` (or its last job) failed."""
    if job is not None and job.state in ("failed", "lost"):
        # the job's log: it holds a refusal the run never logged (e.g. a resume refused)
        st.error(
            markdown_text(
                f"The last job of this run ({job.title}) {job.state}. Last lines of its log:"
            )
        )
        st.code(job.log_tail(), language=None)
    elif state in ("failed", "crashed"):
        st.error(f"The run {state}. Last lines of its log:")
        st.code(log_tail(run), language=None)


NARROW_COLUMNS = frozenset({"active", "tower"})  # short values
UPDATED_FORMAT = "YYYY-MM-DD HH:mm z"  # date, time and the zone's name, as the browser writes it


def runs_columns(viewer_zone: str | None) -> dict[str, ColumnConfig]:
    """The runs table's columns; Updated (a UTC time) is written in ``viewer_zone`` (the
    browser's, ``st.context.timezone``; UTC when it is not known), with the zone's name: the
    server's zone may be another, and the column sorts by time, not by its letters."""
    columns: dict[str, ColumnConfig] = {
        name: st.column_config.TextColumn(header, width="small" if name in NARROW_COLUMNS else None)
        for name, header in RUN_TABLE_HEADERS.items()
    }
    columns["updated"] = st.column_config.DatetimeColumn(
        RUN_TABLE_HEADERS["updated"], format=UPDATED_FORMAT, timezone=viewer_zone
    )
    return columns
