"""One model at one site (fake encoder): every table, blank labels, partial problems, outputs."""

from __future__ import annotations

import errno
import json
import os
import tempfile
from dataclasses import asdict, replace
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn.metrics import accuracy_score, f1_score

from dashboard.evaluation_view import read_outputs
from model.errors import DataError
from model.evaluation.compare import delong_test
from model.evaluation.fewshot import FewShotConfig
from model.evaluation.headline import headline
from model.evaluation.inputs import load_development, load_labels, load_site
from model.evaluation.label_checks import usable_findings
from model.evaluation.metrics import CALIBRATION_BINS, binary_metrics, bootstrap_counts
from model.evaluation.outputs import write_outputs
from model.evaluation.probes import ProbeConfig, one_vs_rest
from model.evaluation.report import compact, render_html
from model.evaluation.retrieval import bidirectional_ranks, label_precision
from model.evaluation.retrieval_intervals import precision_intervals, rank_intervals
from model.evaluation.site_probes import fit_train_split
from model.evaluation.suite import SuiteConfig, evaluate_site
from model.evaluation.tables import paper_format, write_tables
from model.prompts import PromptSet
from model.schema import DIAGNOSES
from tests.eval_fakes import PROMPTS, FakeDataset, fake_encoder, fake_prompts

CONFIG = SuiteConfig(
    bootstrap=50, fewshot=FewShotConfig(shots=(1, 4), episodes=10), probe=ProbeConfig(folds=3)
)


@pytest.fixture()
def site(tmp_path: Path):
    dataset = FakeDataset(tmp_path, n=80, seed=0)
    labels = dataset.labels()
    labels.iloc[:5, labels.columns.get_loc("lge")] = np.nan  # unknown values
    return load_site(dataset, "internal", True, labels)


def test_every_table_is_filled_and_blanks_are_excluded_and_counted(site) -> None:
    result = evaluate_site(fake_encoder(), site, fake_prompts(), CONFIG)
    counts = result.counts.set_index("label_key")
    assert counts.loc["lge", "n_unknown"] == 5 and counts.loc["lge", "n"] == 75
    known = site.labels["lge"].dropna()
    assert counts.loc["lge", "prevalence"] == pytest.approx((known == 1).mean())
    zeroshot = result.zeroshot.set_index("label_key")
    assert zeroshot.loc["lge", "n"] == 75 and zeroshot.loc["lv_dilation", "n"] == 80
    assert (zeroshot.loc[["lge", "lv_dilation"], "auc"] > 0.9).all()
    assert set(result.roc) == {"lge", "lv_dilation"}
    assert result.diagnosis["zero-shot"]["accuracy"] > 0.5  # chance is 1/3
    assert result.diagnosis["linear probe"]["accuracy"] > 0.8
    assert set(result.fewshot["k"]) == {1, 4}
    methods = result.fewshot.groupby("label")["method"].agg(set)
    assert methods.to_dict() == {
        name: {"prototype", "logistic", "prompted"} for name in methods.index
    }
    assert set(result.probe["label_key"]) >= {"lge", "lv_dilation", "normal"}
    retrieval = result.retrieval.set_index("direction")
    precision = retrieval.loc["report_to_study", "label_precision@10"]
    assert precision > 0.8
    assert retrieval.loc["report_to_study", "label_precision@10_chance"] < precision
    assert precision <= retrieval.loc["report_to_study", "label_precision@10_ceiling"] <= 1.0
    assert result.problems == []


def test_one_class_column_and_missing_prompts_are_reported_not_fatal(tmp_path: Path) -> None:
    dataset = FakeDataset(tmp_path, n=40, seed=1)
    labels = dataset.labels()
    labels["pericardial_effusion"] = 0.0
    labels["rv_dilation"] = labels["lge"]
    site = load_site(dataset, "internal", True, labels)
    result = evaluate_site(fake_encoder(), site, fake_prompts(), CONFIG)
    text = " | ".join(result.problems)
    assert "'pericardial_effusion' has one class only" in text
    assert "no prompts for label 'rv_dilation'" in text
    assert "rv_dilation" not in set(result.zeroshot["label_key"])
    assert "rv_dilation" in set(result.probe["label_key"])  # probes need no prompts


def test_a_label_without_prompts_names_the_prompted_name_it_likely_misspells(
    tmp_path: Path,
) -> None:
    """``evaluate`` says "did you mean" as ``zeroshot`` does, by the same rule (closest_name)."""
    dataset = FakeDataset(tmp_path, n=40, seed=1)
    labels = dataset.labels().rename(columns={"lv_dilation": "lv_dilaton"})
    prompts = {**PROMPTS, "diagnoses": {**PROMPTS["diagnoses"], "NICM": ["dilated"]}}
    del prompts["diagnoses"]["nicm"]
    site = load_site(dataset, "internal", True, labels)
    result = evaluate_site(fake_encoder(), site, PromptSet.from_dict(prompts), CONFIG)
    text = " | ".join(result.problems)
    assert (
        "no prompts for label 'lv_dilaton' in the prompt set (did you mean 'lv_dilation'?)" in text
    )
    assert "no prompts for diagnosis 'nicm' in the prompt set (did you mean 'NICM'?)" in text
    assert "no prompts for label 'lge'" not in text


