"""The evaluation's headline as one quotable sentence (``headline_sentence``): what a PI pastes
onto a slide, read from the summary as the headline table is."""

from __future__ import annotations

import numpy as np

from model.evaluation.headline import figure_text
from model.evaluation.headline_sentence import CI, headline_sentence, site_words

ZERO_SHOT = "zero-shot findings, mean AUC"
PROBE = "linear probe findings, mean AUC (cross-validated)"


def _result(model: str, site: str, auc: float = 0.8) -> dict:
    return {
        "model": model,
        "site": site,
        "zeroshot": [
            {"label_key": "lge", "auc": auc},
            {"label_key": "rv_dilation", "auc": auc},
            {"label_key": "hcm", "auc": 0.1},  # a diagnosis class's row: not a finding
        ],
        "probe": [
            {"label_key": "lge", "setting": "linear probe", "auc": 0.9},
            {"label_key": "rv_dilation", "setting": "linear probe", "auc": 0.9},
        ],
        "mean_intervals": {
            ZERO_SHOT: {"labels": ["lge", "rv_dilation"], "auc_lo": auc - 0.05, "auc_hi": 0.85},
            PROBE: {"labels": ["lge", "rv_dilation"], "auc_lo": 0.88, "auc_hi": 0.93},
        },
    }


def _summary(results: list[dict], models: list[str]) -> dict:
    sites = [
        {"name": "internal", "n_evaluated": 1560, "n_patients": 1500, "selection": "test split"},
        {"name": "external", "n_evaluated": 300, "n_patients": 282, "selection": "all studies"},
    ]
    return {"results": results, "sites": sites, "models": [{"name": m} for m in models]}


def test_the_sentence_quotes_each_sites_mean_auc_with_its_interval_and_what_was_evaluated():
    """The page and the report had a table of a dozen figures and no sentence to quote: a talk
    needs the zero-shot AUC with its CI and the studies behind it, per site."""
    summary = _summary(
        [_result("m/best", "internal"), _result("m/best", "external", 0.7)], ["m/best"]
    )
    assert headline_sentence(summary) == (
        "m/best, zero-shot (no labels in training): mean AUC over 2 findings "
        "0.800 (95% CI 0.750–0.850) at internal (1,560 studies of 1,500 patients, test split) "
        "and 0.700 (95% CI 0.650–0.850) at external (300 studies of 282 patients). "
        "With labels, a cross-validated linear probe on its embeddings reaches "
        "0.900 (95% CI 0.880–0.930) and 0.900 (95% CI 0.880–0.930)."
    )


def test_with_several_models_the_sentence_is_the_main_models():
    """An evaluation compared with a baseline has ``model · site`` columns: the sentence quotes
    the evaluated (first) model, never the baseline's figure."""
    results = [_result("main", "internal", 0.8), _result("base", "internal", 0.6)]
    sentence = headline_sentence(_summary(results, ["main", "base"]))
    assert sentence.startswith("main, zero-shot")
    lead, compared = sentence.split(" Compared on the same studies, zero-shot: ")
    assert "0.800" in lead and "0.600" not in lead  # the baseline's only where it is named
    assert compared.startswith("base 0.600")


def test_a_figure_without_its_interval_is_quoted_alone_and_no_figure_gives_no_sentence():
    old = _result("m", "internal")
    del old["mean_intervals"]  # an evaluation written before the means' intervals
    old["probe"] = []
    assert headline_sentence(_summary([old], ["m"])) == (
        "m, zero-shot (no labels in training): mean AUC over 2 findings 0.800 at internal "
        "(1,560 studies of 1,500 patients, test split)."
    )
    assert headline_sentence({"results": []}) == ""
    assert headline_sentence({}) == ""


def test_cells_and_sites_in_words():
    assert figure_text(0.7461, 0.709, 0.7824, CI) == "0.746 (95% CI 0.709–0.782)"
    assert figure_text(0.746, 0.709, 0.782) == "0.746 (0.709–0.782)"  # the headline table's
    assert figure_text(0.746, np.nan, np.nan, CI) == "0.746"
    assert figure_text(np.nan, 0.7, 0.8, CI) is None
    assert site_words({"name": "external", "n_evaluated": 300, "selection": "all studies"}) == (
        "external (300 studies)"
    )
    assert site_words({"name": "x"}) == "x"


def test_a_site_with_unlabelled_studies_says_how_many_the_aucs_stand_on():
    """300 external studies were evaluated and 15 had no label: the sentence said "300 studies"
    where the site's line and counts.csv said 285 with labels, and a reader quoted the larger."""
    site = {"name": "external", "n_evaluated": 300, "n_patients": 282, "n_labelled": 285}
    assert site_words({**site, "selection": "all studies"}) == (
        "external (300 studies of 282 patients, 285 with labels)"
    )
    assert site_words({**site, "n_labelled": 300}) == "external (300 studies of 282 patients)"
    assert site_words({**site, "n_labelled": None}) == "external (300 studies of 282 patients)"


