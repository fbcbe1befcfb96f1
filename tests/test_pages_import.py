"""The Studies page's Import view after a failure: what a user retrying, or reading what went
wrong, sees and what is left on disk."""

from __future__ import annotations

import sys
import time
from pathlib import Path

import pytest
from dashboard_fixtures import (
    DICOM_BYTES,
    IMPORT_SUBMIT,
    import_view,
    make_tiny_dataset,
    run_zip_job,
    tiny_writable_root,
    zip_bytes,
)
from streamlit.testing.v1 import AppTest

from dashboard import jobs as jobs_module
from dashboard.importer import retry_note
from dashboard.jobs import JobManager
from model.data.store import LOCK_FILE, ingest_lock


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return tiny_writable_root(tmp_path, monkeypatch)


def test_a_zip_whose_ingest_failed_can_be_sent_again_under_the_same_name(
    data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first zip was unpacked but its ingest found no study (or the page was closed before
    the job started): the folder it left must not refuse the corrected zip under that name."""
    launched = []
    monkeypatch.setattr("dashboard.ui.launch", lambda *args, **kwargs: launched.append(args[2]))
    at = import_view()
    at.file_uploader[0].set_value(
        ("scans.zip", zip_bytes({"bad/1.dcm": b"junk"}), "application/zip")
    )
    at.button(key=IMPORT_SUBMIT).click().run()
    assert not at.error and len(launched) == 1, [e.value for e in at.error]
    assert run_zip_job(launched[0]) == 1  # unpacked (a .dcm name); its ingest found no study
    upload = data_root / "imports" / "uploads" / "my-import"
    fixed = zip_bytes({"good/1.dcm": DICOM_BYTES})
    at.file_uploader[0].set_value(("scans-fixed.zip", fixed, "application/zip"))
    at.button(key=IMPORT_SUBMIT).click().run()
    assert not at.error, [e.value for e in at.error]
    assert len(launched) == 2
    assert run_zip_job(launched[1]) == 1  # unpacked; its ingest failed
    assert (upload / "good" / "1.dcm").read_bytes() == DICOM_BYTES
    assert not (upload / "bad").exists()  # the failed zip's files are not ingested again


def test_an_upload_named_like_a_finished_dataset_is_refused_and_its_files_kept(
    data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("dashboard.ui.launch", lambda *args, **kwargs: None)
    upload = data_root / "imports" / "uploads" / "site-b"
    (upload / "old").mkdir(parents=True)
    (upload / "old" / "1.dcm").write_bytes(DICOM_BYTES)
    make_tiny_dataset(data_root / "imports" / "datasets" / "site-b", n=2)
    at = import_view()
    {t.label: t for t in at.text_input}["Dataset name"].input("site-b")
    at.file_uploader[0].set_value(
        ("scans.zip", zip_bytes({"new/1.dcm": DICOM_BYTES}), "application/zip")
    )
    at.button(key=IMPORT_SUBMIT).click().run()
    assert [e.value for e in at.error] == [
        "a dataset called 'site-b' already exists; choose another name"
    ]
    assert (upload / "old" / "1.dcm").is_file() and not (upload / "new").exists()


def _fill(at: AppTest, **fields: str) -> None:
    labels = {
        "reports": "Reports CSV (optional)",
        "labels": "Labels CSV (optional; evaluation only)",
    }
    inputs = {t.label: t for t in at.text_input}
    for field, value in fields.items():
        inputs[labels[field]].input(value)


def test_reports_and_labels_inside_the_uploaded_zip_are_ingested_with_it(
    data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A clinician zips the export as it is: images, reports.csv and labels.csv together. Ingest
    reads (and checks) them once the job unpacked the zip."""
    launched = []
    monkeypatch.setattr("dashboard.ui.launch", lambda *args, **kwargs: launched.append(args[2]))
    export = {
        "export/ST1/1.dcm": DICOM_BYTES,
        "export/reports.csv": b"accession_number,report\nA1,IMPRESSION: Normal.\n",
        "export/labels.csv": b"accession_number,lge\nA1,1\n",
    }
    at = import_view()
    at.file_uploader[0].set_value(("export.zip", zip_bytes(export), "application/zip"))
    _fill(at, reports="export/reports.csv", labels="export/labels.csv")
    at.button(key=IMPORT_SUBMIT).click().run()
    assert not at.error, [e.value for e in at.error]
    [command] = launched
    upload = data_root / "imports" / "uploads" / "my-import"
    assert command[command.index("--reports") + 1] == str(upload / "export" / "reports.csv")
    assert command[command.index("--labels") + 1] == str(upload / "export" / "labels.csv")
    assert run_zip_job(command) == 1
    assert (upload / "export" / "reports.csv").is_file()


@pytest.mark.parametrize(
    ("bad", "problem"),
    [
        (b"accession_number,lge\nA1,yes\n", "column 'lge': value 'yes' is not 1, 0 or blank"),
        # a row longer than the header, which pandas read shifted: A1 an index, '1' its accession
        (b"accession_number,lge\nA1,1,0\n", "row 1 after the header has more cells"),
        (b"Accession Number;lge\n1.23E+11;1\n", "'1.23E+11' is in scientific notation"),
    ],
)
def test_a_bad_labels_csv_in_the_zip_is_refused_on_submit_as_one_under_the_root_is(
    data_root: Path, monkeypatch: pytest.MonkeyPatch, bad: bytes, problem: str
) -> None:
    """A labels CSV inside the zip was read only by the job's ingest, after the zip had been
    copied and unpacked; the same file under the data root is refused at once. Both now say
    what is wrong on submit, in the same words, and nothing is launched or written."""
    launched = []
    monkeypatch.setattr("dashboard.ui.launch", lambda *args, **kwargs: launched.append(args[2]))
    (data_root / "labels.csv").write_bytes(bad)
    at = import_view()
    at.file_uploader[0].set_value(
        ("scans.zip", zip_bytes({"ST1/1.dcm": DICOM_BYTES}), "application/zip")
    )
    _fill(at, labels="labels.csv")
    at.button(key=IMPORT_SUBMIT).click().run()
    [alone] = [e.value for e in at.error]
    zipped = zip_bytes({"export/ST1/1.dcm": DICOM_BYTES, "export/labels.csv": bad})
    at.file_uploader[0].set_value(("export.zip", zipped, "application/zip"))
    _fill(at, labels="export/labels.csv")
    at.button(key=IMPORT_SUBMIT).click().run()
    [inside] = [e.value for e in at.error]
    assert problem in alone
    assert inside == alone.replace(str(data_root / "labels.csv"), "export/labels.csv in the zip")
    assert not launched and not (data_root / "imports" / "uploads").exists()


def test_a_file_named_neither_in_the_zip_nor_under_the_root_is_refused_before_unpacking(
    data_root: Path,
) -> None:
    at = import_view()
    zipped = zip_bytes(
        {"ST1/1.dcm": DICOM_BYTES, "export/reports.csv": b"accession_number,report\n"}
    )
    at.file_uploader[0].set_value(("export.zip", zipped, "application/zip"))
    _fill(at, reports="reports.csv")
    at.button(key=IMPORT_SUBMIT).click().run()
    assert [e.value for e in at.error] == [
        "the reports CSV reports.csv does not exist under the data root or in the zip"
    ]
    assert not (data_root / "imports").exists()


def test_a_retry_after_a_failed_ingest_starts_from_an_empty_dataset_folder(
    data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A failed ingest leaves its ingest report (and salt) but no studies.parquet; the retry's
    ingest appended to that report, listing files of the failed attempt as skipped."""
    launched = []
    monkeypatch.setattr("dashboard.ui.launch", lambda *args, **kwargs: launched.append(args[2]))
    failed = data_root / "imports" / "datasets" / "my-import"
    failed.mkdir(parents=True)
    (failed / "ingest_report.csv").write_text(
        "path,study_id,series,level,reason\nold/b.dcm,,,skipped,not a DICOM file\n"
    )
    (failed / "salt.key").write_text("0" * 64)
    at = import_view()
    at.file_uploader[0].set_value(
        ("scans.zip", zip_bytes({"ST1/1.dcm": DICOM_BYTES}), "application/zip")
    )
    at.button(key=IMPORT_SUBMIT).click().run()
    assert not at.error and len(launched) == 1, [e.value for e in at.error]
    assert [path.name for path in failed.iterdir()] in ([], [LOCK_FILE])


def test_a_dataset_folder_an_ingest_is_writing_now_is_left_alone(
    data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """An ingest started from a terminal into the folder a retry would clear: refused, named."""
    monkeypatch.setattr("dashboard.ui.launch", lambda *args, **kwargs: None)
    writing = data_root / "imports" / "datasets" / "my-import"
    writing.mkdir(parents=True)
    (writing / "salt.key").write_text("0" * 64)
    at = import_view()
    at.file_uploader[0].set_value(
        ("scans.zip", zip_bytes({"ST1/1.dcm": DICOM_BYTES}), "application/zip")
    )
    with ingest_lock(writing):
        at.button(key=IMPORT_SUBMIT).click().run()
    [error] = [e.value for e in at.error]
    assert error.startswith("another ingest (pid") and "wait for it to finish" in error
    assert (writing / "salt.key").is_file()


def test_a_finished_import_made_active_says_what_to_open_next(data_root: Path) -> None:
    dataset = make_tiny_dataset(data_root / "imports" / "datasets" / "site-b", n=3)
    jobs = JobManager(data_root / "jobs")
    job = jobs.launch(
        "ingest", [sys.executable, "-c", "pass"], "Ingest site-b", {"dataset": str(dataset)}
    )
    deadline = time.monotonic() + 60
    while jobs.get(job.id).running and time.monotonic() < deadline:
        time.sleep(0.05)
    jobs_module._CHILDREN.clear()
    at = import_view()
    active = "site-b is the active dataset"
    assert not [s for s in at.success if s.value.startswith(active)]  # only the button yet
    at.button(key="use-import").click().run()
    assert not at.exception and not at.error
    [done] = [s.value for s in at.success if s.value.startswith(active)]
    assert "Zero-shot" in done
    assert not [b for b in at.button if b.key == "use-import"]  # not offered again
    pages = [link.proto.page for link in at.get("page_link")]
    assert pages == ["embeddings", "zeroshot", "browser"], pages


def test_an_upload_is_unpacked_by_the_job_not_the_page(
    data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """Unpacked in the page's script run, a zip was lost to any click on the page or a reload
    (Streamlit stops the run): the page only saves it and starts the job."""
    launched = []
    monkeypatch.setattr("dashboard.ui.launch", lambda *args, **kwargs: launched.append(args[2]))
    at = import_view()
    at.file_uploader[0].set_value(
        ("scans.zip", zip_bytes({"ST1/1.dcm": DICOM_BYTES}), "application/zip")
    )
    at.button(key=IMPORT_SUBMIT).click().run()
    assert not at.error and not at.get("progress"), [e.value for e in at.error]
    [command] = launched
    uploads = data_root / "imports" / "uploads"
    assert command[1:5] == [
        "-m",
        "dashboard.zip_ingest",
        str(uploads / ".my-import.upload.zip"),
        str(uploads / "my-import"),
    ]
    assert [path.name for path in uploads.iterdir()] == [".my-import.upload.zip"]
    assert command[command.index("ingest") + 1] == str(uploads / "my-import")


def test_a_zip_with_an_unsafe_entry_is_refused_on_the_page(data_root: Path) -> None:
    at = import_view()
    zipped = zip_bytes({"ST1/1.dcm": DICOM_BYTES, "../escape.dcm": DICOM_BYTES})
    at.file_uploader[0].set_value(("scans.zip", zipped, "application/zip"))
    at.button(key=IMPORT_SUBMIT).click().run()
    [error] = [e.value for e in at.error]
    assert "points outside the import folder" in error, error
    assert not (data_root / "imports" / "uploads").exists()
    assert not JobManager(data_root / "jobs").list()


def _ended_ingest(data_root: Path, code: str) -> None:
    """An ingest job into ``imports/datasets/site-b`` that ran ``code`` and ended."""
    jobs = JobManager(data_root / "jobs")
    dataset = data_root / "imports" / "datasets" / "site-b"
    outputs = {"dataset": str(dataset)}
    job = jobs.launch("ingest", [sys.executable, "-c", code], "Ingest site-b", outputs)
    deadline = time.monotonic() + 60
    while jobs.get(job.id).running and time.monotonic() < deadline:
        time.sleep(0.05)
    jobs_module._CHILDREN.clear()


def test_a_failed_import_says_what_to_do_next(data_root: Path) -> None:
    _ended_ingest(data_root, "raise SystemExit(2)")
    at = import_view()
    [note] = [i.value for i in at.info]
    assert note.startswith("The import ended early: no dataset was written. Correct what")
    assert note.endswith("the same dataset name can be used.")


def test_the_retry_note_fits_how_the_import_ended(tmp_path: Path) -> None:
    assert retry_note("cancelled", tmp_path).startswith("The import was cancelled: no dataset")
    assert retry_note("running", tmp_path) is None
    dataset = make_tiny_dataset(tmp_path / "site-b", n=2)
    assert retry_note("failed", dataset) is None  # it holds studies: nothing to send again


def test_a_form_naming_a_folder_and_a_zip_or_neither_is_refused(
    data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    launched = []
    monkeypatch.setattr("dashboard.ui.launch", lambda *args, **kwargs: launched.append(args[2]))
    (data_root / "raw" / "dicom").mkdir(parents=True)
    (data_root / "raw" / "dicom" / "1.dcm").write_bytes(DICOM_BYTES)
    at = import_view()
    at.button(key=IMPORT_SUBMIT).click().run()
    assert [e.value for e in at.error] == [
        "enter a DICOM folder under the data root, or upload a zip of DICOM files"
    ]
    at.text_input(key="imp-folder").input("raw/dicom")
    at.file_uploader[0].set_value(
        ("scans.zip", zip_bytes({"a/1.dcm": DICOM_BYTES}), "application/zip")
    )
    at.button(key=IMPORT_SUBMIT).click().run()
    [error] = [e.value for e in at.error]
    assert error.startswith("give a DICOM folder or a zip, not both")
    assert not launched and not (data_root / "imports").exists()


def test_a_misspelt_labels_column_is_named_once_the_import_finished(data_root: Path) -> None:
    """Ingest keeps every labels column (the user's own too), so a typo went unnoticed until
    its finding had no AUC on the Zero-shot page."""
    dataset = make_tiny_dataset(data_root / "imports" / "datasets" / "site-b", n=2)
    (dataset / "labels.csv").write_text(
        "accession_number,lv_dysfuntion,lge,Amyloidoses,my_score\nA1,1,0,0,1\n"
    )
    _ended_ingest(data_root, "pass")
    at = import_view()
    [warning] = [w.value for w in at.warning]
    assert "`lv_dysfuntion` (did you mean `lv_dysfunction`?)" in warning
    assert "`Amyloidoses` (did you mean `amyloidosis`?)" in warning
    assert "lge`" not in warning and "my_score" not in warning  # known, and the user's own


def test_the_ingest_reports_summary_shows_each_reason_whole(data_root: Path) -> None:
    """A grid cut the longest reasons (the missing report's) at a 1280 px window."""
    dataset = data_root / "imports" / "datasets" / "site-b"
    reason = (
        "the reports CSV has no report for its AccessionNumber; training leaves studies without "
        "a report impression out"
    )
    _ended_ingest(data_root, "pass")
    make_tiny_dataset(dataset, n=2)
    (dataset / "ingest_report.csv").write_text(
        f"path,study_id,series,level,reason\nST1/1.dcm,s1,,warning,{reason}\n"
        "notes.txt,,,skipped,not a DICOM file (no DICM preamble)\n"
    )
    at = import_view()
    [summary] = at.table
    assert reason in summary.value["reason"].tolist()


def test_a_zip_entry_with_an_absolute_name_cannot_name_a_file_outside_the_root(
    data_root: Path,
) -> None:
    """Typed as the zip names it, ``/etc/passwd`` was read (its first line quoted in the
    labels error) although the field refuses any path outside the data root."""
    outside = data_root.parent / "secret.csv"
    outside.write_text("root:x:0:0\n")
    zipped = zip_bytes({"ST1/1.dcm": DICOM_BYTES, str(outside): b"accession_number,lge\n"})
    at = import_view()
    at.file_uploader[0].set_value(("export.zip", zipped, "application/zip"))
    {t.label: t for t in at.text_input}["Labels CSV (optional; evaluation only)"].input(
        str(outside)
    )
    at.button(key=IMPORT_SUBMIT).click().run()
    [error] = [e.value for e in at.error]
    assert "root:x" not in error and "outside the data root" in error, error


def test_a_failed_zip_import_can_be_retried_from_its_unpacked_folder(
    data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """As the README says: after a failed ingest the unpacked folder is kept, and a corrected
    import names it instead of uploading the zip again."""
    launched = []
    monkeypatch.setattr("dashboard.ui.launch", lambda *args, **kwargs: launched.append(args[2]))
    at = import_view()
    at.file_uploader[0].set_value(
        ("scans.zip", zip_bytes({"ST1/1.dcm": DICOM_BYTES}), "application/zip")
    )
    at.button(key=IMPORT_SUBMIT).click().run()
    assert run_zip_job(launched[0]) == 1
    at.file_uploader[0].set_value(None)
    {t.label: t for t in at.text_input}["DICOM folder (under the data root)"].input(
        "imports/uploads/my-import"
    )
    at.button(key=IMPORT_SUBMIT).click().run()
    assert not at.error, [e.value for e in at.error]
    command = launched[1]
    assert command[command.index("ingest") + 1] == str(data_root / "imports/uploads/my-import")


def test_an_import_leaves_the_active_dataset_where_it_was_until_one_is_chosen(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """With no dataset chosen yet, a new session (a reload, another user) takes the root's own
    datasets before the demo's: a finished 30-study import silently moved every page reloaded
    off the demo, while the Studies page still offered 'Use … as the active dataset'."""
    from dashboard.settings import Settings

    root = tmp_path / "data"
    demo = make_tiny_dataset(root / "demo" / "internal", n=8)
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    launched = []
    monkeypatch.setattr("dashboard.ui.launch", lambda *args, **kwargs: launched.append(args[2]))
    at = import_view()
    at.file_uploader[0].set_value(
        ("scans.zip", zip_bytes({"ST1/1.dcm": DICOM_BYTES}), "application/zip")
    )
    at.button(key=IMPORT_SUBMIT).click().run()
    assert launched and not at.error, [e.value for e in at.error]
    make_tiny_dataset(root / "imports" / "datasets" / "my-import", n=3)  # what the job writes
    assert Settings(root).active_dataset() == demo.resolve()
