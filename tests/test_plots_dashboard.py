"""Pure plot builders and the map's selection decoding."""

from __future__ import annotations

import base64
import tomllib
from pathlib import Path

import numpy as np
import pandas as pd
import plotly.graph_objects as go
import plotly.io as pio
import pytest
from colour_vision import closest_pair, contrast_ratio

from dashboard import map_figure
from dashboard.map_figure import embedding_map, selected_rows
from dashboard.plots import (
    HALF_COLUMN_TITLE,
    OTHER_COLOUR,
    PALETTE,
    TEMPLATE,
    UNKNOWN_COLOUR,
    confusion_figure,
    fewshot_figure,
    loss_curve,
    roc_figure,
    score_histogram,
    validation_curves,
)

# as metrics.jsonl logs them: epochs counted from 0; val_loss is the whole val set's (another
# scale), val_loss_batch the val set in batches of the training step's 2 studies
BATCH_LOSS = {"val_loss_batches": 3, "val_loss_batch_size": 2}
METRICS = pd.DataFrame(
    [
        {"kind": "train", "epoch": 0, "step": 1, "loss": 2.0},
        {"kind": "train", "epoch": 0, "step": 2, "loss": 1.5},
        {"kind": "val", "epoch": 0, "step": 2, "val_loss": 3.9, "val_loss_batch": 1.8,
         **BATCH_LOSS, "val_auc": 0.6, "val_r@1": 0.1},
        {"kind": "val", "epoch": 1, "step": 4, "val_loss": 3.5, "val_loss_batch": 1.2,
         **BATCH_LOSS, "val_auc": 0.7, "val_r@1": 0.2},
    ]
)  # fmt: skip


def _coords(n: int = 6) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "x": np.arange(n, dtype=float),
            "y": np.arange(n, dtype=float) ** 2,
            "study_id": [f"s{i}" for i in range(n)],
            "site": ["internal", "external"] * (n // 2),
            "age": np.linspace(20, 90, n),
        }
    )


def test_loss_and_validation_curves() -> None:
    loss = loss_curve(METRICS)
    assert [t.name for t in loss.data] == ["train loss (per step)", "val loss (per epoch)"]
    assert list(loss.data[0].y) == [2.0, 1.5]
    assert list(loss.data[1].y) == [1.8, 1.2]  # the batch-matched loss, never the whole set's
    val = validation_curves(METRICS)
    names = [t.name for t in val.data]
    assert names == ["zero-shot AUC", "R@1"]  # named as the runs table names them, not val_r@1
    assert list(val.data[0].x) == [1, 2]  # epoch 1 and 2, as train.log and the runs table say
    assert loss_curve(pd.DataFrame()).data == ()


def test_embedding_map_categorical_colours_and_prompts() -> None:
    prompts = pd.DataFrame({"x": [1.0], "y": [2.0], "text": ["dilated LV"]})
    fig = embedding_map(_coords(), color="site", prompts=prompts, hover=("site",))
    names = [t.name for t in fig.data]
    assert names == ["external", "internal", "studies", "prompts"]
    studies = fig.data[2]
    assert isinstance(studies, go.Scattergl)
    assert len(set(_point_colours(studies))) == 2
    assert list(studies.customdata[0]) == ["s0", "internal"]
    assert fig.layout.dragmode == "pan"


def test_the_map_opens_on_a_tool_where_a_click_selects_a_study() -> None:
    """Streamlit's chart turns plotly's click-to-select off (clickmode "event") while the Lasso
    or Box Select tool is on: with the lasso as the map's first tool, clicking a study selected
    nothing until the user found Pan in the toolbar."""
    fig = embedding_map(_coords(), color="site")
    assert fig.layout.dragmode not in ("lasso", "select")
    assert "select" in fig.layout.clickmode.split("+")


def test_embedding_map_hovers_only_the_columns_the_studies_have() -> None:
    fig = embedding_map(_coords(), hover=("site", "sex"))  # a dataset without a sex column
    studies = fig.data[0]
    assert list(studies.customdata[0]) == ["s0", "internal"]
    assert "Site:" in studies.hovertemplate and "Sex" not in studies.hovertemplate


def test_embedding_map_numeric_colour_scale() -> None:
    coords = pd.concat([_coords(12)], ignore_index=True)
    fig = embedding_map(coords, color="age")
    assert [t.name for t in fig.data] == ["studies"]
    assert fig.data[0].marker.showscale is True