def test_labels_left_out_for_want_of_studies_are_reported(tmp_path: Path) -> None:
    dataset = FakeDataset(tmp_path, n=40, seed=1)
    labels = dataset.labels()
    labels["lv_hypertrophy"] = np.nan  # a finding no study of this site has a value for
    site = load_site(dataset, "internal", True, labels)
    config = SuiteConfig(
        bootstrap=0, fewshot=FewShotConfig(shots=(1, 4, 32), episodes=4), probe=ProbeConfig(folds=3)
    )
    result = evaluate_site(fake_encoder(), site, fake_prompts(), config)
    text = " | ".join(result.problems)
    assert "label column 'lv_hypertrophy' has no known value among the 40 studies" in text
    positives = int(labels["lge"].sum())
    assert (
        f"few-shot of 'lge' skipped for k = 32: a k-shot episode needs more than k studies of "
        f"each class ({positives} positive, {40 - positives} negative)" in text
    )
    assert set(result.fewshot.loc[result.fewshot["label"] == "lge", "k"]) == {1, 4}


def test_a_finding_with_one_positive_patient_gets_no_cross_validated_probe(tmp_path) -> None:
    """A hospital's small test split: one positive study. Its fold trains on negatives alone and
    ranks it last, so the probe's AUC is low by construction; it is skipped and said why."""
    dataset = FakeDataset(tmp_path, n=40, seed=1)
    labels = dataset.labels()
    labels["lge"] = 0.0
    labels.iloc[3, labels.columns.get_loc("lge")] = 1.0
    site = load_site(dataset, "internal", True, labels)
    result = evaluate_site(fake_encoder(), site, fake_prompts(), replace(CONFIG, bootstrap=0))
    text = " | ".join(result.problems)
    assert "linear probe of 'lge' skipped" in text and "(1 positive)" in text
    probe = result.probe[result.probe["setting"] == "linear probe"]
    assert "lge" not in set(probe["label_key"]) and "lv_dilation" in set(probe["label_key"])
    assert "lge" in set(result.zeroshot["label_key"])  # zero-shot needs no fit: still scored


def test_few_shot_keeps_a_support_patient_s_other_studies_out_of_the_queries(
    tmp_path: Path,
) -> None:
    """Four LGE studies of two patients: a 3-shot support always takes both patients, so no
    positive query from another patient is left and k = 3 is skipped; a 2-shot support of both
    leaves none either, so k = 2 keeps only the episodes drawing one patient, and says so."""
    dataset = FakeDataset(tmp_path, n=40, seed=1)
    labels = dataset.labels()
    labels["lge"] = 0.0
    labels.iloc[[0, 1, 2, 3], labels.columns.get_loc("lge")] = 1.0  # patients p1-0 and p1-1
    site = load_site(dataset, "internal", True, labels)
    config = replace(CONFIG, bootstrap=0, fewshot=FewShotConfig(shots=(1, 2, 3), episodes=30))
    result = evaluate_site(fake_encoder(), site, fake_prompts(), config)
    lge = result.fewshot[result.fewshot["label"] == "lge"]
    assert set(lge["k"]) == {1, 2}
    assert set(lge.loc[lge["k"] == 1, "episodes"]) == {30}
    [kept] = set(lge.loc[lge["k"] == 2, "episodes"])
    assert 0 < kept < 30
    text = " | ".join(result.problems)
    assert "few-shot of 'lge' skipped for k = 3" in text and "outside its support" in text
    assert f"few-shot of 'lge' at k = 2 over {kept} of 30 episodes" in text


def test_a_finding_with_few_studies_of_a_class_is_flagged_not_dropped(tmp_path: Path) -> None:
    """A small export: the AUC is still computed, and the problems say it rests on few studies."""
    dataset = FakeDataset(tmp_path, n=40, seed=1)
    labels = dataset.labels()
    labels["lge"] = 0.0
    labels.iloc[[1, 2, 5], labels.columns.get_loc("lge")] = 1.0
    site = load_site(dataset, "internal", True, labels)
    result = evaluate_site(fake_encoder(), site, fake_prompts(), replace(CONFIG, bootstrap=0))
    flagged = [p for p in result.problems if "too few" in p]
    assert len(flagged) == 1 and "'lge'" in flagged[0]
    assert "3 positive studies and 37 negative studies" in flagged[0]
    assert "lge" in set(result.zeroshot["label_key"])


def test_a_diagnosis_class_of_one_patient_is_left_out_of_the_cross_validated_probe(
    tmp_path: Path,
) -> None:
    """A small export with one HCM patient (two studies): the fold holding that patient trains
    without HCM, so its studies would be misclassified by construction and its one-vs-rest AUC
    low. The class is left out of the cross-validated probe and said; zero-shot still has it."""
    dataset = FakeDataset(tmp_path, n=40, seed=1)
    labels = dataset.labels()
    labels["hcm"] = 0.0
    one_patient = dataset.studies.index[dataset.studies["patient_key"] == "p1-0"]
    labels.iloc[one_patient, labels.columns.get_indexer(["normal", "nicm", "icm"])] = 0.0
    labels.iloc[one_patient, labels.columns.get_loc("hcm")] = 1.0
    prompts = fake_prompts().to_dict()
    prompts["diagnoses"]["hcm"] = ["hypertrophy"]
    site = load_site(dataset, "internal", True, labels)
    config = replace(CONFIG, bootstrap=0)
    result = evaluate_site(fake_encoder(), site, PromptSet.from_dict(prompts), config)
    left_out = [p for p in result.problems if "diagnosis probe leaves out 'hcm'" in p]
    assert len(left_out) == 1 and "(2 studies of 1 patient)" in left_out[0]
    assert any("diagnosis 'hcm' has 2 studies: too few" in p for p in result.problems)
    probe = result.probe[(result.probe["setting"] == "linear probe")]
    assert "hcm" not in set(probe["label_key"]) and "nicm" in set(probe["label_key"])
    assert result.diagnosis["linear probe"]["n"] == 38
    assert result.diagnosis["zero-shot"]["n"] == 40
    assert "hcm" in set(result.zeroshot["label_key"])
    assert len(result.diagnosis_scores["linear probe"].ids) == 38


