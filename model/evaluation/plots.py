"""Static evaluation figures (matplotlib, Agg canvas): ROC curves, few-shot curves, confusion.

Each function draws one PNG of one model at one site and writes it atomically. Figures are built
with ``matplotlib.figure.Figure`` and the Agg canvas, never pyplot, so no global backend state is
touched (safe inside a dashboard's background job).
"""

from __future__ import annotations

import io
import math
from pathlib import Path

import matplotlib
import numpy as np
import pandas as pd
from matplotlib.axes import Axes
from matplotlib.backends.backend_agg import FigureCanvasAgg
from matplotlib.figure import Figure
from matplotlib.patches import Patch

from model.atomic import atomic_write_bytes
from model.evaluation.tables import display_name, vector_path

DPI = 110
# Okabe-Ito without its yellow (too faint on white): every pair stays apart under deuteranopia
# and protanopia; matplotlib's default cycle drew orange and green alike for a protanope
LINE_COLOURS = ("#0072b2", "#d55e00", "#009e73", "#cc79a7", "#000000", "#e69f00", "#56b4e9")
LINE_STYLES = ("-", "--", "-.", ":")  # with the colour, one look per curve up to 28 curves
# colour, marker and dash pattern: the three colours print as nearly one grey, so each line has
# a dash of its own too (zero-shot's is "--")
METHOD_STYLE = {
    "prototype": (LINE_COLOURS[0], "o", "-"),
    "logistic": (LINE_COLOURS[1], "s", "-."),
    "prompted": (LINE_COLOURS[3], "^", ":"),
}
ZERO_SHOT_COLOUR = LINE_COLOURS[2]
BASELINE_MARKERS = ("o", "s", "^", "D", "v", "P", "X")  # the comparison's, one per baseline
BAND_LABEL = "95% CI (episodes and patients resampled)"
SVG_SALT = "cmr-clip-evaluation"  # fixed ids: the same figure saves as the same SVG bytes


def _figure(width: float, height: float) -> Figure:
    figure = Figure(figsize=(width, height))
    FigureCanvasAgg(figure)
    return figure


def _save(figure: Figure, path: Path) -> Path:
    """The figure as ``path`` (PNG, for the report and the page) and as its SVG beside it.

    The same figure writes the same bytes, so two evaluations run with the same seed diff
    clean: the SVG's date is left out and its element ids are drawn from a fixed salt
    (matplotlib's default is a fresh random id per path on every save).

    The tight bounding box is found once, from a layout pass at the saving resolution, and
    handed to both saves: ``bbox_inches="tight"`` would lay the figure out again for each
    format (the same pixels, one layout pass fewer per format)."""
    figure.set_dpi(DPI)
    figure.draw_without_rendering()
    tight = figure.get_tightbbox().padded(matplotlib.rcParams["savefig.pad_inches"])
    for target, kind in ((path, "png"), (vector_path(path), "svg")):
        buffer = io.BytesIO()
        with matplotlib.rc_context({"svg.hashsalt": SVG_SALT}):
            figure.savefig(buffer, format=kind, dpi=DPI, bbox_inches=tight, metadata={"Date": None})
        atomic_write_bytes(target, buffer.getvalue())
    return path


def plot_roc(
    roc: dict[str, tuple[list[float], list[float]]],
    aucs: dict[str, float],
    title: str,
    path: Path,
    intervals: dict[str, tuple[float, float]] | None = None,
) -> Path:
    """``roc_figure`` written as a PNG."""
    return _save(roc_figure(roc, aucs, title, intervals), path)


def _auc_text(auc: float, interval: tuple[float, float] | None) -> str:
    if interval is None or not np.all(np.isfinite(interval)):
        return f"AUC {auc:.2f}"
    return f"AUC {auc:.2f}, 95% CI {interval[0]:.2f}–{interval[1]:.2f}"


