"""Pure plot builders: data in, a plotly figure out (no Streamlit, no file or model access).

Every figure shares one dark template so the dashboard reads well on a projector.
"""

from __future__ import annotations

import textwrap
from collections.abc import Sequence

import numpy as np
import pandas as pd
import plotly.colors
import plotly.graph_objects as go

from dashboard.inert_text import plotly_text

TEMPLATE = "plotly_dark"
# Okabe-Ito (vermillion, sky blue, yellow, bluish green, reddish purple, orange, blue): every
# pair stays apart under deuteranopia and protanopia, and each stands out on the dark template
PALETTE = ("#d55e00", "#56b4e9", "#f0e442", "#009e73", "#cc79a7", "#e69f00", "#0072b2")
MANY_COLOURS = tuple(plotly.colors.qualitative.Light24)  # categories beyond PALETTE
UNKNOWN_COLOUR, OTHER_COLOUR = "#5f6368", "#e8eaed"
# the decision threshold's line: st.plotly_chart redraws charts on the Streamlit theme's own
# background, so it must show on a dark and a light one alike (white vanished on light)
THRESHOLD_COLOUR = "#888888"
NEGATIVE, POSITIVE = PALETTE[1], PALETTE[0]  # a finding's 0 and 1, on every chart
FLAGS = {"0": "absent", "1": "present"}  # a finding's 0 and 1 in legends ("label 1" said little)
# metrics.jsonl's validation columns -> their legend names (the runs table's "R@1/5/10")
_VAL_METRICS = {"val_auc": "zero-shot AUC", "val_r@1": "R@1", "val_r@5": "R@5", "val_r@10": "R@10"}
_BATCH_COUNTS = ("val_loss_batches", "val_loss_batch_size")  # how the val loss was batched


_MARGIN = {"l": 50, "r": 20, "t": 50, "b": 40}
LEGEND_GAP_PX = 60  # plot's bottom edge to the legend's top, at any height: below the x title
# characters of a title that fit a chart in half a column on an 800 px window (about 230 px):
# plotly never wraps a title, so "Scores: Left ventricle dysfunction" ran off the chart there
HALF_COLUMN_TITLE = 30
TITLE_LINE_PX = 22  # the top margin grows by this for each further title line


def apply_layout(
    fig: go.Figure, title: str, height: int = 360, wrap: int | None = None
) -> go.Figure:
    """The dashboard's shared style on ``fig``: template, margins, title (its outside text shown as
    text; broken into lines of at most ``wrap`` characters when given), and the legend below the
    x-axis title."""
    lines = textwrap.wrap(title, wrap) if wrap else [title]
    margin = {**_MARGIN, "t": _MARGIN["t"] + TITLE_LINE_PX * max(len(lines) - 1, 0)}
    gap = LEGEND_GAP_PX / (height - margin["t"] - margin["b"])
    legend = {"orientation": "h", "yanchor": "top", "y": -gap}
    # it may name a finding, class or label; " <br>": a screen reader reads the lines as one
    title = " <br>".join(map(plotly_text, lines))
    fig.update_layout(template=TEMPLATE, title=title, height=height, margin=margin, legend=legend)
    return fig


def loss_curve(metrics: pd.DataFrame) -> go.Figure:
    """Training loss per step and, when logged, the validation loss per epoch, on one axis.

    metrics: rows of metrics.jsonl with columns kind, step, loss and, in ``val`` rows,
    ``val_loss_batch`` (the val set scored in batches of a training step's size, on the training
    loss's scale: ``model/training/val_loss.py``). The whole-set ``val_loss`` (about log N at
    chance) is never drawn here: a run logged before ``val_loss_batch`` draws training loss alone.
    """
    fig = go.Figure()
    train = _kind(metrics, "train", "loss")
    if not train.empty:  # a lone point drawn as a line shows nothing: markers until two
        fig.add_trace(
            go.Scatter(
                x=train["step"],
                y=train["loss"],
                mode="lines" if len(train) > 1 else "lines+markers",
                name="train loss (per step)",
                line={"color": PALETTE[1]},
                hovertemplate="step %{x}<br>train loss %{y:.3f}<br>one training batch"
                "<extra></extra>",
            )
        )
    val = _kind(metrics, "val", "val_loss_batch")
    if not val.empty:
        fig.add_trace(_val_loss_trace(val))
    if not fig.data:
        _waiting(fig, "No loss logged yet: it appears when the first training step ends")
    _whole_ticks(fig)
    fig.update_xaxes(title="step")
    fig.update_yaxes(title="InfoNCE loss per training-size batch")
    return apply_layout(fig, "Loss", wrap=HALF_COLUMN_TITLE)


