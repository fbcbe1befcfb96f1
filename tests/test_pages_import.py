"""The Studies page's Import view after a failure: what a user retrying, or reading what went
wrong, sees and what is left on disk."""

from __future__ import annotations

import io
import zipfile
from pathlib import Path

import pytest
from dashboard_fixtures import make_tiny_dataset
from streamlit.testing.v1 import AppTest

APP = str(Path(__file__).resolve().parent.parent / "app.py")
SUBMIT = "FormSubmitter:import-Import and ingest"
DICOM = b"\0" * 128 + b"DICM"


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    root = tmp_path / "data"
    make_tiny_dataset(root / "ds" / "tiny", n=8)
    monkeypatch.setenv("CMR_DATA_ROOT", str(root))
    return root


def _import_view() -> AppTest:
    at = AppTest.from_file(APP, default_timeout=60)
    at.session_state["studies_view"] = "Import"
    at.run()
    at.switch_page("pages/studies.py").run()
    assert not at.exception, [e.value for e in at.exception]
    return at


def _zip(entries: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_a_zip_whose_ingest_failed_can_be_sent_again_under_the_same_name(
    data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The first zip was unpacked but its ingest found no study (or the page was closed before
    the job started): the folder it left must not refuse the corrected zip under that name."""
    launched = []
    monkeypatch.setattr("dashboard.ui.launch", lambda *args, **kwargs: launched.append(args[2]))
    at = _import_view()
    at.file_uploader[0].set_value(("scans.zip", _zip({"bad/1.dcm": b"junk"}), "application/zip"))
    at.button(key=SUBMIT).click().run()
    assert not at.error and len(launched) == 1, [e.value for e in at.error]
    upload = data_root / "imports" / "uploads" / "my-import"
    fixed = _zip({"good/1.dcm": DICOM})
    at.file_uploader[0].set_value(("scans-fixed.zip", fixed, "application/zip"))
    at.button(key=SUBMIT).click().run()
    assert not at.error, [e.value for e in at.error]
    assert len(launched) == 2
    assert (upload / "good" / "1.dcm").read_bytes() == DICOM
    assert not (upload / "bad").exists()  # the failed zip's files are not ingested again


def test_an_upload_named_like_a_finished_dataset_is_refused_and_its_files_kept(
    data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr("dashboard.ui.launch", lambda *args, **kwargs: None)
    upload = data_root / "imports" / "uploads" / "site-b"
    (upload / "old").mkdir(parents=True)
    (upload / "old" / "1.dcm").write_bytes(DICOM)
    make_tiny_dataset(data_root / "imports" / "datasets" / "site-b", n=2)
    at = _import_view()
    {t.label: t for t in at.text_input}["Dataset name"].input("site-b")
    at.file_uploader[0].set_value(("scans.zip", _zip({"new/1.dcm": DICOM}), "application/zip"))
    at.button(key=SUBMIT).click().run()
    assert [e.value for e in at.error] == [
        "a dataset called 'site-b' already exists; choose another name"
    ]
    assert (upload / "old" / "1.dcm").is_file() and not (upload / "new").exists()