def test_bootstrap_resamples_of_one_class_are_left_out_and_counted(tmp_path: Path) -> None:
    """Two positives among 40 studies: about one resample in eight draws neither. Those have no
    AUC and are left out of the CI (not counted as 0.5); the rows count the resamples used and
    the problems say how few the CI rests on."""
    dataset = FakeDataset(tmp_path, n=40, seed=1)
    labels = dataset.labels()
    labels["lge"] = 0.0
    labels.iloc[[0, 5], labels.columns.get_loc("lge")] = 1.0  # two patients
    site = load_site(dataset, "internal", True, labels)
    config = replace(CONFIG, bootstrap=400)
    result = evaluate_site(fake_encoder(), site, fake_prompts(), config)
    row = result.zeroshot.set_index("label_key").loc["lge"]
    drew_both = 400 * (1 - (18 / 20) ** 20)  # 20 patients drawn, 2 positive: about 351
    assert abs(row["auc_resamples"] - drew_both) < 30 and row["auc_lo"] <= row["auc"]
    assert result.zeroshot.set_index("label_key").loc["lv_dilation", "auc_resamples"] == 400
    said = [p for p in result.problems if "bootstrap resamples" in p]
    assert len(said) == 1 and "'lge' (zero-shot, linear probe)" in said[0]
    assert f"rests on {int(row['auc_resamples'])} of 400 bootstrap resamples" in said[0]
    table = paper_format(result.zeroshot, "m", "internal")
    assert str(table["auc_resamples"].dtype) == "Int64"


def test_confidence_intervals_resample_patients(site) -> None:
    """Each patient of the fake site has two studies: every CI (zero-shot, probes, one-vs-rest
    diagnosis) is that of a bootstrap over patients, not over studies."""
    result = evaluate_site(fake_encoder(), site, fake_prompts(), CONFIG)
    patient = dict(zip(site.ids, site.groups, strict=True))
    rows = pd.concat([result.zeroshot, result.probe]).set_index(["setting", "label_key"])
    for (setting, name), scores in result.scores.items():
        groups = np.array([patient[s] for s in scores.ids])
        expected = binary_metrics(scores.scores, scores.labels, CONFIG.bootstrap, 0, groups=groups)
        row = rows.loc[(setting, name)]
        assert (row["auc_lo"], row["auc_hi"]) == pytest.approx(expected.ci["auc"]), (setting, name)
    diagnosis = result.diagnosis_scores["zero-shot"]
    groups = np.array([patient[s] for s in diagnosis.ids])
    expected = one_vs_rest(
        diagnosis.probabilities, diagnosis.targets, diagnosis.classes, CONFIG.bootstrap, 0, groups
    )
    zeroshot = result.zeroshot[result.zeroshot["task"] == "diagnosis"].set_index("label_key")
    for name, metrics in expected.items():
        assert zeroshot.loc[name, "accuracy_lo"] == pytest.approx(metrics.ci["accuracy"][0])


def test_diagnosis_accuracy_and_macro_f1_have_confidence_intervals(site, tmp_path: Path) -> None:
    """The diagnosis table compares accuracies (zero-shot against the probes, one site against
    another): each comes with its 95% CI, the bootstrap over patients recomputed here resample
    by resample with scikit-learn, in diagnosis.csv and in the report."""
    result = evaluate_site(fake_encoder(), site, fake_prompts(), CONFIG)
    patient = dict(zip(site.ids, site.groups, strict=True))
    for setting, scores in result.diagnosis_scores.items():
        predicted = scores.probabilities.argmax(axis=1)
        groups = np.array([patient[s] for s in scores.ids])
        draws = bootstrap_counts(len(groups), CONFIG.bootstrap, CONFIG.seed, groups)
        accuracy, macro_f1 = [], []
        for counts in np.concatenate(list(draws)):
            drawn = np.repeat(np.arange(len(groups)), counts)
            accuracy.append(accuracy_score(scores.targets[drawn], predicted[drawn]))
            macro_f1.append(f1_score(scores.targets[drawn], predicted[drawn], average="macro"))
        block = result.diagnosis[setting]
        assert (block["accuracy_lo"], block["accuracy_hi"]) == pytest.approx(
            np.percentile(accuracy, [2.5, 97.5])
        )
        assert (block["macro_f1_lo"], block["macro_f1_hi"]) == pytest.approx(
            np.percentile(macro_f1, [2.5, 97.5])
        )
        assert block["accuracy_lo"] <= block["accuracy"] <= block["accuracy_hi"]
    write_outputs(tmp_path, [result], [site], [], [], {})
    table = pd.read_csv(tmp_path / "internal" / "diagnosis.csv").set_index("setting")
    zeroshot = result.diagnosis["zero-shot"]
    assert table.loc["zero-shot", "accuracy_lo"] == pytest.approx(zeroshot["accuracy_lo"], abs=1e-4)
    html = (tmp_path / "report.html").read_text()
    shown = html.split("<h3>Diagnosis</h3>")[1].split("</table>")[0]
    assert "Accuracy 95% CI" in shown and "macro-F1 95% CI" in shown
    assert f"{zeroshot['accuracy_lo']:.2f}–{zeroshot['accuracy_hi']:.2f}" in shown


