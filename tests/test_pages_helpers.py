"""Page helpers: filters, search ranking, prompt editor round trip, text cache, cine HTML, settings."""

from __future__ import annotations

import argparse
import io
import json
import re
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from dashboard.cine import cine_player_html
from dashboard.evaluation_view import (
    default_sites,
    evaluation_command,
    evaluation_labels,
    grouped_tables,
    table_group,
)
from dashboard.formatting import format_eta
from dashboard.importer import ImportPlan, ingest_command
from dashboard.overview import studio_status
from dashboard.prompt_editor import (
    diagnoses_rows,
    findings_rows,
    load_prompt_set,
    prompt_set_from_rows,
)
from dashboard.runs import run_state
from dashboard.scoring import (
    CachedTextEncoder,
    Scores,
    clean_query,
    diagnosis_confusion,
    evaluate_finding,
    score_table,
    why_no_roc,
)
from dashboard.search import page_of, rank
from dashboard.settings import Settings, position_of
from dashboard.studies import (
    PICKER_IDS,
    StudyFilter,
    apply_filter,
    display_table,
    picker_ids,
    thumbnail_strip,
    view_frames,
)
from model import workers
from model.data import ingest_cli
from model.errors import DataError, UserError
from model.evaluation.metrics import binary_metrics
from model.labels import label_file
from model.prompts import DEFAULT_PROMPTS, PromptSet

STUDIES = pd.DataFrame(
    {
        "study_id": ["a", "b", "c"],
        "patient_key": ["k1", "k2", "k3"],
        "site": ["internal", "external", "internal"],
        "views": ["sax_mid,4ch", "4ch", "sax_mid,lge_sax"],
        "impression": ["Dilated LV.", "Normal study.", "LGE present."],
    }
)


def test_filters_and_display_hide_patient_keys() -> None:
    chosen = StudyFilter(values={"site": ["internal"]}, views=["sax_mid"], text="lge")
    assert apply_filter(STUDIES, chosen)["study_id"].tolist() == ["c"]
    assert apply_filter(STUDIES, StudyFilter())["study_id"].tolist() == ["a", "b", "c"]
    assert "patient_key" not in display_table(STUDIES).columns


def test_the_study_table_shows_the_impression_beside_the_study_id() -> None:
    """Listed last, after the acquisition details, it lay off-screen on a 1440 px laptop."""
    assert list(display_table(STUDIES).columns)[:2] == ["study_id", "impression"]


def test_study_picker_lists_a_bounded_slice_and_keeps_the_current_study() -> None:
    ids = [f"s{i:06d}" for i in range(3 * PICKER_IDS)]
    listed, matching = picker_ids(ids, "", None)
    assert listed == ids[:PICKER_IDS] and matching == len(ids)
    last = ids[-1]
    listed, _ = picker_ids(ids, "", last)  # the study on show stays listed, first
    assert len(listed) == PICKER_IDS and listed[0] == last and listed[1:] == ids[: PICKER_IDS - 1]
    listed, matching = picker_ids(ids, " S00012 ", last)  # typed text, trimmed, any case
    assert matching == 10 and listed == [last] + [f"s{i:06d}" for i in range(120, 130)]
    assert picker_ids(ids, "nothing", None) == ([], 0)


def test_rank_respects_filters_and_exclusions() -> None:
    vectors = np.eye(3, dtype=np.float32)
    query = np.array([0.9, 0.1, 0.0], dtype=np.float32)
    ranked = rank(query, ["a", "b", "c"], vectors)
    assert ranked["study_id"].tolist() == ["a", "b", "c"]
    assert rank(query, ["a", "b", "c"], vectors, allowed={"b", "c"})["study_id"].tolist() == [
        "b",
        "c",
    ]
    assert rank(query, ["a", "b", "c"], vectors, exclude=["a"])["rank"].tolist() == [1, 2]
    assert rank(query, ["a", "b", "c"], vectors, allowed=set()).empty
    with pytest.raises(UserError):
        rank(np.ones(5), ["a", "b", "c"], vectors)
    assert page_of(ranked, 9, 2)["study_id"].tolist() == ["c"]


