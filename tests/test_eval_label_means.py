"""The headline means' 95% intervals: one patient draw per site shared by all its labels."""

from __future__ import annotations

import re
from dataclasses import replace
from importlib import import_module
from pathlib import Path

import numpy as np
import pytest
from sklearn.metrics import roc_auc_score

from model.evaluation.fewshot import FewShotConfig, evaluate_label
from model.evaluation.fewshot_intervals import PatientDraws
from model.evaluation.headline import FIGURES, _fewshot, fewshot_source, headline, headline_text
from model.evaluation.inputs import load_site
from model.evaluation.label_means import mean_intervals, resampled_aucs
from model.evaluation.methods import methods_lines
from model.evaluation.metrics import LabelScores, binary_metrics, bootstrap_counts, percentile_ci
from model.evaluation.outputs import write_outputs
from model.evaluation.probes import ProbeConfig
from model.evaluation.report import json_safe
from model.evaluation.suite import SuiteConfig, evaluate_site
from model.evaluation.weighted_auc import weighted_auc_of_items
from tests.eval_fakes import WORDS, FakeDataset, fake_encoder, fake_prompts

ZERO_SHOT = "zero-shot findings, mean AUC"
RESAMPLES = 200


def _random_site(seed: int) -> tuple[np.ndarray, dict, dict]:
    """(groups [N], known masks, scores) of a site with 1-4 studies per patient, blank labels,
    tied scores and a rare label (some resamples draw none of its positives)."""
    rng = np.random.default_rng(seed)
    groups = np.repeat(np.arange(40), rng.integers(1, 5, size=40))
    n = len(groups)
    known, scores = {}, {}
    for name, prevalence, blank in (("a", 0.4, 0.0), ("b", 0.3, 0.2), ("rare", 0.0, 0.1)):
        mask = rng.random(n) >= blank
        y = (rng.random(mask.sum()) < prevalence).astype(int)
        if name == "rare":
            y[np.flatnonzero(np.isin(groups[mask], [3, 7]))[:2]] = 1  # two positive patients
        p = np.round(y * 0.3 + rng.random(mask.sum()), 1)  # rounded: ties across classes
        known[name] = mask
        scores["zero-shot", name] = LabelScores([], p, y)
    return groups, known, scores


def _record(scores: dict, labels: list[str]) -> dict:
    rows = [
        {"label_key": name, "task": "finding", "auc": roc_auc_score(s.labels, s.scores)}
        for (_, name), s in scores.items()
        if name in labels
    ]
    return {"model": "m", "site": "s", "zeroshot": rows}


def _reference(groups: np.ndarray, known: dict, scores: dict, labels: list[str], seed: int):
    """Resample by resample: each label's studies repeated as often as their patient is drawn
    (one draw of the site's patients for every label), sklearn's AUC, their mean."""
    counts = np.concatenate(list(bootstrap_counts(len(groups), RESAMPLES, seed, groups)))
    means = []
    for drawn in counts:
        aucs = []
        for name in labels:
            times = drawn[known[name]]
            y = np.repeat(scores["zero-shot", name].labels, times)
            if y.min() == y.max():
                break  # no AUC for this label: the resample has no mean
            aucs.append(roc_auc_score(y, np.repeat(scores["zero-shot", name].scores, times)))
        else:
            means.append(np.mean(aucs))
    return np.percentile(means, [2.5, 97.5]), len(means)


def test_mean_interval_matches_a_resample_by_resample_reference() -> None:
    groups, known, scores = _random_site(3)
    draws = PatientDraws(len(groups), RESAMPLES, 5, groups)
    resampled = resampled_aucs(("zero-shot",), known, scores, draws)
    labels = ["a", "b", "rare"]
    (found,) = mean_intervals([_record(scores, labels)], [resampled])
    expected, kept = _reference(groups, known, scores, labels, 5)
    assert found[ZERO_SHOT]["labels"] == labels
    assert (found[ZERO_SHOT]["auc_lo"], found[ZERO_SHOT]["auc_hi"]) == pytest.approx(expected)
    assert found[ZERO_SHOT]["resamples"] == kept < RESAMPLES  # the rare label's gaps left out