def test_selected_rows_keep_only_study_points() -> None:
    prompts = pd.DataFrame({"x": [1.0], "y": [2.0], "text": ["p"]})
    fig = embedding_map(_coords(), color="site", prompts=prompts)
    points = [
        {"curve_number": 2, "point_index": 4},
        {"curve_number": 3, "point_index": 0},  # a prompt star
        {"curve_number": 2, "point_index": 1},
        {"curve_number": 2, "point_index": 4},  # duplicate
    ]
    assert selected_rows(points, fig) == [4, 1]
    assert selected_rows([], fig) == []


def test_roc_confusion_histogram_fewshot() -> None:
    roc = roc_figure(np.array([0, 0.5, 1]), np.array([0, 0.8, 1]), 0.812, (0.7, 0.9), "lge")
    assert "0.812" in roc.data[1].name and "0.700" in roc.data[1].name
    cm = confusion_figure(np.array([[3, 1], [0, 4]]), ["a", "b"])
    assert cm.data[0].z.tolist() == [[3, 1], [0, 4]]
    assert cm.data[0].colorbar.title.text == "studies"  # what the colours count
    scores = np.array([0.1, 0.9, 0.4, 0.7])
    hist = score_histogram(scores, 0.5, "lge", labels=np.array([0, 1, 0, 1]))
    assert [t.name for t in hist.data] == ["absent", "present"]  # as the map's legend names them
    assert list(hist.data[1].x) == [0.9, 0.7]


def test_fewshot_figure_keeps_models_apart_and_draws_zero_shot_and_chance() -> None:
    """One label of an evaluation's fewshot.csv with two models: a curve (and CI band) per
    model and method, never a mean over models or labels; each model's zero-shot AUC and
    chance as lines."""
    fewshot = pd.DataFrame(
        [
            {"model": model, "Label": label, "method": method, "k": k, "AUC": auc,
             "auc_lo": auc - 0.02, "auc_hi": auc + 0.02}
            for model, auc in (("ours", 0.9), ("baseline", 0.5))
            for label in ("LGE", "Normal")
            for method in ("prototype", "logistic")
            for k in (1, 2)
        ]
    )  # fmt: skip
    zeroshot = pd.DataFrame(
        {"model": ["ours", "baseline", "ours"], "Label": ["LGE", "LGE", "Normal"],
         "setting": ["zero-shot"] * 3, "AUC": [0.8, 0.45, 0.3]}
    )  # fmt: skip
    figure = fewshot_figure(fewshot, zeroshot, "LGE")
    curves = {t.name: list(t.y) for t in figure.data if t.mode == "lines+markers"}
    assert curves == {
        "ours · prototype": [0.9, 0.9], "ours · logistic": [0.9, 0.9],
        "baseline · prototype": [0.5, 0.5], "baseline · logistic": [0.5, 0.5],
    }  # fmt: skip
    bands = [t for t in figure.data if t.fill == "toself"]
    assert len(bands) == 4 and max(bands[0].y) == pytest.approx(0.92)
    assert all(band.mode == "lines" for band in bands)  # no unexplained dots at the CI corners
    levels = {t.name: set(t.y) for t in figure.data if t.mode == "lines" and t.fill != "toself"}
    assert levels == {"ours · zero-shot": {0.8}, "baseline · zero-shot": {0.45}, "chance": {0.5}}
    single = fewshot_figure(fewshot[fewshot["model"] == "ours"], None, "Normal")
    assert [t.name for t in single.data if t.showlegend is not False] == [
        "prototype", "logistic", "chance"
    ]  # fmt: skip


def _legend(fig: go.Figure) -> dict[str, str]:
    """Legend entry -> its marker colour (the legend-only traces of a categorical colouring)."""
    return {t.name: t.marker.color for t in fig.data if t.name not in ("studies", "prompts")}


def _point_colours(trace: go.Scattergl) -> list[str]:
    """Each study point's drawn colour: its marker value read on the trace's colour scale."""
    marker = trace.marker
    scale = [(float(at), colour) for at, colour in marker.colorscale]
    colours = []
    for value in marker.color:
        position = (value - marker.cmin) / (marker.cmax - marker.cmin)
        colours.append([colour for at, colour in scale if at <= position][-1])
    return colours