def roc_figure(
    roc: dict[str, tuple[list[float], list[float]]],
    aucs: dict[str, float],
    title: str,
    intervals: dict[str, tuple[float, float]] | None = None,
) -> Figure:
    """All findings' zero-shot ROC curves on one axes; ``roc[name] = (fpr, tpr)``; each legend
    entry gives the AUC and its bootstrap CI (``intervals[name] = (low, high)``)."""
    figure = _figure(5.5, 5)
    axes = figure.subplots()
    for i, (name, (fpr, tpr)) in enumerate(roc.items()):
        text = _auc_text(aucs.get(name, np.nan), (intervals or {}).get(name))
        colour, style = LINE_COLOURS[i % len(LINE_COLOURS)], LINE_STYLES[i % len(LINE_STYLES)]
        axes.plot(fpr, tpr, lw=1.6, color=colour, ls=style, label=f"{display_name(name)} ({text})")
    axes.plot([0, 1], [0, 1], ls="--", color="grey", lw=1, label="chance")
    axes.set(xlabel="False positive rate (1 − specificity)", title=title)
    axes.set_ylabel("True positive rate (sensitivity)")
    axes.set_xlim(0, 1)
    axes.set_ylim(0, 1.01)
    axes.legend(fontsize=7, loc="upper center", bbox_to_anchor=(0.5, -0.13))  # below: no overlap
    return figure


def plot_fewshot(
    fewshot: pd.DataFrame, zeroshot_auc: dict[str, float], title: str, path: Path
) -> Path:
    """``fewshot_panels`` written as a PNG."""
    return _save(fewshot_panels(fewshot, zeroshot_auc, title), path)


def _auc_floor(part: pd.DataFrame, zeroshot: float) -> float:
    """Lower y limit of one panel: 0.4, or below the lowest curve, band or zero-shot line."""
    values = pd.concat([part["auc"], part["auc_lo"], pd.Series([zeroshot, 0.45])]).to_numpy(float)
    lowest = np.nanmin(values[np.isfinite(values)])
    return max(0.0, min(0.4, math.floor((lowest - 0.03) * 20) / 20))


def fewshot_panels(fewshot: pd.DataFrame, zeroshot_auc: dict[str, float], title: str) -> Figure:
    """One panel per label: mean AUC vs k (log2 axis) with 95% CI bands (``auc_lo``/``auc_hi``,
    the two-level bootstrap over episodes and patients; named in the legend), zero-shot and
    chance (0.5) as lines; the y axis reaches below the lowest value drawn, so nothing is cut
    off.

    fewshot: rows with ``label_key``/``label``, ``method``, ``k``, ``auc``, ``auc_lo``, ``auc_hi``.
    """
    key = "label_key" if "label_key" in fewshot.columns else "label"
    labels = list(dict.fromkeys(fewshot[key]))
    columns = min(4, max(len(labels), 1))
    rows = max(math.ceil(len(labels) / columns), 1)
    figure = _figure(3.2 * columns, 2.8 * rows)
    grid = figure.subplots(rows, columns, squeeze=False)
    legend: dict[str, object] = {}
    for axes, label in zip(grid.ravel(), labels, strict=False):
        part = fewshot[fewshot[key] == label]
        for method, (colour, marker, style) in METHOD_STYLE.items():
            curve = part[part["method"] == method].sort_values("k")
            if curve.empty:
                continue
            axes.plot(
                curve["k"], curve["auc"], color=colour, marker=marker, ms=5, ls=style, label=method
            )
            axes.fill_between(curve["k"], curve["auc_lo"], curve["auc_hi"], color=colour, alpha=0.2)
        zeroshot = zeroshot_auc.get(label, np.nan)
        if np.isfinite(zeroshot):
            axes.axhline(zeroshot, color=ZERO_SHOT_COLOUR, ls="--", lw=1.2, label="zero-shot")
        axes.axhline(0.5, color="grey", ls=":", lw=1, label="chance")
        axes.set_xscale("log", base=2)
        shots = sorted(part["k"].unique())
        axes.set_xticks(shots, [str(k) for k in shots])
        axes.minorticks_off()
        axes.set_ylim(_auc_floor(part, zeroshot), 1.02)
        axes.set_title(display_name(label), fontsize=9)
        axes.set_xlabel("k (shots per class)", fontsize=8)
        axes.set_ylabel("AUC (mean over episodes)", fontsize=8)
        axes.tick_params(labelsize=7)
        legend.update(zip(*reversed(axes.get_legend_handles_labels()), strict=True))
    for axes in grid.ravel()[len(labels) :]:
        axes.axis("off")
    if np.isfinite(fewshot[["auc_lo", "auc_hi"]].to_numpy(float)).any():
        legend[BAND_LABEL] = Patch(facecolor="grey", alpha=0.2)
    if legend:
        figure.legend(
            list(legend.values()),
            list(legend),
            loc="upper center",
            bbox_to_anchor=(0.5, 0.0),
            ncol=len(legend),
            fontsize=8,
        )
    figure.suptitle(title, fontsize=10)
    figure.subplots_adjust(left=0.08, right=0.97, bottom=0.12, top=0.86, wspace=0.35, hspace=0.6)
    return figure