def test_report_and_dashboard_count_the_patients_behind_the_studies(site, tmp_path: Path) -> None:
    """The CIs resample patients: the site line says how many there are (the fake site's 80
    studies belong to 40 patients), in the report and on the Evaluate page."""
    result = evaluate_site(fake_encoder(), site, fake_prompts(), CONFIG)
    summary = write_outputs(tmp_path, [result], [site], [], [], {})
    patients = site.studies["patient_key"].nunique()
    assert summary["sites"][0]["n_patients"] == patients == 40
    said = f"80 studies of {patients} patients evaluated (test split)"
    assert said in (tmp_path / "report.html").read_text()
    assert said in read_outputs(tmp_path).site_lines()[0]


def test_label_precision_leaves_out_each_reports_patient(tmp_path: Path) -> None:
    """Each fake patient's second study repeats its first (a follow-up scan of the same heart):
    a report's top 10 leaves out both, not its own alone, and the ceiling knows it."""
    dataset = FakeDataset(tmp_path, n=40, seed=5)
    repeat = np.arange(40) // 2 * 2  # study 2i + 1 is study 2i again, a little noise aside
    dataset.flags = dataset.flags.iloc[repeat].set_axis(dataset.flags.index)
    dataset.studies["impression"] = dataset.studies["impression"].to_numpy()[repeat]
    dataset.vectors = dataset.vectors[repeat] + np.random.default_rng(1).normal(0, 0.01, (40, 32))
    site = load_site(dataset, "internal", True, dataset.labels())
    encoder = fake_encoder()
    result = evaluate_site(encoder, site, fake_prompts(), CONFIG)
    studies = encoder.studies(site.dataset, site.ids)
    reports = encoder.texts(site.studies["impression"].tolist())
    findings = site.labels[["lv_dilation", "lge"]].to_numpy()
    row = result.retrieval.set_index("direction").loc["report_to_study"]
    written = row[["label_precision@10", "label_precision@10_ceiling"]].to_numpy(float)
    by_patient = label_precision(reports, studies, findings, groups=site.groups)
    by_study = label_precision(reports, studies, findings)
    assert written == pytest.approx([np.nanmean(by_patient[0]), np.nanmean(by_patient[1])])
    assert written != pytest.approx([np.nanmean(by_study[0]), np.nanmean(by_study[1])])


def test_retrieval_figures_have_patient_bootstrap_intervals(site) -> None:
    """R@k, median rank and precision@10 (and its ceiling) have 95% intervals from the fixed
    per-query results, the queries resampled by patient (two studies each here); the columns
    written before keep their names and order, the intervals follow them."""
    encoder = fake_encoder()
    result = evaluate_site(encoder, site, fake_prompts(), CONFIG)
    table = result.retrieval
    old = ["direction", "R@1", "R@5", "R@10", "median_rank", "n", "label_precision@10"]
    assert list(table.columns[:7]) == old and "label_precision@10_chance_lo" not in table
    texts = site.studies["impression"].tolist()
    studies = np.asarray(encoder.studies(site.dataset, site.ids), dtype=np.float64)
    ranks = bidirectional_ranks(studies, np.asarray(encoder.texts(texts), np.float32), texts)
    rows = table.set_index("direction")
    for direction, query_ranks in ranks.items():
        expected = rank_intervals(query_ranks, site.groups, CONFIG.bootstrap, CONFIG.seed)
        assert rows.loc[direction, list(expected)].to_numpy(float) == pytest.approx(
            list(expected.values())
        )
    findings = site.labels[list(usable_findings(site, []))].to_numpy()
    precision, ceiling, _ = label_precision(
        np.asarray(encoder.texts(texts), np.float32), studies, findings, groups=site.groups
    )
    expected = precision_intervals(
        {"label_precision@10": precision, "label_precision@10_ceiling": ceiling},
        ~np.isnan(findings).all(axis=1),
        site.groups,
        CONFIG.bootstrap,
        CONFIG.seed,
    )
    written = rows.loc["report_to_study", list(expected)].to_numpy(float)
    assert written == pytest.approx(list(expected.values()))
    assert written[0] < written[1]  # precision@10: an interval, not a point
    by_study = rank_intervals(
        ranks["study_to_report"], np.arange(80), CONFIG.bootstrap, CONFIG.seed
    )
    assert rows.loc["study_to_report", list(by_study)].to_numpy(float) != pytest.approx(
        list(by_study.values())
    )  # resampled by patient, not by study
    assert not rows.loc["study_to_report", list(expected)].notna().any()


def test_a_diagnosis_marked_by_its_one_column_alone_is_known(tmp_path: Path) -> None:
    dataset = FakeDataset(tmp_path, n=60, seed=3)
    labels = dataset.labels()
    diagnoses = ["normal", "nicm", "icm"]
    labels[diagnoses] = labels[diagnoses].replace(0.0, np.nan)  # "1" in one column, rest blank
    labels.iloc[0, labels.columns.get_indexer(diagnoses)] = [1.0, 1.0, np.nan]  # two: ambiguous
    labels.iloc[1, labels.columns.get_indexer(diagnoses)] = np.nan  # none: unknown
    site = load_site(dataset, "internal", True, labels)
    result = evaluate_site(fake_encoder(), site, fake_prompts(), CONFIG)
    assert result.diagnosis["zero-shot"]["n"] == 58
    assert result.diagnosis["linear probe"]["n"] == 58
    assert result.diagnosis["zero-shot"]["accuracy"] > 0.5  # chance is 1/3