def test_mean_interval_is_over_the_labels_every_column_has() -> None:
    """A second site without label 'b': the first site's interval is over 'a' and 'rare' only,
    as the headline's mean, and the headline shows it beside that mean."""
    groups, known, scores = _random_site(4)
    draws = PatientDraws(len(groups), RESAMPLES, 0, groups)
    resampled = resampled_aucs(("zero-shot",), known, scores, draws)
    first, second = _record(scores, ["a", "b", "rare"]), _record(scores, ["a", "rare"])
    second["site"] = "t"
    found = mean_intervals([first, second], [resampled, resampled])
    expected, _ = _reference(groups, known, scores, ["a", "rare"], 0)
    assert found[0][ZERO_SHOT]["labels"] == ["a", "rare"]
    assert (found[0][ZERO_SHOT]["auc_lo"], found[0][ZERO_SHOT]["auc_hi"]) == pytest.approx(expected)
    first["mean_intervals"], second["mean_intervals"] = json_safe(found)
    text = headline_text([first, second]).set_index("figure")
    point = headline([first, second]).set_index("figure").loc[ZERO_SHOT, "s"]
    low, high = expected
    assert text.loc[ZERO_SHOT, "s"] == f"{point:.3f} ({low:.3f}–{high:.3f})"
    alone = headline_text([first]).set_index("figure")  # 'b' averaged too: not that interval
    assert alone.loc[ZERO_SHOT, "s"] == f"{headline([first]).iloc[0]['s']:.3f}"


def test_a_mean_added_to_the_headline_gets_its_interval(monkeypatch) -> None:
    """The headline's means over labels and the means given an interval are one list: a mean
    added to ``headline.FIGURES`` gets the interval of its source's resampled values."""
    figure = "few-shot logistic, mean AUC (k = 1)"
    monkeypatch.setitem(FIGURES, figure, _fewshot("logistic", 1))
    rows = [{"label": n, "method": "logistic", "k": 1, "auc": 0.7} for n in ("a", "b", "c")]
    values = np.random.default_rng(0).random((2, RESAMPLES))
    source = fewshot_source("logistic", 1)
    resampled = {(source, "a"): values[0], (source, "b"): values[1]}  # none of 'c': no interval
    (found,) = mean_intervals([{"model": "m", "site": "s", "fewshot": rows[:2]}], [resampled])
    low, high = percentile_ci(values.mean(axis=0))
    assert found[figure] == {"labels": ["a", "b"], "auc_lo": low, "auc_hi": high, "resamples": 200}
    (found,) = mean_intervals([{"model": "m", "site": "s", "fewshot": rows}], [resampled])
    assert figure not in found


def test_a_label_without_blanks_shares_its_own_interval_s_draws() -> None:
    """The site's draw restricted to a label with every value known is the label's own draw:
    its one-label mean interval is its AUC interval."""
    groups, known, scores = _random_site(6)
    resampled = resampled_aucs(
        ("zero-shot",), known, scores, PatientDraws(len(groups), 150, 2, groups)
    )
    own = binary_metrics(
        scores["zero-shot", "a"].scores, scores["zero-shot", "a"].labels, 150, 2, groups=groups
    )
    assert known["a"].all()
    assert percentile_ci(resampled["zero-shot", "a"]) == pytest.approx(own.ci["auc"])
    np.testing.assert_array_equal(resampled["zero-shot", "a"], own.resampled_auc)  # bit for bit


