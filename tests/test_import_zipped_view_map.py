"""A view map inside the uploaded zip is checked on submit, as a labels CSV in it is: it was read
only by the import job's ingest, after the zip had been copied and unpacked (minutes later)."""

from __future__ import annotations

from pathlib import Path

import pytest
from dashboard_fixtures import (
    DICOM_BYTES,
    IMPORT_SUBMIT,
    import_view,
    tiny_writable_root,
    zip_bytes,
)

BAD_MAP = b"CINE SA*: sax\nLATE*: scar\n"


@pytest.fixture
def data_root(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    return tiny_writable_root(tmp_path, monkeypatch)


def _submit(at, upload: bytes, view_map: str) -> list[str]:
    at.file_uploader[0].set_value(("scans.zip", upload, "application/zip"))
    inputs = {t.label: t for t in at.text_input}
    inputs["View map (optional, YAML or CSV)"].input(view_map)
    at.button(key=IMPORT_SUBMIT).click().run()
    return [e.value for e in at.error]


@pytest.mark.parametrize(
    ("name", "content", "said"),
    [
        ("map.yaml", BAD_MAP, "slot 'scar' for 'LATE"),
        ("map.csv", b"pattern,view\nLATE*,lge_sax\n", "cannot be read: 'slot'"),
        ("map.yaml", b"\xff\xfe not text", "cannot be read"),
    ],
)
def test_a_wrong_view_map_in_the_zip_is_refused_on_submit_as_one_under_the_root(
    name, content, said, data_root: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    launched = []
    monkeypatch.setattr("dashboard.ui.launch", lambda *args, **kwargs: launched.append(args[2]))
    (data_root / name).write_bytes(content)
    at = import_view()
    [alone] = _submit(at, zip_bytes({"ST1/1.dcm": DICOM_BYTES}), name)
    [inside] = _submit(
        at,
        zip_bytes({"export/ST1/1.dcm": DICOM_BYTES, f"export/{name}": content}),
        f"export/{name}",
    )
    assert said in alone
    assert inside == alone.replace(str(data_root / name), f"export/{name} in the zip")
    assert not launched and not (data_root / "imports" / "uploads").exists()