def _val_loss_trace(val: pd.DataFrame) -> go.Scatter:
    """The batch-matched val loss of each validated epoch, at the step its epoch ended."""
    counts = [val[c] if c in val else pd.Series(np.nan, val.index) for c in _BATCH_COUNTS]
    custom = np.column_stack([val["epoch"] + 1, *counts])  # epochs logged from 0
    return go.Scatter(
        x=val["step"],
        y=val["val_loss_batch"],
        customdata=custom,
        mode="lines+markers",
        name="val loss (per epoch)",
        line={"color": PALETTE[0]},
        hovertemplate="epoch %{customdata[0]} (step %{x})<br>val loss %{y:.3f}<br>mean of "
        "%{customdata[1]} val batches of %{customdata[2]} studies, as training batches"
        "<extra></extra>",
    )


def validation_curves(metrics: pd.DataFrame) -> go.Figure:
    """Validation zero-shot AUC and retrieval R@k per epoch (metrics.jsonl rows, kind == val)."""
    fig = go.Figure()
    for colour, (column, name) in zip(PALETTE, _VAL_METRICS.items(), strict=False):
        part = _kind(metrics, "val", column)
        if not part.empty:
            fig.add_trace(
                go.Scatter(
                    x=part["epoch"] + 1,  # logged from 0; train.log and the runs table count from 1
                    y=part[column],
                    mode="lines+markers",
                    name=name,
                    line={"color": colour},
                )
            )
    if not fig.data:
        _waiting(fig, "Validation appears when the first epoch ends")
    _whole_ticks(fig)
    fig.update_xaxes(title="epoch")
    fig.update_yaxes(title="value", range=[0, 1.02])
    title = "Validation: AUC and R@k"  # a longer title was cut in a half column
    return apply_layout(fig, title, wrap=HALF_COLUMN_TITLE)


def _waiting(fig: go.Figure, text: str) -> None:
    """Say in the middle of an empty chart why it is empty, so it does not look broken: in
    lines that fit half a column of an 800 px window, over an x axis without its made-up ticks."""
    lines = "<br>".join(textwrap.wrap(text, HALF_COLUMN_TITLE))
    fig.add_annotation(
        text=lines, x=0.5, y=0.5, xref="paper", yref="paper", showarrow=False, font={"size": 14}
    )
    fig.update_xaxes(showticklabels=False)


def _whole_ticks(fig: go.Figure, most: int = 10) -> None:
    """One x tick per step or epoch while the traces span at most ``most`` of them: plotly's own
    ticks over one to a few epochs read "0.5, 1.5" (wider spans get whole ticks anyway)."""
    xs = [float(x) for trace in fig.data for x in trace.x]
    if xs and max(xs) - min(xs) <= most:
        fig.update_xaxes(dtick=1)


def _kind(metrics: pd.DataFrame, kind: str, column: str) -> pd.DataFrame:
    if metrics.empty or column not in metrics or "kind" not in metrics:
        return pd.DataFrame()
    return metrics[(metrics["kind"] == kind) & metrics[column].notna()]


def roc_figure(
    fpr: np.ndarray, tpr: np.ndarray, auc: float, ci: tuple[float, float], name: str
) -> go.Figure:
    """ROC curve: fpr/tpr float [K] from (0, 0) to (1, 1); AUC and its 95% CI in the legend."""
    fig = go.Figure()
    fig.add_trace(
        go.Scatter(
            x=[0, 1], y=[0, 1], mode="lines", line={"dash": "dot", "color": "#666"}, name="chance"
        )
    )
    fig.add_trace(
        go.Scatter(
            x=fpr,
            y=tpr,
            mode="lines",
            line={"color": PALETTE[0], "width": 3},
            name=f"AUC {auc:.3f} (95% CI {ci[0]:.3f}–{ci[1]:.3f})",
        )
    )
    fig.update_xaxes(title="1 − specificity", range=[0, 1])
    fig.update_yaxes(title="sensitivity", range=[0, 1.02])
    return apply_layout(fig, f"ROC: {name}", height=420, wrap=HALF_COLUMN_TITLE)


def confusion_figure(
    matrix: np.ndarray, classes: Sequence[str], title: str = "Confusion matrix"
) -> go.Figure:
    """Heatmap of counts: matrix int [C (true), C (predicted)]."""
    matrix = np.asarray(matrix)
    fig = go.Figure(
        go.Heatmap(
            z=matrix,
            x=[plotly_text(c) for c in classes],
            y=[plotly_text(c) for c in classes],
            colorscale="Blues",
            colorbar={"title": {"text": "studies"}},
            text=matrix.astype(str),
            texttemplate="%{text}",
            hovertemplate="true %{y}<br>predicted %{x}<br>%{z}<extra></extra>",
        )
    )
    fig.update_xaxes(title="predicted")
    fig.update_yaxes(title="true", autorange="reversed")
    return apply_layout(fig, title, height=440)