def test_a_label_without_blanks_reuses_its_own_interval_s_resamples(monkeypatch) -> None:
    """The suite resamples a zero-shot or probe AUC once per label where its own interval drew
    the site's patients (every study known, the same seed): the shared draw takes those values;
    a label with blanks, or another seed, is computed on the site's draw."""
    groups, known, scores = _random_site(6)
    for name, scored in list(scores.items()):
        own = binary_metrics(scored.scores, scored.labels, 150, 2, groups=groups[known[name[1]]])
        scores[name] = replace(scored, resampled_auc=own.resampled_auc + 1, seed=2)  # marked
    computed = []
    monkeypatch.setattr(
        "model.evaluation.label_means.weighted_auc_of_items",
        lambda scores, *args: computed.append(scores) or weighted_auc_of_items(scores, *args),
    )
    resampled = resampled_aucs(
        ("zero-shot",), known, scores, PatientDraws(len(groups), 150, 2, groups)
    )
    assert known["a"].all() and not known["b"].all()
    assert resampled["zero-shot", "a"] is scores["zero-shot", "a"].resampled_auc
    assert [len(s) for s in computed] == [known["b"].sum(), known["rare"].sum()]
    other = resampled_aucs(("zero-shot",), known, scores, PatientDraws(len(groups), 150, 3, groups))
    assert not np.array_equal(other["zero-shot", "a"], resampled["zero-shot", "a"])


def test_few_shot_uses_the_site_draw_on_the_label_s_studies() -> None:
    """Few-shot points of a label with blanks resample the site's patients on its known studies:
    the same as the label's own draw when it has no blanks, and each point's interval is the
    percentile interval of the resampled means it hands back."""
    rng = np.random.default_rng(0)
    groups = np.repeat(np.arange(30), 2)
    labels = (np.arange(60) % 4 < 2).astype(int)
    x = rng.normal(size=(60, 8)) + labels[:, None]
    x /= np.linalg.norm(x, axis=1, keepdims=True)
    config = FewShotConfig(shots=(1, 2), episodes=8)
    site = PatientDraws(60, 40, 1, groups)
    means: dict = {}
    whole = site.subset(np.arange(60))
    shared = evaluate_label(
        x, labels, "l", config, groups=groups, bootstrap_seed=1, patients=whole, resampled=means
    )
    own = evaluate_label(x, labels, "l", config, groups=groups, resamples=40, bootstrap_seed=1)
    assert shared[["auc_lo", "auc_hi"]].to_numpy() == pytest.approx(own[["auc_lo", "auc_hi"]])
    row = shared.set_index(["method", "k"]).loc[("prototype", 2)]
    assert percentile_ci(means["prototype", 2]) == pytest.approx((row["auc_lo"], row["auc_hi"]))
    rows = np.flatnonzero(groups >= 4)  # a label blank on the first 4 patients
    part = site.subset(rows)
    assert np.concatenate(list(part.blocks())) == pytest.approx(
        np.concatenate(list(site.blocks()))[rows]
    )


def test_the_evaluation_headline_shows_each_mean_s_interval(tmp_path: Path) -> None:
    """Zero-shot, probe and few-shot means get an interval from the run; the point means are
    the per-label means as before; summary.json records the label set; the methods say how."""
    dataset = FakeDataset(tmp_path, n=80, seed=0)
    labels = dataset.labels()
    labels.iloc[:5, labels.columns.get_loc("lge")] = np.nan
    site = load_site(dataset, "internal", True, labels)
    config = SuiteConfig(
        bootstrap=60, fewshot=FewShotConfig(shots=(1, 8), episodes=6), probe=ProbeConfig(folds=3)
    )
    result = evaluate_site(fake_encoder(), site, fake_prompts(), config)
    summary = write_outputs(
        tmp_path / "out", [result], [site], [], [], {"suite": {"bootstrap": 60}}
    )
    (record,) = summary["results"]
    findings = result.zeroshot[result.zeroshot["task"] == "finding"]
    table = headline([record]).set_index("figure")["internal"]
    assert table[ZERO_SHOT] == pytest.approx(findings["auc"].mean())
    text = headline_text([record]).set_index("figure")["internal"]
    for figure in (
        ZERO_SHOT,
        "linear probe findings, mean AUC (cross-validated)",
        "few-shot prototype, mean AUC (k = 1)",
        "few-shot prompted, mean AUC (k = 8)",
    ):
        interval = record["mean_intervals"][figure]
        assert interval["labels"] == ["lge", "lv_dilation"]
        assert 0 < interval["resamples"] <= 60
        assert interval["auc_lo"] <= table[figure] <= interval["auc_hi"]
        assert text[figure] == (
            f"{table[figure]:.3f} ({interval['auc_lo']:.3f}–{interval['auc_hi']:.3f})"
        )
    report = (tmp_path / "out" / "report.html").read_text()
    assert text[ZERO_SHOT] in re.sub(r"</?span[^>]*>", "", report)  # as read: spans keep lines
    methods = methods_lines({"suite": {"bootstrap": 60}, "labels": [], "mean_intervals": "x"})
    assert any("one patient draw per site shared by all its labels" in m for m in methods)


