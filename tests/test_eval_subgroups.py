"""Zero-shot AUCs per subgroup (sex, age band, scanner): the figures, the not-estimable rule,
unknown values, and the views the reports and the Evaluate page show."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import roc_auc_score

from model.evaluation.metrics import binary_metrics, label_scores
from model.evaluation.subgroups import (
    MEAN_LABEL,
    MIN_CLASS,
    SINGLE_VALUE,
    UNKNOWN,
    subgroup_table,
    subgroup_values,
)

N = 240


def _site(seed: int = 0) -> tuple[pd.DataFrame, np.ndarray, dict]:
    """Seeded studies (two per patient) with subgroup columns, and zero-shot scores of two
    findings, one of them with blank labels."""
    rng = np.random.default_rng(seed)
    ids = [f"s{i}" for i in range(N)]
    groups = np.array([f"p{i // 2}" for i in range(N)])
    patient_sex = rng.choice(["M", "F", "", "unknown"], size=N // 2, p=[0.5, 0.4, 0.05, 0.05])
    studies = pd.DataFrame(
        {
            "patient_key": groups,
            "sex": np.repeat(patient_sex, 2),
            "age_band": rng.choice(["40-49", "50-59", None], size=N),
            "manufacturer": "SIEMENS",
            "field_strength": rng.choice([1.5, 3.0, 0.0], size=N, p=[0.6, 0.35, 0.05]),
        },
        index=pd.Index(ids, name="study_id"),
    )
    scores = {}
    for name, blank_share in (("lge", 0.0), ("lv_dilation", 0.2)):
        labels = (rng.random(N) < 0.4).astype(float)
        score = labels + rng.normal(0, 1.0, N)
        known = rng.random(N) >= blank_share
        scores["zero-shot", name] = label_scores(ids, known, score[known], labels[known])
    scores["linear probe", "lge"] = scores["zero-shot", "lge"]  # not a zero-shot score: unused
    return studies, groups, scores


def test_each_subgroup_auc_is_roc_auc_score_on_its_rows_with_the_evaluations_interval() -> None:
    studies, groups, scores = _site()
    table = subgroup_table(studies, groups, scores, resamples=200, seed=3)
    assert set(table["label_key"]) == {MEAN_LABEL, "lge", "lv_dilation"}
    position = {study: i for i, study in enumerate(studies.index)}
    values = subgroup_values(studies, "sex")
    checked = 0
    for name in ("lge", "lv_dilation"):
        scored = scores["zero-shot", name]
        rows = np.array([position[s] for s in scored.ids])
        for value in ("M", "F"):
            mine = values[rows] == value
            row = table[(table["variable"] == "sex") & (table["value"] == value)]
            row = row.set_index("label_key").loc[name]
            expected = roc_auc_score(scored.labels[mine], scored.scores[mine])
            assert row["AUC"] == pytest.approx(expected)
            assert row["studies"] == mine.sum()
            assert row["positives"] == scored.labels[mine].sum()
            assert row["negatives"] == (scored.labels[mine] == 0).sum()
            assert row["auc_lo"] < row["AUC"] < row["auc_hi"]
            if name == "lge":  # known on every study: the evaluation's own interval, same draws
                own = binary_metrics(
                    scored.scores[mine], scored.labels[mine], 200, 3, groups=groups[rows][mine]
                )
                assert (row["auc_lo"], row["auc_hi"]) == pytest.approx(own.ci["auc"])
            checked += 1
    assert checked == 4
    mean = table[(table["variable"] == "sex") & (table["label_key"] == MEAN_LABEL)]
    for _, row in mean[mean["value"].isin(["M", "F"])].iterrows():
        findings = table[
            (table["variable"] == "sex")
            & (table["value"] == row["value"])
            & (table["label_key"] != MEAN_LABEL)
        ]
        assert row["AUC"] == pytest.approx(findings["AUC"].mean())
        assert row["auc_lo"] < row["AUC"] < row["auc_hi"]
        assert row["patients"] == pd.unique(groups[values == row["value"]]).size


def test_blank_and_unknown_values_are_one_unknown_value_counted() -> None:
    studies, groups, scores = _site()
    table = subgroup_table(studies, groups, scores, resamples=0, seed=0)
    sex = studies["sex"]
    blank = (sex.isin(["", "unknown"])).sum()
    assert blank > 0
    means = table[table["label_key"] == MEAN_LABEL].set_index(["variable", "value"])
    assert means.loc[("sex", UNKNOWN), "studies"] == blank
    assert means.loc[("age_band", UNKNOWN), "studies"] == studies["age_band"].isna().sum()
    # ingest writes field strength 0 for none; the others read as teslas
    strengths = means.loc["field_strength"]
    assert list(strengths.index) == ["1.5 T", "3 T", UNKNOWN]
    assert strengths.loc[UNKNOWN, "studies"] == (studies["field_strength"] == 0).sum()
    assert strengths["studies"].sum() == N
    # without resamples: the AUCs, no interval
    assert means.loc[("sex", "M"), "AUC"] > 0 and np.isnan(means.loc[("sex", "M"), "auc_lo"])


def test_a_subgroup_with_too_few_of_a_class_is_not_estimable_and_says_its_counts() -> None:
    studies, groups, scores = _site()
    lge = scores["zero-shot", "lge"]
    positives = np.flatnonzero(lge.labels == 1)
    studies.loc[:, "age_band"] = "40-49"
    few = [lge.ids[i] for i in positives[: MIN_CLASS - 1]]  # 4 positives, no negative
    studies.loc[few, "age_band"] = "90+"
    table = subgroup_table(studies, groups, scores, resamples=50, seed=0)
    rows = table[(table["variable"] == "age_band") & (table["value"] == "90+")]
    rows = rows.set_index("label_key")
    assert rows.loc["lge", ["positives", "negatives"]].tolist() == [MIN_CLASS - 1, 0]
    assert rows[["AUC", "auc_lo", "auc_hi"]].isna().all().all()  # never a number
    assert rows.loc["lge", "note"] == (
        f"not estimable: {MIN_CLASS - 1} positive, 0 negative (under {MIN_CLASS} of a class)"
    )
    assert rows.loc[MEAN_LABEL, "note"] == (
        f"not estimable: 0 of 2 findings estimable (each needs {MIN_CLASS} positive and "
        f"{MIN_CLASS} negative studies)"
    )
    # the other band keeps its figures: every finding is estimable there
    other = table[(table["variable"] == "age_band") & (table["value"] == "40-49")]
    assert other["AUC"].notna().all() and (other["note"] == "").all()


def test_a_variable_with_one_value_at_the_site_says_so() -> None:
    studies, groups, scores = _site()
    table = subgroup_table(studies, groups, scores, resamples=20, seed=0)
    makers = table[table["variable"] == "manufacturer"]
    assert set(makers["value"]) == {"SIEMENS"} and len(makers) == 3
    assert makers["note"].str.startswith(SINGLE_VALUE).all()
    assert makers["AUC"].notna().all()  # said, and still estimated
    assert not table[table["variable"] == "sex"]["note"].str.contains(SINGLE_VALUE).any()


def test_without_zero_shot_scores_there_are_no_rows() -> None:
    studies, groups, scores = _site()
    table = subgroup_table(
        studies, groups, {("linear probe", "lge"): scores["linear probe", "lge"]}, 10, 0
    )
    assert table.empty and "auc_lo" in table.columns


def test_the_means_of_a_variables_values_average_the_same_findings() -> None:
    """Women's mean over 6 findings beside men's over 7 compared different things: each
    value's mean is over the findings estimable in every value."""
    studies, groups, scores = _site()
    dilation = scores["zero-shot", "lv_dilation"]
    women = studies.loc[dilation.ids, "sex"].to_numpy() == "F"
    labels = np.where(women, 0.0, dilation.labels)
    labels[np.flatnonzero(women)[:2]] = 1.0  # 2 positive women: not estimable for them
    scores["zero-shot", "lv_dilation"] = label_scores(
        dilation.ids, np.ones(len(dilation.ids), bool), dilation.scores, labels
    )
    table = subgroup_table(studies, groups, scores, resamples=100, seed=0)
    sex = table[table["variable"] == "sex"].set_index(["value", "label_key"])
    for value in ("F", "M"):  # both over LGE alone
        assert sex.loc[(value, MEAN_LABEL), "AUC"] == pytest.approx(sex.loc[(value, "lge"), "AUC"])
        assert sex.loc[(value, MEAN_LABEL), "note"].endswith(
            "mean over the 1 of 2 findings estimable in every value (LGE)"
        )  # the larger value's note first says the other is compared with it
    assert np.isfinite(sex.loc[("M", "lv_dilation"), "AUC"])
    assert np.isnan(sex.loc[("F", "lv_dilation"), "AUC"])


