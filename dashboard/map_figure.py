"""The embedding map: studies as a UMAP/PCA scatter (WebGL), coloured by a column, with the
prompts as stars, and the rows a lasso or box selection picks.

Pure: data in, a plotly figure out, in the shared style of ``dashboard.plots``.
"""

from __future__ import annotations

import base64
from collections.abc import Collection, Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
import plotly.graph_objects as go

from dashboard.inert_text import plotly_text, plotly_texts
from dashboard.plots import (
    FLAGS,
    MANY_COLOURS,
    NEGATIVE,
    OTHER_COLOUR,
    PALETTE,
    POSITIVE,
    TITLE_LINE_PX,
    UNKNOWN_COLOUR,
    apply_layout,
)
from dashboard.studies import column_label

UNKNOWN, OTHER = "unknown", "other"  # map legend names: a missing value, the rarest categories
# one marker shape per category besides its colour, so no category rests on colour alone,
# on a map of any size; each with its number in plotly's symbol list (all drawn by WebGL)
SYMBOLS = ("circle", "square", "diamond", "triangle-up", "x", "cross", "triangle-down")
SYMBOL_NUMBERS = {"circle": 0, "square": 1, "diamond": 2, "cross": 3, "x": 4, "triangle-up": 5,
                  "triangle-down": 6}  # fmt: skip
FADED = 0.08  # a study outside the highlighted categories: seen as context, not as one of them
# the legend's entries are legend-only traces (every study is one trace, for the selection's
# row numbers): clicking one greyed it out and left its studies drawn, so the legend is a key
# only, not a toggle
LEGEND_ABOVE = {"orientation": "h", "xanchor": "left", "x": 0.0, "itemclick": False,
                "itemdoubleclick": False}  # fmt: skip
# the tool the map opens with: Pan, where a click selects the study under it (Shift+click adds
# one). Streamlit's chart sets plotly's clickmode to "event" (no selecting) while the Lasso or
# Box Select tool is on, so with the lasso as the default a click selected nothing until the
# user found Pan in the toolbar; the lasso and box stay one click away in that toolbar
DRAGMODE = "pan"
MAP_HEIGHT = 620
MAP_TITLE = 55  # characters per title line: beside the sidebar, an 800 px window gives the map 480
_TITLE_TOP_PX, _TITLE_GAP_PX = 10, 8  # the figure's top to the title, the title to the legend
_TITLE_AT_TOP = {"yref": "container", "y": 1 - _TITLE_TOP_PX / MAP_HEIGHT, "yanchor": "top"}


def embedding_map(
    coords: pd.DataFrame,
    color: str | None = None,
    prompts: pd.DataFrame | None = None,
    hover: Sequence[str] = (),
    method: str = "UMAP",
    highlight: Collection[str] = (),
    legend: Legend | None = None,
    title: str | None = None,
) -> go.Figure:
    """UMAP/PCA scatter (WebGL) of studies, optionally coloured, with prompt embeddings as stars.

    coords: one row per study with x, y, study_id and any columns named in ``color`` / ``hover``;
    prompts: rows with x, y, text. Selection (lasso/box) returns point indices into ``coords``.
    ``hover`` columns the studies table lacks are left out of the hover text. ``highlight``:
    entries of ``color``'s legend (``Legend.entries``) drawn as usual, every other study faded.
    ``legend``: ``map_legend(coords, color)`` where the caller has it (worked out once a rerun:
    every study's name, 0.1 s at 50,000 studies), else worked out here. ``title``: what the
    map shows (``map_labels.map_title``), over the legend; else the method.
    """
    fig = go.Figure()
    custom, hovertemplate = _hover(coords, [name for name in hover if name in coords])
    if legend is None or legend.color != color:
        legend = map_legend(coords, color)
    marker = _colour_marker(fig, coords, color, legend)
    faded = _faded(legend, highlight)
    if faded is not None:
        marker["opacity"] = faded
    fig.add_trace(
        go.Scattergl(
            x=coords["x"] if len(coords) else [],
            y=coords["y"] if len(coords) else [],
            mode="markers",
            marker=marker,
            customdata=custom,
            hovertemplate=hovertemplate,
            name="studies",
            showlegend=False,
        )
    )
    if prompts is not None and len(prompts):
        fig.add_trace(_prompt_stars(prompts))
    fig.update_layout(dragmode=DRAGMODE, clickmode="event+select")
    fig.update_xaxes(showticklabels=False, title=f"{method} 1")
    fig.update_yaxes(showticklabels=False, title=f"{method} 2")
    apply_layout(fig, title or f"Study embeddings ({method})", height=MAP_HEIGHT, wrap=MAP_TITLE)
    return fig.update_layout(title=_TITLE_AT_TOP, legend=_legend_above(fig, color))


