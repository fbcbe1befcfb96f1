"""The zone every time a page shows is written in: the reader's browser's.

The runs table's Updated column is a time the browser writes in its own zone
(``st.context.timezone``), while the job panel above it wrote the server's: a reader in Berlin of
a dashboard served from Tokyo saw a run "updated 01:03 CET" under its job "started at 09:02:59
JST", two zones on one screen. So every time a page shows is in the browser's zone, named; in
UTC, named, while the browser has not said its zone (a session's first run, a test) or names
one this machine does not know. Times written for the server's own log stay in its zone.
"""

from __future__ import annotations

import streamlit as st

from model.clock import named_zone

FALLBACK_ZONE = "UTC"


def reader_zone() -> str:
    """The IANA name of the zone the reader's browser is in (``Europe/Berlin``), else UTC."""
    zone = st.context.timezone
    if not zone:
        return FALLBACK_ZONE
    try:
        named_zone(zone)
    except ValueError:
        return FALLBACK_ZONE
    return zone
