"""report.html printed in a real browser (Chromium's print layout, as ``page.pdf`` uses it): a
wide table made Chromium shrink every page to about half size and still cut the retrieval
table's last columns off at the paper's edge; figures and table rows may not split across pages.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pandas as pd
import pytest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from test_browser_e2e import CHROMIUM, LAUNCH_ARGS

from model.evaluation.report import render_html

pytestmark = [
    pytest.mark.browser,
    pytest.mark.skipif(
        not CHROMIUM.exists(), reason="/usr/bin/chromium missing (apt-get install chromium)"
    ),
]
SITE = {"name": "internal", "selection": "test split", "n_total": 10, "n_evaluated": 4,
        "n_patients": 4, "n_labelled": 4}  # fmt: skip
# a retrieval table as the evaluation writes it: many figures, each with its interval, and
# headers with no space to break at
METRICS = ("R@1", "R@5", "R@10", "median_rank", "label_precision@10", "label_precision@10_ceiling")
RETRIEVAL = pd.DataFrame(
    {"model": ["demo-cpu-small/best"], "direction": ["report_to_study"], "n": [156]}
    | {m: [0.25] for m in METRICS}
    | {f"{m}_lo": [0.2] for m in METRICS}
    | {f"{m}_hi": [0.3] for m in METRICS}
    | {"label_precision@10_chance": [0.1], "label_precision_queries": [150]}
)
# the printable width in CSS pixels of A4 and Letter at Chromium's default 0.4 in margins
PAPER = {"A4": 718, "Letter": 739}
FACTS = """() => ({
    width: document.documentElement.clientWidth,
    right: Math.max(...[...document.querySelectorAll("table, figure, img")]
        .map((e) => e.getBoundingClientRect().right)),
    breaks: [...document.querySelectorAll("tr, figure")]
        .map((e) => getComputedStyle(e).breakInside),
    numbers: [...document.querySelectorAll("td.num")].map((e) => getComputedStyle(e).whiteSpace),
    scrolled: document.documentElement.scrollWidth - document.documentElement.clientWidth,
})"""


def _facts(tmp_path: Path, width: int, media: str) -> dict:
    """``FACTS`` of a report holding a wide retrieval table and a figure, at ``width``."""
    from PIL import Image
    from playwright.sync_api import sync_playwright

    plot = tmp_path / "internal" / "plots" / "roc_m.png"
    plot.parent.mkdir(parents=True, exist_ok=True)
    Image.new("L", (600, 550)).save(plot)
    page_html = render_html(
        "CMR-CLIP evaluation", {"internal": {"retrieval": RETRIEVAL}}, {"internal": [plot]},
        [SITE], [{"name": "m"}], [],
    )  # fmt: skip
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 1000})
            page.set_content(page_html)
            page.emulate_media(media=media)
            return page.evaluate(FACTS)
        finally:
            browser.close()


@pytest.mark.parametrize("paper", list(PAPER))
def test_the_printed_report_fits_the_paper_and_keeps_rows_and_figures_whole(
    paper: str, tmp_path: Path
) -> None:
    facts = _facts(tmp_path, PAPER[paper], "print")
    assert facts["right"] <= facts["width"], facts
    assert facts["breaks"] and set(facts["breaks"]) == {"avoid"}, facts
    # a figure is never broken over two lines: "0.019" printed as "0.0" over "19"
    assert facts["numbers"] and set(facts["numbers"]) == {"nowrap"}, facts


def test_the_report_on_a_zoomed_screen_does_not_scroll_sideways(tmp_path: Path) -> None:
    """1280 px at 150% zoom is 853 CSS px: a table too wide for it scrolls on its own, the
    page does not, and its figures stay on one line."""
    facts = _facts(tmp_path, 853, "screen")
    assert facts["scrolled"] == 0, facts
    assert set(facts["numbers"]) == {"nowrap"}, facts


# each line break inside a table cell that falls inside a word or a figure: "hypertro|phy"
BREAKS_INSIDE_WORDS = """() => {
    const inside = [];
    for (const cell of document.querySelectorAll("th, td")) {
        const walker = document.createTreeWalker(cell, NodeFilter.SHOW_TEXT);
        const chars = [];
        for (let node = walker.nextNode(); node; node = walker.nextNode()) {
            for (let k = 0; k < node.data.length; k++) {
                const range = document.createRange();
                range.setStart(node, k);
                range.setEnd(node, k + 1);
                const rect = range.getClientRects()[0];
                chars.push([node.data[k], rect ? rect.top : null]);
            }
        }
        for (let k = 1; k < chars.length; k++) {
            const [before, top] = chars[k - 1], [after, next] = chars[k];
            const wrapped = top !== null && next !== null && next > top + 2;
            if (wrapped && !" -_–".includes(before) && after !== " ") {
                inside.push(chars.slice(Math.max(0, k - 8), k + 8).map((c) => c[0]).join(""));
            }
        }
    }
    return inside;
}"""
COMPARISON = pd.DataFrame(
    [
        {"model": "demo-cpu-small/best", "baseline": "demo-static/best", "Label": label,
         "setting": "train-split probe", "auc_a": 0.81, "auc_b": 0.79, "difference": 0.02,
         "difference_lo": -0.01, "difference_hi": 0.05, "p_value": 0.2, "p_holm": 0.6,
         "label_key": key, "site": "internal"}
        for key, label in (("lv_hypertrophy", "Left ventricle hypertrophy"),
                           ("pericardial_effusion", "Pericardial effusion"))
    ]
)  # fmt: skip


def _laid_out(page_html: str, width: int, script: str) -> object:
    """``script``'s answer on ``page_html`` laid out for print at ``width`` CSS pixels."""
    from playwright.sync_api import sync_playwright

    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=LAUNCH_ARGS)
        try:
            page = browser.new_page(viewport={"width": width, "height": 1000})
            page.set_content(page_html)
            page.emulate_media(media="print")
            return page.evaluate(script)
        finally:
            browser.close()


