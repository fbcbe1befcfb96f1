"""No planted PHI in anything the product writes or shows.

A tiny synthetic hospital (real DICOM with fake names, MRNs, birth dates, addresses, institution,
referring physicians; reports whose header lines carry them too) goes through every artefact
writer: ingest (one study exported under a patient-named folder beside a stray file, so the
ingest report has a line about it), a tiny training run, the Chroma index and embeddings cache,
an evaluation, and every dashboard page rendered by AppTest. Every byte of every file under the
data root (Chroma's binary files included), every rendered element and every log line is then
searched for every planted value, case-insensitively.
"""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pandas as pd
import pytest
import torch
from phi_scan import captured_logs, files_under, planted_phi, rendered_page, scan_bytes, scan_tree
from streamlit.testing.v1 import AppTest
from tiny_dataset import make_tiny_checkpoint

from model.cli import main
from model.data.report_scrub import deidentify_report
from sample_data.generate import generate

ROOT = Path(__file__).resolve().parent.parent
APP = str(ROOT / "app.py")
# every page there is (a hand-kept list had missed Few-shot since it was added)
PAGES = sorted(page.stem for page in (ROOT / "pages").glob("*.py"))
EVAL_FAST = ["--episodes", "2", "--bootstrap", "10", "--shots", "1", "--folds", "2"]
pytestmark = pytest.mark.slow


def _hide_one_study_under_a_patient_folder(raw: Path) -> None:
    """Move one study folder under ``FAMILY_GIVEN/`` (as PACS exports do) with a stray file."""
    study = sorted((raw / "dicom").iterdir())[0]
    studies = json.loads((raw / "phi.json").read_text())["studies"]
    patient = next(iter(studies.values()))[0]  # PatientIdentity.phi_values: DICOM name first
    assert "^" in patient
    folder = raw / "dicom" / patient.replace("^", "_")
    folder.mkdir()
    shutil.move(str(study), folder / study.name)
    (folder / "notes.txt").write_text("scanned for the cardiology clinic\n")