def test_the_page_shows_a_subgroup_row_by_its_value_then_its_auc() -> None:
    """The page's column order put AUC and its interval before the value they are of."""
    from dashboard.evaluation_columns import shown_columns
    from model.evaluation.subgroup_view import finding_view, variable_view

    studies, groups, scores = _site()
    table = subgroup_table(studies, groups, scores, resamples=20, seed=0).assign(model="m")
    assert shown_columns(variable_view(table, "sex"))[:4] == ["value", "AUC", "auc_lo", "auc_hi"]
    assert shown_columns(finding_view(table, "sex"))[:3] == ["value", "Label", "AUC"]


def test_each_value_is_compared_with_the_largest_by_its_difference_and_interval() -> None:
    """A reviewer reads "0.75 for women, 0.75 for men" and asks whether they differ: each
    value's mean is given as a difference from the largest value's, with its interval."""
    studies, groups, scores = _site()
    table = subgroup_table(studies, groups, scores, resamples=200, seed=3)
    means = table[(table["variable"] == "sex") & (table["label_key"] == MEAN_LABEL)]
    means = means.set_index("value")
    values = subgroup_values(studies, "sex")
    largest = max(("M", "F"), key=lambda v: int((values == v).sum()))
    other = "F" if largest == "M" else "M"
    assert means.loc[other, "compared_with"] == largest
    assert pd.isna(means.loc[largest, "compared_with"])  # the reference itself
    assert np.isnan(means.loc[largest, "difference"])
    assert means.loc[largest, "note"].startswith("the value the others are compared with")
    expected = means.loc[other, "AUC"] - means.loc[largest, "AUC"]
    assert means.loc[other, "difference"] == pytest.approx(expected)
    low, high = means.loc[other, "difference_lo"], means.loc[other, "difference_hi"]
    assert low < expected < high and high - low < 1.0
    findings = table[table["label_key"] != MEAN_LABEL]
    assert findings["difference"].isna().all()  # means only


