"""The Zero-shot page's overview of a prompt set against the labels, and the tried finding's
name as typed.

A clinician's tried finding (left named ``custom``) or a finding named with a typo has no labels
column of its name, and the page dropped it from its finding picker without a word: their own
prompt never got an AUC. A trial named in words (``LGE inferior``) was refused as a prompt-set
error while a caption said it had been scored.
"""

from __future__ import annotations

import json

import numpy as np
import pandas as pd
import pytest

from dashboard.finding_summary import auc_summary, label_word, unlabelled_findings
from dashboard.prompt_editor import trial_key, trial_replaces
from dashboard.scoring import CI, evaluate_finding
from model.errors import DataError


def test_every_finding_gets_a_row_with_its_auc_and_interval() -> None:
    rng = np.random.default_rng(0)
    truth = pd.Series(rng.integers(0, 2, 200).astype(float))
    scores = pd.Series(truth * 0.5 + rng.random(200) * 0.5)
    result = evaluate_finding(scores, truth, 0.5)
    table = auc_summary({"lv_dilation": result, "lge": None})
    assert list(table["Finding"]) == ["Left ventricle dilation", "LGE"]
    first = table.iloc[0]
    assert first["AUC"] == pytest.approx(result.auc)
    assert (first[CI[0]], first[CI[1]]) == pytest.approx(result.auc_ci)
    assert first[CI[0]] <= first["AUC"] <= first[CI[1]]
    assert (first["Studies"], first["Positive"]) == (200, int(truth.sum()))
    assert pd.isna(table.iloc[1]["AUC"])  # one class only: kept, blank, not dropped


def test_findings_without_a_labels_column_are_named_with_the_likely_column() -> None:
    columns = ["lv_dysfunction", "lv_dilation", "lge", "normal"]
    lines = unlabelled_findings(["lv_dysfuntion", "lv_dilation", "custom", "LGE"], columns)
    assert lines == [
        "`lv_dysfuntion` (did you mean `lv_dysfunction`?)",
        "`custom`",
        "`LGE` (did you mean `lge`?)",
    ]
    assert unlabelled_findings(["lge"], columns) == []


@pytest.mark.parametrize(
    ("typed", "key"),
    [
        ("LGE inferior", "lge_inferior"),
        ("  lge ", "lge"),
        ("Épanchement péricardique", "epanchement_pericardique"),
        ("Amyloid (diffuse)", "amyloid_diffuse"),
        ("☃ 心包", "custom"),
        ("", "custom"),
        ("x" * 80, "x" * 64),
    ],
)
def test_a_tried_finding_is_named_as_a_finding_column_can_be(typed: str, key: str) -> None:
    assert trial_key(typed) == key


@pytest.mark.slow
def test_a_tried_finding_named_in_words_is_scored_and_its_auc_shown(app) -> None:
    at = app("pages/zeroshot.py")
    frame = next(d for d in at.dataframe if "AUC" in d.value.columns and "Finding" in d.value)
    assert "Left ventricle dilation" in set(frame.value["Finding"])
    config = json.loads(frame.proto.columns)
    assert config["Studies"]["type_config"]["format"] == "%,d"  # 1,000 as every page counts
    assert config["AUC"]["type_config"]["format"] == "%.3f"
    at.text_input(key="zs-try-pos").input("Late gadolinium enhancement of the inferior wall").run()
    at.text_input(key="zs-try-neg").input("No late gadolinium enhancement").run()
    assert not at.exception and not at.error
    assert any("No AUC for `custom`" in c.value for c in at.caption)  # said, not dropped
    assert not any("in place of" in c.value for c in at.caption)
    at.text_input(key="zs-try-name").input("LGE").run()
    assert not at.exception and not at.error
    assert at.selectbox(key="zs-top").value == "LGE"
    assert any("in place of the set's own “LGE” prompts" in c.value for c in at.caption)
    assert not any("No AUC for" in c.value for c in at.caption)
    at.text_input(key="zs-try-name").input("LGE inferior").run()
    assert not at.exception and not at.error  # was: "name 'LGE inferior': use up to 64 ..."
    assert at.selectbox(key="zs-top").value == "Lge inferior"