def test_labels_matching_no_study_are_a_problem_and_retrieval_still_runs(tmp_path: Path) -> None:
    dataset = FakeDataset(tmp_path, n=30, seed=2)
    labels = dataset.labels()
    labels.index = "X" + labels.index
    site = load_site(dataset, "internal", True, labels)
    assert site.n_labelled == 0 and "none of the 30 rows" in site.problems[0]
    result = evaluate_site(fake_encoder(), site, fake_prompts(), CONFIG)
    assert result.zeroshot.empty and not result.retrieval.empty


def test_retrieval_figures_fixed_by_a_small_test_split_are_blank_and_said(
    tmp_path: Path,
) -> None:
    """8 studies with a report: every rank is at most 8, so R@10 is 1 whatever the model, and
    the top 10 holds every other study, so precision@10 is its chance level. Both are blank
    (the headline leaves them out) and the problems say why; R@1 and R@5 stay."""
    dataset = FakeDataset(tmp_path, n=8, seed=5)
    site = load_site(dataset, "internal", True, dataset.labels())
    config = replace(CONFIG, bootstrap=20, fewshot=FewShotConfig(shots=(1,), episodes=2))
    result = evaluate_site(fake_encoder(), site, fake_prompts(), config)
    retrieval = result.retrieval.set_index("direction")
    assert retrieval[["R@10", "R@10_lo", "R@10_hi"]].isna().all().all()
    assert retrieval[["R@1", "R@1_lo", "R@5", "R@5_hi"]].notna().all().all()
    precision = [c for c in retrieval.columns if c.startswith("label_precision@10")]
    assert len(precision) == 7 and retrieval.loc["report_to_study", precision].isna().all()
    said = [p for p in result.problems if "retrieval over 8 studies" in p]
    assert len(said) == 1 and "R@10" in said[0] and "label_precision@10_chance" in said[0]
    summary = {"site": "internal", "retrieval": result.retrieval.to_dict(orient="records")}
    figures = set(headline([summary])["figure"])
    assert not any(f.startswith("report → study") for f in figures)

    dataset = FakeDataset(tmp_path, n=12, seed=5)  # 11 others > 10: precision@10 is informative
    site = load_site(dataset, "internal", True, dataset.labels())
    result = evaluate_site(fake_encoder(), site, fake_prompts(), config)
    assert result.retrieval.set_index("direction").loc["report_to_study"].notna().all()
    assert not [p for p in result.problems if "retrieval" in p]


def test_internal_site_uses_only_the_test_split(tmp_path: Path) -> None:
    dataset = FakeDataset(tmp_path, n=20, seed=3)
    dataset.studies.loc[:9, "split"] = "train"
    site = load_site(dataset, "internal", True, dataset.labels())
    assert len(site.ids) == 10 and site.n_total == 20
    external = load_site(dataset, "external", False, dataset.labels())
    assert len(external.ids) == 20
    dataset.studies["split"] = "train"
    with pytest.raises(DataError, match="no studies in its test split"):
        load_site(dataset, "internal", True, dataset.labels())


def test_train_split_probes_fit_on_train_and_val_and_score_the_test_split(tmp_path: Path) -> None:
    dataset = FakeDataset(tmp_path, n=120, seed=4)
    dataset.studies.loc[:59, "split"] = "train"
    dataset.studies.loc[60:79, "split"] = "val"
    dataset.studies.loc[79, "patient_key"] = dataset.studies.loc[80, "patient_key"]  # also tested
    labels = dataset.labels()
    labels.loc["A" + dataset.studies.loc[:9, "study_id"]] = np.nan  # unlabelled train studies
    development = load_development(dataset, labels)
    assert len(development.ids) == 69 and set(development.studies["split"]) == {"train", "val"}
    assert not set(development.groups) & set(dataset.studies.loc[80:, "patient_key"])
    site = load_site(dataset, "internal", True, labels)
    encoder = fake_encoder()
    probes = fit_train_split(encoder, development, CONFIG.probe, blas_threads=1)
    result = evaluate_site(encoder, site, fake_prompts(), CONFIG, probes)
    split = result.probe[result.probe["setting"] == "train-split probe"].set_index("label_key")
    assert (split["n_fit"] == 69).all() and split.loc["lge", "n"] == 40
    assert split.loc["lge", "auc"] > 0.9
    block = result.diagnosis["train-split probe"]
    assert block["n"] == 40 and block["n_fit"] == 69 and block["accuracy"] > 0.8
    assert ("train-split probe", "lge") in result.scores
    dataset.studies["split"] = "test"
    assert load_development(dataset, labels) is None


def test_labels_file_errors_name_the_problem(tmp_path: Path) -> None:
    path = tmp_path / "labels.csv"
    path.write_text("accession_number,lge\nA1,yes\n")
    with pytest.raises(DataError, match="column 'lge': value 'yes'"):
        load_labels([path])
    path.write_text("id,lge\nA1,1\n")
    with pytest.raises(DataError, match="no 'accession_number' column"):
        load_labels([path])
    path.write_text("accession_number,lge\nA1,1\nA2,\n")
    assert np.isnan(load_labels([path]).loc["A2", "lge"])


