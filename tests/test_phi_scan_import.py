"""No planted PHI left by a dashboard import of an export named after its patient.

Hospital exports name folders after the patient (``DOE^JOHN_12345/``). Here such a folder (one
study, with the export's own reports and labels CSV beside the images) and a second one with no
DICOM in it (named by the patient's full name and birth date) are imported through the Studies
page's Import form, as a user would: the second ingest job fails, the first succeeds. Everything
under the data root but the raw export (the imported dataset, the jobs' logs and progress, the
lock files) and the Import view that shows the jobs' logs and the ingest report are then
searched for every planted value.

The job's ``job.json`` keeps the command as the user launched it, the folders and files typed
into the form included: it is the user's own input, recorded beside the very folders it names
(which hold the identifiable DICOM and reports), and it is never shown on a page. Everything ingest itself writes or logs is clean.
"""

from __future__ import annotations

import json
import shutil
import time
from pathlib import Path

import pandas as pd
import pytest
from dashboard_fixtures import import_view
from phi_scan import planted_phi, rendered_page, scan_bytes, scan_tree
from streamlit.testing.v1 import AppTest

import dashboard.jobs as jobs_module
from dashboard.jobs import JobManager
from sample_data.generate import generate

pytestmark = pytest.mark.slow


def _patient(raw: Path) -> list[str]:
    """The first planted patient's values: DICOM name, report name, family name, ID, birth dates."""
    studies = json.loads((raw / "phi.json").read_text(encoding="utf-8"))["studies"]
    return next(iter(studies.values()))


def _exports(raw: Path, data: Path) -> tuple[str, str]:
    """Under ``data/raw``: one study exported as ``FAMILY^GIVEN_ID/`` with the export's reports
    and labels CSV, and a folder named ``Given Family YYYY-MM-DD`` holding no DICOM."""
    name, full_name, _, patient_id, _, _, iso_birth = _patient(raw)[:7]
    export = data / "raw" / f"{name}_{patient_id}"
    study = sorted((raw / "dicom").iterdir())[0]
    shutil.copytree(study, export / study.name)
    (export / f"{full_name} {iso_birth}.txt").write_text("scanned for the cardiology clinic\n")
    for table in ("reports.csv", "labels.csv"):
        shutil.copy(raw / table, export / table)
    empty = data / "raw" / f"{full_name} {iso_birth}"
    empty.mkdir()
    (empty / "readme.txt").write_text("the images follow by post\n")
    return str(export.relative_to(data)), str(empty.relative_to(data))


def _import(at: AppTest, jobs: JobManager, name: str, folder: str, *files: str) -> None:
    """Fill the Import form as typed (``files``: reports and labels CSV), send it and wait for
    its ingest job to end."""
    reports, labels = files or ("", "")
    fields = {t.label: t for t in at.text_input}
    fields["Dataset name"].input(name)
    at.text_input(key="imp-folder").input(folder)
    fields["Reports CSV (optional)"].input(reports)
    fields["Labels CSV (optional; evaluation only)"].input(labels)
    at.button(key="FormSubmitter:import-Import and ingest").click().run()
    assert not at.exception and not at.error, [e.value for e in (*at.exception, *at.error)]
    deadline = time.monotonic() + 120
    while jobs.latest("ingest").running and time.monotonic() < deadline:
        time.sleep(0.1)
    jobs_module._CHILDREN.clear()


@pytest.fixture(scope="module")
def imported(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """A data root after two imports from patient-named folders, and the Import view after."""
    root = tmp_path_factory.mktemp("phi-import")
    raw, data = root / "raw", root / "data"
    generate(raw, studies=2, site="internal", seed=21)
    export, empty = _exports(raw, data)
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("CMR_DATA_ROOT", str(data))
        jobs = JobManager(data / "jobs")
        form = import_view(timeout=120)
        _import(form, jobs, "no-images", empty)
        _import(form, jobs, "clinic", export, f"{export}/reports.csv", f"{export}/labels.csv")
        later = import_view(timeout=120)  # another visit: the form holds nothing typed
    accessions = set(pd.read_csv(raw / "labels.csv", dtype=str)["accession_number"])
    return {"data": data, "page": later, "phi": planted_phi(raw), "accessions": accessions}


def test_both_imports_ran_as_the_user_would_see_them(imported: dict) -> None:
    jobs = JobManager(imported["data"] / "jobs").list("ingest")
    assert [job.state for job in jobs] == ["finished", "failed"]
    dataset = imported["data"] / "imports" / "datasets" / "clinic"
    assert len(pd.read_parquet(dataset / "studies.parquet")) == 1
    assert (dataset / "labels.csv").is_file()
    report = pd.read_csv(dataset / "ingest_report.csv", dtype=str)
    assert report["path"].str.endswith(".txt").any()  # the stray file is in the report


def test_nothing_under_the_data_root_but_the_export_holds_phi(imported: dict) -> None:
    data, phi = imported["data"], imported["phi"]
    hits = [(path, value) for path, value in scan_tree(data, phi) if not path.startswith("raw/")]
    commands = [path for path, _ in hits if path.endswith("job.json")]
    assert not [hit for hit in hits if hit[0] not in commands], hits
    assert len(set(commands)) == 2
    for path in set(commands):  # the command the user launched names the folders they typed
        info = json.loads((data / path).read_text(encoding="utf-8"))
        assert any(arg.startswith(str(data / "raw")) for arg in info.pop("command"))
        assert not scan_bytes(json.dumps(info).encode("utf-8"), phi), path
    logs = [p.read_bytes() for p in (data / "jobs").rglob("log.txt")]
    assert len(logs) == 2 and all(b"ingest:" in log for log in logs)


def test_accession_numbers_stay_in_the_files_that_join_labels(imported: dict) -> None:
    data, accessions = imported["data"], imported["accessions"]
    hits = scan_tree(data, accessions, skip={"linkage.csv", "labels.csv"})
    assert not [hit for hit in hits if not hit[0].startswith("raw/")], hits
    assert not scan_bytes(rendered_page(imported["page"]._tree), accessions)


def test_the_import_view_shows_no_phi(imported: dict) -> None:
    at = imported["page"]
    blob = rendered_page(at._tree)
    assert b"Ingest report" in blob and b"labels:" in blob  # the report and the job's log
    assert not scan_bytes(blob, imported["phi"])