@pytest.mark.slow
def test_the_page_says_how_it_scores_in_words_with_the_formula_a_hover_away(app) -> None:
    """The page opened on "p = softmax(scale · [cos(v, positive), cos(v, negative)])" and a
    "checkpoint scale 13.4" no clinician was told the meaning of."""
    at = app("pages/zeroshot.py")
    header = at.caption[0].value
    assert "softmax" not in header and "wording" in header
    [scored] = [c for c in at.caption if c.value.startswith("Scored ")]
    assert "softmax" in scored.proto.help and "sharpness" in scored.proto.help


def test_a_top_studys_label_is_read_as_present_absent_or_not_labelled() -> None:
    labels = pd.DataFrame({"lge": [1.0, 0.0, np.nan]}, index=["s1", "s2", "s3"])
    assert label_word(labels, "lge", "s1") == "labelled present"
    assert label_word(labels, "lge", "s2") == "labelled absent"
    assert label_word(labels, "lge", "s3") == "not labelled"
    assert label_word(labels, "lge", "s9") == "not labelled"  # a study the file does not list
    assert label_word(labels, "custom", "s1") is None and label_word(None, "lge", "s1") is None


@pytest.mark.slow
def test_the_top_studies_say_what_their_labels_say(app) -> None:
    """A clinician checking whether the top-scoring studies have the finding had to read each
    report; the page knew from the labels."""
    at = app("pages/zeroshot.py")
    words = [c.value for c in at.caption if c.value.startswith(("labelled ", "not labelled"))]
    assert len(words) == len([m for m in at.metric if m.label.startswith("p(")])
    assert words and set(words) <= {"labelled present", "labelled absent", "not labelled"}


def test_a_trial_named_as_a_finding_of_the_set_is_said_to_replace_it() -> None:
    findings = pd.DataFrame(
        {"finding": ["lge", " rv_dilation ", None], "positive": "", "negative": ""}
    )
    assert trial_replaces(findings, "LGE") and trial_replaces(findings, "rv dilation")
    assert not trial_replaces(findings, "custom") and not trial_replaces(findings, "")


def test_a_trial_replaces_exactly_the_rows_it_is_said_to() -> None:
    """``with_trial`` read cells as ``str``, so a trial named ``nan`` dropped the blank rows
    (NaN, read as "nan") that ``trial_replaces`` said nothing of, hiding a row's missing name."""
    from dashboard.prompt_editor import prompt_set_from_rows, with_trial

    rows = {"finding": ["lge", np.nan], "positive": ["LGE", "Dilated LV"], "negative": ["No", "No"]}
    findings = pd.DataFrame(rows, dtype=object)  # as the table editor gives a row added with '+'
    assert not trial_replaces(findings, "nan")
    tried = with_trial(findings, "nan", "Pericardial effusion", "No effusion")
    assert len(tried) == 3  # the blank-named row is kept, and still refused by name
    with pytest.raises(DataError, match="no finding name"):
        prompt_set_from_rows(tried, pd.DataFrame(columns=["class", "prompts"]))
    assert trial_replaces(findings, " LGE ")
    assert list(with_trial(findings, "LGE", "Scar", "No scar")["positive"]) == [
        "Dilated LV",
        "Scar",
    ]


@pytest.fixture
def typo_set(data_root):
    """A saved prompt set with a finding and a diagnosis class named as no labels column is;
    removed after the test (the data root is shared)."""
    folder = data_root / "prompts"
    folder.mkdir(exist_ok=True)
    path = folder / "typos.yaml"
    path.write_text(
        "findings:\n"
        "  lv_dilaton: {positive: [Dilated left ventricle], negative: [Normal LV size]}\n"
        "  lge: {positive: [Late gadolinium enhancement], negative: [No LGE]}\n"
        "diagnoses:\n  normal: [Normal cardiac MRI]\n  dcm: [Dilated cardiomyopathy]\n"
        "  icm: [Ischaemic cardiomyopathy]\n"
    )
    yield "saved: typos"
    path.unlink()


@pytest.mark.slow
def test_a_finding_or_class_without_a_labels_column_is_named_not_dropped(app, typo_set) -> None:
    """A typo'd finding vanished from the finding picker, and a diagnosis class no study can
    be labelled with drew an empty row whose predictions counted as wrong, without a word."""
    at = app("pages/zeroshot.py")
    at.selectbox(key="zs-source").select(typo_set).run()
    assert not at.exception
    captions = [c.value for c in at.caption]
    assert any("`lv_dilaton` (did you mean `lv_dilation`?)" in c for c in captions), captions
    assert any("No labels column for `dcm`" in c for c in captions), captions