def test_prompt_editor_round_trip_and_errors() -> None:
    prompts = PromptSet.load(DEFAULT_PROMPTS)
    rebuilt = prompt_set_from_rows(findings_rows(prompts), diagnoses_rows(prompts))
    assert rebuilt.to_dict() == prompts.to_dict()
    bad = findings_rows(prompts)
    bad.loc[0, "negative"] = " | "
    with pytest.raises(DataError, match="negative"):
        prompt_set_from_rows(bad, diagnoses_rows(prompts))
    dup = pd.concat([findings_rows(prompts).head(1)] * 2)
    with pytest.raises(DataError, match="twice"):
        prompt_set_from_rows(dup, diagnoses_rows(prompts))
    piped = PromptSet.loads("diagnoses:\n  hcm: ['HCM | ASH']\n")  # one prompt, not two
    with pytest.raises(DataError, match="contains '\\|'"):
        diagnoses_rows(piped)


def test_an_empty_row_added_in_the_prompt_editor_is_skipped() -> None:
    """The data editor fills a row added with '+' with missing values (NaN in a text column)."""
    prompts = PromptSet.load(DEFAULT_PROMPTS)
    findings, diagnoses = findings_rows(prompts), diagnoses_rows(prompts)
    findings.loc[len(findings)] = np.nan
    diagnoses.loc[len(diagnoses)] = np.nan
    assert findings["finding"].isna().iloc[-1]
    assert prompt_set_from_rows(findings, diagnoses).to_dict() == prompts.to_dict()
    findings.loc[len(findings) - 1, "positive"] = "Dilated left ventricle."
    with pytest.raises(DataError, match="no finding name"):
        prompt_set_from_rows(findings, diagnoses)
    findings = findings.head(-1)
    diagnoses.loc[len(diagnoses) - 1, "prompts"] = "Cardiac sarcoidosis"  # not silently dropped
    with pytest.raises(DataError, match="no class name"):
        prompt_set_from_rows(findings, diagnoses)


def test_an_uploaded_prompt_set_that_is_not_utf8_is_refused_not_mangled() -> None:
    text = "findings:\n  lge:\n    positive: [Réhaussement tardif]\n    negative: [Pas de LGE]\n"
    upload = io.BytesIO(text.encode("utf-8"))
    upload.name = "mine.yaml"
    loaded = load_prompt_set(DEFAULT_PROMPTS, upload)
    assert loaded.findings["lge"].positive == ("Réhaussement tardif",)
    windows = io.BytesIO(text.encode("cp1252"))  # as a Windows editor may save it
    windows.name = "mine.yaml"
    with pytest.raises(DataError, match="mine.yaml is not UTF-8"):
        load_prompt_set(DEFAULT_PROMPTS, windows)
    huge = io.BytesIO(text.encode("utf-8") + b"# " + b"x" * 3 * 1024**2 + b"\n")
    huge.name = "huge.yaml"  # parsed whole, it would hold the page for seconds
    with pytest.raises(DataError, match=r"huge.yaml is 3.0 MB; a prompt set is a few KB"):
        load_prompt_set(DEFAULT_PROMPTS, huge)


def test_text_cache_encodes_each_text_once() -> None:
    calls: list[list[str]] = []

    def encode(texts: list[str]) -> np.ndarray:
        calls.append(list(texts))
        return np.stack([np.full(4, len(t), np.float32) for t in texts])

    encoder = CachedTextEncoder(encode)
    first = encoder(["ab", "abc", "ab"])
    again = encoder(["abc", "ünïcödé 心臓"])
    assert first.shape == (3, 4) and first[0, 0] == 2
    assert calls == [["ab", "abc"], ["ünïcödé 心臓"]]
    assert again[0, 0] == 3


def test_clean_query_rejects_empty_and_huge() -> None:
    assert clean_query("  dilated\n LV ") == "dilated LV"
    with pytest.raises(UserError, match="empty"):
        clean_query("   ")
    with pytest.raises(UserError, match="characters"):
        clean_query("x" * 501)


def test_cine_player_html_escapes_and_embeds_every_frame() -> None:
    frames = {"4ch": np.zeros((5, 8, 8), np.uint8), "<script>": np.zeros((1, 8, 8), np.uint8)}
    html = cine_player_html(frames)
    assert "<script>alert" not in html and "&lt;script&gt;" in html
    assert html.count("iVBOR") == 6  # base64 PNG signature, one per frame


def test_view_frames_and_thumbnail() -> None:
    video = np.zeros((9, 4, 8, 8), np.uint8)
    views = view_frames(video, [4, 4, 0, 4, 0, 0, 3, 1, 0])
    assert list(views) == ["sax_base", "sax_mid", "4ch", "lge_sax", "lge_4ch"]
    assert views["lge_sax"].shape == (3, 8, 8)
    assert thumbnail_strip(views).shape == (8, 24)
    assert thumbnail_strip({}).shape == (64, 64)