def plot_confusion(matrix: pd.DataFrame, title: str, path: Path) -> Path:
    """``confusion_figure`` written as a PNG."""
    return _save(confusion_figure(matrix, title), path)


def _luminance(rgb: np.ndarray) -> float:
    """WCAG relative luminance of an sRGB colour (0-1 channels)."""
    linear = np.where(rgb <= 0.04045, rgb / 12.92, ((rgb + 0.055) / 1.055) ** 2.4)
    return float(np.dot([0.2126, 0.7152, 0.0722], linear[:3]))


def confusion_figure(matrix: pd.DataFrame, title: str) -> Figure:
    """Confusion matrix heat map (rows true, columns predicted) with counts in the cells, each
    count in black or white, whichever contrasts more with its cell."""
    values = matrix.to_numpy()
    size = max(4.0, 0.6 * len(matrix) + 2)
    figure = _figure(size, size * 0.9)
    axes = figure.subplots()
    image = axes.imshow(values, cmap="Blues")
    axes.set_xticks(range(len(matrix.columns)), matrix.columns, rotation=45, ha="right", fontsize=8)
    axes.set_yticks(range(len(matrix.index)), matrix.index, fontsize=8)
    for (i, j), count in np.ndenumerate(values):
        cell = _luminance(np.asarray(image.cmap(image.norm(count))))
        colour = "white" if (1.05 / (cell + 0.05)) > ((cell + 0.05) / 0.05) else "black"
        axes.text(j, i, str(count), ha="center", va="center", fontsize=8, color=colour)
    axes.set(xlabel="Predicted", ylabel="True", title=title)
    figure.colorbar(image, ax=axes, fraction=0.046, label="studies")
    return figure


def _differences(
    axes: Axes, compared: pd.DataFrame, y: list[int], look: tuple[str, str], label: str
) -> None:
    """One baseline's AUC differences with their CIs at rows ``y``, each with its p on the right;
    ``look``: its (colour, marker)."""
    errors = [
        compared["difference"] - compared["difference_lo"],
        compared["difference_hi"] - compared["difference"],
    ]
    colour, marker = look
    axes.errorbar(
        compared["difference"], y, xerr=errors, fmt=marker, ms=4, capsize=2, color=colour,
        label=label,
    )  # fmt: skip
    for value, position, p in zip(compared["difference_hi"], y, compared["p_holm"], strict=True):
        axes.annotate(
            "p<0.001" if p < 0.001 else f"p={p:.3f}",
            (value, position),
            xytext=(4, -3),
            textcoords="offset points",
            fontsize=6,
            color="dimgrey",
        )


def plot_comparison(table: pd.DataFrame, title: str, path: Path) -> list[Path]:
    """``comparison_figure`` of each of ``comparison_parts``, written as PNGs: the first as
    ``path``, the next ones beside it (``comparison_m-2.png``), each saying which part it is."""
    parts = comparison_parts(table)
    written = []
    for number, part in enumerate(parts, start=1):
        named = f"{title} (part {number} of {len(parts)})" if len(parts) > 1 else title
        target = path if number == 1 else path.with_name(f"{path.stem}-{number}{path.suffix}")
        written.append(_save(comparison_figure(part, named), target))
    return written


# The tallest figure a printed page (A4 or Letter) shows at full size beside its caption: the
# report prints an image at most 20 cm (7.9 in) tall, and a PNG of DPI 110 prints 110/96 of its
# inches, so 6.5 in with the legend under it. A comparison of two models on three settings
# and 14 labels was a 27-inch figure, printed a quarter of its width: 7-point text at 2 points.
PAGE_FIGURE_IN = 6.5
_PANEL_IN, _ROW_IN, _TITLE_IN, _LEGEND_LINE_IN = 1.1, 0.28, 0.6, 0.18