@pytest.mark.slow
def test_a_lone_misspelt_finding_gets_its_did_you_mean(app, data_root) -> None:
    """With every finding misspelt no finding had an AUC, and the did-you-mean was hidden."""
    path = data_root / "prompts" / "lone-typo.yaml"
    path.parent.mkdir(exist_ok=True)
    path.write_text(
        "findings:\n"
        "  lv_dilaton: {positive: [Dilated left ventricle], negative: [Normal LV size]}\n"
    )
    try:
        at = app("pages/zeroshot.py")
        at.selectbox(key="zs-source").select("saved: lone-typo").run()
        assert not at.exception
        captions = [c.value for c in at.caption]
        assert any("`lv_dilaton` (did you mean `lv_dilation`?)" in c for c in captions), captions
    finally:
        path.unlink()


@pytest.mark.slow
def test_score_columns_keep_their_bar_and_classes_the_cards_decimals(app, typo_set) -> None:
    """Under a short finding name (``LGE``) the column was too narrow for its bar, and the
    classes' probabilities showed 4 decimals beside the findings' and cards' 3."""
    at = app("pages/zeroshot.py")
    at.selectbox(key="zs-source").select(typo_set).run()
    table = next(d for d in at.dataframe if "site" in d.value.columns)
    config = json.loads(table.proto.columns)
    assert config["LGE"]["type_config"]["type"] == "progress"
    assert config["LGE"]["width"] == "medium"
    assert config["dx: Normal"]["type_config"]["format"] == "%.3f"


def test_a_bad_uploaded_set_says_how_to_get_back_to_a_working_one() -> None:
    """A one-sided upload emptied the page below an error that said only what was wrong."""
    import io

    from dashboard.prompt_editor import load_prompt_set
    from model.prompts import DEFAULT_PROMPTS

    upload = io.BytesIO(b"findings:\n  lge:\n    positive: [Late gadolinium enhancement]\n")
    upload.name = "onesided.yaml"
    with pytest.raises(DataError, match=r"onesided.yaml: findings.lge: .*remove it \(×\)"):
        load_prompt_set(DEFAULT_PROMPTS, upload)


@pytest.mark.slow
def test_a_trial_the_set_refuses_is_not_said_to_be_scored(app) -> None:
    """Identical wordings drew "Scored as “Custom”: its top-scoring studies are shown below"
    over an error saying the set could not be scored and the last valid set's studies."""
    at = app("pages/zeroshot.py")
    at.text_input(key="zs-try-pos").input("Dilated left ventricle").run()
    at.text_input(key="zs-try-neg").input("Dilated left ventricle").run()
    assert len(at.error) == 1
    assert not any(c.value.startswith("Scored as") for c in at.caption)
    at.text_input(key="zs-try-neg").input("Normal left ventricular size").run()
    assert not at.error
    assert any(c.value.startswith("Scored as “Custom”") for c in at.caption)


def test_the_cards_can_show_the_models_likeliest_mistakes() -> None:
    from dashboard.finding_summary import FALSE_POSITIVES, MISSED, TOP, case_views, shown_cases

    probs = pd.Series([0.9, 0.8, 0.7, 0.2, 0.1], index=["a", "b", "c", "d", "e"])
    labels = pd.DataFrame({"lge": [1, 0, np.nan, 1, 0]}, index=["a", "b", "c", "d", "e"])
    assert case_views(labels, "lge") == [TOP, FALSE_POSITIVES, MISSED]
    assert case_views(labels, "custom") == [TOP] and case_views(None, "lge") == [TOP]
    assert list(shown_cases(probs, labels, "lge", TOP, count=2).index) == ["a", "b"]
    assert list(shown_cases(probs, labels, "lge", FALSE_POSITIVES).index) == ["b", "e"]
    assert list(shown_cases(probs, labels, "lge", MISSED).index) == ["d", "a"]  # lowest first
    assert list(shown_cases(probs, labels, "custom", MISSED, count=1).index) == ["a"]