@pytest.fixture(scope="module")
def hospital(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Generate, ingest, train, index and evaluate one tiny hospital; keep the logs."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    root = tmp_path_factory.mktemp("phi")
    raw, data = root / "raw", root / "data"
    generate(raw, studies=6, site="internal", seed=27)  # its patients: train, val and test
    _hide_one_study_under_a_patient_folder(raw)
    dataset = data / "ds" / "internal"
    try:
        with captured_logs() as records:
            reports = str(raw / "reports.csv")
            assert (
                main(["ingest", str(raw / "dicom"), "--out", str(dataset), "--reports", reports])
                == 0
            )
            checkpoint = make_tiny_checkpoint(dataset, data / "runs" / "tiny")
            labels = str(raw / "labels.csv")
            index = ["index", "--checkpoint", str(checkpoint), "--data", str(dataset)]
            assert main([*index, "--labels", labels]) == 0
            evaluate = ["evaluate", "--checkpoint", str(checkpoint), "--data", str(dataset)]
            external = shutil.copytree(dataset, data / "ds" / "external")  # all six studies
            evaluate += ["--external", str(external), "--labels", labels]
            code = main([*evaluate, "--out", str(data / "evaluations" / "tiny"), *EVAL_FAST])
    finally:
        torch.set_num_threads(threads)
    assert code in (0, 2)  # 2: partial results (no internal test split in six studies)
    return {
        "raw": raw,
        "data": data,
        "dataset": dataset,
        "logs": "\n".join(records),
        "phi": planted_phi(raw),
    }


def test_the_planted_values_are_really_in_the_input(hospital: dict) -> None:
    """The scan can fail: every kind of value is planted, and the scanner finds it in the input."""
    phi = hospital["phi"]
    assert {"patient or referrer", "name part", "institution", "report header line"} <= set(
        phi.values()
    )
    files = sorted((hospital["raw"] / "dicom").rglob("*"))
    dicom = next(p for p in files if p.is_file() and p.suffix != ".txt")
    found = set(scan_bytes(dicom.read_bytes(), phi))
    assert any("^" in v for v in found) and any(phi[v] == "institution" for v in found)
    reports = (hospital["raw"] / "reports.csv").read_bytes()
    assert any(phi[v] == "report header line" for v in scan_bytes(reports, phi))


def test_every_written_artefact_is_free_of_phi(hospital: dict) -> None:
    data = hospital["data"]
    assert len(pd.read_parquet(hospital["dataset"] / "studies.parquet")) == 6
    written = files_under(data)
    for expected in (
        "ds/internal/studies.parquet",
        "ds/internal/linkage.csv",
        "ds/internal/ingest_report.csv",
        "ds/internal/dataset.json",
        "runs/tiny/train.log",
        "runs/tiny/metrics.jsonl",
        "runs/tiny/status.json",
        "runs/tiny/config.json",
        "runs/tiny/last.pt",
        "runs/tiny/best.pt",
        "ds/chroma/chroma.sqlite3",
        "evaluations/tiny/summary.json",
    ):
        assert expected in written, (expected, written)
    for prefix in ("ds/internal/tensors/", "ds/internal/embeddings/", "evaluations/tiny/internal/"):
        assert any(path.startswith(prefix) for path in written), prefix
    assert not scan_tree(data, hospital["phi"])


def test_the_ingest_report_keeps_no_patient_folder_or_absolute_path(hospital: dict) -> None:
    report = pd.read_csv(hospital["dataset"] / "ingest_report.csv", dtype=str)
    stray = report[report["path"].str.endswith("notes.txt")]
    assert len(stray) == 1 and stray["level"].iloc[0] == "skipped"
    assert stray["path"].iloc[0] == "[removed]_[removed]/notes.txt"
    assert not any(Path(p).is_absolute() for p in report["path"])


def test_report_scrubbing_replaces_identifier_parts_only(tmp_path: Path) -> None:
    src = tmp_path / "export"
    rows = [
        {"path": str(src / "Doe_Jane" / "PID0001" / "IM1"), "reason": "not a DICOM file"},
        {"path": str(src / "Doesn't matter" / "19700101.dcm"), "reason": "empty file"},
        {"path": "/elsewhere/jane.doe/x", "reason": "from DOE^JANE"},
    ]
    identifiers = {"DOE^JANE", "PID0001", "19700101", "1"} | {f"ID{i:06d}" for i in range(20_000)}
    out = deidentify_report(rows, src, identifiers)
    assert [r["path"] for r in out] == [
        "[removed]_[removed]/[removed]/IM1",
        "Doesn't matter/[removed].dcm",
        "x",
    ]
    assert out[0]["reason"] == "not a DICOM file" and out[2]["reason"] == "from [removed]^[removed]"


def test_a_reason_quoting_a_full_path_keeps_only_its_part_below_the_source(tmp_path: Path) -> None:
    src = tmp_path / "hospital" / "export"
    case = src / "patient001" / "patient001_4d.nii.gz"
    rows = [{"path": str(case), "reason": f"cannot read {case}: not a gzip file"}]
    [row] = deidentify_report(rows, src, set())
    assert row["reason"] == "cannot read patient001/patient001_4d.nii.gz: not a gzip file"
    assert str(tmp_path) not in row["reason"]


def test_accession_numbers_stay_in_the_linkage_file(hospital: dict) -> None:
    linkage = pd.read_csv(hospital["dataset"] / "linkage.csv", dtype=str)
    accessions = set(linkage["accession_number"])
    assert len(accessions) == 6
    assert not scan_tree(hospital["data"], accessions, skip={"linkage.csv"})


def test_logs_are_free_of_phi(hospital: dict) -> None:
    logs = hospital["logs"]
    assert all(stage in logs for stage in ("ingest:", "epoch 1", "index", "report:")), logs
    assert not scan_bytes(hospital["logs"].encode("utf-8"), hospital["phi"])


def test_dashboard_pages_show_no_phi(hospital: dict, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CMR_DATA_ROOT", str(hospital["data"]))
    studies = pd.read_parquet(hospital["dataset"] / "studies.parquet")
    case = str(studies["study_id"].iloc[0])
    state = {"studies": {"studies_view": "Case view", "case_id": case}}
    before = _stamps(hospital["data"])
    seen = 0
    for page in PAGES:
        at = AppTest.from_file(APP, default_timeout=120)
        for key, value in state.get(page, {}).items():
            at.session_state[key] = value
        at.run()
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, (page, [e.value for e in at.exception])
        blob = rendered_page(at._tree)
        seen += len(blob)
        assert not scan_bytes(blob, hospital["phi"]), page
        if page == "studies":
            assert case.encode() in blob  # the case view really rendered the study
    assert seen > 10_000
    written = [p for p, stamp in _stamps(hospital["data"]).items() if before.get(p) != stamp]
    for path in written:  # anything rendering wrote (caches, jobs); none today
        assert not scan_bytes(path.read_bytes(), hospital["phi"]), path


def _stamps(root: Path) -> dict[Path, tuple[int, int]]:
    return {p: (p.stat().st_mtime_ns, p.stat().st_size) for p in root.rglob("*") if p.is_file()}