def test_labels_files_that_overlap_are_merged_where_they_agree(tmp_path: Path) -> None:
    site_a, both = tmp_path / "a.csv", tmp_path / "both.csv"
    site_a.write_text("accession_number,lge,normal\nA1,1,\nA2,0,1\n")
    both.write_text("accession_number,lge,lv_dilation\nA1,1,0\nA2,,1\nB1,0,0\n")
    assert load_labels([site_a, site_a]).equals(load_labels([site_a]))  # one file given twice
    merged = load_labels([both, site_a])
    assert list(merged.index) == ["A1", "A2", "B1"]
    assert merged.loc["A2"].to_dict() == {"lge": 0.0, "lv_dilation": 1.0, "normal": 1.0}
    assert np.isnan(merged.loc["A1", "normal"])
    both.write_text("accession_number,lge\nA1,0\n")
    with pytest.raises(DataError, match=f"'A1' has different 'lge' values in {both} and {site_a}"):
        load_labels([both, site_a])


def test_write_outputs_writes_every_file_and_valid_json(site, tmp_path: Path) -> None:
    results = [
        evaluate_site(fake_encoder(name), site, fake_prompts(), CONFIG) for name in ("a", "b/c")
    ]
    out = tmp_path / "eval"
    summary = write_outputs(out, results, [site], [], ["a problem"], {"seed": 0})
    for name in ("zeroshot", "diagnosis", "fewshot", "probe", "retrieval", "counts"):
        assert (out / "internal" / f"{name}.csv").is_file()
    zeroshot = pd.read_csv(out / "internal" / "zeroshot.csv")
    assert list(zeroshot.columns[:5]) == ["model", "Label", "Accuracy", "F1-score", "AUC"]
    assert set(zeroshot["model"]) == {"a", "b/c"}
    for plot in ("roc_a", "fewshot_b_c", "confusion_zero-shot_a", "confusion_linear_probe_b_c"):
        assert (out / "internal" / "plots" / f"{plot}.png").stat().st_size > 1000
    html = (out / "report.html").read_text()
    assert "data:image/png;base64" in html and "a problem" in html
    key_figures = headline(summary["results"])
    assert list(key_figures.columns) == ["figure", "a · internal", "b/c · internal"]
    zeroshot_a = results[0].zeroshot
    mean_auc = zeroshot_a.loc[~zeroshot_a["label_key"].isin(DIAGNOSES), "auc"].mean()
    assert key_figures.set_index("figure").loc["zero-shot findings, mean AUC", "a · internal"] == (
        pytest.approx(mean_auc)
    )
    assert "<h2>Headline</h2>" in html and f"{mean_auc:.3f}" in html
    loaded = json.loads((out / "summary.json").read_text())  # strict JSON: no NaN
    assert loaded == json.loads(json.dumps(summary))
    assert loaded["version"] == 1 and len(loaded["results"]) == 2
    assert all((out / f).is_file() for f in loaded["files"]["csv"] + loaded["files"]["plots"])


def test_report_states_how_the_figures_were_computed(site, tmp_path: Path) -> None:
    """A reader of report.html alone learns the CI method, resamples, seeds, episodes, folds,
    the evaluated split and the labels files, from the run's own settings."""
    results = [evaluate_site(fake_encoder("a"), site, fake_prompts(), CONFIG)]
    config = {
        "checkpoint": "runs/x/best.pt",
        "data": "data/internal",
        "labels": ["raw/internal/labels.csv"],
        "external": [],
        "compare": [],
        "prompts": "prompts.yaml",
        "general_clip": {"model": "ViT-B-32", "weights": None},
        "suite": asdict(replace(CONFIG, seed=7)),
    }
    write_outputs(tmp_path, results, [site], [], [], config)
    html = (tmp_path / "report.html").read_text()
    methods = html.split("<h2>Methods</h2>")[1].split("</ul>")[0]
    assert "percentile bootstrap" in methods and "50 resamples, seed 7" in methods
    assert "10 episodes per k" in methods and "k = 1, 4" in methods
    assert "3-fold patient-grouped" in methods and "held by a single patient" in methods
    assert "test split of data/internal" in methods and "internal/labels.csv" in methods
    assert "raw/internal" not in methods  # a shared report names a file, not its whole path
    assert "p ≥ 0.5" in methods
    # the decision rules of the few-shot probes and of the diagnoses' one-vs-rest rows, and what
    # the few-shot interval is (support draws around fixed queries), are said
    assert "positive when closer to the positive one" in methods
    assert "count a study as called that class when it is the arg-max" in methods
    assert "not a sampling interval of the site" in methods
    bins = f"expected calibration error over {CALIBRATION_BINS} equal-width bins"
    assert bins in methods  # what the ece column is
    assert "10 top studies (those of its patient left out)" in methods
    assert "Retrieval intervals" not in methods  # a run before retrieval had them
    config["retrieval_intervals"] = True
    write_outputs(tmp_path, results, [site], [], [], config)
    methods = (tmp_path / "report.html").read_text().split("<h2>Methods</h2>")[1]
    assert "Retrieval intervals (R@k, median rank, precision@10 and its ceiling)" in methods
    assert "general CLIP ViT-B-32 (random weights: chance, not a pretrained CLIP)" in methods


