"""A tiny, fully built data root for dashboard tests: dataset + checkpoint + cached embeddings.

Built once per test session (both the AppTest and the browser tests reuse it) under pytest's
base temp folder, in the documented layout: DATA_ROOT/ds/tiny, DATA_ROOT/runs/tiny.
"""

from __future__ import annotations

import io
import json
import os
import sys
import time
import zipfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest
from streamlit.testing.v1 import AppTest

sys.path.insert(0, str(Path(__file__).resolve().parent))

from tiny_dataset import make_tiny_checkpoint, make_tiny_dataset  # noqa: E402, F401

APP = str(Path(__file__).resolve().parent.parent / "app.py")


def tiny_data_root(factory: pytest.TempPathFactory) -> Path:
    """DATA_ROOT holding the tiny dataset, a two-step checkpoint and its study embeddings."""
    root = factory.getbasetemp() / "tiny-studio" / "data"
    marker = root / ".built"
    if marker.exists():
        return root
    from model.data.dataset import CMRDataset
    from model.embed import cached_study_embeddings

    dataset = make_tiny_dataset(root / "ds" / "tiny", n=24, seed=0)
    checkpoint = make_tiny_checkpoint(dataset, root / "runs" / "tiny")
    for saved in sorted(checkpoint.parent.glob("*.pt")):  # best.pt is the dashboard's default
        cached_study_embeddings(saved, CMRDataset.open(dataset))
    marker.write_text("ok")
    return root


def page_opener(data_root: Path, monkeypatch: pytest.MonkeyPatch) -> Callable[..., AppTest]:
    """``open_page(page, **session_state)``: the app on ``data_root``, switched to ``page``, with
    no exception or error shown."""
    monkeypatch.setenv("CMR_DATA_ROOT", str(data_root))

    def open_page(page: str, **state: object) -> AppTest:
        at = AppTest.from_file(APP, default_timeout=120)
        for key, value in state.items():
            at.session_state[key] = value
        at.run()
        at.switch_page(page).run()
        assert not at.exception, [e.value for e in at.exception]
        assert not at.error, [e.value for e in at.error]
        return at

    return open_page


def tiny_writable_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A data root of this test's own (pages may write into it) holding an 8-study dataset,
    set as ``CMR_DATA_ROOT``."""
    root = tmp_path / "data"
    make_tiny_dataset(root / "ds" / "tiny", n=8)
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    return root


IMPORT_SUBMIT = "FormSubmitter:import-Import and ingest"  # the Import form's submit button
DICOM_BYTES = b"\0" * 128 + b"DICM"  # enough of a DICOM file for the zip checks' "has DICOM"


def zip_bytes(entries: dict[str, bytes]) -> bytes:
    """A zip archive holding ``entries`` (name in the zip -> content)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def import_view(timeout: float = 60) -> AppTest:
    """The Studies page's Import view on ``CMR_DATA_ROOT``, with no exception shown."""
    at = AppTest.from_file(APP, default_timeout=timeout)
    at.session_state["studies_view"] = "Import"
    at.run()
    at.switch_page("pages/studies.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def block_holding(node: Any, predicate: Callable[[Any], bool]) -> Any:
    """The innermost block of an AppTest tree (``at.main``) holding an element for which
    ``predicate`` holds, to check where a page lays it out; None when none does."""
    from streamlit.testing.v1.element_tree import Block

    for child in node.children.values():
        if isinstance(child, Block):
            found = block_holding(child, predicate)
            if found is not None:
                return found
        elif predicate(child):
            return node
    return None


def finished_run(root: Path, name: str, age_s: float) -> Path:
    """A finished run folder holding a best.pt, last touched ``age_s`` seconds ago."""
    run = root / "runs" / name
    run.mkdir(parents=True)
    (run / "status.json").write_text(json.dumps({"state": "finished"}))
    (run / "best.pt").write_bytes(b"")
    stamp = time.time() - age_s
    for path in (run / "status.json", run / "best.pt", run):
        os.utime(path, (stamp, stamp))
    return run / "best.pt"


def run_zip_job(command: list[str], ingest_code: str = "raise SystemExit(1)") -> int:
    """Run, in this process, the unpacking of the zip import job the Studies page launched with
    ``command`` (``python -m dashboard.zip_ingest ZIP FOLDER -- INGEST...``), with ``ingest_code``
    as its ingest (by default one that fails, so the unpacked folder is kept to look at)."""
    from dashboard.zip_ingest import run

    assert command[1:3] == ["-m", "dashboard.zip_ingest"] and command[5] == "--", command
    return run(Path(command[3]), Path(command[4]), [sys.executable, "-c", ingest_code])


def job_record(jobs: Path, name: str, kind: str, started: float, ended: bool = True) -> Path:
    """A job folder as the job manager leaves it: ``job.json``, a log and, once the job has
    ``ended``, its ``result.json``."""
    folder = jobs / name
    folder.mkdir(parents=True)
    (folder / "job.json").write_text(
        json.dumps({"id": name, "kind": kind, "started": started, "pid": 1})
    )
    (folder / "log.txt").write_text("a line\n" * 100)
    if ended:
        (folder / "result.json").write_text(json.dumps({"returncode": 0}))
    return folder