@pytest.mark.parametrize("paper", list(PAPER))
def test_printed_table_lines_break_between_words_never_inside_one(paper: str) -> None:
    """Any cell could break anywhere, to keep the retrieval table on the page: narrow printed
    columns read "median_r" over "ank", "p_val" over "ue", "hypertro" over "phy". A line breaks
    at a space, a hyphen or an underscore, and the table still fits the paper."""
    page_html = render_html(
        "CMR-CLIP evaluation", {"internal": {"retrieval": RETRIEVAL, "comparison": COMPARISON}},
        {}, [SITE], [{"name": "m"}], [],
    )  # fmt: skip
    assert _laid_out(page_html, PAPER[paper], BREAKS_INSIDE_WORDS) == []
    fits = "() => document.documentElement.scrollWidth <= document.documentElement.clientWidth"
    assert _laid_out(page_html, PAPER[paper], fits)


# the printable height in CSS pixels of A4 and Letter at Chromium's default 0.4 in margins
PAPER_HEIGHT = {"A4": 1045, "Letter": 979}
FIGURES = """() => [...document.querySelectorAll("figure")].map((f) => ({
    height: f.getBoundingClientRect().height,
    width: f.querySelector("img").getBoundingClientRect().width,
    drawn: f.querySelector("img").naturalWidth,
}))"""


@pytest.mark.parametrize("paper", list(PAPER))
def test_a_comparison_of_two_models_prints_a_page_per_figure_at_full_size(
    paper: str, tmp_path: Path
) -> None:
    """Two compared models on three settings and 14 labels were one figure four pages tall,
    which the print shrank to a quarter of its width."""
    from test_eval_plots import comparison_rows

    from model.evaluation.plots import plot_comparison
    from model.schema import DIAGNOSES, FINDINGS

    table = comparison_rows(2, (*FINDINGS, *DIAGNOSES))
    plots = plot_comparison(table, "ours · internal", tmp_path / "internal" / "plots" / "c.png")
    page_html = render_html(
        "CMR-CLIP evaluation", {}, {"internal": plots}, [SITE], [{"name": "m"}], []
    )
    figures = _laid_out(page_html, PAPER[paper], FIGURES)
    assert len(figures) == len(plots) > 1
    for figure in figures:  # each with its caption on one page, and printed at its full width
        assert figure["height"] <= PAPER_HEIGHT[paper], figure
        assert figure["width"] >= 0.95 * min(figure["drawn"], PAPER[paper]), figure
