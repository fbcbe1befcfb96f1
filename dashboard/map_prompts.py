"""Prompts placed on the Embeddings page's map: the box's text split at ``|``, each prompt
embedded with the active checkpoint's text tower and placed among its nearest studies by the
map's projection (``Projection.place``), so a wording shows where the studies it describes lie."""

from __future__ import annotations

import pandas as pd

from dashboard.context import Studio
from dashboard.scoring import clean_query
from model.projection import METHODS  # noqa: F401 (the page's map choices: imported here)


def prompt_points(studio: Studio, text: str, method: str) -> pd.DataFrame | None:
    """The prompts of ``text`` (separated by ``|``) placed on the ``method`` map: x, y, text;
    None when there are none. UserError naming a prompt too long to read."""
    prompts = [clean_query(t) for t in text.split("|") if t.strip()]
    if not prompts:
        return None
    vectors = studio.text_encoder()(prompts)
    xy = studio.projection(method).place(vectors)
    return pd.DataFrame({"x": xy[:, 0], "y": xy[:, 1], "text": prompts})