def _legend_above(fig: go.Figure, color: str | None) -> dict:
    """The legend above the map, not below it (on a laptop it fell under the fold, so the
    colours had no names until one scrolled past the whole map), and under the title: placed
    from the figure's top, plotly widens the top margin for it, row by row, so a long legend
    never lies over the title, as one anchored to the plot's top edge did."""
    lines = fig.layout.title.text.count("<br>") + 1
    top_px = _TITLE_TOP_PX + TITLE_LINE_PX * lines + _TITLE_GAP_PX
    return {
        **LEGEND_ABOVE,
        "title_text": plotly_text(column_label(color)) if color else None,
        "yref": "container",
        "yanchor": "top",
        "y": 1 - top_px / MAP_HEIGHT,
    }


def _hover(coords: pd.DataFrame, hover: list[str]) -> tuple[object, str]:
    """(each point's hover values: study_id then the ``hover`` columns; the hover template)."""
    custom = (
        pd.concat(
            [coords["study_id"].astype(str), *map(_hover_text, (coords[h] for h in hover))], axis=1
        )
        .apply(plotly_texts)  # a column at a time, not a call per value
        .to_numpy()
        if len(coords)
        else None
    )
    template = (
        "<b>%{customdata[0]}</b>"
        + "".join(
            f"<br>{plotly_text(column_label(name))}: %{{customdata[{i + 1}]}}"
            for i, name in enumerate(hover)
        )
        + "<extra></extra>"
    )
    return custom, template


def _colour_marker(
    fig: go.Figure, coords: pd.DataFrame, color: str | None, legend: Legend | None
) -> dict:
    """Marker settings colouring studies by ``color`` (a colour scale for many numeric values,
    else one entry of ``legend`` per category, added to ``fig`` as legend-only traces). Missing
    values are drawn in their own colour, named "unknown" in the legend."""
    marker: dict = {"size": 6, "opacity": 0.85}
    shapes: dict[str, str] = {}  # a category's marker symbol; "circle" when not named
    if legend is not None:
        mapping = _category_colours(legend)
        shapes = {name: SYMBOLS[i % len(SYMBOLS)] for i, name in enumerate(legend.order)}
        marker["symbol"] = symbol_array(legend.names, legend.order)
        marker.update(_category_codes(legend.names, list(mapping.values()), list(mapping)))
    elif color and color in coords and len(coords):  # not categories: a colour scale
        values = coords[color]
        known = values.notna().all()  # a float array is validated at once, an object one per point
        marker.update(
            color=values.to_numpy(float)
            if known
            else values.astype(object).where(values.notna(), UNKNOWN_COLOUR).to_numpy(),
            cmin=float(values.min()),
            cmax=float(values.max()),
            colorscale="Turbo",
            showscale=True,
            colorbar={"title": plotly_text(column_label(color))},
        )
        mapping = {UNKNOWN: UNKNOWN_COLOUR} if values.isna().any() else {}
    else:
        return marker
    for name, colour in mapping.items():
        symbol = shapes.get(name, "circle")
        fig.add_trace(
            go.Scattergl(
                x=[None], y=[None], mode="markers", name=name,
                marker={"color": colour, "symbol": symbol},
            )
        )  # fmt: skip
    return marker