def test_a_diagnosis_card_reads_one_hot_labels_as_the_confusion_matrix_does() -> None:
    """A study labelled NICM with its HCM cell blank is counted as not HCM by the confusion
    matrix, and its HCM card said "not labelled" and left it out of the likeliest mistakes."""
    from dashboard.finding_summary import FALSE_POSITIVES, MISSED, choice_classes, shown_cases
    from dashboard.scoring import Scores, diagnosis_confusion

    ids = ["s1", "s2", "s3", "s4"]
    labels = pd.DataFrame(
        {"nicm": [1.0, np.nan, 0.0, np.nan], "hcm": [np.nan, 1.0, 0.0, np.nan]}, index=ids
    )
    probs = pd.DataFrame({"nicm": [0.1, 0.3, 0.5, 0.5], "hcm": [0.9, 0.7, 0.5, 0.5]}, index=ids)
    scores = Scores(findings=pd.DataFrame(index=ids), diagnoses=probs)
    classes = choice_classes(scores, "dx: HCM")
    assert classes == ["nicm", "hcm"] and choice_classes(scores, "LGE") == []
    assert label_word(labels, "hcm", "s1", classes) == "labelled absent"
    assert label_word(labels, "hcm", "s2", classes) == "labelled present"
    assert label_word(labels, "hcm", "s3", classes) == "labelled absent"  # as written
    assert label_word(labels, "hcm", "s4", classes) == "not labelled"
    assert list(
        shown_cases(probs["hcm"], labels, "hcm", FALSE_POSITIVES, classes=classes).index
    ) == [
        "s1",
        "s3",
    ]
    assert list(shown_cases(probs["nicm"], labels, "nicm", MISSED, classes=classes).index) == ["s1"]
    confusion = diagnosis_confusion(probs, labels)
    assert confusion.matrix[0, 1] == 1  # s1: labelled NICM, so counted as not HCM


@pytest.mark.slow
def test_the_page_shows_the_highest_scoring_studies_labelled_absent(app) -> None:
    at = app("pages/zeroshot.py")
    at.segmented_control(key="zs-top-view").set_value("Highest scores labelled absent").run()
    assert not at.exception
    words = [c.value for c in at.caption if c.value.startswith(("labelled ", "not labelled"))]
    assert words and set(words) == {"labelled absent"}
    at.text_input(key="zs-try-pos").input("Amyloid with diffuse subendocardial LGE").run()
    at.text_input(key="zs-try-neg").input("No late gadolinium enhancement").run()
    assert not at.exception  # a tried finding has no labels: its highest scores only
    assert at.selectbox(key="zs-top").value == "Custom"
    assert at.segmented_control(key="zs-top-view").options == ["Highest scores"]
    assert any(m.label == "p(Custom)" for m in at.metric)


@pytest.mark.slow
def test_the_auc_table_says_its_resamples_beside_the_evaluate_pages(app) -> None:
    """The table's CIs drew 300 patient resamples and the Evaluate page's 1,000: the same AUC
    over the test split came with other bounds there, and nothing said why."""
    at = app("pages/zeroshot.py")
    assert not at.exception
    (caption,) = [c.value for c in at.caption if c.value.startswith("Each finding's AUC")]
    assert "95% CIs from 300 resamples of patients (the Evaluate page draws 1,000" in caption


def test_the_pages_interval_is_the_evaluations_given_as_many_resamples() -> None:
    """What the note says: the pages draw the evaluation's resamples, only fewer of them."""
    from model.evaluation.metrics import RESAMPLES, binary_metrics

    rng = np.random.default_rng(1)
    truth = pd.Series(rng.integers(0, 2, 120).astype(float))
    scores = pd.Series(truth * 0.3 + rng.random(120))
    patients = pd.Series([f"p{i // 2}" for i in range(120)])
    page = evaluate_finding(scores, truth, 0.5, resamples=RESAMPLES, patients=patients)
    p, y = scores.to_numpy(), truth.astype(int).to_numpy()
    groups = patients.to_numpy(dtype=str)
    suite = binary_metrics(p, y, resamples=RESAMPLES, seed=0, groups=groups)
    assert page.auc_ci == pytest.approx(suite.ci["auc"], abs=0)
    fewer = evaluate_finding(scores, truth, 0.5, patients=patients)
    assert fewer.auc == page.auc and fewer.auc_ci != page.auc_ci