def comparison_parts(table: pd.DataFrame) -> list[pd.DataFrame]:
    """``table``'s rows in parts that each draw (``comparison_figure``) no taller than
    ``PAGE_FIGURE_IN``: as many whole settings as fit in one, a setting with too many labels for
    one page split into runs of labels of about the same length (every panel of a part has the
    same labels, so its rows line up)."""
    settings = list(dict.fromkeys(table["setting"]))
    labels = list(dict.fromkeys(table["label_key"]))
    baselines = max(table["baseline"].nunique(), 1)
    room = PAGE_FIGURE_IN - _TITLE_IN - _LEGEND_LINE_IN * baselines
    fitting = max(int((room - _PANEL_IN) // (_ROW_IN * baselines)), 1)
    runs = math.ceil(len(labels) / fitting)
    size = math.ceil(len(labels) / runs)
    chunks = [labels[at : at + size] for at in range(0, len(labels), size)]
    panel = _PANEL_IN + _ROW_IN * baselines * size
    per_part = max(int(room // panel), 1)
    parts = []
    for chunk in chunks:
        for at in range(0, len(settings), per_part):
            chosen = table["setting"].isin(settings[at : at + per_part])
            part = table[chosen & table["label_key"].isin(chunk)]
            if not part.empty:
                parts.append(part)
    return parts


def comparison_figure(table: pd.DataFrame, title: str) -> Figure:
    """Forest plot of paired AUC differences: one panel per setting (stacked, to a printed
    page's width), one row per label and baseline, the difference (main - baseline) with its
    95% CI and Holm-adjusted p on the right.

    table: ``comparison.csv`` rows of one site (``setting``, ``label_key``, ``baseline``,
    ``difference``, ``difference_lo``, ``difference_hi``, ``p_holm``).
    """
    settings = list(dict.fromkeys(table["setting"]))
    baselines = list(dict.fromkeys(table["baseline"]))
    labels = list(dict.fromkeys(table["label_key"]))
    rows = len(labels) * len(baselines)
    # one panel under another: side by side, three settings made a 15-inch figure that a
    # printed page shrank to half size
    figure = _figure(6.5, len(settings) * (_PANEL_IN + _ROW_IN * rows) + _TITLE_IN - 0.2)
    figure.set_layout_engine("constrained")  # the title above the first panel's heading
    grid = figure.subplots(len(settings), 1, squeeze=False, sharex=True)[:, 0]
    # a marker each as well as a colour: red and blue dots printed as the same grey
    looks = dict(zip(baselines, zip(LINE_COLOURS, BASELINE_MARKERS, strict=False), strict=False))
    positions = {
        (label, baseline): -(i * len(baselines) + j)
        for i, label in enumerate(labels)
        for j, baseline in enumerate(baselines)
    }
    for axes, setting in zip(grid, settings, strict=True):
        part = table[table["setting"] == setting]
        for baseline in baselines:
            compared = part[part["baseline"] == baseline]
            y = [positions[label, baseline] for label in compared["label_key"]]
            label = f"{table['model'].iloc[0]} − {baseline}"
            _differences(axes, compared, y, looks.get(baseline, ("black", "o")), label)
        axes.axvline(0.0, color="grey", ls="--", lw=1)
        axes.set_title(setting, fontsize=9)
        axes.set_xlabel("AUC difference, DeLong 95% CI (p Holm-adjusted)", fontsize=8)
        axes.tick_params(labelsize=7)
    centres = [-(i * len(baselines) + (len(baselines) - 1) / 2) for i in range(len(labels))]
    for axes in grid:
        axes.set_yticks(centres, [display_name(label) for label in labels])
    handles, names = grid[0].get_legend_handles_labels()
    figure.legend(  # below the panels: inside one it hid the points of the last labels
        handles, names, loc="upper center", bbox_to_anchor=(0.5, 0.0), ncol=1, fontsize=7
    )
    figure.suptitle(title, fontsize=10)
    return figure
