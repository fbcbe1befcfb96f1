"""The evaluation's static figures: nothing drawn falls outside the axes, legends name every line."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from colour_vision import closest_pair, contrast_ratio
from matplotlib.colors import to_hex

from model.evaluation.plots import (
    BAND_LABEL,
    DPI,
    PAGE_FIGURE_IN,
    comparison_figure,
    comparison_parts,
    confusion_figure,
    fewshot_panels,
    plot_comparison,
    plot_fewshot,
    roc_figure,
)
from model.schema import DIAGNOSES, FINDINGS


def _curve(label: str, auc: float) -> pd.DataFrame:
    rows = [
        {"label": label, "method": method, "k": k, "auc": auc, "auc_lo": auc - 0.05,
         "auc_hi": auc + 0.05}
        for method in ("prototype", "logistic")
        for k in (1, 2, 4)
    ]  # fmt: skip
    return pd.DataFrame(rows)


def test_fewshot_panels_show_low_aucs_chance_and_the_zero_shot_line() -> None:
    """A model worse than chance (zero-shot AUC 0.30, few-shot 0.35) stays on the plot, and the
    legend names the zero-shot line though the first label has no prompts, and what the bands
    are (a run without resamples has none)."""
    table = pd.concat([_curve("unprompted", 0.8), _curve("lge", 0.35)], ignore_index=True)
    figure = fewshot_panels(table, {"lge": 0.30}, "title")
    first, second = figure.axes[:2]
    low, high = second.get_ylim()
    assert low <= 0.30 - 0.01 and high >= 0.4  # the zero-shot line and the CI band are inside
    assert first.get_ylim()[0] <= 0.5 <= first.get_ylim()[1]  # chance stays visible
    (legend,) = figure.legends
    assert {text.get_text() for text in legend.get_texts()} == {
        "prototype", "logistic", "zero-shot", "chance", "95% CI (episodes and patients resampled)"
    }  # fmt: skip
    unbanded = fewshot_panels(table.assign(auc_lo=np.nan, auc_hi=np.nan), {}, "title")
    assert BAND_LABEL not in {text.get_text() for text in unbanded.legends[0].get_texts()}
    chance = [line for line in second.get_lines() if line.get_label() == "chance"]
    assert chance and set(chance[0].get_ydata()) == {0.5}


def test_plot_fewshot_writes_a_png_and_an_svg_for_slides(tmp_path: Path) -> None:
    """A 110-dpi PNG blurred when a PI scaled it onto a projector slide: each figure has its
    vector copy beside it."""
    path = plot_fewshot(_curve("lge", 0.7), {"lge": 0.6}, "title", tmp_path / "fewshot.png")
    assert path.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    svg = (tmp_path / "fewshot.svg").read_text(encoding="utf-8")
    assert "<svg" in svg and svg.rstrip().endswith("</svg>")


def test_the_same_figure_drawn_twice_writes_the_same_bytes(tmp_path: Path) -> None:
    """A reviewer diffs two evaluations run with the same seed: the SVGs differed in their
    date and in the random ids matplotlib gives each path, so every plot looked changed."""
    for run in ("a", "b"):
        (tmp_path / run).mkdir()
        plot_fewshot(_curve("lge", 0.7), {"lge": 0.6}, "title", tmp_path / run / "fewshot.png")
    for name in ("fewshot.png", "fewshot.svg"):
        assert (tmp_path / "a" / name).read_bytes() == (tmp_path / "b" / name).read_bytes(), name


def test_roc_legend_gives_each_auc_with_its_interval_and_names_chance() -> None:
    roc = {"lge": ([0.0, 0.2, 1.0], [0.0, 0.7, 1.0]), "normal": ([0.0, 1.0], [0.0, 1.0])}
    figure = roc_figure(roc, {"lge": 0.84, "normal": 0.5}, "title", {"lge": (0.77, 0.89)})
    texts = [text.get_text() for text in figure.axes[0].get_legend().get_texts()]
    assert texts == ["LGE (AUC 0.84, 95% CI 0.77–0.89)", "Normal (AUC 0.50)", "chance"]


def test_comparison_legend_covers_no_point() -> None:
    """The forest plot's legend used to sit inside the first panel's lower left, over the
    points of the last labels."""
    rows = [
        {"model": "ours", "baseline": baseline, "setting": "zero-shot", "label_key": label,
         "difference": difference, "difference_lo": difference - 0.05,
         "difference_hi": difference + 0.05, "p_holm": 0.5}
        for label, difference in (("lge", 0.3), ("normal", 0.0), ("nicm", -0.1))
        for baseline in ("a", "b")
    ]  # fmt: skip
    figure = comparison_figure(pd.DataFrame(rows), "title")
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    boxes = [legend.get_window_extent(renderer) for legend in figure.legends]
    axes = figure.axes[0]
    boxes += [axes.get_legend().get_window_extent(renderer)] if axes.get_legend() else []
    points = axes.transData.transform([(row["difference"], -i) for i, row in enumerate(rows)])
    assert boxes and not any(box.contains(x, y) for box in boxes for x, y in points)


def test_roc_curves_of_every_finding_stay_apart_for_colour_blind_readers() -> None:
    """Matplotlib's default cycle drew two findings' curves orange and green, alike to a
    protanope (CIEDE2000 1.3), all in solid lines."""
    roc = {name: ([0.0, 0.1 * i, 1.0], [0.0, 0.5, 1.0]) for i, name in enumerate(FINDINGS)}
    figure = roc_figure(roc, dict.fromkeys(FINDINGS, 0.7), "title")
    curves = [line for line in figure.axes[0].get_lines() if line.get_label() != "chance"]
    difference, vision, first, second = closest_pair([to_hex(c.get_color()) for c in curves])
    assert difference >= 10, f"{first} and {second} look alike with {vision}"
    many = {f"label {i}": ([0.0, 1.0], [0.0, 1.0]) for i in range(12)}
    looks = {
        (to_hex(line.get_color()), line.get_linestyle())
        for line in roc_figure(many, {}, "title").axes[0].get_lines()
    }
    assert len(looks) == len(many) + 1  # one look per curve and chance, beyond the colours


def test_fewshot_methods_and_zero_shot_stay_apart_for_colour_blind_readers() -> None:
    table = pd.concat(
        [
            _curve("lge", 0.7).assign(method=method)
            for method in ("prototype", "logistic", "prompted")
        ]
    )
    figure = fewshot_panels(table.drop_duplicates(["method", "k"]), {"lge": 0.6}, "title")
    lines = [line for line in figure.axes[0].get_lines() if line.get_label() != "chance"]
    assert {line.get_label() for line in lines} == {
        "prototype",
        "logistic",
        "prompted",
        "zero-shot",
    }
    difference, vision, first, second = closest_pair([to_hex(c.get_color()) for c in lines])
    assert difference >= 10, f"{first} and {second} look alike with {vision}"


def test_confusion_counts_are_readable_on_their_cells() -> None:
    """A count just over half the largest was written in white on a mid blue (2.5:1)."""
    matrix = pd.DataFrame(
        [[10, 6, 0], [4, 7, 1], [2, 3, 5]], index=list("abc"), columns=list("abc")
    )
    axes = confusion_figure(matrix, "title").axes[0]
    image = axes.get_images()[0]
    for text in axes.texts:
        row, column = (round(v) for v in reversed(text.get_position()))
        cell = to_hex(image.cmap(image.norm(matrix.iloc[row, column])))
        assert int(text.get_text()) == matrix.iloc[row, column]
        assert contrast_ratio(to_hex(text.get_color()), cell) >= 4.5, text.get_text()
    assert image.colorbar.ax.get_ylabel() == "studies"  # what the colours count


def test_comparison_baselines_stay_apart_when_printed_in_grey() -> None:
    """Two baselines were drawn as red and blue dots, of nearly the same grey on a black-and-white
    printer (lightness 48 and 49): each baseline now has a marker of its own too."""
    rows = [
        {"model": "ours", "baseline": baseline, "setting": "zero-shot", "label_key": "lge",
         "difference": 0.1, "difference_lo": 0.0, "difference_hi": 0.2, "p_holm": 0.5}
        for baseline in ("a", "b", "c", "d")
    ]  # fmt: skip
    axes = comparison_figure(pd.DataFrame(rows), "title").axes[0]
    markers = {bars.get_label(): bars.lines[0].get_marker() for bars in axes.containers}
    assert len(markers) == 4 and len(set(markers.values())) == 4, markers


def test_fewshot_methods_stay_apart_when_printed_in_grey() -> None:
    """Prototype, logistic and prompted were three solid lines whose colours print as nearly
    the same grey (lightness 47, 56 and 62), told apart only by 3-point markers."""
    table = pd.concat(
        [_curve("lge", 0.7).assign(method=m) for m in ("prototype", "logistic", "prompted")]
    )
    figure = fewshot_panels(table.drop_duplicates(["method", "k"]), {"lge": 0.6}, "title")
    lines = {line.get_label(): line for line in figure.axes[0].get_lines()}
    methods = [lines[m] for m in ("prototype", "logistic", "prompted")]
    looks = {line.get_linestyle() for line in (*methods, lines["zero-shot"])}
    assert len(looks) == 4  # each its own dash pattern beside its colour (chance: grey at 0.5)
    assert min(line.get_markersize() for line in methods) >= 5


def test_comparison_of_three_settings_fits_a_printed_page_and_its_title_covers_no_panel() -> None:
    """Three settings side by side made a 15-inch figure: on an A4 page (7.5 in wide) its 7-point
    labels printed at 3.5 points, and the title ran over the middle panel's heading."""
    rows = [
        {"model": "ours", "baseline": "b", "setting": setting, "label_key": label,
         "difference": 0.01, "difference_lo": -0.02, "difference_hi": 0.04, "p_holm": 0.5}
        for setting in ("zero-shot", "linear probe", "train-split probe")
        for label in FINDINGS
    ]  # fmt: skip
    figure = comparison_figure(pd.DataFrame(rows), "ours against each other model · internal")
    figure.canvas.draw()
    renderer = figure.canvas.get_renderer()
    width, _ = figure.get_size_inches()
    assert width <= 7.0
    title = figure._suptitle.get_window_extent(renderer)
    headings = [axes.title.get_window_extent(renderer) for axes in figure.axes]
    assert not any(title.overlaps(heading) for heading in headings)
    assert all(len(axes.get_yticklabels()) == len(FINDINGS) for axes in figure.axes)