def test_the_report_opens_on_the_sentence_and_the_headline_before_its_problems():
    """report.html opened on a red list of problems, label keys and all ('lv_hypertrophy'),
    before any result: the first thing an audience saw. It now leads with the sentence, then
    the headline, then the problems with the labels named as the tables name them."""
    import pandas as pd

    from model.evaluation.report import render_html

    figures = pd.DataFrame({"figure": [ZERO_SHOT], "internal": ["0.800"]})
    problem = "site internal: few-shot of 'lv_hypertrophy' skipped for k = 32"
    page = render_html("t", {}, {}, [], [], [problem], figures, None, "m, zero-shot: 0.800.")
    body = page.split("<body>", 1)[1]
    assert body.index("m, zero-shot: 0.800.") < body.index("<h2>Headline</h2>")
    assert body.index("<h2>Headline</h2>") < body.index("<h2>Problems</h2>")
    assert "few-shot of Left ventricle hypertrophy skipped" in body
    assert "'lv_hypertrophy'" not in body


def test_the_reports_intervals_stay_on_one_line():
    """report.html broke a headline interval after its dash in a narrow column ("0.558–" over
    "0.680)") when several models were compared. Each interval is kept on one line, and its
    text is as written (a figure copied onto a slide holds no invisible character)."""
    import pandas as pd

    from model.evaluation.report import render_html

    figures = pd.DataFrame({"figure": [ZERO_SHOT], "internal": ["0.622 (0.558–0.680)"]})
    page = render_html("t", {}, {}, [], [], [], figures)
    assert "0.622 (<span class='nb'>0.558–0.680</span>)" in page
    assert ".nb{white-space:nowrap}" in page


def test_what_each_model_trained_on_is_told_against_the_sites():
    """The report's models table said a checkpoint's tower and epoch, not what it trained on:
    whether a site's figures are held-out data was the reader's guess."""
    from model.evaluation.outputs import trained_on_words

    sites = [
        {"name": "internal", "fingerprint": "cc9d1b2ffbf0baa6", "selection": "test split"},
        {"name": "external", "fingerprint": "20f311cc14a5a87e", "selection": "all studies"},
    ]
    assert trained_on_words("cc9d1b2ffbf0baa6", sites) == "internal's train split"
    assert trained_on_words("20f311cc14a5a87e", sites) == (
        "external, the evaluated studies included"
    )
    assert trained_on_words("0123456789abcdef", sites) == "another dataset (01234567)"
    assert trained_on_words("", sites) == "–"
    summary = _summary([_result("m", "internal")], ["m"])
    summary["models"][0]["trained on"] = "internal's train split"
    assert headline_sentence(summary).startswith(
        "m (trained on internal's train split), zero-shot (no labels in training):"
    )


def test_compared_models_follow_once_per_set_of_weights():
    """With baselines compared, the sentence said the main model's figures only: a talk's
    'against the baseline' was typed by hand. Each other set of weights follows once (a model
    holding the main one's weights, or a second name for a baseline's, would repeat figures)."""
    results = [_result(name, "internal", auc) for name, auc in
               (("main", 0.8), ("base", 0.6), ("base again", 0.6), ("main again", 0.8))]  # fmt: skip
    summary = _summary(results, [])
    summary["models"] = [
        {"name": "main", "fingerprint": "a"},
        {"name": "base", "fingerprint": "b"},
        {"name": "base again", "fingerprint": "b"},
        {"name": "main again", "fingerprint": "a"},
    ]
    sentence = headline_sentence(summary)
    assert sentence.endswith(
        " Compared on the same studies, zero-shot: base 0.600 (95% CI 0.550–0.850)."
    )
    assert "base again" not in sentence and "main again" not in sentence


def test_the_reports_names_read_left_and_figures_right():
    """Every report cell was right-aligned: a column of label names read ragged on a slide."""
    import pandas as pd

    from model.evaluation.report import render_html

    table = pd.DataFrame({"Label": ["LGE"], "AUC": [0.8], "auc_lo": [0.7], "auc_hi": [0.9]})
    page = render_html("t", {"internal": {"zeroshot": table}}, {}, [{"name": "internal"}], [], [])
    assert "<td>LGE</td>" in page
    assert "<td class='num'>0.800</td>" in page
    assert "<td class='num'><span class='nb'>0.70–0.90</span></td>" in page
    assert "td.num{text-align:right}" in page
    comparison = pd.DataFrame(
        {"Label": ["LGE"], "baseline": ["b"], "auc_a": [0.8], "auc_b": [0.81],
         "difference": [-0.01], "difference_lo": [-0.05], "difference_hi": [0.03]}
    )  # fmt: skip
    page = render_html(
        "t", {"internal": {"comparison": comparison}}, {}, [{"name": "internal"}], [], []
    )
    assert "<td class='num'><span class='nb'>-0.050 to +0.030</span></td>" in page