def test_report_tables_fold_confidence_intervals() -> None:
    table = pd.DataFrame(
        {"model": ["m"], "Label": ["LGE"], "AUC": [0.9], "auc_lo": [0.8], "auc_hi": [0.95],
         "f1_lo": [0.1], "f1_hi": [0.2], "label_key": ["lge"], "site": ["internal"]}
    )  # fmt: skip
    view = compact(table)
    assert list(view.columns) == ["model", "Label", "AUC", "AUC 95% CI"]
    assert view["AUC 95% CI"].iloc[0] == "0.80–0.95"
    retrieval = pd.DataFrame(
        {"direction": ["report_to_study"], "R@1": [0.3], "median_rank": [4.0], "R@1_lo": [0.2],
         "R@1_hi": [0.41], "median_rank_lo": [3.0], "median_rank_hi": [6.5]}
    )  # fmt: skip
    view = compact(retrieval)
    assert list(view.columns) == ["direction", "R@1", "median_rank", "R@1 95% CI",
                                  "median_rank 95% CI"]  # fmt: skip
    assert view.iloc[0, 3:].tolist() == ["0.20–0.41", "3–6.5"]


def test_a_comparison_in_the_report_is_headed_as_the_evaluate_page_heads_it() -> None:
    """report.html and report.md said auc_a and auc_b, which named neither model."""
    from dashboard.evaluation_columns import column_labels

    table = pd.DataFrame(
        {"model": ["m"], "baseline": ["b"], "Label": ["LGE"], "auc_a": [0.9], "auc_b": [0.7],
         "difference": [0.2], "difference_lo": [0.1], "difference_hi": [0.3], "p_value": [0.01]}
    )  # fmt: skip
    view = compact(table)
    page = column_labels(table)
    assert list(view.columns) == [
        "model", "baseline", "Label", page["auc_a"], page["auc_b"], page["difference"],
        "p_value", f"{page['difference']} 95% CI",
    ]  # fmt: skip
    assert page["auc_a"] == "AUC, model"
    assert view[f"{page['difference']} 95% CI"].iloc[0] == "+0.100 to +0.300"


def test_counts_in_the_tables_stay_whole_numbers(tmp_path: Path) -> None:
    """n_fit is blank on the cross-validated rows: the column must not turn into 862.0000."""
    rows = pd.DataFrame(
        {"label_key": ["lge", "lge"], "setting": ["linear probe", "train-split probe"],
         "task": ["finding"] * 2, "n": [138, 138], "n_positive": [80, 80], "accuracy": [0.8, 0.9],
         "f1": [0.7, 0.8], "auc": [0.9, 0.95],
         "n_fit": [np.nan, 862]}
    )  # fmt: skip
    table = paper_format(rows, "m", "internal")
    [path] = write_tables(tmp_path, {"internal": {"probe": table}})
    lines = path.read_text().splitlines()
    assert lines[1].endswith(",138,80,,internal,finding")
    assert lines[2].endswith(",138,80,862,internal,finding")
    site = {"name": "internal", "selection": "test split", "n_total": 900, "n_evaluated": 138,
            "n_labelled": 138}  # fmt: skip
    html = render_html("t", {"internal": {"probe": table}}, {}, [site], [], [])
    assert ">862<" in html and "862.0" not in html
    # the counts headed as the Evaluate page and report.md head them, not n and n_positive
    assert "<th>studies</th>" in html and "<th>with the label</th>" in html
    assert "<th>n_positive</th>" not in html
    assert "&lt;NA&gt;" not in html  # the cross-validated row has no n_fit: a dash, as elsewhere


def test_rewriting_an_output_folder_leaves_no_file_of_the_previous_run(
    site, tmp_path: Path
) -> None:
    other = FakeDataset(tmp_path / "other", n=40, seed=1)
    external = load_site(other, "external", False, other.labels())
    first = [
        evaluate_site(fake_encoder(name), where, fake_prompts(), CONFIG)
        for name in ("a", "b")
        for where in (site, external)
    ]
    out = tmp_path / "eval"
    write_outputs(out, first, [site, external], [], [], {})
    assert (out / "external" / "zeroshot.csv").is_file()
    assert (out / "internal" / "plots" / "roc_b.png").is_file()
    (out / "notes.txt").write_text("the user's own file")
    summary = write_outputs(out, first[:1], [site], [], [], {})
    left = sorted(str(p.relative_to(out)) for p in out.rglob("*") if p.is_file())
    files = summary["files"]
    assert files["vectors"] and all(name.endswith(".svg") for name in files["vectors"])
    written = files["csv"] + files["plots"] + files["vectors"]  # b's PNGs and SVGs gone
    expected = written + ["notes.txt", "report.html", "report.md", "run.json", "summary.json"]
    assert left == sorted(expected)
    assert not (out / "external").exists()