def symbol_array(names: pd.Series, order: list[str]) -> dict[str, str]:
    """Each point's marker symbol (the ``SYMBOLS`` turn of its category in ``order``; a circle
    for one not in it: unknown, other) as plotly's typed array of symbol numbers (``{"dtype",
    "bdata"}``), which plotly passes on whole: a list of names or numbers it checks point by
    point (0.45 s a rerun at 50,000 studies, more than the rest of the figure), which is why
    maps over 10,000 studies had dropped their shapes."""
    turns = [SYMBOLS[i % len(SYMBOLS)] for i in range(len(order))]
    numbers = np.array([SYMBOL_NUMBERS[name] for name in [*turns, "circle"]], dtype=np.int8)
    codes = pd.Categorical(names, categories=order).codes  # -1, the circle: not in ``order``
    return {"dtype": "i1", "bdata": base64.b64encode(numbers[codes].tobytes()).decode("ascii")}


def _category_colours(legend: Legend) -> dict[str, str]:
    """Each legend entry's colour, in legend order: the palette, a label's 0/1 drawn
    absent/present, the merged rare ones and the missing ones in their own colours."""
    palette = PALETTE if len(legend.order) <= len(PALETTE) else MANY_COLOURS
    mapping = {name: palette[i] for i, name in enumerate(legend.order)}
    if legend.flags:
        mapping.update({FLAGS["0"]: NEGATIVE, FLAGS["1"]: POSITIVE})
    mapping.update({OTHER: OTHER_COLOUR, UNKNOWN: UNKNOWN_COLOUR})
    return {name: mapping[name] for name in legend.entries}


def _legend_names(values: pd.Series) -> tuple[pd.Series, list[str], bool]:
    """(each point's legend name, the named categories in legend order, whether they are a
    label's 0/1): ``_categories``, a label's 1/0 named "present"/"absent" as on Zero-shot."""
    names, legend = _categories(values)
    flags = set(legend) <= set(FLAGS)
    if flags:
        names, legend = names.replace(FLAGS), [FLAGS[name] for name in legend]
    return names, legend, flags


@dataclass(frozen=True)
class Legend:
    """The legend of a map coloured by categories of ``color``: each study's legend name
    (``names``), the named categories in legend order (``order``), whether they are a label's
    0/1, and the entries drawn (``entries``: ``order``, then merged rare and missing values)."""

    color: str
    names: pd.Series
    order: list[str]
    flags: bool
    entries: list[str]


def map_legend(coords: pd.DataFrame, color: str | None) -> Legend | None:
    """The legend of a map coloured by ``color``; None for no colour or a colour scale (many
    numbers). Worked out once a rerun: the page's Highlight box and the figure both read it."""
    if not color or color not in coords or not len(coords) or _on_scale(coords[color]):
        return None
    names, order, flags = _legend_names(coords[color])
    present = set(names)
    entries = [name for name in [*order, OTHER, UNKNOWN] if name in present]
    return Legend(color, names, order, flags, entries)


def _faded(legend: Legend | None, highlight: Collection[str]) -> list | None:
    """Each point's opacity when only the ``highlight`` categories of the legend stand out (the
    others faded, still there to lasso); None when nothing is highlighted."""
    if not highlight or legend is None or not legend.entries:
        return None
    return legend.names.isin(set(highlight)).map({True: 0.9, False: FADED}).tolist()


def highlighted_rows(legend: Legend | None, highlight: Collection[str]) -> list[int]:
    """Row numbers into the map's ``coords`` of the studies in the ``highlight`` categories:
    a selection made from the keyboard, where a lasso needs a mouse."""
    if not highlight or legend is None:
        return []
    return [int(i) for i in legend.names.isin(set(highlight)).to_numpy().nonzero()[0]]