def test_unlabelled_studies_leave_the_label_intervals_as_they_are(tmp_path: Path) -> None:
    """A site's studies without labels (evaluated for retrieval: most of a hospital's 50,000)
    weigh in no label's AUC, so the few-shot intervals and the means' resamples are those of
    the labelled studies alone: the shared patient draw spans the labelled studies only (over
    every study it changed them, and at 50,000 studies was drawn again for every k and method)."""
    dataset = FakeDataset(tmp_path, n=80, seed=0)
    labelled = dataset.labels().iloc[:60]  # the last 20 studies (10 patients) have no labels
    config = SuiteConfig(
        bootstrap=40, fewshot=FewShotConfig(shots=(1, 4), episodes=6), probe=ProbeConfig(folds=3)
    )
    whole = evaluate_site(
        fake_encoder(), load_site(dataset, "internal", True, labelled), fake_prompts(), config
    )
    dataset.studies = dataset.studies.iloc[:60]
    alone = evaluate_site(
        fake_encoder(), load_site(dataset, "internal", True, labelled), fake_prompts(), config
    )
    columns = ["label", "method", "k", "auc", "auc_lo", "auc_hi"]
    assert whole.fewshot[columns].equals(alone.fewshot[columns])
    assert whole.resampled.keys() == alone.resampled.keys() and whole.resampled
    for key, values in whole.resampled.items():
        assert values == pytest.approx(alone.resampled[key], nan_ok=True), key


def test_the_suite_resamples_each_label_s_auc_once_where_the_draws_agree(
    tmp_path: Path, monkeypatch
) -> None:
    """At a site, a zero-shot or probe AUC is re-weighted by the patient resamples once per label
    known on every study (its interval's resamples are the shared draw's); a label with blanks
    draws its own patients for its interval, so the shared draw is re-weighted apart."""
    dataset = FakeDataset(tmp_path, n=80, seed=0)
    labels = dataset.labels()
    labels.iloc[:5, labels.columns.get_loc("lge")] = np.nan
    site = load_site(dataset, "internal", True, labels)
    config = SuiteConfig(
        bootstrap=60, fewshot=FewShotConfig(shots=(1,), episodes=4), probe=ProbeConfig(folds=3)
    )
    calls: list[bytes] = []

    def counted(function):
        return lambda scores, *args: (
            calls.append(np.asarray(scores).tobytes()) or function(scores, *args)
        )

    for module, name in (
        ("metrics", "weighted_auc_rows"),
        ("label_means", "weighted_auc_of_items"),
    ):
        target = f"model.evaluation.{module}.{name}"
        monkeypatch.setattr(
            target, counted(getattr(import_module(f"model.evaluation.{module}"), name))
        )
    result = evaluate_site(fake_encoder(), site, fake_prompts(), config)
    for setting in ("zero-shot", "linear probe"):
        times = {n: calls.count(result.scores[setting, n].scores.tobytes()) for n in WORDS}
        assert times == {"lv_dilation": 1, "lge": 2}, setting
        assert result.resampled[setting, "lv_dilation"].size == 60