def score_histogram(
    scores: np.ndarray, threshold: float, name: str, labels: np.ndarray | None = None
) -> go.Figure:
    """Distribution of one prompt's probabilities [N] with the decision threshold marked.

    labels: optional {0, 1} [N]; when given, positives and negatives are drawn separately.
    """
    fig = go.Figure()
    bins = {"start": 0.0, "end": 1.0, "size": 0.02}
    if labels is None:
        fig.add_trace(go.Histogram(x=scores, xbins=bins, marker_color=PALETTE[1], name="studies"))
    else:
        labels = np.asarray(labels).astype(bool)
        for flag, colour, hatch in ((False, NEGATIVE, ""), (True, POSITIVE, "/")):
            scored = scores[labels == flag]
            marker = {"color": colour, "pattern": {"shape": hatch}}  # 1 hatched: not colour alone
            fig.add_trace(
                go.Histogram(
                    x=scored, xbins=bins, marker=marker, name=FLAGS[str(int(flag))], opacity=0.7
                )
            )
        fig.update_layout(barmode="overlay")
    fig.add_vline(x=threshold, line={"color": THRESHOLD_COLOUR, "dash": "dash"})
    fig.update_xaxes(title=f"p({plotly_text(name)})", range=[0, 1])
    fig.update_yaxes(title="studies")
    return apply_layout(fig, f"Scores: {name}", height=320, wrap=HALF_COLUMN_TITLE)


_DASHES = ("solid", "dash", "dot", "dashdot")  # one per model on the few-shot chart


def _band(colour: str) -> str:
    red, green, blue = plotly.colors.hex_to_rgb(colour)
    return f"rgba({red},{green},{blue},0.2)"


def _level(fig: go.Figure, shots: list[int], value: float, name: str, line: dict) -> None:
    """A horizontal line across the k range that has a legend entry."""
    fig.add_trace(
        go.Scatter(x=[shots[0], shots[-1]], y=[value, value], mode="lines", name=name, line=line)
    )


def fewshot_figure(fewshot: pd.DataFrame, zeroshot: pd.DataFrame | None, label: str) -> go.Figure:
    """Few-shot curves of one label from an evaluation's ``fewshot.csv``: mean AUC vs k for each
    model and method with its 95% CI band, and as horizontal lines each model's zero-shot AUC of
    the label (``zeroshot.csv`` rows, optional) and chance (0.5). Colour = method, dash = model."""
    fig = go.Figure()
    part = fewshot[fewshot["Label"] == label]
    models = list(dict.fromkeys(part["model"]))
    methods = list(dict.fromkeys(part["method"]))
    shots = sorted(part["k"].unique()) or [1, 32]
    for (model, method), curve in part.groupby(["model", "method"], sort=False):
        curve = curve.sort_values("k")
        colour = PALETTE[methods.index(method) % 6]
        name = plotly_text(f"{model} · {method}" if len(models) > 1 else method)
        fig.add_trace(
            go.Scatter(
                x=[*curve["k"], *curve["k"][::-1]],
                y=[*curve["auc_hi"], *curve["auc_lo"][::-1]], mode="lines",  # no corner dots
                fill="toself", fillcolor=_band(colour), line={"width": 0},
                hoverinfo="skip", showlegend=False, legendgroup=name,
            )
        )  # fmt: skip
        dash = _DASHES[models.index(model) % len(_DASHES)]
        fig.add_trace(
            go.Scatter(
                x=curve["k"], y=curve["AUC"], mode="lines+markers", name=name,
                legendgroup=name, line={"color": colour, "dash": dash},
            )
        )  # fmt: skip
    if zeroshot is not None and not zeroshot.empty:
        rows = zeroshot[(zeroshot["Label"] == label) & (zeroshot["setting"] == "zero-shot")]
        for model, value in zip(rows["model"], rows["AUC"], strict=True):
            dash = _DASHES[models.index(model) % len(_DASHES)] if model in models else "dash"
            name = plotly_text(f"{model} · zero-shot" if len(models) > 1 else "zero-shot")
            _level(fig, shots, value, name, {"color": PALETTE[6], "dash": dash})
    _level(fig, shots, 0.5, "chance", {"color": UNKNOWN_COLOUR, "dash": "dot", "width": 1})
    fig.update_xaxes(title="shots per class (k)", type="log", tickvals=shots)
    fig.update_yaxes(title="AUC (mean over episodes, 95% CI)")
    return apply_layout(fig, f"Few-shot · {label}", height=420)
