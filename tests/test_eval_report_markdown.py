"""report.md: the evaluation's sentence, models, headline and zero-shot tables in Markdown, for
a talk made in Marp or Quarto or a lab wiki (report.html is a page to read, not to paste)."""

from __future__ import annotations

import pandas as pd
from markdown_it import MarkdownIt

from model.evaluation.report_markdown import escaped, pipe_table, render_markdown

SITE = {"name": "internal", "selection": "test split", "n_total": 10, "n_evaluated": 4,
        "n_patients": 4, "n_labelled": 4}  # fmt: skip
ZEROSHOT = pd.DataFrame(
    {
        "model": ["m", "m"],
        "Label": ["LGE", "Left ventricle dilation"],
        "AUC": [0.8123, 0.9],
        "auc_lo": [0.7, 0.85],
        "auc_hi": [0.9, 0.95],
        "n": [40, 40],
        "n_positive": [12, 8],
        "brier": [0.2, 0.1],
    }
)


def _report(**changes) -> str:
    parts = {
        "title": "CMR-CLIP evaluation",
        "sentence": "m (trained on internal's train split), zero-shot: 0.812.",
        "models": [
            {
                "name": "m",
                "kind": "checkpoint",
                "trained on": "internal's train split",
                "description": "multiview video tower",
                "fingerprint": "ab",
            }
        ],  # fmt: skip
        "key_figures": pd.DataFrame(
            {"figure": ["zero-shot findings, mean AUC"], "internal": ["0.812 (0.700–0.900)"]}
        ),  # fmt: skip
        "sites": [SITE],
        "tables": {"internal": {"zeroshot": ZEROSHOT}},
    }
    return render_markdown(**(parts | changes))


def test_the_markdown_report_holds_what_a_slide_takes() -> None:
    text = _report()
    html = MarkdownIt("commonmark").enable("table").render(text)
    assert text.startswith("# CMR-CLIP evaluation\n\nm (trained on internal's train split)")
    assert "<td>internal's train split</td>" in html  # the models table says what trained on what
    assert "<td>0.812 (0.700–0.900)</td>" in html
    assert "| LGE | 0.812 | 0.70–0.90 | 40 | 12 |" in text  # AUC with its interval and counts
    zeroshot = text.split("### Zero-shot", 1)[1]
    assert zeroshot.splitlines()[2] == "| Label | AUC | AUC 95% CI | studies | with the label |"
    assert "brier" not in text  # one model: no model column; no calibration on a slide
    assert "4 studies of 4 patients evaluated (test split)" in text


def test_outside_text_stays_text() -> None:
    """A site or label named like Markdown (a link, an image, a pipe) is shown as written."""
    odd = "![x](http://evil.example/t.png) | a"
    site = SITE | {"name": odd}
    text = _report(sites=[site], tables={odd: {"zeroshot": ZEROSHOT.assign(Label=odd)}})
    html = MarkdownIt("commonmark").enable("table").render(text)
    assert "<img" not in html and "<a " not in html
    assert "evil.example" in html
    assert escaped("a|b") == "a\\|b" and escaped(float("nan")) == "–"


def test_a_pipe_table_aligns_numbers_right() -> None:
    table = pipe_table(pd.DataFrame({"Label": ["LGE"], "AUC": [0.5]}))
    assert table.splitlines()[1] == "|---|---:|"


COMPARISON = pd.DataFrame(
    {
        "model": ["m", "m"],
        "baseline": ["general CLIP", "general CLIP"],
        "Label": ["LGE", "Left ventricle dilation"],
        "setting": ["zero-shot", "zero-shot"],
        "n": [40, 40],
        "n_positive": [12, 8],
        "auc_a": [0.8123, 0.9],
        "auc_b": [0.61, 0.88],
        "difference": [0.2023, 0.02],
        "difference_lo": [0.1, -0.03],
        "difference_hi": [0.3, 0.07],
        "z": [3.9, 0.8],
        "p_value": [1.2e-7, 0.42],
        "label_key": ["lge", "lv_dilation"],
        "site": ["internal", "internal"],
        "p_holm": [2.4e-7, 0.42],
    }
)


def test_the_markdown_report_holds_the_paired_comparison() -> None:
    """A reviewer's first question of a new model, "ours against the baseline: the AUC
    difference with its 95% CI", answered in the part a slide takes, its p-values to
    significant digits (a DeLong p of 1e-7 read 0.000 to 3 decimals)."""
    text = _report(tables={"internal": {"zeroshot": ZEROSHOT, "comparison": COMPARISON}})
    section = text.split("### Model comparison", 1)[1].split("\n### ", 1)[0]
    assert "DeLong" in section  # the note says how it was computed
    header, _, first, second = section.strip().split("\n\n", 1)[1].splitlines()[:4]
    assert "AUC difference (model − baseline) 95% CI" in header and "z" not in header.split(" | ")
    assert "| general CLIP | LGE | zero-shot | 0.812 | 0.610 | 0.202 | +0.100 to +0.300 |" in first
    assert first.endswith("| 1.2e-07 | 2.4e-07 | 40 | 12 |")
    assert "| -0.030 to +0.070 | 0.42 | 0.42 |" in second
    assert "### Model comparison" not in _report()  # no baseline, no section