def _on_scale(values: pd.Series) -> bool:
    """Whether a column is drawn on a colour scale, not as categories: many numbers."""
    return _is_number(values) and values.nunique() > 8


def _category_codes(names: pd.Series, colours: list[str], order: list[str]) -> dict:
    """Marker settings drawing each point in its category's colour: the category's index on a
    step colour scale (one band per category). Plotly checks a list of colour names one point
    at a time (seconds at 50,000 studies, on every rerun) and an array of numbers at once."""
    count = len(colours)
    scale = [[(i + edge) / count, colour] for i, colour in enumerate(colours) for edge in (0, 1)]
    codes = pd.Categorical(names, categories=order).codes.astype(float)
    return {"color": codes, "colorscale": scale, "cmin": -0.5, "cmax": count - 0.5}


def _hover_text(values: pd.Series) -> pd.Series:
    """A hover row's values as the legend names them: numbers plainly (1, not 1.0), a label's
    0/1 "absent"/"present", a missing value "unknown" (not "nan")."""
    if not _is_number(values):
        return values.astype(object).where(values.notna(), UNKNOWN).astype(str)
    plain = {value: _plain(value) for value in values.dropna().unique()}  # once per value
    text = values.map(plain).astype(object).where(values.notna(), UNKNOWN)
    if set(text.unique()) <= {*FLAGS, UNKNOWN}:
        text = text.replace(FLAGS)
    return text


def _is_number(values: pd.Series) -> bool:
    return pd.api.types.is_numeric_dtype(values) and not pd.api.types.is_bool_dtype(values)


def _plain(number: float) -> str:
    return str(int(number)) if float(number).is_integer() else f"{number:g}"


def _categories(values: pd.Series) -> tuple[pd.Series, list[str]]:
    """(legend name of each value, the named categories in legend order): numbers written
    plainly (1, not 1.0) and in numeric order, missing values ``UNKNOWN``, and beyond
    ``len(MANY_COLOURS)`` categories the rarest merged into ``OTHER``."""
    number = _is_number(values)
    order = sorted(values.dropna().unique().tolist(), key=float if number else str)
    text = {value: _plain(value) if number else plotly_text(value) for value in order}
    legend = list(dict.fromkeys(text.values()))
    names = values.map(text)
    if len(legend) > len(MANY_COLOURS):
        kept = set(names.value_counts().index[: len(MANY_COLOURS)])
        legend = [name for name in legend if name in kept]
        names = names.where(names.isin(kept) | names.isna(), OTHER)
    return names.fillna(UNKNOWN), legend


def _prompt_stars(prompts: pd.DataFrame) -> go.Scatter:
    """Prompt embeddings on the map: rows with x, y, text."""
    return go.Scatter(
        x=prompts["x"],
        y=prompts["y"],
        mode="markers+text",
        text=prompts["text"].map(plotly_text),
        textposition="top center",
        marker={
            "symbol": "star",
            "size": 16,
            "color": "white",
            "line": {"width": 1, "color": "black"},
        },
        name="prompts",
        hovertemplate="%{text}<extra>prompt</extra>",
    )


def selected_rows(points: Sequence[dict], figure: go.Figure) -> list[int]:
    """Row indices into the map's ``coords`` of the selected study points.

    points: ``st.plotly_chart(on_select="rerun")`` selection points (curve_number, point_index);
    legend-only and prompt traces are ignored, duplicates removed, order kept.
    """
    studies_curve = next(
        (i for i, trace in enumerate(figure.data) if trace.name == "studies"), None
    )
    rows: dict[int, None] = {}  # insertion-ordered set: a lasso over 20k points stays linear
    for point in points:
        index = point.get("point_index", point.get("pointIndex"))
        curve = point.get("curve_number", point.get("curveNumber", studies_curve))
        if curve == studies_curve and index is not None:
            rows[int(index)] = None
    return list(rows)