def comparison_rows(baselines: int, labels: tuple[str, ...]) -> pd.DataFrame:
    """``comparison.csv`` rows of one site: the main model against ``baselines`` others on the
    three settings an evaluation compares, for every one of ``labels``."""
    return pd.DataFrame(
        [
            {
                "model": "ours",
                "baseline": f"other-{b}",
                "setting": setting,
                "label_key": label,
                "difference": 0.01,
                "difference_lo": -0.02,
                "difference_hi": 0.04,
                "p_holm": 0.5,
            }
            for b in range(baselines)
            for setting in ("zero-shot", "linear probe", "train-split probe")
            for label in labels
        ]  # fmt: skip
    )


def test_a_comparison_of_several_models_prints_each_figure_on_one_page(tmp_path: Path) -> None:
    """Two compared models on three settings and 14 labels made one 27-inch figure: the report
    printed it a quarter of its width (7-point text at 2 points). It is drawn in parts, each at
    most ``PAGE_FIGURE_IN`` tall at full width, together holding every row once."""
    from PIL import Image

    for baselines, labels in ((2, (*FINDINGS, *DIAGNOSES)), (4, FINDINGS), (1, FINDINGS[:2])):
        table = comparison_rows(baselines, labels)
        out = tmp_path / f"{baselines}" / "comparison_ours.png"
        written = plot_comparison(table, "ours against each other model · internal", out)
        assert written[0] == out and all(path.is_file() for path in written)
        for path in written:
            width, height = Image.open(path).size
            assert height <= PAGE_FIGURE_IN * DPI and width <= 7.5 * DPI, (path.name, height)
        assert len(written) == 1 or baselines > 1  # a small comparison stays one figure
    parts = comparison_parts(comparison_rows(2, (*FINDINGS, *DIAGNOSES)))
    drawn = pd.concat(parts)
    assert len(drawn) == len(drawn.drop_duplicates()) == 2 * 3 * 14  # every row once
    assert all(part["setting"].nunique() * part["label_key"].nunique() > 1 for part in parts)
