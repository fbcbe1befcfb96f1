"""Bad input on the pages: a foreign checkpoint, a dataset without a checkpoint, bad run names,
deleting a running run. Each is a clear message on the page, never a traceback."""

from __future__ import annotations

import io
import json
import os
import shutil
import sys
import time
import zipfile
from dataclasses import replace
from pathlib import Path

import pandas as pd
import pytest
from dashboard_fixtures import make_tiny_dataset, run_zip_job, tiny_writable_root
from streamlit.testing.v1 import AppTest

from dashboard import jobs as jobs_module
from dashboard.jobs import JobManager
from dashboard.prompt_editor import save_prompt_set
from dashboard.run_compare import run_facts
from dashboard.run_launch import prepare_run
from dashboard.runs import (
    TrainForm,
    delete_run,
    ran_out_of_gpu_memory,
    resume_command,
)
from dashboard.settings import Settings
from model import clock
from model.errors import UserError
from model.prompts import DEFAULT_PROMPTS, PromptSet

APP = str(Path(__file__).resolve().parent.parent / "app.py")


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return tiny_writable_root(tmp_path, monkeypatch)


def _open(page: str, **state: object) -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    for key, value in state.items():
        at.session_state[key] = value
    at.run()
    at.switch_page(page).run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def test_a_checkpoint_that_is_not_ours_is_a_clear_error(data_root: Path) -> None:
    run = data_root / "runs" / "foreign"
    run.mkdir(parents=True)
    (run / "best.pt").write_bytes(b"this is not a checkpoint")
    (run / "status.json").write_text(json.dumps({"state": "finished"}))
    pages = ("pages/zeroshot.py", "pages/browser.py", "pages/embeddings.py", "pages/fewshot.py")
    for page in pages:  # at once: Few-shot said it only once examples were picked
        at = _open(page)
        assert at.error, f"{page} shows the checkpoint problem"
        message = at.error[0].value
        assert "best.pt" in message and "Traceback" not in message


def test_dataset_without_checkpoint_browses_and_plays(data_root: Path) -> None:
    studies = _open("pages/studies.py")
    assert len(studies.dataframe(key="studies-table").value) == 8
    case = _open("pages/studies.py", studies_view="Case view", case_id="s000001")
    assert case.slider(key="lge-lge_sax").value == 8
    assert not case.error
    for page in ("pages/zeroshot.py", "pages/fewshot.py"):
        shown = _open(page)
        assert any("No trained checkpoint" in i.value for i in shown.info), page


def test_prepare_run_writes_a_valid_preset(tmp_path: Path, data_root: Path) -> None:
    form = TrainForm(
        data_root / "ds" / "tiny", "run-1", tower="static", frames=4, epochs=3, lr=0.01
    )
    run, command = prepare_run(form, tmp_path / "runs", gpus=0)
    preset = json.loads((run / "preset.json").read_text())
    assert preset["model"]["video"]["kind"] == "static"
    assert preset["train"]["epochs"] == 3 and preset["train"]["lr"] == 0.01
    assert preset["train"]["time_budget_s"] == 0.0  # no budget asked: exactly 3 epochs
    assert preset["train"]["grad_checkpointing"] is False
    assert preset["train"]["accum_freq"] == 1
    budgeted = TrainForm(
        form.dataset, "run-budget", epochs=40, time_budget_min=12.5, grad_checkpointing=True,
        batch_size=16, accum_freq=4,
    )  # fmt: skip
    run_budget, _ = prepare_run(budgeted, tmp_path / "runs", gpus=0)
    train = json.loads((run_budget / "preset.json").read_text())["train"]
    kept = ("epochs", "time_budget_s", "grad_checkpointing", "accum_freq")
    assert [train[key] for key in kept] == [40, 750.0, True, 4]
    too_fine = replace(budgeted, name="run-fine", accum_freq=9)
    with pytest.raises(UserError, match="9 micro-batches are more than the 8 studies each of"):
        prepare_run(too_fine, tmp_path / "runs", gpus=2)
    assert not (tmp_path / "runs" / "run-fine").exists()
    assert command[-8:] == [
        "--data",
        str(form.dataset),
        "--preset",
        str(run / "preset.json"),
        "--out",
        str(run),
        "--val-labels",  # the tiny dataset's labels.csv: the run logs its val zero-shot AUC
        str(form.dataset / "labels.csv"),
    ]
    (run / "status.json").write_text("{}")
    with pytest.raises(UserError, match="already exists"):
        prepare_run(form, tmp_path / "runs", gpus=0)
    _, multi = prepare_run(TrainForm(form.dataset, "run-2"), tmp_path / "runs", gpus=2)
    assert multi[-2:] == ["--nproc", "2"]
    for bad in ("", "../escape", "a b", "x" * 300):  # too long: no 'File name too long'
        with pytest.raises(UserError, match="run name .*letters, digits"):
            prepare_run(TrainForm(form.dataset, bad), tmp_path / "runs", gpus=0)
    with pytest.raises(UserError, match="last.pt"):
        resume_command(run, form.dataset, gpus=0)
    (run / "last.pt").write_bytes(b"")
    assert "--grad-checkpointing" not in resume_command(run, form.dataset, gpus=0)
    resumed = resume_command(run, form.dataset, gpus=0, grad_checkpointing=True)
    assert "--grad-checkpointing" in resumed and "--resume" in resumed
    assert resumed[-2:] == ["--val-labels", str(form.dataset / "labels.csv")]
    assert "--accum-freq" not in resumed
    finer = resume_command(run, form.dataset, gpus=0, accum_freq=4)
    assert finer[finer.index("--accum-freq") + 1] == "4"
    (run / "config.json").write_text(json.dumps({"preset": {"train": {"accum_freq": 3}}}))
    assert run_facts(run, data_root).micro_batches == 3  # what the page's Resume starts at
    assert ran_out_of_gpu_memory({"message": "out of GPU memory at step 2, 8 studies per GPU."})