def test_a_value_whose_mean_is_not_estimable_gets_no_difference() -> None:
    studies, groups, scores = _site()
    studies["age_band"] = ["10-19"] * 6 + ["50-59"] * (N - 6)  # six studies: nothing estimable
    table = subgroup_table(studies, groups, scores, resamples=50, seed=3)
    means = table[(table["variable"] == "age_band") & (table["label_key"] == MEAN_LABEL)]
    young = means.set_index("value").loc["10-19"]
    assert np.isnan(young["AUC"]) and np.isnan(young["difference"])


def test_the_reports_show_each_difference_beside_what_it_is_compared_with() -> None:
    from model.evaluation.report import compact
    from model.evaluation.subgroup_view import in_report_order, variable_view

    studies, groups, scores = _site()
    table = subgroup_table(studies, groups, scores, resamples=50, seed=0).assign(model="m")
    shown = in_report_order(compact(variable_view(table, "sex")))
    columns = list(shown.columns)
    assert columns[:8] == [
        "value", "studies", "patients", "AUC", "AUC 95% CI", "compared with", "difference",
        "difference 95% CI",
    ]  # fmt: skip
    old = table.drop(columns=["compared_with", "difference", "difference_lo", "difference_hi"])
    assert "difference" not in variable_view(old, "sex").columns  # written before: still shown


def test_a_table_written_before_the_differences_is_not_explained_by_them() -> None:
    """Evaluate's Subgroups tab on an evaluation written before the differences explained a
    'Difference' column its tables did not have."""
    from model.evaluation.subgroup_view import DIFFERENCE_COLUMNS, SUBGROUP_NOTE, subgroup_note

    studies, groups, scores = _site()
    table = subgroup_table(studies, groups, scores, resamples=20, seed=0).assign(model="m")
    assert subgroup_note(table) == SUBGROUP_NOTE and "Difference:" in SUBGROUP_NOTE
    old = subgroup_note(table.drop(columns=DIFFERENCE_COLUMNS))
    assert "Difference" not in old and SUBGROUP_NOTE.startswith(old)