def test_settings_discovery_and_active(tmp_path: Path) -> None:
    settings = Settings(tmp_path)
    assert settings.active_checkpoint() is None and settings.active_dataset() is None
    dataset = tmp_path / "demo" / "ds" / "internal"
    dataset.mkdir(parents=True)
    (dataset / "studies.parquet").write_bytes(b"x")
    run = tmp_path / "runs" / "r1"
    run.mkdir(parents=True)
    (run / "status.json").write_text(json.dumps({"state": "finished"}))
    (run / "last.pt").write_bytes(b"x")
    assert settings.datasets() == [dataset] and settings.runs() == [run]
    assert studio_status(settings).indexes == []
    index = dataset.parent / "chroma"  # where ``python -m model index`` puts it by default
    index.mkdir()
    (index / "chroma.sqlite3").write_bytes(b"x")
    assert studio_status(settings).indexes == [index.resolve()]
    assert settings.active_checkpoint() == run / "last.pt"
    settings.write_active(checkpoint=run / "last.pt", dataset=dataset)
    assert settings.read_active()["dataset"] == str(dataset.resolve())
    with pytest.raises(UserError):
        settings.write_active(checkpoint=tmp_path / "missing.pt")


def test_listing_datasets_and_runs_walks_the_root_once_and_never_an_unpacked_upload(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Pages list datasets and runs on every rerun: an uploaded DICOM zip unpacked under
    imports/uploads is never walked (nor a config.json in it taken for a run), and the runs'
    two marker files are found in one walk."""
    import os

    settings = Settings(tmp_path)
    dataset = settings.imports_dir / "datasets" / "site-b"
    dataset.mkdir(parents=True)
    (dataset / "studies.parquet").write_bytes(b"x")
    run = settings.runs_dir / "r1"
    run.mkdir(parents=True)
    (run / "status.json").write_text(json.dumps({"state": "finished"}))
    uploads = settings.imports_dir / "uploads"  # where the Studies page unpacks a zip
    series = uploads / "site-b" / "EXPORT" / "ST1" / "SE1"
    series.mkdir(parents=True)
    for name in ("0001.dcm", "config.json", "metrics.jsonl"):
        (series.parent / name).write_bytes(b"x")
    listed: list[Path] = []
    scandir = os.scandir
    monkeypatch.setattr(
        "dashboard.settings.os.scandir",
        lambda folder: listed.append(Path(folder)) or scandir(folder),
    )
    assert settings.datasets() == [dataset] and settings.runs() == [run]
    assert not [folder for folder in listed if uploads in (folder, *folder.parents)]
    assert listed.count(tmp_path) == 2  # one walk for the datasets, one for the runs


def test_choosing_a_dataset_on_a_read_only_data_root_says_so(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A lab server whose data root a student may read but not write."""
    dataset = tmp_path / "ds" / "site-b"
    dataset.mkdir(parents=True)
    (dataset / "studies.parquet").write_bytes(b"x")

    def read_only(path: Path, obj: object) -> None:
        raise PermissionError(13, "Permission denied", str(path))

    monkeypatch.setattr("dashboard.settings.atomic_write_json", read_only)
    expected = f"cannot record the active dataset: cannot write {tmp_path / 'active.json'}"
    with pytest.raises(UserError, match=f"^{re.escape(expected)} \\(Permission denied\\)"):
        Settings(tmp_path).write_active(dataset=dataset)


def test_evaluation_tables_are_grouped_by_their_file_name() -> None:
    assert table_group("internal/comparison.csv") == "Model comparison"
    assert table_group("internal/prompts.csv") == "Prompt reading"
    assert table_group("external/fewshot.csv") == "Few-shot"
    # diagnosis.csv and the confusion tables hold every setting: zero-shot and both probes
    assert table_group("internal/confusion_train-split_probe_run_best.csv") == "Diagnosis"
    assert table_group("internal/diagnosis.csv") == "Diagnosis"
    assert table_group("internal/subgroups.csv") == "Subgroups"
    assert table_group("internal/counts.csv") == "Other"
    names = ["external/diagnosis.csv", "internal/counts.csv", "internal/zeroshot.csv",
             "external/fewshot.csv", "internal/fewshot.csv"]  # fmt: skip
    assert grouped_tables(names) == {
        "Zero-shot": ["internal/zeroshot.csv"],
        "Few-shot": ["external/fewshot.csv", "internal/fewshot.csv"],
        "Diagnosis": ["external/diagnosis.csv"],
        "Other": ["internal/counts.csv"],
    }
    assert list(grouped_tables(names)) == ["Zero-shot", "Few-shot", "Diagnosis", "Other"]


def test_evaluation_form_starts_on_the_active_site_and_its_sibling(tmp_path: Path) -> None:
    demo, other = tmp_path / "demo", tmp_path / "import"
    external, internal, scan = demo / "external", demo / "internal", other / "scan"
    datasets = [external, internal, scan]  # sorted, as Settings.datasets() lists them
    for folder in datasets:
        folder.mkdir(parents=True)
    assert default_sites(datasets, internal) == (1, 0)
    assert default_sites(datasets, external) == (0, 1)  # the one sibling, whatever its name
    assert default_sites(datasets, scan) == (2, None)  # no sibling: no external site
    assert default_sites(datasets, None) == (0, 1)
    assert default_sites([internal, demo / "external-b", external], internal) == (0, 2)
    assert default_sites([internal, demo / "a", demo / "b"], internal) == (0, None)
    assert default_sites([], None) == (0, None)
    assert position_of(tmp_path / "demo" / ".." / "demo" / "internal", datasets) == 1
    assert position_of(tmp_path / "elsewhere", datasets) == 0


def test_evaluation_command_compares_other_checkpoints_only(tmp_path: Path) -> None:
    settings = Settings(data_root=tmp_path)
    main, other = tmp_path / "a" / "best.pt", tmp_path / "b" / "best.pt"
    args = (settings, main, tmp_path / "ds", None, [tmp_path / "labels.csv"], tmp_path / "p.yaml")
    _, plain = evaluation_command(*args)
    assert "--compare" not in plain
    out, command = evaluation_command(*args, compare=[main, other])
    assert command[command.index("--compare") :] == ["--compare", str(other)]
    assert command[command.index("--out") + 1] == str(out)


def test_an_evaluation_with_a_blank_labels_field_reads_each_sites_own_labels(
    tmp_path: Path,
) -> None:
    """Merging two hospitals' labels files into one --labels refused coinciding accession
    numbers; a blank field now leaves --labels out (each site its own), and names a site that
    has none."""
    settings = Settings(data_root=tmp_path)
    internal, external = tmp_path / "demo" / "internal", tmp_path / "demo" / "external"
    for site in (internal, external):
        site.mkdir(parents=True)
    (internal / "labels.csv").write_text("accession_number,lge\nA1,1\n")
    with pytest.raises(DataError, match=str(external / "labels.csv")):
        evaluation_labels(settings, [internal, external], "")
    (external / "labels.csv").write_text("accession_number,lge\nA1,0\n")
    assert evaluation_labels(settings, [internal, external], " ") == []
    typed = tmp_path / "mine.csv"
    with pytest.raises(DataError, match="mine.csv does not exist"):
        evaluation_labels(settings, [internal, external], "mine.csv")
    typed.write_text("accession_number,lge\nA1,1\n")
    assert evaluation_labels(settings, [internal, external], "mine.csv") == [
        typed,
        external / "labels.csv",
    ]
    args = (settings, tmp_path / "best.pt", internal, external, [], tmp_path / "p.yaml")
    assert "--labels" not in evaluation_command(*args)[1]


def test_run_state_and_eta() -> None:
    assert run_state({"state": "running", "pid": 999_999_999}) == "crashed"
    # A crashed run's pid taken by a later process (after a restart) is not the run running.
    later = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    try:
        started = time.time()
        assert run_state({"state": "running", "pid": later.pid, "updated": started - 60}) == (
            "crashed"
        )
        assert run_state({"state": "running", "pid": later.pid, "updated": started}) == "running"
        assert run_state({"state": "running", "pid": later.pid}) == "running"
    finally:
        later.kill()
        later.wait()
    assert run_state({"state": "finished"}) == "finished"
    assert format_eta(3725) == "1h 02m" and format_eta(70) == "1m 10s" and format_eta(None) == ""


def test_projection_places_points_near_their_neighbours() -> None:
    from model.projection import ProjectionConfig, fit_projection, knn_place

    rng = np.random.default_rng(0)
    centres = rng.normal(size=(3, 16))
    vectors = centres[np.repeat(np.arange(3), 20)] + 0.05 * rng.normal(size=(60, 16))
    vectors = (vectors / np.linalg.norm(vectors, axis=1, keepdims=True)).astype(np.float32)
    ids = [f"s{i}" for i in range(60)]
    projection = fit_projection(ids, vectors, ProjectionConfig(method="PCA", fit_sample=30))
    assert projection.coords.shape == (60, 2) and np.isfinite(projection.coords).all()
    placed = projection.place(vectors[:5])
    cluster_centre = projection.coords[:20].mean(axis=0)
    other_centre = projection.coords[20:40].mean(axis=0)
    assert all(
        np.linalg.norm(p - cluster_centre) < np.linalg.norm(p - other_centre) for p in placed
    )
    anchors = np.eye(3, dtype=np.float32)
    anchor_xy = np.array([[0, 0], [1, 0], [0, 1]], np.float32)
    assert np.allclose(knn_place(anchors, anchors, anchor_xy, k=1), anchor_xy)
    with pytest.raises(DataError, match="at least"):
        fit_projection(ids[:1], vectors[:1], ProjectionConfig(method="PCA"))


def test_a_dataset_of_two_or_three_studies_has_a_pca_map() -> None:
    from model.projection import ProjectionConfig, fit_projection

    vectors = np.eye(3, 8, dtype=np.float32)
    for n in (2, 3):
        coords = fit_projection(["a", "b", "c"][:n], vectors[:n], ProjectionConfig("PCA")).coords
        assert coords.shape == (n, 2) and np.isfinite(coords).all()
        assert len({tuple(np.round(xy, 4)) for xy in coords}) == n  # distinct studies apart
    with pytest.raises(
        DataError, match=r"UMAP map needs at least 5 studies; .* has 3 \(choose PCA\)"
    ):
        fit_projection(["a", "b", "c"], vectors, ProjectionConfig("UMAP"))


def test_import_job_ingests_with_one_worker_per_usable_cpu(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(workers.os, "sched_getaffinity", lambda pid: {0, 1, 2}, raising=False)
    command = ingest_command(tmp_path / "src", ImportPlan(tmp_path / "out", "site-b"))
    parser = argparse.ArgumentParser()
    ingest_cli.add_arguments(parser)
    args = parser.parse_args(command[command.index("ingest") + 1 :])
    assert args.workers == 3 and args.site == "site-b" and args.reports is None


def test_a_datasets_labels_file_is_found_where_ingest_or_the_demo_puts_it(tmp_path: Path) -> None:
    dataset = tmp_path / "ds" / "site-b"
    dataset.mkdir(parents=True)
    assert label_file(dataset) is None
    demo = tmp_path / "ds" / "raw" / "site-b" / "labels.csv"
    demo.parent.mkdir(parents=True)
    demo.write_text("accession_number,lge\n")
    assert label_file(dataset) == demo
    (dataset / "acdc_labels.csv").write_text("accession_number,nicm\n")  # an ACDC ingest's
    assert label_file(dataset) == dataset / "acdc_labels.csv"
    (dataset / "labels.csv").write_text("accession_number,lge\n")  # ingest --labels
    assert label_file(dataset) == dataset / "labels.csv"


def test_a_finding_without_a_roc_says_why() -> None:
    probs = pd.Series([0.2, 0.7, 0.9], index=["a", "b", "c"])
    positives = pd.Series([1.0, 1.0, np.nan], index=["a", "b", "c"])
    unknown = pd.Series([np.nan, np.nan, np.nan], index=["a", "b", "c"])
    assert evaluate_finding(probs, positives, 0.5) is None
    assert why_no_roc(probs, positives) == "all 2 scored studies with a known label are positive"
    assert why_no_roc(probs, 1.0 - positives).endswith("are negative")
    assert why_no_roc(probs, unknown) == "no scored study has a known (1 or 0) label"
    both = pd.Series([1.0, 0.0, 1.0], index=["a", "b", "c"])
    assert evaluate_finding(probs, both, 0.5, resamples=20) is not None


def test_the_diagnosis_confusion_reads_a_lone_1_as_the_evaluation_does() -> None:
    probs = pd.DataFrame(
        {"normal": [0.7, 0.1, 0.5, 0.2], "hcm": [0.2, 0.8, 0.3, 0.7], "nicm": [0.1, 0.1, 0.2, 0.1]},
        index=["a", "b", "c", "d"],
    )
    nan = np.nan
    labels = pd.DataFrame(
        {"normal": [1.0, 0.0, nan, 1.0, 1.0], "hcm": [nan, 1.0, nan, 0.0, 0.0]},
        index=["a", "b", "c", "d", "not-scored"],
    )
    confusion = diagnosis_confusion(probs, labels)
    # a: normal (the other column blank), b: hcm, c: unknown, d: normal read as hcm
    assert confusion.classes == ["normal", "hcm", "nicm"] and confusion.n == 3
    assert confusion.matrix.tolist() == [[1, 1, 0], [0, 1, 0], [0, 0, 0]]
    assert confusion.accuracy == pytest.approx(2 / 3)
    assert diagnosis_confusion(probs, labels.drop(index=["a", "b", "d"])) is None


def test_the_diagnosis_confusion_predicts_among_every_prompted_class() -> None:
    # a class the user added (sarcoid) has no labels column: a study it wins is predicted
    # sarcoid, as the score table's predicted_dx says, not given to the runner-up
    probs = pd.DataFrame(
        {"normal": [0.3, 0.8, 0.1], "hcm": [0.2, 0.1, 0.1], "sarcoid": [0.5, 0.1, 0.8]},
        index=["a", "b", "c"],
    )
    labels = pd.DataFrame(
        {"normal": [1.0, 1.0, 0.0], "hcm": [0.0, 0.0, 0.0], "rv": [0.0, 0.0, 1.0]},
        index=["a", "b", "c"],
    )
    confusion = diagnosis_confusion(probs, labels)
    assert confusion.classes == ["normal", "hcm", "sarcoid"]
    assert confusion.matrix.tolist() == [[1, 0, 1], [0, 0, 0], [0, 0, 0]]
    assert confusion.accuracy == pytest.approx(1 / 2) and confusion.n == 2
    assert confusion.left_out == ["rv"]  # c, labelled rv, has no prompted class to be scored in


def test_a_finding_named_like_a_table_column_keeps_the_score_table() -> None:
    ids = pd.Index(["a", "b"], name="study_id")
    findings = pd.DataFrame({"site": [0.2, 0.9], "study_id": [0.5, 0.4]}, index=ids)
    diagnoses = pd.DataFrame({"hcm": [0.7, 0.1], "normal": [0.3, 0.9]}, index=ids)
    studies = pd.DataFrame({"site": ["internal", "x"], "split": ["test", "val"]}, index=ids)
    table = score_table(Scores(findings, diagnoses), studies)
    assert list(table.columns) == [
        "site",
        "study_id (2)",
        "dx_hcm",
        "dx_normal",
        "predicted_dx",
        "site (2)",
        "split",
    ]
    assert table["site"].tolist() == [0.2, 0.9] and table["site (2)"].tolist() == ["internal", "x"]
    assert table["predicted_dx"].tolist() == ["hcm", "normal"]
    assert table.reset_index().columns[0] == "study_id"


def test_the_zero_shot_page_bootstraps_patients_not_their_repeat_scans() -> None:
    """Three scans of each patient are one patient's evidence: the page's interval is the one
    the evaluation suite gives with patient groups, wider than a study-by-study draw."""
    rng = np.random.default_rng(0)
    truth = np.repeat(rng.integers(0, 2, 20), 3)
    truth[:3], truth[3:6] = 0, 1
    probs = np.clip(0.3 * truth + np.repeat(rng.normal(0.35, 0.25, 20), 3), 0, 1)
    ids = [f"s{i}" for i in range(truth.size)]
    patients = pd.Series([f"p{i // 3}" for i in range(truth.size)], index=ids)
    scores, labels = pd.Series(probs, index=ids), pd.Series(truth.astype(float), index=ids)
    grouped = evaluate_finding(scores, labels, 0.5, resamples=200, patients=patients)
    by_study = evaluate_finding(scores, labels, 0.5, resamples=200)
    reference = binary_metrics(
        probs, truth, resamples=200, seed=0, decisions=probs >= 0.5, groups=patients.to_numpy()
    )
    assert grouped.auc_ci == reference.ci["auc"]
    width = grouped.auc_ci[1] - grouped.auc_ci[0]
    assert width > by_study.auc_ci[1] - by_study.auc_ci[0]