def test_runs_of_an_unlabelled_dataset_log_no_val_auc(tmp_path: Path, data_root: Path) -> None:
    dataset = data_root / "ds" / "tiny"
    (dataset / "labels.csv").unlink()
    run, command = prepare_run(TrainForm(dataset, "unlabelled"), tmp_path / "runs", gpus=0)
    assert command[-1] == str(run) and "--val-labels" not in command
    (run / "last.pt").write_bytes(b"")
    assert "--val-labels" not in resume_command(run, dataset, gpus=0)


def test_deleting_a_running_run_is_refused(tmp_path: Path) -> None:
    run = tmp_path / "runs" / "busy"
    run.mkdir(parents=True)
    (run / "status.json").write_text(json.dumps({"state": "running", "pid": os.getpid()}))
    with pytest.raises(UserError, match="still running"):
        delete_run(run, running=False)
    assert run.exists()
    (run / "status.json").write_text(json.dumps({"state": "finished"}))
    delete_run(run, running=False)
    assert not run.exists()


def test_a_run_with_an_unreadable_status_file_does_not_hide_the_others(data_root: Path) -> None:
    runs = data_root / "runs"
    for name, status in (("good", json.dumps({"state": "finished"})), ("torn", '{"state": "ru')):
        (runs / name).mkdir(parents=True)
        (runs / name / "status.json").write_text(status)
    (runs / "listed").mkdir()
    (runs / "listed" / "status.json").write_text("[1, 2]")  # JSON, but not a status
    at = _open("pages/train.py")
    assert not at.error, [e.value for e in at.error]
    table = at.dataframe[0].value.set_index("run")
    assert table.loc["runs/good", "state"] == "finished"
    assert table.loc["runs/torn", "state"] == table.loc["runs/listed", "state"] == "unreadable"
    delete_run(runs / "torn", running=False)  # a broken run folder can still be cleared away
    assert not (runs / "torn").exists()


