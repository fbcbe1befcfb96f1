"""Fuzzing ingest: mutated real DICOM never crashes it, never hangs it, never leaks identifiers.

Hypothesis mutates files of a small real study (tests/dicom_factory.py) with the mutations of
tests/dicom_fuzz.py (truncation, bit flips, huge or wrong element lengths, wrong VRs, lying image
sizes, inserted garbage) and ingests the folder: ingest returns, every mutated file ends in a
written study or on an ingest-report line, and no identifier of the seed study reaches the
dataset or the log. ``bench/bench_fuzz_ingest.py`` runs thousands of files.
"""

from __future__ import annotations

import shutil
import tempfile
import time
from pathlib import Path

import pandas as pd
import pytest
from dicom_factory import StudySpec, write_study
from dicom_fuzz import HUGE, KINDS, TARGET_TAGS, VRS, Mutation, mutate, study_of, unaccounted
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from phi_scan import captured_logs, scan_bytes, scan_tree

import model.data.scan as scan_module
from model.data.ingest import ingest

SPEC = StudySpec(
    rows=16, cols=12, phases=2, sax_slices=1, series={"sax": "CINE_SAX", "4ch": "CINE_4CH"}
)
PHI = [SPEC.patient_name, SPEC.patient_id, SPEC.birth_date, "Fake General Hospital"]

mutations = st.builds(
    Mutation,
    kind=st.sampled_from(KINDS),
    tag=st.sampled_from(sorted(TARGET_TAGS)),
    position=st.floats(0.0, 1.0),
    value=st.one_of(st.sampled_from(HUGE), st.integers(0, 2**32 - 1)),
    count=st.integers(1, 64),
    seed=st.integers(0, 2**16),
    vr=st.sampled_from(VRS),
)


@pytest.fixture(scope="module")
def seed_study(tmp_path_factory: pytest.TempPathFactory) -> Path:
    study = write_study(tmp_path_factory.mktemp("seed"), SPEC)
    assert len([p for p in study.rglob("*") if p.is_file()]) >= 4
    return study


def _ingest_mutated(study: Path, work: Path, changes: list[tuple[int, Mutation]]) -> None:
    """Copy the study, apply ``changes`` (file index, mutation), ingest, check the outcome."""
    src = work / "src"
    shutil.copytree(study, src)
    files = sorted(p for p in src.rglob("*") if p.is_file())
    studies = {}
    for index, change in changes:
        path = files[index % len(files)]
        path.write_bytes(mutate(path.read_bytes(), change))
        studies[str(path.relative_to(src))] = study_of(path)
    with captured_logs() as records:
        summary = ingest(src, work / "ds", frames=4, size=16)
    assert summary.files_seen == len(files)
    assert not unaccounted(work / "ds", studies)
    assert not scan_tree(work / "ds", PHI)
    assert not scan_bytes("\n".join(records).encode(), PHI)


@settings(
    max_examples=60,
    deadline=None,
    derandomize=True,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
@given(changes=st.lists(st.tuples(st.integers(0, 63), mutations), min_size=1, max_size=3))
def test_mutated_files_end_in_the_dataset_or_the_report(
    seed_study: Path, changes: list[tuple[int, Mutation]]
) -> None:
    with tempfile.TemporaryDirectory(prefix="fuzz-") as tmp:
        _ingest_mutated(seed_study, Path(tmp), changes)


@pytest.mark.parametrize(
    "change",
    [
        Mutation("length", tag="PixelData", value=0xFFFFFFF0),
        Mutation("length", tag="StudyInstanceUID", value=0xFFFF),
        Mutation("length", tag="TransferSyntaxUID", value=600),  # swallows the names
        Mutation("value", tag="Rows", value=0xFFFF),
        Mutation("value", tag="BitsAllocated", value=7),
        Mutation("vr", tag="PixelData", vr=b"SQ"),
        Mutation("vr", tag="PatientName", vr=b"XX"),
        Mutation("truncate", position=0.6),
        Mutation("truncate", position=0.05),
    ],
)
def test_known_hostile_files(seed_study: Path, tmp_path: Path, change: Mutation) -> None:
    """Each mutation of every file of the study, one file at a time, ends in a clear outcome."""
    files = sorted(p for p in seed_study.rglob("*") if p.is_file())
    for index in range(0, len(files), max(1, len(files) // 3)):
        work = tmp_path / str(index)
        _ingest_mutated(seed_study, work, [(index, change)])
        report = pd.read_csv(work / "ds" / "ingest_report.csv", dtype=str, keep_default_na=False)
        assert all(reason.strip() for reason in report["reason"])


@pytest.mark.parametrize("workers", [1, 2])
def test_a_file_that_hangs_is_skipped_after_the_time_limit(
    seed_study: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, workers: int
) -> None:
    """Inline and in forked worker processes (the alarm acts in each worker's main thread)."""
    slow = sorted(p.name for p in seed_study.rglob("*") if p.is_file())[0]
    real = scan_module.read_headers

    def hanging(path: str):
        if Path(path).name == slow:
            time.sleep(30)
        return real(path)

    monkeypatch.setattr(scan_module, "read_headers", hanging)
    monkeypatch.setattr(scan_module, "FILE_SECONDS", 0.3)
    summary = ingest(seed_study, tmp_path / "ds", frames=4, size=16, workers=workers)
    report = pd.read_csv(tmp_path / "ds" / "ingest_report.csv", dtype=str)
    row = report[report["path"].str.endswith(slow)]
    assert len(row) == 1 and "took longer than 0.3 s" in row["reason"].iloc[0]
    assert summary.studies_written == 1