def test_embedding_map_colours_a_large_map_with_numbers_plotly_checks_at_once() -> None:
    """Colour names per point are checked by plotly one by one (seconds at 50,000 studies, on
    every rerun of the Embeddings page): categories and numbers go as numeric arrays."""
    coords = _coords(40).assign(age_band=[f"{i % 5}0-{i % 5}9" for i in range(40)])
    for column in ("site", "age_band", "age"):
        studies = next(t for t in embedding_map(coords, color=column).data if t.name == "studies")
        assert isinstance(studies.marker.color, np.ndarray), column
        assert studies.marker.color.dtype.kind == "f", column


def test_embedding_map_gives_every_category_its_own_colour() -> None:
    bands = [f"{10 * i}-{10 * i + 9}" for i in range(10)]  # ten age bands
    coords = _coords(30).assign(age_band=[bands[i % 10] for i in range(30)])
    fig = embedding_map(coords, color="age_band")
    legend = _legend(fig)
    assert list(legend) == bands
    assert len(set(legend.values())) == 10  # no two bands share a colour
    studies = next(t for t in fig.data if t.name == "studies")
    assert [legend[b] for b in coords["age_band"]] == _point_colours(studies)


def test_embedding_map_names_missing_values_unknown() -> None:
    coords = _coords(6).assign(label_lge=[1.0, 0.0, np.nan, 1.0, np.nan, 0.0])
    fig = embedding_map(coords, color="label_lge")
    legend = _legend(fig)
    assert list(legend) == ["absent", "present", "unknown"]  # not "0", "1": words say which
    studies = next(t for t in fig.data if t.name == "studies")
    colours = _point_colours(studies)
    assert colours[2] == colours[4] == legend["unknown"]
    assert colours[0] == colours[3] == legend["present"]
    assert colours[1] == colours[5] == legend["absent"]
    assert legend["unknown"] not in (legend["absent"], legend["present"])
    assert fig.layout.legend.title.text == "Label lge"  # named as in the tables
    histogram = score_histogram(np.array([0.2, 0.8]), 0.5, "lge", labels=np.array([0, 1]))
    bars = {t.name: t.marker.color for t in histogram.data}  # one finding, one colour code
    assert (legend["absent"], legend["present"]) == (bars["absent"], bars["present"])
    words = embedding_map(_coords(6).assign(grade=["absent", "mild"] * 3), color="grade")
    assert list(_legend(words)) == ["absent", "mild"]  # a column's own words keep their colours


def test_embedding_map_colour_scale_shows_missing_values_as_unknown() -> None:
    coords = _coords(12)
    coords.loc[[3, 7], "age"] = np.nan
    fig = embedding_map(coords, color="age")
    studies = next(t for t in fig.data if t.name == "studies")
    assert studies.marker.showscale is True
    assert (studies.marker.cmin, studies.marker.cmax) == (coords["age"].min(), coords["age"].max())
    unknown = _legend(fig)["unknown"]
    colours = list(studies.marker.color)
    assert colours[3] == colours[7] == unknown  # drawn, not left to plotly's default
    assert colours[0] == coords["age"][0]
    curve = [t.name for t in fig.data].index("studies")
    assert selected_rows([{"curve_number": curve, "point_index": 3}], fig) == [3]


def test_embedding_map_merges_the_rarest_of_many_categories_into_other() -> None:
    coords = _coords(60).assign(scanner=[f"scanner {i % 30}" for i in range(60)])
    coords.loc[:29, "scanner"] = "scanner 0"  # the most common
    legend = _legend(embedding_map(coords, color="scanner"))
    assert "scanner 0" in legend and legend.get("other") is not None
    assert len(set(legend.values())) == len(legend)


def test_legends_sit_clear_of_the_x_axis_title_whatever_the_height() -> None:
    """A legend placed at a fraction of the plot's height lay on a short chart's x-axis title
    (the zero-shot score histogram): its top edge is a fixed distance below the plot."""
    scores = np.array([0.1, 0.9, 0.4, 0.7])
    figures = {
        "histogram": score_histogram(scores, 0.5, "lge", labels=np.array([0, 1, 0, 1])),
        "roc": roc_figure(np.array([0, 1]), np.array([0, 1]), 0.5, (0.4, 0.6), "lge"),
        "validation": validation_curves(METRICS),
    }
    for name, fig in figures.items():
        layout = fig.layout
        plot_height = layout.height - layout.margin.t - layout.margin.b
        assert layout.legend.yanchor == "top", name
        assert -layout.legend.y * plot_height >= 55, name  # px: below tick labels and title


