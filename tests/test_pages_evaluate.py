"""The Evaluate page over the tiny data root: what it builds on a rerun, which evaluation it
shows and how it names them, and the form's refusals."""

from __future__ import annotations

import io
import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest
from dashboard_fixtures import block_holding
from streamlit.testing.v1 import AppTest

from dashboard.evaluation_view import download_name
from dashboard.jobs import JobManager
from model.evaluation.published import PUBLISHED_COLUMN

pytestmark = pytest.mark.slow


@pytest.fixture
def evaluations(data_root: Path):
    """The data root's evaluations folder, removed after the test (the data root is shared)."""
    folder = data_root / "evaluations"
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _evaluation(folder: Path, checkpoint: str | None, compare: tuple[str, ...] = ()) -> Path:
    """A finished evaluation folder (one table; a summary naming ``checkpoint``), or one that
    did not finish (no summary.json) when ``checkpoint`` is None."""
    (folder / "internal").mkdir(parents=True)
    (folder / "internal" / "zeroshot.csv").write_text("model,Label,AUC\nm,LGE,0.9\n")
    if checkpoint is not None:
        config = {"checkpoint": checkpoint, "compare": list(compare)}
        (folder / "summary.json").write_text(json.dumps({"config": config, "results": []}))
    return folder


def test_evaluate_page_builds_the_zip_only_when_it_is_downloaded(
    app, evaluations: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Zipping a real evaluation (many PNGs) on every widget change made the page slow: the
    zip is handed to the download button as a callable, built on the click only."""
    import dashboard.evaluation_view as evaluation_view

    built: list[Path] = []

    def counting_zip(folder: Path) -> bytes:
        built.append(folder)
        return b""

    monkeypatch.setattr(evaluation_view, "zip_folder", counting_zip)
    _evaluation(evaluations / "eval-zip", "/runs/a/best.pt")
    at = app("pages/evaluate.py")
    at.selectbox(key="ev-folder").select(at.selectbox(key="ev-folder").options[0]).run()
    buttons = [b for b in at.get("download_button") if "zip" in b.proto.label]
    assert built == []
    [button] = buttons
    assert button.proto.deferred_file_id and not button.proto.url  # built on the click


def test_evaluate_page_refuses_the_internal_dataset_as_the_external_site(app, data_root) -> None:
    """The external choice lists every dataset: picking the internal one would report its
    train studies as an unseen site. The form says so, and no job starts."""
    jobs = JobManager(data_root / "jobs")
    before = [job.id for job in jobs.list("evaluate")]
    at = app("pages/evaluate.py")
    internal = next(s for s in at.selectbox if s.label == "Internal dataset")
    external = next(s for s in at.selectbox if s.label == "External dataset (optional)")
    external.select(internal.value)
    next(b for b in at.button if b.label == "Run evaluation").click().run()
    assert "is the internal dataset; an external site must be another dataset" in at.error[0].value
    assert [job.id for job in jobs.list("evaluate")] == before


def test_evaluations_are_listed_with_the_checkpoints_they_evaluated(app, evaluations: Path) -> None:
    """Two evaluations of different checkpoints were two timestamps in the picker; an
    unfinished one (no summary.json) showed its partial tables as if complete."""
    _evaluation(evaluations / "eval-20260101-000000", "/data/runs/a/best.pt", ("/x/b/last.pt",))
    _evaluation(evaluations / "eval-20260102-000000", "runs/c/last.pt")  # under the data root
    unfinished = _evaluation(evaluations / "eval-20260103-000000", None)
    for age, folder in enumerate(sorted(evaluations.iterdir(), reverse=True)):
        os.utime(folder, (1e9 - age, 1e9 - age))  # newest first: the unfinished one
    at = app("pages/evaluate.py")
    picker = at.selectbox(key="ev-folder")
    assert picker.options == [
        "eval-20260103-000000 · no summary.json (did not finish)",
        "eval-20260102-000000 · c/last.pt",
        "eval-20260101-000000 · a/best.pt against b/last.pt",
    ]
    assert picker.value == unfinished
    assert "has no summary.json: it did not finish" in at.warning[0].value
    form = " ".join(c.value for c in at.caption)
    assert "Evaluates the active checkpoint `" in form and "tiny/best.pt`" in form
    assert form.count("Evaluates the active checkpoint") == 1  # said once, above the form


def test_an_evaluation_still_running_is_not_said_to_have_failed(
    app, data_root: Path, evaluations: Path
) -> None:
    """Once a running evaluation wrote its first site's tables, Evaluate listed it first as
    'no summary.json (did not finish)' and told the user to run it again, while Home said it
    was running."""
    import sys

    folder = _evaluation(evaluations / "eval-20260103-000000", None)
    jobs = JobManager(data_root / "jobs")
    sleeper = [sys.executable, "-c", "import time; time.sleep(120)"]
    job = jobs.launch("evaluate", sleeper, "Evaluate", outputs={"folder": str(folder)})
    try:
        at = app("pages/evaluate.py")
        picker = at.selectbox(key="ev-folder")
        assert picker.options == ["eval-20260103-000000 · running (no summary yet)"]
        assert not [w for w in at.warning if "did not finish" in w.value]
        assert any("still running" in i.value for i in at.info)
    finally:
        jobs.cancel(job.id)
        shutil.rmtree(data_root / "jobs" / job.id, ignore_errors=True)


def test_an_evaluation_launched_here_is_shown_once_it_finishes(app, evaluations: Path) -> None:
    """The picker kept the evaluation it showed before, so the results under the finished job
    were an older evaluation's."""
    earlier = _evaluation(evaluations / "eval-20260101-000000", "/runs/a/best.pt")
    launched = evaluations / "eval-20260102-000000"
    at = app("pages/evaluate.py", **{"ev-launched": launched})
    assert at.selectbox(key="ev-folder").value == earlier
    run = {"started": "2026-01-02T00:00:00Z", "finished": "2026-01-02T00:04:38Z"}
    launched.mkdir()
    (launched / "run.json").write_text(json.dumps(run | {"duration_s": 278.4}))
    _evaluation(launched, "/runs/b/best.pt")  # the job wrote its outputs, summary.json last
    os.utime(launched, (1e9, 1e9))  # older than the one shown: the picker's last
    at.run()
    assert at.selectbox(key="ev-folder").value == launched
    assert "Evaluated 2026-01-02 00:04 UTC, in 4 min 38 s." in [c.value for c in at.caption]
    at.selectbox(key="ev-folder").select(earlier).run()  # the user's own choice then holds
    assert at.selectbox(key="ev-folder").value == earlier


def test_an_evaluation_of_an_earlier_version_states_no_methods_it_did_not_record(
    app, evaluations: Path
) -> None:
    """Before the methods were recorded, the summary had no labels record: the page wrote
    "Labels: none" and described probes that version did not run."""
    folder = _evaluation(evaluations / "eval-20261204-120000", "/runs/a/last.pt")
    suite = {"bootstrap": 1000, "seed": 0, "fewshot": {"shots": [1, 2], "episodes": 100},
             "probe": {"folds": 5, "c": 1.0, "seed": 0}}  # fmt: skip
    config = {"checkpoint": "/runs/a/last.pt", "data": "/ds/internal", "suite": suite}
    summary = {"config": config, "results": [], "created": "2026-12-04T12:03:00Z"}
    (folder / "summary.json").write_text(json.dumps(summary))
    at = app("pages/evaluate.py")
    assert "Methods" not in [e.label for e in at.expander]
    assert "Evaluated 2026-12-04 12:03 UTC." in [c.value for c in at.caption]  # no run.json
    assert any("Methods: not recorded by the version" in c.value for c in at.caption)


def test_downloads_are_named_by_evaluation_and_site(tmp_path: Path) -> None:
    """Each site's zeroshot.csv and roc PNG downloaded as the same bare name, so two sites' or
    two evaluations' files could not be told apart in a Downloads folder."""
    folder = tmp_path / "eval-20260101-000000"
    names = {
        download_name(folder, folder / relative)
        for relative in ("internal/zeroshot.csv", "external/zeroshot.csv", "report.html",
                         "internal/plots/roc_m.png", "external/plots/roc_m.png")
    }  # fmt: skip
    assert names == {
        "eval-20260101-000000_internal_zeroshot.csv",
        "eval-20260101-000000_external_zeroshot.csv",
        "eval-20260101-000000_report.html",
        "eval-20260101-000000_internal_roc_m.png",
        "eval-20260101-000000_external_roc_m.png",
    }


def _markdown_sources(at: AppTest) -> list[str]:
    """What the page handed Streamlit to render as Markdown (messages, captions, labels)."""
    elements = [*at.markdown, *at.caption, *at.info, *at.warning, *at.error, *at.success]
    labels = [b.proto.label for b in at.get("download_button")]
    return [e.value for e in elements] + labels


def test_an_evaluations_names_and_problems_render_as_text(app, evaluations: Path) -> None:
    """Site names, problems and file names of an evaluation folder (shared, or copied from
    another lab) reached Markdown: an image there made the browser fetch its URL."""
    from markdown_it import MarkdownIt

    image = "![x](http://evil.example/t.png)"
    folder = _evaluation(evaluations / "eval-20260101-000000", "/runs/a/best.pt")
    (folder / "internal" / "![t](pixel.png).csv").write_text("model,Label,AUC\nm,LGE,0.9\n")
    summary = json.loads((folder / "summary.json").read_text())
    site = {"name": image, "selection": "all", "n_total": 3, "n_evaluated": 3, "n_labelled": 3}
    summary |= {"sites": [site], "problems": [f"label {image} skipped"]}
    (folder / "summary.json").write_text(json.dumps(summary))
    at = app("pages/evaluate.py")
    rendered = [MarkdownIt("commonmark").render(source) for source in _markdown_sources(at)]
    assert any("evil.example/t.png" in r for r in rendered)  # shown, as text
    assert any("pixel.png" in r for r in rendered)
    assert not [r for r in rendered if "<img" in r or "<a " in r]


def test_a_file_linked_from_outside_an_evaluation_is_neither_shown_nor_downloaded(
    tmp_path: Path,
) -> None:
    """A link planted in a shared evaluations folder (``report.html`` -> a private file of the
    account serving the dashboard) made the page offer that file for download."""
    import zipfile

    from dashboard.evaluation_view import read_outputs, zip_folder

    secret = tmp_path / "private" / "id_rsa"
    secret.parent.mkdir()
    secret.write_text("PRIVATE KEY")
    folder = _evaluation(tmp_path / "evaluations" / "eval-20260101-000000", "/runs/a/best.pt")
    for name in ("report.html", "leak.csv", "internal/study_scores.csv"):
        (folder / name).symlink_to(secret)
    outputs = read_outputs(folder)
    assert [p.name for p in outputs.reports] == []
    assert list(outputs.tables) == ["internal/zeroshot.csv"]
    with zipfile.ZipFile(io.BytesIO(zip_folder(folder))) as archive:
        assert sorted(archive.namelist()) == ["internal/zeroshot.csv", "summary.json"]


def _own_tables(at: AppTest) -> list:
    """The page's dataframes of this evaluation's own tables."""
    return [frame for frame in at.dataframe if PUBLISHED_COLUMN not in frame.proto.columns]


def _formats(at: AppTest, column: str) -> dict[str, str]:
    """Column -> display format of the page's dataframe that has ``column`` (not the published
    figures' table beside a zero-shot one)."""
    configs = [json.loads(frame.proto.columns) for frame in _own_tables(at)]
    [config] = [c for c in configs if column in c]
    return {name: c["type_config"]["format"] for name, c in config.items() if "type_config" in c}


def test_evaluation_tables_show_figures_as_the_headline_does_and_counts_and_p_values_readably(
    app, evaluations: Path
) -> None:
    """The tables showed the CSVs' 4 decimals under a headline of 3, counts as plain digits and
    a tiny p-value as the 0.0000 it rounds to; the files themselves are downloaded as written."""
    folder = _evaluation(evaluations / "eval-20260101-000000", "/runs/a/best.pt")
    zeroshot = "model,Label,AUC,auc_lo,n,n_positive\nm,LGE,0.91234,0.8512,1234,56\n"
    (folder / "internal" / "zeroshot.csv").write_text(zeroshot)
    (folder / "internal" / "comparison.csv").write_text(
        "model,baseline,Label,difference,p_value,p_holm,n_fit\nm,b,LGE,0.0512,1.2e-07,,\n"
    )
    at = app("pages/evaluate.py")
    assert _formats(at, "AUC") == {"AUC": "%.3f", "auc_lo": "%.3f", "n": "%,d", "n_positive": "%,d"}
    [shown] = [json.loads(f.proto.columns) for f in _own_tables(at) if "AUC" in f.proto.columns]
    # headed as report.md heads them, keeping their number format
    assert (shown["n"]["label"], shown["n_positive"]["label"]) == ("studies", "with the label")
    assert _formats(at, "p_value") == {
        "difference": "%.3f",
        "p_value": "%.3g",
        "p_holm": "%.3g",
        "n_fit": "%,d",
    }
    button = next(b for b in at.get("download_button") if b.proto.label == "CSV")
    assert button.proto.deferred_file_id  # the file as written, read on a click


def test_evaluation_figures_have_alt_text_saying_what_they_show(app, evaluations: Path) -> None:
    """A figure without alt text was read by a screen reader as its media URL, and then as
    "plot internal/plots/confusion_zero-shot_m.png": a path, not what it shows."""
    from model.evaluation.plots import plot_confusion

    folder = _evaluation(evaluations / "eval-20260101-000000", "/runs/a/best.pt")
    matrix = pd.DataFrame([[3, 1], [0, 2]], index=["a", "b"], columns=["a", "b"])
    plot_confusion(matrix, "title", folder / "internal" / "plots" / "confusion_zero-shot_m.png")
    at = app("pages/evaluate.py")
    [image] = [image for images in at.get("image") for image in images.proto.imgs]
    assert image.alt.startswith("Confusion matrix of the zero-shot diagnosis: true rows")
    assert image.alt.endswith("(the tables of internal hold the same figures)")


def test_each_figure_is_offered_as_png_and_svg(app, evaluations: Path) -> None:
    """For slides: the PNG blurs when scaled up, its SVG does not; both are one click away."""
    from model.evaluation.plots import plot_confusion

    folder = _evaluation(evaluations / "eval-20260101-000000", "/runs/a/best.pt")
    matrix = pd.DataFrame([[3, 1], [0, 2]], index=["a", "b"], columns=["a", "b"])
    plot_confusion(matrix, "title", folder / "internal" / "plots" / "confusion_zero-shot_m.png")
    at = app("pages/evaluate.py")
    labels = [b.proto.label for b in at.get("download_button")]
    # named by their figure: a screen reader heard "PNG", "SVG" for every figure alike
    assert labels.count("Confusion, zero-shot (PNG)") == 1
    assert labels.count("Confusion, zero-shot (SVG)") == 1


def test_the_downloads_share_one_row(app, evaluations: Path) -> None:
    """Stacked one under another, the zip, report and score downloads pushed the headline
    below the fold of a 1080 p projector; they sit side by side."""
    from streamlit.proto.Block_pb2 import Block

    folder = _evaluation(evaluations / "eval-20260101-000000", "/runs/a/best.pt")
    (folder / "report.html").write_text("<html></html>")
    at = app("pages/evaluate.py")
    buttons = [b.proto.label for b in at.get("download_button")]
    assert "Download report.html" in buttons
    for label in ("Download everything (zip)", "Download report.html"):
        row = block_holding(at.main, lambda e, lb=label: getattr(e, "proto", None) is not None
                            and getattr(e.proto, "label", None) == lb)  # fmt: skip
        assert row.proto.flex_container.direction == Block.FlexContainer.HORIZONTAL, row.proto


def test_interval_columns_are_headed_by_their_figure_and_keep_its_format(
    app, evaluations: Path
) -> None:
    """auc_lo read as code on a screenshot of the table; headed "AUC CI low", it keeps the
    3 decimals the other figures show."""
    folder = _evaluation(evaluations / "eval-20260101-000000", "/runs/a/best.pt")
    zeroshot = "model,Label,AUC,auc_lo,auc_hi\nm,LGE,0.91234,0.8512,0.9544\n"
    (folder / "internal" / "zeroshot.csv").write_text(zeroshot)
    at = app("pages/evaluate.py")
    configs = [json.loads(frame.proto.columns) for frame in _own_tables(at)]
    [config] = [c for c in configs if "auc_lo" in c]
    assert config["auc_lo"]["label"] == "AUC CI low"
    assert config["auc_hi"]["label"] == "AUC CI high"
    assert config["auc_lo"]["type_config"]["format"] == "%.3f"


SUBGROUPS = """model,site,variable,value,Label,label_key,studies,patients,positives,negatives,AUC,auc_lo,auc_hi,auc_resamples,note
m,internal,sex,F,Mean over findings,mean,40,20,,,0.81234,0.7,0.9,1000,
m,internal,sex,F,LGE,lge,40,20,10,30,0.81234,0.7,0.9,1000,
m,internal,sex,M,Mean over findings,mean,30,15,,,,,,,not estimable: 0 of 1 findings estimable
m,internal,sex,M,LGE,lge,30,15,3,27,,,,,"not estimable: 3 positive, 27 negative (under 5 of a class)"
m,internal,field_strength,1.5 T,Mean over findings,mean,70,35,,,0.7,0.6,0.8,1000,the only value at this site: nothing to compare
m,internal,field_strength,1.5 T,LGE,lge,70,35,13,57,0.7,0.6,0.8,1000,the only value at this site: nothing to compare
"""


def test_subgroups_are_shown_per_variable_with_what_was_not_estimable(
    app, evaluations: Path
) -> None:
    """A reviewer's question (does it work as well for women, on every scanner?) answered on
    the page: per variable the mean AUC per value with its counts, then each finding's rows."""
    folder = _evaluation(evaluations / "eval-20260101-000000", "/runs/a/best.pt")
    (folder / "internal" / "subgroups.csv").write_text(SUBGROUPS)
    (folder / "external").mkdir()
    (folder / "external" / "subgroups.csv").write_text("model,AUC\nm,0.5\n")  # damaged
    at = app("pages/evaluate.py")
    assert not at.exception
    assert "Subgroups" in [tab.label for tab in at.tabs]
    [variable] = [box for box in at.selectbox if box.label == "Variable"]
    assert variable.options == ["Sex", "Field strength"]
    means = [f.value for f in at.dataframe if "findings estimable" in f.value.columns]
    assert means[0]["value"].tolist() == ["F", "M"]
    assert means[0]["findings estimable"].tolist() == ["1 of 1", "0 of 1"]
    assert pd.isna(means[0]["AUC"].iloc[1])  # not a number where not estimable
    assert _formats(at, "positives") == {  # counts whole, figures as the headline's
        "studies": "%,d",
        "positives": "%,d",
        "negatives": "%,d",
        "AUC": "%.3f",
        "auc_lo": "%.3f",
        "auc_hi": "%.3f",
    }
    findings = [f.value for f in at.dataframe if "positives" in f.value.columns]
    assert findings[0]["note"].iloc[1].startswith("not estimable: 3 positive, 27 negative")
    variable.set_value("field_strength").run()
    means = [f.value for f in at.dataframe if "findings estimable" in f.value.columns]
    assert means[0]["note"].tolist() == ["the only value at this site: nothing to compare"]
    # a file without the subgroup columns is shown as it is, not by variable
    assert any(list(f.value.columns) == ["model", "AUC"] for f in at.dataframe)


def test_a_blank_figure_shows_as_the_reports_show_it_and_its_column_stays_numeric(
    app, evaluations: Path
) -> None:
    """A zero-shot row without an interval showed "None" in the table where report.html and
    report.md write "–"; pre-formatting the cells as text would have sorted them as text."""
    from model.evaluation.tables import MISSING

    folder = _evaluation(evaluations / "eval-20260101-000000", "/runs/a/best.pt")
    zeroshot = (
        "model,Label,AUC,auc_lo,auc_hi,n\nm,LGE,0.91,,,12\nm,Pericardial effusion,0.7,0.6,0.8,\n"
    )
    (folder / "internal" / "zeroshot.csv").write_text(zeroshot)
    at = app("pages/evaluate.py")
    [frame] = [f for f in _own_tables(at) if "auc_lo" in f.proto.columns]
    assert frame.proto.placeholder == MISSING
    assert pd.api.types.is_float_dtype(frame.value["auc_lo"])  # sorts by value, not as text
    assert all(f.proto.placeholder == MISSING for f in at.dataframe)
