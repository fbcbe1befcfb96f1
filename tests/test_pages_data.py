"""Pages over a tiny dataset + tiny checkpoint: scores react to prompt edits, search returns
cases, a case opens with its cine views, the map renders, runs are listed."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import pytest
from dashboard_fixtures import block_holding
from PIL import Image
from streamlit.testing.v1 import AppTest

from dashboard.runs import preset_defaults

pytestmark = pytest.mark.slow


def _scores(at: AppTest, column: str) -> list[float]:
    table = next(d.value for d in at.dataframe if column in d.value.columns)
    return table[column].round(6).tolist()


def test_zeroshot_scores_change_when_a_prompt_is_edited(app) -> None:
    at = app("pages/zeroshot.py")
    assert not at.info, [i.value for i in at.info]
    assert "Scored 24 studies" in " ".join(c.value for c in at.caption)
    at.text_input(key="zs-try-pos").input("Dilated left ventricle.").run()
    at.text_input(key="zs-try-neg").input("Normal left ventricular size.").run()
    first = _scores(at, "Custom")  # the finding "custom", named as on every page
    assert len(first) == 24 and all(0.0 <= p <= 1.0 for p in first)
    at.text_input(key="zs-try-pos").input("Late gadolinium enhancement is present.").run()
    assert not at.exception
    second = _scores(at, "Custom")
    assert second != first
    captions = " ".join(c.value for c in at.caption)
    assert "(just now;" in captions, captions  # a wording never scored before
    at.slider(key="zs-threshold").set_value(0.3).run()  # same prompts: the cached scores
    captions = " ".join(c.value for c in at.caption)
    assert "reused now" in captions and "(just now;" not in captions, captions
    metrics = next(d.value for d in at.dataframe if "Metric" in d.value.columns)
    assert "AUC" in metrics["Metric"].tolist()  # the tiny labels.csv gives ROC metrics


def test_zeroshot_evaluates_the_chosen_split(app, data_root: Path) -> None:
    from model.data.dataset import CMRDataset

    splits = CMRDataset.open(data_root / "ds" / "tiny").studies["split"]
    at = app("pages/zeroshot.py")
    assert at.selectbox(key="zs-eval-split").options[:2] == ["all splits", "test"]
    for split, studies in (("all splits", len(splits)), ("val", int((splits == "val").sum()))):
        at.selectbox(key="zs-eval-split").select(split).run()
        assert not at.exception and not at.error, [e.value for e in at.error]
        cm = next(c for c in at.get("plotly_chart") if "Diagnosis" in c.proto.spec)
        assert f"over {studies} studies" in cm.proto.spec
        texts = [c.value for c in at.caption] + [i.value for i in at.info]
        assert any(f" {studies} studies" in t or f"all {studies} scored" in t for t in texts), texts


def test_zeroshot_says_why_when_no_prompt_is_named_as_a_labels_column(app) -> None:
    from model.prompts import DEFAULT_PROMPTS, PromptSet

    shipped = PromptSet.load(DEFAULT_PROMPTS)
    at = app("pages/zeroshot.py")
    for key, column, rows in (
        ("zs-f-shipped: default", "finding", len(shipped.findings)),
        ("zs-d-shipped: default", "class", len(shipped.diagnoses)),
    ):
        edits = {i: {column: f"{column}{i}"} for i in range(rows)}  # no name a labels column has
        at.session_state[key] = {"edited_rows": edits, "added_rows": [], "deleted_rows": []}
    at.run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    infos = [i.value for i in at.info]
    assert any(
        "No finding of this prompt set has a column" in i and "lv_dysfunction" in i for i in infos
    ), infos
    assert any("no confusion matrix" in i for i in infos), infos
    assert not at.get("plotly_chart")


def test_zeroshot_shows_how_the_model_reads_a_prompt_pair(app, data_root: Path) -> None:
    from model.data.dataset import CMRDataset
    from model.sentences import split_sentences

    impressions = CMRDataset.open(data_root / "ds" / "tiny").studies["impression"]
    sentences = {s for text in impressions for s in split_sentences(str(text))}
    at = app("pages/zeroshot.py")
    at.text_input(key="zs-try-pos").input("Dilated left ventricle").run()
    at.text_input(key="zs-try-neg").input("Normal left ventricular size").run()
    assert not [d for d in at.dataframe if "sentence" in d.value.columns]  # only when asked
    at.toggle(key="zs-read").set_value(True).run()
    assert not at.exception and not at.error
    tables = [d.value for d in at.dataframe if "sentence" in d.value.columns]
    assert len(tables) == 2
    for table in tables:
        assert 1 <= len(table) <= 5 and table["cosine"].is_monotonic_decreasing
        assert set(table["sentence"]) <= sentences and (table["studies"] >= 1).all()
    assert "read at cosine" in " ".join(c.value for c in at.caption)


def test_text_search_and_more_like_this_return_cases(app) -> None:
    at = app("pages/browser.py")
    at.text_input(key="b-query").input("Dilated left ventricle").run()
    assert not at.exception and not at.error
    cards = [m.value for m in at.markdown if "similarity" in m.value]
    assert len(cards) == 12  # one full page of case cards
    like = app("pages/browser.py", like_id="s000003")
    cards = [m.value for m in like.markdown if "similarity" in m.value]
    assert cards and not any("**s000003**" in c for c in cards)


def test_empty_and_huge_queries_are_clear_messages(app) -> None:
    at = app("pages/browser.py")
    at.text_input(key="b-query").input("   ").run()
    assert not at.error and not at.exception
    at.text_input(key="b-query").input("ünïcödé 心臓 " * 3).run()
    assert not at.exception and not at.error


def test_case_view_shows_views_report_and_lge(app) -> None:
    at = app("pages/studies.py", studies_view="Case view", case_id="s000002")
    assert at.selectbox(key="case-select").value == "s000002"
    assert at.slider(key="lge-lge_sax").max == 16
    texts = [t.value for t in at.text]
    assert any("gadolinium" in t or "LV" in t or "ventric" in t for t in texts)


def test_case_view_report_and_cine_fit_a_narrow_window(app) -> None:
    """A quarter-page column gave the report and metadata ~110 px on an 800 px window (words
    cut mid-word, the table's values hidden): they get a fixed width, the cine player the rest
    (its views wrap to it: tests/test_cine_layout.py)."""
    at = app("pages/studies.py", studies_view="Case view", case_id="s000002")
    facts = block_holding(at.main, lambda e: getattr(e, "value", None) == "Metadata")
    assert facts is not None and facts.proto.width_config.pixel_width >= 250, facts.proto
    cine = block_holding(at.main, lambda e: getattr(e, "value", None) == "Cine")
    assert cine is not None and cine.proto.width_config.use_stretch, cine.proto


def test_a_case_opened_from_the_case_browser_logs_no_widget_state_warning(
    app, monkeypatch: pytest.MonkeyPatch, caplog: pytest.LogCaptureFixture
) -> None:
    """Open case sets the Studies view in session state: a view control also given a default
    made Streamlit log a warning with a 30-line stack to the ./run.sh terminal."""
    from types import SimpleNamespace

    from streamlit.elements.lib import policies

    monkeypatch.setattr(policies, "_shown_default_value_warning", False)  # once per server
    # the check runs only under a server's runtime, which AppTest does not start
    monkeypatch.setattr(policies, "runtime", SimpleNamespace(exists=lambda: True))
    at = app("pages/browser.py")
    at.text_input(key="b-query").input("Late gadolinium enhancement is present.").run()
    policies._LOGGER.addHandler(caplog.handler)  # Streamlit's loggers do not propagate
    try:
        next(b for b in at.button if b.label == "Open case").click().run()
    finally:
        policies._LOGGER.removeHandler(caplog.handler)
    assert not at.exception, [e.value for e in at.exception]
    assert at.selectbox(key="case-select").value is not None  # the case view is on show
    assert not [r.getMessage() for r in caplog.records if "Session State API" in r.getMessage()]


def test_study_pickers_narrow_a_large_site_by_typed_text(app, monkeypatch) -> None:
    import dashboard.ui

    monkeypatch.setattr(dashboard.ui, "PICKER_IDS", 5)  # the tiny site's 24 studies, "large"
    at = app("pages/studies.py", studies_view="Case view", case_id="s000002")
    assert len(at.selectbox(key="case-select").options) == 5
    at.text_input(key="case-select-find").input("S00001").run()
    assert at.selectbox(key="case-select").options == ["s000002", *(f"s00001{i}" for i in range(4))]
    assert any("10 IDs match; type more" in c.value for c in at.caption)
    at.text_input(key="case-select-find").input("15").run()  # the study on show, then matches
    assert at.selectbox(key="case-select").options == ["s000002", "s000015"]
    at.selectbox(key="case-select").select("s000015").run()
    assert not at.exception and at.selectbox(key="case-select").value == "s000015"
    at.text_input(key="case-select-find").input("zzz").run()
    assert any("No study ID contains 'zzz'" in w.value for w in at.warning)
    assert at.selectbox(key="case-select").value == "s000015"  # still shown, not lost


def test_studies_table_and_runs(app) -> None:
    studies = app("pages/studies.py")
    assert len(studies.dataframe(key="studies-table").value) == 24
    assert "patient_key" not in studies.dataframe(key="studies-table").value.columns
    train = app("pages/train.py")
    runs = train.dataframe[0].value
    assert runs["run"].tolist() == ["runs/tiny"]
    inputs = {n.label: n.value for n in train.number_input}
    budget = preset_defaults("cpu-small")["time_budget_min"]
    assert inputs["Time budget (min)"] == pytest.approx(budget)
    formats = {n.label: n.proto.format for n in train.number_input}
    assert formats["Time budget (min)"] == "%g"  # whole minutes read "13", not "13.00"
    assert inputs["Epochs"] == preset_defaults("cpu-small")["epochs"]
    boxes = {box.label: box.value for box in train.checkbox}
    assert boxes["Gradient checkpointing"] is False  # cpu-small leaves it off
    # as wide as its label: a quarter column cut it to "Gradient checkpoint…" on a laptop
    row = block_holding(train.main, lambda e: getattr(e, "label", None) == "Gradient checkpointing")
    assert row.proto.WhichOneof("type") != "column", row.proto


def test_embedding_map_renders(app) -> None:
    at = app("pages/embeddings.py", **{"e-method": "PCA"})
    assert at.selectbox(key="e-colour") is not None
    at.selectbox(key="e-colour").select("site").run()
    at.text_input(key="e-prompts").input("Dilated left ventricle | Normal study").run()
    assert not at.exception and not at.error


def test_a_prompt_that_cannot_be_placed_leaves_the_map_drawn(app) -> None:
    at = app("pages/embeddings.py", **{"e-method": "PCA"})
    at.text_input(key="e-prompts").input("Dilated left ventricle | " + "word " * 120).run()
    assert not at.exception and not at.error, [e.value for e in at.error]
    assert len(at.get("plotly_chart")) == 1
    [warning] = [w.value for w in at.warning]
    assert warning.startswith("Prompts not placed on the map:") and "500" in warning


def test_a_bad_labels_file_is_a_warning_and_an_edited_one_is_reread(app, data_root) -> None:
    labels = data_root / "ds" / "tiny" / "labels.csv"
    good = labels.read_text()
    try:
        labels.write_text(good.replace(",1,", ",yes,", 1))
        os.utime(labels, (1.0, 1.0))  # a new modification time, whatever the clock's resolution
        for page, state in (
            ("pages/zeroshot.py", {}),
            ("pages/embeddings.py", {"e-method": "PCA"}),
        ):
            at = app(page, **state)  # no error, no exception: the page itself still works
            warnings = [w.value for w in at.warning]
            assert any("Labels not used" in w and "'yes'" in w for w in warnings), warnings
        zeroshot = app("pages/zeroshot.py")
        assert "Scored 24 studies" in " ".join(c.value for c in zeroshot.caption)
    finally:
        labels.write_text(good)
    assert not app("pages/zeroshot.py").warning  # the repaired file is read again


def test_evaluate_page_offers_the_other_checkpoints_for_comparison(app) -> None:
    at = app("pages/evaluate.py")
    compare = next(m for m in at.multiselect if m.label == "Compare with (optional)")
    # best.pt is the model evaluated; every other checkpoint (here the run's last.pt) is offered
    assert compare.options == ["tiny/last.pt"]
    # and the form names it: the job's title was the first place it appeared
    assert any("Evaluates the active checkpoint `runs/tiny/best.pt`" in c.value for c in at.caption)


def test_the_evaluation_form_keeps_its_choices_when_another_users_run_saves_a_checkpoint(
    app, data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    launched: list[list[str]] = []
    monkeypatch.setattr(
        "dashboard.ui.launch", lambda jobs, kind, command, *a, **kw: launched.append(command)
    )
    at = app("pages/evaluate.py")
    next(m for m in at.multiselect if m.label == "Compare with (optional)").set_value(
        [data_root / "runs" / "tiny" / "last.pt"]
    )
    other = data_root / "runs" / "other"  # someone's training keeps its first best.pt meanwhile
    other.mkdir()
    try:
        (other / "status.json").write_text(json.dumps({"state": "running"}))
        (other / "best.pt").write_bytes(b"")
        next(b for b in at.button if b.label == "Run evaluation").click().run()
    finally:
        shutil.rmtree(other)
    assert not at.exception, [e.value for e in at.exception]
    [command] = launched
    assert command[command.index("--compare") :][1:2] == [str(data_root / "runs/tiny/last.pt")]


def test_evaluate_page_leads_with_the_headline_of_a_finished_evaluation(app, data_root) -> None:
    folder = data_root / "evaluations" / "eval-test"
    (folder / "internal").mkdir(parents=True)
    (folder / "internal" / "zeroshot.csv").write_text("model,Label,AUC\nm,LGE,0.9\n")
    (folder / "internal" / "diagnosis.csv").write_text("model,accuracy\nm,0.5\n")
    result = {"model": "m", "site": "internal", "zeroshot": [{"label_key": "lge", "auc": 0.9}]}
    (folder / "summary.json").write_text(json.dumps({"results": [result, "not a record"]}))
    try:
        at = app("pages/evaluate.py")
        # a table that wraps its cells: a data grid scrolled the external site out of sight
        # at 800 px
        [headline] = [t.value for t in at.table]
        assert headline.reset_index().to_dict("records") == [
            {"figure": "zero-shot findings, mean AUC", "internal": "0.900"}
        ]
        assert not any("figure" in d.value.columns for d in at.dataframe)
        assert [t.label for t in at.tabs] == ["Zero-shot", "Diagnosis"]
        (folder / "summary.json").write_text("[1, 2]")  # not a summary: no headline, no error
        at = app("pages/evaluate.py")
        assert not at.table
    finally:
        shutil.rmtree(data_root / "evaluations")


def test_evaluate_page_states_sites_problems_methods_and_charts_each_model(app, data_root) -> None:
    """What a reviewer needs beside the tables: what each site evaluated, the run's problems,
    how the figures were computed, and few-shot curves per model with the zero-shot line."""
    folder = data_root / "evaluations" / "eval-review"
    (folder / "internal").mkdir(parents=True)
    rows = [
        f"{model},LGE,{method},{k},{auc},{auc - 0.02},{auc + 0.02},internal"
        for model, auc in (("ours", 0.9), ("base", 0.5))
        for method in ("prototype", "logistic")
        for k in (1, 2)
    ]
    (folder / "internal" / "fewshot.csv").write_text(
        "model,Label,method,k,AUC,auc_lo,auc_hi,site\n" + "\n".join(rows) + "\n"
    )
    (folder / "internal" / "zeroshot.csv").write_text(
        "model,Label,AUC,setting\nours,LGE,0.8,zero-shot\nbase,LGE,0.45,zero-shot\n"
    )
    site = {"name": "internal", "selection": "test split", "n_total": 1000, "n_evaluated": 14,
            "n_labelled": 12}  # fmt: skip
    suite = {"bootstrap": 321, "seed": 5, "train_split_probes": False,
             "fewshot": {"shots": [1, 2], "episodes": 7, "seed": 5},
             "probe": {"folds": 4, "c": None, "c_grid": [0.1, 1.0], "seed": 5}}  # fmt: skip
    summary = {"sites": [site], "problems": ["site internal: few-shot of 'lge' skipped for k = 4"],
               "config": {"checkpoint": "m.pt", "data": "d", "labels": ["l.csv"], "suite": suite},
               "results": []}  # fmt: skip
    (folder / "summary.json").write_text(json.dumps(summary))
    try:
        at = app("pages/evaluate.py")
        captions = " ".join(c.value for c in at.caption)
        assert "internal: 14 studies evaluated (test split) of 1,000 in the dataset" in captions
        # the problem names a label as the tables name it
        assert "few-shot of LGE skipped for k = 4" in at.warning[0].value
        methods = next(e for e in at.expander if e.label == "Methods")
        text = " ".join(m.value for m in methods.markdown)
        assert "321 resamples, seed 5" in text and "7 episodes per k" in text
        [chart] = at.get("plotly_chart")
        traces = json.loads(chart.proto.spec)["data"]
        names = {t.get("name") for t in traces}
        assert {"ours · prototype", "base · logistic", "ours · zero-shot", "chance"} <= names
    finally:
        shutil.rmtree(data_root / "evaluations")


def test_one_damaged_evaluation_file_is_named_and_the_rest_still_shows(app, data_root) -> None:
    folder = data_root / "evaluations" / "eval-damaged"
    plots = folder / "internal" / "plots"
    plots.mkdir(parents=True)
    (folder / "internal" / "zeroshot.csv").write_text("model,Label,AUC\nm,LGE,0.9\n")
    (folder / "internal" / "probe.csv").write_bytes(
        "model,Label\nm,Vergr\xf6\xdferung\n".encode("latin-1")
    )
    buffer = io.BytesIO()
    Image.new("L", (8, 8)).save(buffer, format="PNG")
    (plots / "roc_m.png").write_bytes(buffer.getvalue())
    (plots / "fewshot_m.png").write_bytes(buffer.getvalue()[:40])  # cut short
    result = {"model": "m", "site": "internal", "zeroshot": [{"label_key": "lge", "auc": "high"}]}
    (folder / "summary.json").write_text(json.dumps({"results": [result]}))
    try:
        at = app("pages/evaluate.py")
        assert not at.exception
        [warning] = at.warning
        for name in ("internal/probe.csv", "internal/plots/fewshot_m.png", "summary.json"):
            assert f"- {name}: " in warning.value
        assert "internal/zeroshot.csv" in [t.value for t in at.markdown if "zeroshot" in t.value][0]
        assert len(at.get("image")) == 1  # the readable figure; the damaged one left out
    finally:
        shutil.rmtree(data_root / "evaluations")