def _theme_background() -> str:
    """The dashboard theme's background (the charts are drawn on it, not on the template's)."""
    config = Path(__file__).resolve().parent.parent / ".streamlit" / "config.toml"
    return tomllib.loads(config.read_text())["theme"]["backgroundColor"]


def test_categorical_colours_stay_apart_under_red_green_colour_blindness() -> None:
    """Sky blue and purple of the old palette (the map's 2nd and 5th category) looked the same
    to a deuteranope (CIEDE2000 1.9); every palette colour must also stand out on the chart."""
    difference, vision, first, second = closest_pair([*PALETTE, UNKNOWN_COLOUR, OTHER_COLOUR])
    assert difference >= 10, f"{first} and {second} look alike with {vision}"
    for background in (pio.templates[TEMPLATE].layout.plot_bgcolor, _theme_background()):
        assert min(contrast_ratio(colour, background) for colour in PALETTE) >= 3  # WCAG non-text


def test_map_categories_and_histogram_labels_differ_by_more_than_colour() -> None:
    coords = _coords(6).assign(label_lge=[1.0, 0.0, np.nan, 1.0, 0.0, 1.0])
    flags = {1.0: "present", 0.0: "absent"}
    for column, legend in (
        ("site", ["external", "internal"]),
        ("label_lge", ["absent", "present"]),
    ):
        fig = embedding_map(coords, color=column)
        symbols = {t.name: t.marker.symbol for t in fig.data if t.name in legend}
        assert len(set(symbols.values())) == len(legend), column
        studies = next(t for t in fig.data if t.name == "studies")
        names = coords[column].map(lambda v: v if isinstance(v, str) else flags.get(v, "nan"))
        for name, symbol in zip(names, _symbols(studies), strict=True):
            assert symbols.get(name, "circle") == symbol  # "nan": unknown, drawn as a circle
    histogram = score_histogram(np.array([0.2, 0.8]), 0.5, "lge", labels=np.array([0, 1]))
    hatches = {t.name: t.marker.pattern.shape or "" for t in histogram.data}
    assert hatches["absent"] != hatches["present"]


def _symbols(trace: go.Scattergl) -> list[str]:
    """A map trace's marker symbols by name, read back from the typed array plotly is given."""
    spec = trace.marker.symbol
    numbers = np.frombuffer(base64.b64decode(spec["bdata"]), dtype=spec["dtype"])
    names = {number: name for name, number in map_figure.SYMBOL_NUMBERS.items()}
    return [names[int(n)] for n in numbers]


def test_a_map_of_20000_studies_keeps_its_marker_shapes() -> None:
    """Over 10,000 studies the map drew every category as a circle (plotly checked the symbol
    names point by point, too slow): a colour-blind user lost the second cue on large maps."""
    coords = _coords(20_000).assign(site=["internal", "external", None, "external"] * 5_000)
    fig = embedding_map(coords, color="site")
    studies = next(t for t in fig.data if t.name == "studies")
    legend = {t.name: t.marker.symbol for t in fig.data if t.name in ("internal", "external")}
    assert len(set(legend.values())) == 2
    expected = coords["site"].map(legend).fillna("circle")  # unknown: a circle
    assert _symbols(studies) == expected.tolist()


def test_the_decision_threshold_shows_on_the_dark_and_a_light_theme() -> None:
    """Streamlit draws the charts on its theme's background: the white threshold line vanished
    on a light theme."""
    histogram = score_histogram(np.array([0.2, 0.8]), 0.5, "lge", labels=np.array([0, 1]))
    [threshold] = [shape for shape in histogram.layout.shapes if shape.x0 == 0.5]
    for background in (_theme_background(), "#ffffff"):
        assert contrast_ratio(threshold.line.color, background) >= 3, background