def test_a_typed_run_name_survives_the_default_name_changing(
    data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The default name is stamped in UTC as job ids and evaluation folders are
    (``model.clock.utc_stamp``); it was the server's local clock, which repeats an hour a year."""
    at = _open("pages/train.py")
    now = [time.mktime((2026, 1, 2, 9, 41, 0, 0, 0, -1))]
    stamp = clock.utc_stamp
    monkeypatch.setattr(
        clock, "utc_stamp", lambda when=None: stamp(now[0] if when is None else when)
    )
    launched = []

    def launch(*args, prepare=None, **kwargs) -> None:
        prepare()  # as JobManager.launch does, under its lock (the run's preset.json)
        launched.append(args)

    monkeypatch.setattr("dashboard.ui.launch", launch)
    at.run()
    name = next(t for t in at.text_input if t.label == "Run name")
    assert name.value.startswith("cpu-small-")  # the default: preset and time
    name.input("my-experiment").run()
    now[0] += 60  # the default name moves on while the user fills in the form
    at.run()
    assert next(t for t in at.text_input if t.label == "Run name").value == "my-experiment"
    submit = "FormSubmitter:train-cpu-small-Launch training"
    next(n for n in at.number_input if n.label == "Micro-batches").set_value(64)
    at.button(key=submit).click().run()
    assert any("64 micro-batches are more than the 32 studies" in e.value for e in at.error)
    assert not launched and not (data_root / "runs" / "my-experiment").exists()
    next(n for n in at.number_input if n.label == "Micro-batches").set_value(2)
    at.button(key=submit).click().run()
    assert not at.error, [e.value for e in at.error]
    assert len(launched) == 1 and (data_root / "runs" / "my-experiment" / "preset.json").is_file()
    preset = json.loads((data_root / "runs" / "my-experiment" / "preset.json").read_text())
    assert preset["train"]["accum_freq"] == 2
    at.run()  # the next run starts from a fresh default name, in UTC whatever the server's zone
    assert next(t for t in at.text_input if t.label == "Run name").value == (
        f"cpu-small-{time.strftime('%Y%m%d-%H%M%SZ', time.gmtime(now[0]))}"
    )


def test_an_import_form_error_leaves_nothing_behind_and_can_be_corrected(
    data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    launched = []
    monkeypatch.setattr("dashboard.ui.launch", lambda *args, **kwargs: launched.append(args[2:]))
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("study/1.dcm", b"\0" * 128 + b"DICM")
    at = _open("pages/studies.py", studies_view="Import")
    fields = {t.label: t for t in at.text_input}
    fields["Site label"].input("St Mary's")
    at.file_uploader[0].set_value(("scans.zip", archive.getvalue(), "application/zip"))
    submit = "FormSubmitter:import-Import and ingest"
    at.button(key=submit).click().run()
    assert [e.value for e in at.error] == [
        'site label "St Mary\'s": use letters, digits, - _ . only (up to 64 characters)'
    ]
    assert not (data_root / "imports").exists()  # the zip was not unpacked
    fields = {t.label: t for t in at.text_input}
    fields["Site label"].input("st-marys")
    fields["Reports CSV (optional)"].input("raw/reports.csv")
    at.button(key=submit).click().run()
    assert [e.value for e in at.error] == [
        "the reports CSV raw/reports.csv does not exist under the data root or in the zip"
    ]
    assert not (data_root / "imports").exists()
    {t.label: t for t in at.text_input}["Reports CSV (optional)"].input("")
    at.button(key=submit).click().run()  # the same name and zip, now accepted
    assert not at.error, [e.value for e in at.error]
    [(command, title)] = launched
    assert title == "Ingest my-import" and command[command.index("--site") + 1] == "st-marys"
    assert run_zip_job(command) == 1  # unpacked by the job; this ingest fails
    assert (data_root / "imports" / "uploads" / "my-import" / "study" / "1.dcm").is_file()


def test_an_import_passes_labels_and_a_view_map_to_ingest_once_they_read(
    data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    launched = []
    monkeypatch.setattr("dashboard.ui.launch", lambda *args, **kwargs: launched.append(args[2]))
    raw = data_root / "raw" / "site-b"
    (raw / "dicom").mkdir(parents=True)
    (raw / "dicom" / "1.dcm").write_bytes(b"\0" * 128 + b"DICM")
    (raw / "labels.csv").write_text("accession_number,lge\nA1,maybe\n")
    (raw / "views.yaml").write_text("'*cine_sa*': sax\n")
    at = _open("pages/studies.py", studies_view="Import")
    fields = {t.label: t for t in at.text_input}
    fields["DICOM folder (under the data root)"].input("raw/site-b/dicom")
    fields["Labels CSV (optional; evaluation only)"].input("raw/site-b/labels.csv")
    fields["View map (optional, YAML or CSV)"].input("raw/site-b/views.yaml")
    submit = "FormSubmitter:import-Import and ingest"
    at.button(key=submit).click().run()
    assert len(at.error) == 1 and "value 'maybe' is not 1, 0 or blank" in at.error[0].value
    assert not launched
    (raw / "labels.csv").write_text("accession_number,lge\nA1,1\n")
    at.button(key=submit).click().run()
    assert not at.error, [e.value for e in at.error]
    [command] = launched
    assert command[command.index("--labels") + 1] == str((raw / "labels.csv").resolve())
    assert command[command.index("--view-map") + 1] == str((raw / "views.yaml").resolve())


def test_deleting_a_run_from_the_train_page_asks_first(data_root: Path) -> None:
    run = data_root / "runs" / "finished"
    run.mkdir(parents=True)
    (run / "status.json").write_text(json.dumps({"state": "finished"}))
    (run / "best.pt").write_bytes(b"weights")
    at = _open("pages/train.py")
    for button in [b for b in at.button if b.label == "Delete run"]:
        button.click().run()  # one click on the run's Delete button keeps it
    assert (run / "best.pt").exists()
    at.button(key=f"delete-{run}").click().run()  # the confirmation deletes it
    assert not at.error, [e.value for e in at.error]
    assert not run.exists()
    assert not at.warning  # deleted here: no "someone deleted it" notice


def test_a_refused_resume_shows_why_on_the_run(data_root: Path) -> None:
    run = data_root / "runs" / "stopped"
    run.mkdir(parents=True)
    (run / "status.json").write_text(json.dumps({"state": "stopped", "message": "stopped"}))
    (run / "last.pt").write_bytes(b"weights")
    (run / "train.log").write_text("... step 40 ...\n")
    job = data_root / "jobs" / "train-resume"
    job.mkdir(parents=True)
    info = {"id": "train-resume", "kind": "train", "title": "Resume stopped", "pid": 2**22 + 1}
    info |= {"started": 1.0, "outputs": {"run": str(run)}}
    (job / "job.json").write_text(json.dumps(info))
    (job / "result.json").write_text(json.dumps({"returncode": 2}))
    refusal = "cannot resume: the dataset changed since this run started"
    (job / "log.txt").write_text(f"ERROR model: {refusal}\n")
    at = _open("pages/train.py")
    assert [e.value for e in at.error] == [
        "Resume stopped failed (exit code 2)",  # the job panel
        "The last job of this run (Resume stopped) failed. Last lines of its log:",
    ]
    # the run's panel shows the refusal, which train.log (its only log before) never held
    assert any(refusal in c.value for c in at.code)
    # and its heading says the attempt failed: "stopped" alone read as if nothing was tried
    assert [h.value for h in at.subheader if h.value.startswith("stopped")] == [
        "stopped — stopped (last job failed)"
    ]
    assert list(at.dataframe[0].value["state"]) == ["stopped (last job failed)"]


def test_saving_prompts_never_overwrites_another_saved_set(data_root: Path) -> None:
    saved = data_root / "prompts" / "my-prompts.yaml"
    saved.parent.mkdir(parents=True)
    saved.write_text("findings:\n  lge:\n    positive: [LGE]\n    negative: [No LGE]\n")
    earlier = saved.read_text()
    at = _open("pages/zeroshot.py")  # editing the shipped default set
    at.button(key="zs-save").click().run()  # under the default name, my-prompts
    assert saved.read_text() == earlier
    assert any("my-prompts already exists" in e.value for e in at.error)
    at.checkbox(key="zs-overwrite").check().run()
    at.button(key="zs-save").click().run()  # replacing it is an explicit choice
    assert not at.error, [e.value for e in at.error]
    assert "lge" in saved.read_text() and saved.read_text() != earlier
    saved.write_text(earlier)
    at.checkbox(key="zs-overwrite").uncheck().run()
    at.selectbox(key="zs-source").select("saved: my-prompts").run()
    at.text_input(key="zs-try-pos").input("Late enhancement").run()
    at.text_input(key="zs-try-neg").input("No enhancement").run()
    at.button(key="zs-save").click().run()  # editing my-prompts itself: saved over it
    assert not at.error, [e.value for e in at.error]
    assert "custom" in saved.read_text() and "lge" in saved.read_text()


def test_two_users_saving_one_new_prompt_set_name_at_once_keep_the_first(
    data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    settings = Settings(data_root)
    target = settings.prompts_dir / "shared.yaml"
    alices = PromptSet.load(DEFAULT_PROMPTS)
    bobs = PromptSet.from_dict({"findings": {"lge": {"positive": ["LGE"], "negative": ["no"]}}})
    dumps, alice_saved = PromptSet.dumps, []

    def alice_saves_first(prompts: PromptSet) -> str:  # Bob's save is past its name check
        if prompts is bobs and not alice_saved:
            alice_saved.append(save_prompt_set(settings, alices, "shared"))
        return dumps(prompts)

    monkeypatch.setattr(PromptSet, "dumps", alice_saves_first)
    with pytest.raises(UserError, match="shared already exists"):
        save_prompt_set(settings, bobs, "shared")
    monkeypatch.setattr(PromptSet, "dumps", dumps)
    assert PromptSet.load(target).findings == alices.findings
    assert not list(target.parent.glob(".*.tmp"))
    save_prompt_set(settings, bobs, "shared", overwrite=True)  # his explicit choice
    assert PromptSet.load(target).findings == bobs.findings


def test_a_prompt_set_saved_once_saves_again_and_a_refused_save_keeps_the_page(
    data_root: Path,
) -> None:
    def below_the_editor(at: AppTest) -> bool:  # the scores section (here: no checkpoint yet)
        return any("No trained checkpoint" in i.value for i in at.info)

    at = _open("pages/zeroshot.py")
    at.text_input(key="zs-save-name").input("mine").run()
    at.button(key="zs-save").click().run()
    at.text_input(key="zs-try-pos").input("Late enhancement").run()
    at.text_input(key="zs-try-neg").input("No enhancement").run()
    at.button(key="zs-save").click().run()  # more edits, saved over the set this session saved
    assert not at.error, [e.value for e in at.error]
    assert "Late enhancement" in (data_root / "prompts" / "mine.yaml").read_text()
    at.text_input(key="zs-save-name").input("my prompts?").run()
    at.button(key="zs-save").click().run()
    assert [e.value for e in at.error] == [
        "prompt set name 'my prompts?': use letters, digits, - _ . only (up to 64 characters)"
    ]
    assert below_the_editor(at)
    shutil.rmtree(data_root / "prompts")
    (data_root / "prompts").write_text("")  # a file where the folder should be: not writable
    at.text_input(key="zs-save-name").input("other").run()
    at.button(key="zs-save").click().run()
    [error] = at.error
    assert error.value.startswith("cannot save the prompt set: cannot write ") and below_the_editor(
        at
    )


def test_resume_continues_on_the_dataset_the_run_was_trained_on(
    data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # A run started from the terminal (no dashboard job) while another dataset is active.
    trained_on = data_root / "ds" / "tiny"
    other = make_tiny_dataset(data_root / "ds" / "imported", n=8, seed=1)
    (data_root / "active.json").write_text(json.dumps({"dataset": str(other)}))
    run = data_root / "runs" / "from-cli"
    run.mkdir(parents=True)
    (run / "config.json").write_text(json.dumps({"data": str(trained_on)}))
    (run / "status.json").write_text(json.dumps({"state": "stopped", "epoch": 1, "epochs": 4}))
    (run / "last.pt").write_bytes(b"")
    launched = []
    monkeypatch.setattr("dashboard.ui.launch", lambda *args, **kwargs: launched.append(args))
    at = _open("pages/train.py")
    next(b for b in at.button if b.label == "Resume").click().run()
    assert not at.exception, [e.value for e in at.exception]
    command = launched[0][2]
    assert command[command.index("--data") + 1] == str(trained_on)


def test_a_study_whose_tensor_is_damaged_still_shows_its_report(data_root: Path) -> None:
    studies = pd.read_parquet(data_root / "ds" / "tiny" / "studies.parquet").set_index("study_id")
    (data_root / "ds" / "tiny" / "tensors" / "s000003.npy").write_bytes(b"")  # a full disk
    at = _open("pages/studies.py", studies_view="Case view", case_id="s000003")
    assert [e.value for e in at.error] == [
        f"tensor of study s000003 is damaged ({data_root / 'ds' / 'tiny' / 'tensors'}"
        "/s000003.npy: No data left in file); re-run ingest"
    ]
    assert [t.value for t in at.text] == [studies.loc["s000003", "impression"]]


def test_an_upload_while_an_ingest_runs_is_refused_before_it_is_unpacked(
    data_root: Path,
) -> None:
    jobs = JobManager(data_root / "jobs")
    running = jobs.launch("ingest", [sys.executable, "-c", "import time; time.sleep(60)"])
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as zipped:
        zipped.writestr("study/1.dcm", b"\0" * 128 + b"DICM")
    try:
        at = _open("pages/studies.py", studies_view="Import")
        at.file_uploader[0].set_value(("scans.zip", archive.getvalue(), "application/zip"))
        at.button(key="FormSubmitter:import-Import and ingest").click().run()
        assert [e.value for e in at.error][0].startswith("another ingest job is already running")
        # nothing unpacked: the same name and zip can be sent again once that ingest ends
        assert not (data_root / "imports" / "uploads" / "my-import").exists()
        assert at.button(key=f"cancel-{running.id}")  # the running ingest's panel stays
    finally:
        jobs.cancel(running.id)
        jobs_module._CHILDREN.clear()


def test_the_study_table_sends_a_bounded_number_of_rows(
    data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """20,000 studies would be ~9 MB to the browser on every filter change: the table lists the
    first rows only and says how many match; the filters still search all of them."""
    monkeypatch.setattr("dashboard.studies.TABLE_ROWS", 5, raising=False)
    at = _open("pages/studies.py")
    assert len(at.dataframe(key="studies-table").value) == 5
    assert "first 5 of 8 matching studies (8 in all)" in " ".join(c.value for c in at.caption)
    at.text_input(key="f-text").input("s000007").run()
    assert at.dataframe(key="studies-table").value["study_id"].tolist() == ["s000007"]
    assert "1 of 8 studies" in " ".join(c.value for c in at.caption)


def test_an_import_with_no_usable_study_shows_why_on_the_page(data_root: Path) -> None:
    """The ingest fails ("no usable study found; reasons are in ingest_report.csv"): the
    reasons are shown on the Import view, not only named as a file on the server."""
    (data_root / "raw" / "notes").mkdir(parents=True)
    (data_root / "raw" / "notes" / "readme.txt").write_text("not an image")
    at = _open("pages/studies.py", studies_view="Import")
    at.text_input(key="imp-folder").input("raw/notes")
    at.button(key="FormSubmitter:import-Import and ingest").click().run()
    jobs = JobManager(data_root / "jobs")
    deadline = time.monotonic() + 60
    while jobs.latest("ingest").running and time.monotonic() < deadline:
        time.sleep(0.1)
    jobs_module._CHILDREN.clear()
    at.run()
    assert [e.value for e in at.error] == ["Ingest my-import failed (exit code 2)"]
    [summary] = [t.value for t in at.table]  # the summary: each reason whole
    assert summary.to_dict("records") == [
        {"level": "skipped", "reason": "not a DICOM file (no DICM preamble)", "count": 1}
    ]
    assert not [b for b in at.button if b.label.startswith("Use ")]  # nothing to make active


def test_a_failed_import_never_shows_the_report_of_an_earlier_attempt(data_root: Path) -> None:
    dataset = data_root / "imports" / "datasets" / "my-import"
    dataset.mkdir(parents=True)
    (dataset / "ingest_report.csv").write_text(
        "path,study_id,series,level,reason\na.txt,,,skipped,not a DICOM file\n"
    )
    os.utime(dataset / "ingest_report.csv", (1e9, 1e9))  # written by an earlier attempt
    jobs = JobManager(data_root / "jobs")
    failing = [sys.executable, "-c", "import sys; sys.exit('the reports CSV has no text')"]
    job = jobs.launch("ingest", failing, "Ingest my-import", outputs={"dataset": str(dataset)})
    deadline = time.monotonic() + 30
    while jobs.get(job.id).running and time.monotonic() < deadline:
        time.sleep(0.05)
    jobs_module._CHILDREN.clear()
    at = _open("pages/studies.py", studies_view="Import")
    assert [e.value for e in at.error] == ["Ingest my-import failed (exit code 1)"]
    assert not [d for d in at.dataframe if "reason" in d.value.columns] and not at.table