def test_a_disk_that_fills_while_writing_leaves_the_previous_evaluation_whole(
    site, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from dashboard.evaluation_view import read_outputs

    out = tmp_path / "eval"
    write_outputs(
        out, [evaluate_site(fake_encoder("a"), site, fake_prompts(), CONFIG)], [site], [], [], {}
    )
    before = {p: p.read_bytes() for p in out.rglob("*") if p.is_file()}
    rerun = [evaluate_site(fake_encoder("b"), site, fake_prompts(), CONFIG)]
    real_mkstemp, created = tempfile.mkstemp, []

    def filling(*args, **kwargs):
        created.append(1)
        if len(created) > 4:  # a few files in, the disk is full
            raise OSError(errno.ENOSPC, os.strerror(errno.ENOSPC), "x")
        return real_mkstemp(*args, **kwargs)

    monkeypatch.setattr(tempfile, "mkstemp", filling)
    with pytest.raises(OSError, match="No space left"):
        write_outputs(out, rerun, [site], [], [], {})
    monkeypatch.undo()
    assert {p: p.read_bytes() for p in out.rglob("*") if p.is_file()} == before

    killed = out / ".incoming-k1ll3d" / "internal"  # what an evaluation killed while writing left
    killed.mkdir(parents=True)
    (killed / "zeroshot.csv").write_text("model,Label\nb,LGE\n")
    shown = read_outputs(out)
    assert "internal/zeroshot.csv" in shown.tables
    assert not [p for p in [*shown.tables, *map(str, shown.reports)] if ".incoming-" in p]
    write_outputs(out, rerun, [site], [], [], {})
    assert not list(out.glob(".incoming-*"))
    assert set(pd.read_csv(out / "internal" / "zeroshot.csv")["model"]) == {"b"}


def test_the_html_report_shows_outside_names_as_text_and_loads_nothing(tmp_path: Path) -> None:
    """Site, label, model and prompt names, problems and methods come from outside (a labels
    file, a prompt set, a dataset folder): the report must show them as text, and the one file
    must load nothing from a network when opened."""
    from html.parser import HTMLParser

    from PIL import Image

    hostile = '<img src="http://evil.example/t.png"><script>fetch("http://evil.example")</script>'
    plot = tmp_path / "roc.png"
    Image.new("L", (4, 4)).save(plot)
    table = pd.DataFrame({"Label": [hostile], hostile: [0.5], "auc": [0.9]})
    site = {"name": hostile, "selection": hostile, "n_total": 1, "n_evaluated": 1,
            "n_labelled": 1}  # fmt: skip
    page = render_html(hostile, {hostile: {"prompts": table}}, {hostile: [plot]}, [site],
                       [{"model": hostile}], [hostile], table, [hostile])  # fmt: skip
    seen: list[tuple[str, dict]] = []

    class Tags(HTMLParser):
        def handle_starttag(self, tag: str, attrs: list) -> None:
            seen.append((tag, dict(attrs)))

    Tags().feed(page)
    assert "script" not in {tag for tag, _ in seen} and "link" not in {tag for tag, _ in seen}
    sources = [attrs.get("src", "") for tag, attrs in seen if tag == "img"]
    assert len(sources) == 1 and sources[0].startswith("data:image/png;base64,")
    assert "url(" not in page and "@import" not in page and "http://evil" in page  # as text


def test_comparison_csv_counts_a_patients_studies_together(site, tmp_path: Path) -> None:
    """Every fake patient has two studies: the DeLong p-value written is the clustered one."""
    encoders = [fake_encoder("a"), fake_encoder("b")]
    results = [evaluate_site(encoder, site, fake_prompts(), CONFIG) for encoder in encoders]
    scores = results[1].scores["zero-shot", "lge"]
    noisy = scores.scores + np.random.default_rng(0).normal(0, 0.3, scores.scores.size)
    results[1].scores["zero-shot", "lge"] = replace(scores, scores=noisy)
    write_outputs(tmp_path, results, [site], encoders, [], {})
    table = pd.read_csv(tmp_path / "internal" / "comparison.csv")
    row = table.set_index(["setting", "label_key"]).loc[("zero-shot", "lge")]
    patient = dict(zip(site.ids, site.groups, strict=True))
    groups = np.array([patient[s] for s in scores.ids])
    main = results[0].scores["zero-shot", "lge"].scores
    clustered = delong_test(main, noisy, scores.labels, groups)
    assert row["p_value"] == pytest.approx(clustered.p_value, rel=1e-3)
    independent = delong_test(main, noisy, scores.labels)
    assert row["p_value"] != pytest.approx(independent.p_value, rel=1e-3)
    assert "Obuchowski" in (tmp_path / "report.html").read_text()


def test_tiny_p_values_keep_their_digits_in_the_tables(tmp_path: Path) -> None:
    """comparison.csv wrote DeLong p-values to 4 decimals like the AUCs: p = 1.2e-7 read 0.0000."""
    table = pd.DataFrame(
        {"model": ["m", "m"], "difference": [0.123456, 0.0], "p_value": [1.2345e-7, 1.0],
         "p_holm": [2.469e-7, np.nan]}
    )  # fmt: skip
    [path] = write_tables(tmp_path, {"internal": {"comparison": table}})
    read = pd.read_csv(path)
    assert read["p_value"].tolist() == pytest.approx([1.2345e-7, 1.0], rel=1e-3)
    assert read["p_holm"].iloc[0] == pytest.approx(2.469e-7, rel=1e-3) and read["p_holm"].isna()[1]
    assert read["difference"].tolist() == [0.1235, 0.0]
    site = {"name": "internal", "selection": "test split", "n_total": 9, "n_evaluated": 9,
            "n_labelled": 9}  # fmt: skip
    html = render_html("t", {"internal": {"comparison": table}}, {}, [site], [], [])
    cells = html.split("<h3>Model comparison</h3>")[1]
    assert ">1.23e-07<" in cells and ">2.47e-07<" in cells  # the report read p = 0.000
    assert ">0.123<" in cells  # the other figures keep their 3 decimals