def test_training_curves_show_a_lone_point_and_say_why_they_are_empty() -> None:
    one = loss_curve(METRICS.iloc[:1])  # a run that has logged its first step only
    assert "markers" in one.data[0].mode  # a one-point line draws nothing
    assert loss_curve(METRICS).data[0].mode == "lines"  # a curve stays a plain line
    empty = loss_curve(pd.DataFrame())
    assert "first training step" in empty.layout.annotations[0].text.replace("<br>", " ")
    waiting = validation_curves(METRICS.iloc[:2])  # the first epoch has not ended
    assert "first epoch ends" in waiting.layout.annotations[0].text.replace("<br>", " ")
    for fig in (empty, waiting):  # fits half a column at 800 px, over no made-up epoch ticks
        lines = fig.layout.annotations[0].text.split("<br>")
        assert (
            max(map(len, lines)) <= HALF_COLUMN_TITLE and fig.layout.xaxis.showticklabels is False
        )
    assert not validation_curves(METRICS).layout.annotations


def test_training_curves_tick_whole_epochs_and_steps() -> None:
    assert validation_curves(METRICS).layout.xaxis.dtick == 1  # not "0.5, 1.5" epochs
    assert loss_curve(METRICS.iloc[:1]).layout.xaxis.dtick == 1
    long = pd.DataFrame({"kind": "train", "epoch": 0, "step": range(1, 500), "loss": 1.0})
    assert loss_curve(long).layout.xaxis.dtick is None  # plotly's own whole ticks: 100, 200…


def test_half_column_titles_wrap_to_fit_an_800_px_window() -> None:
    """Plotly never wraps a title: "Scores: Left ventricle dysfunction" ran off its chart in half
    a column of an 800 px window. Long titles break into lines; outside text stays inert."""
    name = "Left ventricle <b>dysfunction</b>"
    scores, labels = np.array([0.1, 0.9]), np.array([0, 1])
    for fig in (
        score_histogram(scores, 0.5, name, labels),
        roc_figure(np.array([0, 1]), np.array([0, 1]), 0.5, (0.4, 0.6), name),
    ):
        lines = fig.layout.title.text.split("<br>")
        assert len(lines) > 1 and "<b>" not in fig.layout.title.text
        shown = [line.replace("&lt;", "<").replace("&gt;", ">") for line in lines]
        assert max(map(len, shown)) <= HALF_COLUMN_TITLE
        assert " ".join(line.strip() for line in shown).endswith(name)
        assert fig.layout.margin.t > 50  # room for the second line above the plot
    assert loss_curve(METRICS).layout.title.text == "Loss"  # a short title stays one line


def test_the_loss_chart_draws_val_loss_on_the_training_loss_scale_only() -> None:
    """Training loss per step beside the batch-matched val loss per epoch, each saying what it
    is; a run logged before the batch-matched loss draws its training loss alone, never its
    whole-set val_loss (about log N at chance: another scale, a false line on this axis)."""
    train, val = loss_curve(METRICS).data
    assert list(val.x) == [2, 4] and list(val.y) == [1.8, 1.2]  # at the step each epoch ended
    assert "markers" in val.mode and len(train.x) == 2
    assert "training batch" in train.hovertemplate and "step" in train.hovertemplate
    hover = val.hovertemplate.replace("%{customdata[0]}", "2").replace("%{customdata[1]}", "3")
    hover = hover.replace("%{customdata[2]}", "2")
    assert "epoch 2" in hover and "mean of 3 val batches of 2 studies" in hover
    assert [list(row) for row in val.customdata] == [[1, 3, 2], [2, 3, 2]]
    assert "training-size batch" in loss_curve(METRICS).layout.yaxis.title.text
    old = METRICS.drop(columns=["val_loss_batch", *BATCH_LOSS])
    assert [t.name for t in loss_curve(old).data] == ["train loss (per step)"]
    only_val = METRICS[METRICS["kind"] == "val"]  # validated before any train record was logged
    assert [t.name for t in loss_curve(only_val).data] == ["val loss (per epoch)"]


def test_a_wrapped_chart_title_reads_as_words_without_its_line_breaks() -> None:
    """A screen reader reads a plotly chart by its SVG text, the title's lines run together:
    "ROC: Left ventricledysfunction"."""
    import plotly.graph_objects as go

    from dashboard.plots import apply_layout

    fig = apply_layout(go.Figure(), "ROC: Left ventricle dysfunction", wrap=20)
    title = fig.layout.title.text
    assert "<br>" in title
    assert "ventricle dysfunction" in title.replace("<br>", ""), title
