"""``python -m model evaluate`` end to end on a tiny dataset and checkpoint, and every bad input."""

from __future__ import annotations

import argparse
import json
import logging
from pathlib import Path

import pandas as pd
import pytest
import torch
from sklearn.metrics import roc_auc_score

from model.cli import main
from model.evaluation.cli import add_arguments, request_from_args
from model.evaluation.headline import headline
from model.prompts import DEFAULT_PROMPTS
from model.schema import DATA_ROOT_ENV, DIAGNOSES, FINDINGS
from tests.tiny_dataset import make_tiny_checkpoint, make_tiny_dataset

FAST = ["--episodes", "3", "--bootstrap", "20", "--shots", "1,2", "--folds", "2"]
TABLES = (
    "zeroshot", "diagnosis", "fewshot", "probe", "retrieval", "counts", "prompts", "subgroups"
)  # fmt: skip


pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture(scope="module")
def tiny(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    root = tmp_path_factory.mktemp("eval")
    data = make_tiny_dataset(root / "internal", n=60, seed=0)
    external = make_tiny_dataset(root / "external", n=20, seed=1)
    studies = pd.read_parquet(external / "studies.parquet").assign(site="external")
    studies.to_parquet(external / "studies.parquet", index=False)
    checkpoint = make_tiny_checkpoint(data, root / "run")
    return {"root": root, "data": data, "external": external, "checkpoint": checkpoint}


def _evaluate(tiny: dict[str, Path], out: Path, *extra: str, labels: Path | None = None) -> int:
    labels = labels or tiny["data"] / "labels.csv"
    argv = ["evaluate", "--checkpoint", str(tiny["checkpoint"]), "--data", str(tiny["data"])]
    return main([*argv, "--labels", str(labels), "--out", str(out), *FAST, *extra])


def _assert_diagnosis_recomputes(site: Path) -> None:
    """Each row of ``diagnosis.csv`` (accuracy, n) recomputed from the per-study class
    probabilities in ``study_scores.csv``: the prediction is the most probable class."""
    scores = pd.read_csv(site / "study_scores.csv")
    classes = scores[scores["task"] == "diagnosis"]
    diagnosis = pd.read_csv(site / "diagnosis.csv")
    assert len(diagnosis) > 0
    for _, row in diagnosis.iterrows():
        rows = classes[(classes["model"] == row["model"]) & (classes["setting"] == row["setting"])]
        by_study = rows.groupby("study_id", sort=False)
        predicted = rows.loc[by_study["score"].idxmax(), ["study_id", "label_key"]]
        truth = rows.loc[rows["label"] == 1, ["study_id", "label_key"]]
        assert by_study["label"].sum().eq(1).all()  # one true class per study
        paired = predicted.merge(truth, on="study_id", suffixes=("_predicted", "_true"))
        assert len(paired) == row["n"], (row["model"], row["setting"])
        correct = paired["label_key_predicted"] == paired["label_key_true"]
        assert correct.mean() == pytest.approx(row["Accuracy"], abs=1e-4)


def test_full_command_writes_every_file(
    tiny: dict[str, Path], tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv(DATA_ROOT_ENV, str(tiny["root"]))  # the data root holds every input
    out = tmp_path / "eval"
    code = _evaluate(
        tiny,
        out,
        "--external", str(tiny["external"]),
        "--labels", str(tiny["external"] / "labels.csv"),
        "--compare", str(tiny["checkpoint"]),
        "--general-clip", "ViT-S-32", "--general-clip-size", "32", "--general-clip-frames", "1",
    )  # fmt: skip
    assert code == 0
    summary = json.loads((out / "summary.json").read_text())
    assert [s["name"] for s in summary["sites"]] == ["internal", "external"]
    # the run can be repeated from its summary, from the data root, wherever that is
    assert summary["config"]["labels"] == ["internal/labels.csv", "external/labels.csv"]
    assert summary["config"]["command"].startswith("python -m model evaluate --checkpoint run/")
    assert summary["sites"][0]["n_evaluated"] == 12 and summary["sites"][1]["n_evaluated"] == 20
    models = [m["name"] for m in summary["models"]]
    # a baseline without weights says so wherever its figures appear
    assert models == ["run/last", "run/last (2)", "general CLIP ViT-S-32 (random weights)"]
    trained = [m["trained on"] for m in summary["models"]]  # told against the sites
    assert trained[0] == trained[1] != "–" and trained[2] == "–"
    # the checkpoint compared with itself: its rows are equal, and the problems say why
    assert any(
        "run/last and run/last (2) hold the same weights" in problem
        for problem in summary["problems"]
    )
    assert any(
        p.startswith(
            "general CLIP ViT-S-32 has random weights (no weights file given, and "
            "nothing is downloaded)"
        )
        for p in summary["problems"]
    )
    for site in ("internal", "external"):
        for table in TABLES:
            assert (out / site / f"{table}.csv").is_file(), (site, table)
        for model in ("run_last", "run_last_2", "general_CLIP_ViT-S-32_random_weights"):
            for plot in ("roc", "fewshot", "confusion_zero-shot"):
                assert (out / site / "plots" / f"{plot}_{model}.png").is_file(), (site, plot, model)
    assert (out / "external" / "plots" / "confusion_linear_probe_run_last.png").is_file()
    # every internal test study of the tiny data is "normal": the diagnosis probe says so
    assert (
        "site internal: diagnosis probe skipped: every labelled study (12 studies) is 'normal'"
        in summary["problems"]
    )
    prompts = pd.read_csv(out / "internal" / "prompts.csv")
    assert {"model", "Label", "side", "prompt", "contradicts", "unfamiliar", "closest"} <= set(
        prompts.columns
    )
    assert set(prompts["model"]) == set(models) and prompts["closest"].str.len().min() > 0
    # the per-study scores recompute every zero-shot finding AUC the tables report
    scores = pd.read_csv(out / "external" / "study_scores.csv")
    zeroshot = pd.read_csv(out / "external" / "zeroshot.csv")
    findings = zeroshot[(zeroshot["model"] == "run/last") & zeroshot["label_key"].isin(FINDINGS)]
    assert len(findings) > 0
    for _, row in findings.iterrows():
        rows = scores[
            (scores["model"] == "run/last")
            & (scores["setting"] == "zero-shot")
            & (scores["label_key"] == row["label_key"])
        ]
        assert len(rows) > 0, row["label_key"]
        assert roc_auc_score(rows["label"], rows["score"]) == pytest.approx(row["AUC"], abs=1e-4)
    assert "external/study_scores.csv" in summary["files"]["csv"]
    for site in ("internal", "external"):  # ... and every diagnosis accuracy, from its classes
        _assert_diagnosis_recomputes(out / site)
    for site in ("internal", "external"):  # retrieval's figures have their intervals
        retrieval = pd.read_csv(out / site / "retrieval.csv")
        intervals = {f"{f}_{end}" for f in ("R@1", "R@5", "median_rank") for end in ("lo", "hi")}
        assert intervals <= set(retrieval.columns), site
        assert retrieval["R@1_lo"].notna().all() and retrieval["R@1"].notna().all(), site
    written = summary["results"][0]["retrieval"][0]
    assert {"R@1_lo", "label_precision@10_ceiling_hi"} <= set(written)
    probe = pd.read_csv(out / "internal" / "probe.csv")
    assert list(probe.columns[:5]) == ["model", "Label", "Accuracy", "F1-score", "AUC"]
    # the train-split probes: fitted on the 48 labelled train/val studies, scored on the test
    # split, where the cross-validated diagnosis probe could not run
    split = probe[probe["setting"] == "train-split probe"]
    assert set(split["model"]) == set(models) and (split["n_fit"] == 48).all()
    assert {"lv_dysfunction", "lge", "normal"} <= set(split["label_key"])
    diagnosis = pd.read_csv(out / "internal" / "diagnosis.csv")
    assert set(diagnosis["setting"]) == {"zero-shot", "train-split probe"}
    assert (out / "internal" / "plots" / "confusion_train-split_probe_run_last.png").is_file()
    assert "data:image/png;base64" in (out / "report.html").read_text()
    # each figure's alt text says what it shows (it was the file's name: "roc_run_last")
    assert '<img alt="Zero-shot ROC curves, one per finding' in (out / "report.html").read_text()
    # its sections are headed as report.md and the Evaluate page head them, not by file name
    assert "<h3>Zero-shot</h3>" in (out / "report.html").read_text()
    assert "<h3>Linear probe</h3>" in (out / "report.html").read_text()
    assert "<h3>zeroshot</h3>" not in (out / "report.html").read_text()
    # the tiny labels never have hypertrophy: reported, not fatal
    assert any("'lv_hypertrophy' has one class only" in p for p in summary["problems"])
    counts = pd.read_csv(out / "internal" / "counts.csv").set_index("label_key")
    assert counts.loc["lge", "n"] == 12
    # the main model against the same checkpoint again and the general CLIP, on paired studies
    comparison = pd.read_csv(out / "external" / "comparison.csv")
    assert set(comparison["baseline"]) == {"run/last (2)", models[2]}
    assert set(comparison["setting"]) == {"zero-shot", "linear probe", "train-split probe"}
    same = comparison[comparison["baseline"] == "run/last (2)"]
    assert (same["difference"] == 0).all() and (same["p_value"] == 1).all()
    assert (out / "external" / "plots" / "comparison_run_last.png").is_file()
    assert len(summary["comparisons"]) == len(comparison) + len(
        pd.read_csv(out / "internal" / "comparison.csv")
    )
    _assert_subgroups(out, summary, models)
    _assert_card_reports(tiny["checkpoint"], out, summary)


def _assert_card_reports(checkpoint: Path, out: Path, summary: dict) -> None:
    """The checkpoint's model card reads this summary as ``evaluate`` wrote it: each site's
    zero-shot finding AUCs with their CIs, labelled internal / external as the summary says."""
    from model.card import card_facts
    from model.card_markdown import render_card
    from model.evaluation.tables import display_name

    card = render_card(card_facts(checkpoint, [out]), checkpoint.name)
    trained_on = summary["models"][0]["trained on"]
    main_model = summary["models"][0]["name"]
    results = [r for r in summary["results"] if r["model"] == main_model]
    assert [r["site"] for r in results] == ["internal", "external"]
    for result in results:
        role = "internal" if result["site"] == "internal" else "external"
        assert f"Site `{result['site']}` ({role}; trained on: {trained_on})" in card
        for row in (r for r in result["zeroshot"] if r["task"] == "finding"):
            shown = f"| {display_name(row['label_key'])} | {row['auc']:.3f} | "
            assert shown + f"{row['auc_lo']:.3f}–{row['auc_hi']:.3f} |" in card, row
    assert "| linear probe |" in card  # the external site's cross-validated diagnosis probe


def _assert_subgroups(out: Path, summary: dict, models: list[str]) -> None:
    """Each site's subgroup AUCs (every model), in the reports, the summary and the methods."""
    subgroups = pd.read_csv(out / "external" / "subgroups.csv", keep_default_na=False)
    assert list(subgroups.columns[:6]) == [
        "model",
        "site",
        "variable",
        "value",
        "Label",
        "label_key",
    ]
    assert {"studies", "patients", "positives", "negatives", "AUC", "auc_lo", "auc_hi"} <= set(
        subgroups.columns
    )
    assert set(subgroups["model"]) == set(models)
    means = subgroups[(subgroups["label_key"] == "mean") & (subgroups["model"] == models[0])]
    sex = means[means["variable"] == "sex"].set_index("value")
    assert sex["studies"].to_dict() == {"F": 10, "M": 10}  # the 20 external studies
    # the tiny site has one scanner: said
    assert means[means["variable"] == "manufacturer"]["note"].str.contains("only value").all()
    # an AUC only with 5 studies of each class; otherwise its counts, and why
    blank = subgroups["AUC"] == ""
    assert blank.any() and subgroups.loc[blank, "note"].str.contains("not estimable").all()
    findings = subgroups[~blank & (subgroups["label_key"] != "mean")]
    assert len(findings) > 0 and (findings[["positives", "negatives"]].astype(int) >= 5).all(None)
    html, markdown = (out / "report.html").read_text(), (out / "report.md").read_text()
    assert "<h3>Subgroups</h3>" in html and "<h4>Field strength</h4>" in html
    assert "### Subgroups" in markdown and "#### Age band" in markdown
    assert "Not estimable: under 5 positive" in markdown
    rows = summary["results"][0]["subgroups"]
    assert {row["variable"] for row in rows} == {
        "sex",
        "age_band",
        "manufacturer",
        "field_strength",
    }
    assert summary["config"]["subgroups"]["min_class"] == 5
    assert "Subgroups (sex, age_band, manufacturer, field_strength" in html


def test_labels_that_match_no_study_keep_partial_results(
    tiny: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    labels = pd.read_csv(tiny["data"] / "labels.csv", dtype=str)
    labels["accession_number"] = "OTHER" + labels["accession_number"]
    labels.to_csv(tmp_path / "labels.csv", index=False)
    with caplog.at_level(logging.ERROR):
        code = _evaluate(tiny, tmp_path / "eval", labels=tmp_path / "labels.csv")
    assert code == 2
    assert "none of the 60 rows of the labels file matches" in caplog.text
    assert (tmp_path / "eval" / "internal" / "retrieval.csv").is_file()
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    assert any(p.startswith("train-split probes skipped: no labelled") for p in summary["problems"])


def test_prompts_missing_for_a_label_are_reported(tiny: dict[str, Path], tmp_path: Path) -> None:
    prompts = tmp_path / "prompts.yaml"
    prompts.write_text(
        "findings:\n  lv_dilation:\n    positive: [Dilated left ventricle]\n"
        "    negative: [Normal left ventricular size]\n"
    )
    assert _evaluate(tiny, tmp_path / "eval", "--prompts", str(prompts)) == 0
    summary = json.loads((tmp_path / "eval" / "summary.json").read_text())
    assert any("no prompts for label 'lge'" in p for p in summary["problems"])
    assert any("no prompts for diagnosis 'normal'" in p for p in summary["problems"])
    zeroshot = pd.read_csv(tmp_path / "eval" / "internal" / "zeroshot.csv")
    assert set(zeroshot["label_key"]) == {"lv_dilation"}


def test_empty_external_dataset_is_named_and_internal_results_kept(
    tiny: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    empty = make_tiny_dataset(tmp_path / "empty", n=2, seed=5)
    studies = pd.read_parquet(empty / "studies.parquet").iloc[:0]
    studies.to_parquet(empty / "studies.parquet", index=False)
    with caplog.at_level(logging.ERROR):
        code = _evaluate(tiny, tmp_path / "eval", "--external", str(empty))
    assert code == 2
    assert f"dataset {empty} has no studies" in caplog.text
    assert (tmp_path / "eval" / "internal" / "zeroshot.csv").is_file()


def test_a_dataset_that_cannot_be_opened_is_named_once(
    tiny: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """With no site to evaluate, the reason was logged as the site's error and again in the
    final "nothing to evaluate" line; a missing --data is now named before any work, once."""
    missing = tmp_path / "no-such-dataset"
    argv = ["evaluate", "--checkpoint", str(tiny["checkpoint"]), "--data", str(missing)]
    with caplog.at_level(logging.ERROR):
        assert main([*argv, "--out", str(tmp_path / "eval"), *FAST]) == 2
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [f"dataset folder {missing} does not exist"]
    with caplog.at_level(logging.ERROR):  # an external site that fails is still named
        assert _evaluate(tiny, tmp_path / "eval2", "--external", str(missing)) == 2
    assert f"{missing}" in caplog.text


def test_an_external_site_ingested_on_another_grid_is_reported(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    other = make_tiny_dataset(tmp_path / "wide", n=20, seed=1)
    settings = json.loads((other / "dataset.json").read_text())
    (other / "dataset.json").write_text(json.dumps({**settings, "fov_mm": 320}))
    studies = pd.read_parquet(other / "studies.parquet").assign(site="wide")
    studies.to_parquet(other / "studies.parquet", index=False)
    out = tmp_path / "eval"
    labels = ["--labels", str(other / "labels.csv")]
    assert _evaluate(tiny, out, "--external", str(tiny["external"]), str(other), *labels) == 0
    problems = json.loads((out / "summary.json").read_text())["problems"]
    grid = [p for p in problems if "at another scale or resolution" in p]
    assert grid == [
        "site wide: ingested with fov_mm=320 (internal 224); its studies reach the model at "
        "another scale or resolution than the internal site's"
    ]


def test_checkpoint_from_another_model_family(
    tiny: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    foreign = tmp_path / "resnet.pt"
    torch.save({"state_dict": {"fc.weight": torch.zeros(2, 2)}}, foreign)
    argv = ["evaluate", "--checkpoint", str(foreign), "--data", str(tiny["data"])]
    argv += ["--labels", str(tiny["data"] / "labels.csv"), "--out", str(tmp_path / "a")]
    with caplog.at_level(logging.ERROR):
        assert main(argv) == 2
    assert "not a CMR-CLIP checkpoint" in caplog.text
    caplog.clear()
    with caplog.at_level(logging.ERROR):
        code = _evaluate(tiny, tmp_path / "b", "--compare", str(foreign))
    assert code == 2
    assert f"--compare {foreign} skipped" in caplog.text
    summary = json.loads((tmp_path / "b" / "summary.json").read_text())
    assert [m["name"] for m in summary["models"]] == ["run/last"]


def test_an_output_path_that_cannot_be_a_folder_is_refused_before_any_work(
    tiny: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("not a folder")
    with caplog.at_level(logging.INFO):
        assert _evaluate(tiny, blocker) == 2
        assert _evaluate(tiny, blocker / "eval") == 2
    assert f"output folder {blocker} is a file, not a folder" in caplog.text
    assert f"output folder {blocker / 'eval'} cannot be created: {blocker} is a file" in caplog.text
    assert "studies evaluated" not in caplog.text  # refused before any site was opened
    assert blocker.read_text() == "not a folder"


def test_bad_arguments_are_one_line_errors(
    tiny: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    with caplog.at_level(logging.ERROR):
        assert _evaluate(tiny, tmp_path / "a", "--shots", "0,4") == 2
        assert _evaluate(tiny, tmp_path / "b", "--prompts", str(tmp_path / "none.yaml")) == 2
        assert _evaluate(tiny, tmp_path / "c", "--general-clip", "NoSuchNet") == 2
        assert _evaluate(tiny, tmp_path / "d", "--probe-c", "0") == 2
    assert "every k must be >= 1" in caplog.text
    assert "--probe-c must be > 0, got 0.0" in caplog.text
    assert "does not exist" in caplog.text
    assert "'NoSuchNet' is not an open_clip model name" in caplog.text


def test_the_internal_dataset_is_refused_as_an_external_site(
    tiny: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """Evaluated as "external", the internal dataset's train studies would score its own
    train-split probes as an unseen site: refused before any work, as is a site given twice."""
    out = tmp_path / "eval"
    with caplog.at_level(logging.ERROR):
        assert _evaluate(tiny, out, "--external", str(tiny["data"] / ".." / "internal")) == 2
        twice = ["--external", str(tiny["external"]), str(tiny["external"])]
        assert _evaluate(tiny, out, *twice) == 2
    assert "is the internal dataset; an external site must be another" in caplog.text
    assert "is already an external dataset" in caplog.text
    assert not out.exists()


def test_probe_c_is_chosen_unless_fixed() -> None:
    parser = argparse.ArgumentParser()
    add_arguments(parser)
    argv = ["--checkpoint", "c.pt", "--data", "d", "--labels", "l.csv", "--out", "o"]
    assert request_from_args(parser.parse_args(argv)).suite.probe.c is None
    fixed = request_from_args(parser.parse_args([*argv, "--probe-c", "0.5"]))
    assert fixed.suite.probe.c == 0.5


def test_a_diagnosis_class_the_prompt_set_adds_is_evaluated_as_a_diagnosis(
    tiny: dict[str, Path], tmp_path: Path
) -> None:
    prompts = tmp_path / "prompts.yaml"
    prompts.write_text(
        DEFAULT_PROMPTS.read_text(encoding="utf-8")
        + '  sarcoidosis:\n    - "Cardiac sarcoidosis"\n'
    )
    labels = pd.read_csv(tiny["data"] / "labels.csv", dtype=str)
    labels["sarcoidosis"] = "0"
    every_fourth = labels.index[::4]
    labels.loc[every_fourth, list(DIAGNOSES)] = "0"
    labels.loc[every_fourth, "sarcoidosis"] = "1"
    labels.to_csv(tmp_path / "labels.csv", index=False)
    out = tmp_path / "eval"
    assert _evaluate(tiny, out, "--prompts", str(prompts), labels=tmp_path / "labels.csv") == 0
    summary = json.loads((out / "summary.json").read_text())
    # no false "no prompts" problem; 3 studies of the class are flagged as too few to rely on
    assert [p for p in summary["problems"] if "sarcoidosis" in p] == [
        "site internal: diagnosis 'sarcoidosis' has 3 studies: too few (under 10) for its "
        "one-vs-rest AUC and confidence interval to be relied on"
    ]
    zeroshot = pd.read_csv(out / "internal" / "zeroshot.csv").set_index("label_key")
    assert zeroshot.loc["sarcoidosis", "task"] == "diagnosis"
    probe = pd.read_csv(out / "internal" / "probe.csv")
    assert set(probe.loc[probe["label_key"] == "sarcoidosis", "task"]) == {"diagnosis"}
    assert "sarcoidosis" not in set(pd.read_csv(out / "internal" / "fewshot.csv")["label_key"])
    # every labelled study has one diagnosis: each setting scores all 12 test studies
    diagnosis = pd.read_csv(out / "internal" / "diagnosis.csv").set_index("setting")
    assert (diagnosis["n"] == 12).all() and "linear probe" in diagnosis.index
    findings = zeroshot[zeroshot["task"] == "finding"]
    key_figures = headline(summary["results"]).set_index("figure")
    assert key_figures.loc["zero-shot findings, mean AUC", "internal"] == pytest.approx(
        findings["AUC"].mean(), abs=1e-4
    )


def test_a_missing_external_dataset_or_compare_checkpoint_stops_before_any_work(
    tiny: dict[str, Path], tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    """A typo'd --external path, a run folder given to --compare or a misspelt --general-clip
    model was named only after the rest of the evaluation had run; now it is one error line and
    nothing is written."""
    out = tmp_path / "eval"
    run_folder = tiny["checkpoint"].parent
    with caplog.at_level(logging.INFO):
        assert _evaluate(tiny, out, "--external", str(tmp_path / "no-such-site")) == 2
        assert _evaluate(tiny, out, "--compare", str(run_folder)) == 2
        assert _evaluate(tiny, out, "--compare", str(tmp_path / "none.pt")) == 2
        assert _evaluate(tiny, out, "--general-clip", "ViT-B-23") == 2  # ran, then was skipped
    errors = [r.getMessage() for r in caplog.records if r.levelno >= logging.ERROR]
    assert errors == [
        f"--external dataset folder {tmp_path / 'no-such-site'} does not exist",
        f"--compare {run_folder} is a folder; give its .pt file (a run's best.pt or last.pt)",
        f"--compare checkpoint {tmp_path / 'none.pt'} does not exist",
        "--general-clip: 'ViT-B-23' is not an open_clip model name",
    ]
    assert not out.exists()


def test_the_help_names_every_file_the_evaluation_writes(capsys) -> None:
    """``evaluate --help``'s --out names each table the README and a run's folder hold (it
    listed six of the eleven kinds of file)."""
    with pytest.raises(SystemExit):
        main(["evaluate", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    for name in (*TABLES, "study_scores", "comparison", "confusion_", "report.md", "SVG"):
        assert name in text, name
