"""Safe zip extraction: traversal, links, bombs, missing DICOM and partial writes are refused."""

from __future__ import annotations

import io
import stat
import zipfile
from pathlib import Path

import pytest

from dashboard.settings import Settings
from dashboard.zip_import import ZipLimits, extract_zip, looks_like_dicom
from dashboard.zip_ingest import check_upload
from model.errors import DataError, UserError

DICOM_BYTES = b"\0" * 128 + b"DICM" + b"\x02\x00" * 50


def _zip(entries: dict[str, bytes], links: dict[str, str] | None = None) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in entries.items():
            archive.writestr(name, data)
        for name, target in (links or {}).items():
            info = zipfile.ZipInfo(name)
            info.external_attr = (stat.S_IFLNK | 0o777) << 16
            archive.writestr(info, target)
    buffer.seek(0)
    return buffer


class _UnflaggedName(zipfile.ZipInfo):
    """An entry whose name is stored as raw bytes without the UTF-8 flag, as macOS's and many
    Linux archivers write UTF-8 names and Windows writes its OEM code page."""

    raw_name = b""

    def _encodeFilenameFlags(self):  # noqa: N802 - zipfile's own hook
        return self.raw_name, self.flag_bits & ~0x800


def _unflagged_zip(names: list[bytes]) -> io.BytesIO:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        for number, raw in enumerate(names):
            info = _UnflaggedName(f"entry{number}")  # stored as raw_name
            info.raw_name = raw
            archive.writestr(info, DICOM_BYTES)
    buffer.seek(0)
    return buffer


def test_names_written_without_the_utf8_flag_keep_their_spelling(tmp_path: Path) -> None:
    upload = _unflagged_zip(
        ["Müller^Hans/1.dcm".encode(), "王小明/1.dcm".encode(), "Jürgen/1.dcm".encode("cp437")]
    )
    extract_zip(upload, tmp_path / "import")
    folders = sorted(p.name for p in (tmp_path / "import").iterdir())
    # UTF-8 bytes read as UTF-8 (a cp437 reading gave 'M├╝ller^Hans'); true cp437 kept as cp437
    assert folders == sorted(["Müller^Hans", "王小明", "Jürgen"]), folders


def test_extracts_a_folder_of_dicom(tmp_path: Path) -> None:
    upload = _zip(
        {"study/series/1.dcm": DICOM_BYTES, "study/series/2": DICOM_BYTES, "notes.txt": b"x"}
    )
    result = extract_zip(upload, tmp_path / "import")
    assert result.files == 3 and result.dicom_files == 2
    assert (tmp_path / "import" / "study" / "series" / "2").read_bytes() == DICOM_BYTES


@pytest.mark.parametrize(
    "name", ["../evil.dcm", "a/../../evil.dcm", "/etc/evil.dcm", "C:/evil.dcm"]
)
def test_refuses_entries_that_escape(tmp_path: Path, name: str) -> None:
    with pytest.raises(DataError, match="refus|outside|absolute"):
        extract_zip(_zip({"ok.dcm": DICOM_BYTES, name: DICOM_BYTES}), tmp_path / "import")
    assert not (tmp_path / "import").exists()
    assert not (tmp_path / "evil.dcm").exists()


def test_refuses_symlinks(tmp_path: Path) -> None:
    upload = _zip({"ok.dcm": DICOM_BYTES}, links={"link.dcm": "/etc/passwd"})
    with pytest.raises(DataError, match="link"):
        extract_zip(upload, tmp_path / "import")
    assert not (tmp_path / "import").exists()


def test_refuses_a_zip_without_dicom_and_leaves_nothing(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="no DICOM"):
        extract_zip(_zip({"readme.txt": b"hello", "image.png": b"\x89PNG"}), tmp_path / "import")
    assert list(tmp_path.iterdir()) == []


def test_refuses_a_zip_bomb(tmp_path: Path) -> None:
    upload = _zip({"a.dcm": DICOM_BYTES, "bomb.dcm": b"\0" * (8 * 1024 * 1024)})
    with pytest.raises(DataError, match="zip bomb"):
        extract_zip(upload, tmp_path / "import", ZipLimits(max_ratio=100.0))


def test_refuses_too_large_or_too_many(tmp_path: Path) -> None:
    upload = _zip({f"{i}.dcm": DICOM_BYTES for i in range(5)})
    with pytest.raises(DataError, match="GiB"):
        extract_zip(upload, tmp_path / "a", ZipLimits(max_total_bytes=100))
    upload.seek(0)
    with pytest.raises(DataError, match="entries"):
        extract_zip(upload, tmp_path / "b", ZipLimits(max_entries=3))


def test_not_a_zip_and_existing_target(tmp_path: Path) -> None:
    with pytest.raises(DataError, match="not a readable zip"):
        extract_zip(io.BytesIO(b"definitely not a zip"), tmp_path / "import")
    (tmp_path / "taken").mkdir()
    with pytest.raises(DataError, match="already exists"):
        extract_zip(_zip({"a.dcm": DICOM_BYTES}), tmp_path / "taken")


def test_dicom_sniffing() -> None:
    assert looks_like_dicom(DICOM_BYTES, "IM0001")
    assert looks_like_dicom(b"", "x.DCM")
    assert not looks_like_dicom(b"hello", "notes.txt")
    # a data set stored without the Part 10 header (group 0008 first), as ingest reads it
    assert looks_like_dicom(b"\x08\x00\x05\x00CS\n\x00ISO_IR 100", "IM0001")


def test_paths_outside_the_data_root_are_refused(tmp_path: Path) -> None:
    settings = Settings(tmp_path / "root")
    (tmp_path / "root" / "raw").mkdir(parents=True)
    assert settings.inside_root("raw") == (tmp_path / "root" / "raw").resolve()
    for outside in ("../", str(tmp_path), "/etc", "raw/../../x"):
        with pytest.raises(UserError, match="outside the data root"):
            settings.inside_root(outside)
    with pytest.raises(UserError):
        settings.inside_root("  ")


def test_unpacking_reports_its_progress_in_bytes(tmp_path: Path) -> None:
    """A 2 GB export unpacks for minutes: the page draws a bar from these calls."""
    entries = {f"study/{i:03d}.dcm": DICOM_BYTES * (i + 1) for i in range(250)}
    calls: list[tuple[int, int]] = []
    extract_zip(_zip(entries), tmp_path / "out", progress=lambda *call: calls.append(call))
    total = sum(len(data) for data in entries.values())
    assert calls[-1] == (total, total)
    assert all(t == total for _, t in calls)
    assert [done for done, _ in calls] == sorted({done for done, _ in calls})  # rising
    assert len(calls) <= 101  # once per percent, not once per file


PATIENT = "KOWALCZYK^FENELLA_19371107"  # as exports name a patient's folder


@pytest.mark.parametrize(
    ("entries", "links", "problem"),
    [
        ({f"{PATIENT}/1.dcm": DICOM_BYTES}, {f"{PATIENT}/latest": "SE1"}, "is a link"),
        ({f"{PATIENT}/1.dcm": DICOM_BYTES, f"{PATIENT}/../../x.dcm": b"x"}, {}, "outside"),
        ({f"{PATIENT}/1.dcm": DICOM_BYTES, f"{PATIENT}//1.dcm": b"x"}, {}, "appears twice"),
        # a file, then a folder of the same name: mkdir's own error quoted the patient's path
        ({PATIENT: DICOM_BYTES, f"{PATIENT}/1.dcm": DICOM_BYTES}, {}, "is also a file"),
        ({"a.dcm": DICOM_BYTES, f"a.dcm/{PATIENT}/1.dcm": DICOM_BYTES}, {}, "is also a file"),
    ],
)
def test_a_refused_entry_is_named_by_its_place_not_its_patient_named_path(
    tmp_path: Path, entries: dict, links: dict, problem: str
) -> None:
    with pytest.raises(DataError) as refused:
        extract_zip(_zip(entries, links), tmp_path / "import")
    message = str(refused.value)
    assert message.startswith("zip entry 2 of 2 (in `unzip -l` order") and problem in message
    assert "KOWALCZYK" not in message and "19371107" not in message
    assert not (tmp_path / "import").exists()


def test_a_damaged_entry_is_refused_without_zipfiles_message_naming_it(tmp_path: Path) -> None:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_STORED) as archive:  # the bytes as given
        archive.writestr(f"{PATIENT}/1.dcm", DICOM_BYTES)
    damaged = buffer.getvalue().replace(DICOM_BYTES[-20:], b"\xff" * 20, 1)  # a bad CRC
    with pytest.raises(DataError) as refused:
        extract_zip(io.BytesIO(damaged), tmp_path / "import")
    assert str(refused.value).startswith("cannot unpack zip entry 1 of 1")
    assert "the zip is damaged" in str(refused.value) and "KOWALCZYK" not in str(refused.value)


@pytest.mark.parametrize(
    ("entries", "problem"),
    [
        ({f"{PATIENT}/1.dcm": DICOM_BYTES, f"{PATIENT}//1.dcm": b"x"}, "appears twice"),
        ({PATIENT: DICOM_BYTES, f"{PATIENT}/1.dcm": DICOM_BYTES}, "is also a file"),
        ({f"{PATIENT}/1.dcm": DICOM_BYTES, PATIENT: DICOM_BYTES}, "name of a folder"),
    ],
)
def test_the_page_refuses_entries_landing_on_each_other_before_saving_the_upload(
    entries: dict, problem: str
) -> None:
    # known from the zip's directory: a 2 GB upload was saved and unpacked, then refused
    with pytest.raises(DataError) as refused:
        check_upload(_zip(entries))
    message = str(refused.value)
    assert message.startswith("zip entry 2 of 2 (in `unzip -l` order") and problem in message
    assert "KOWALCZYK" not in message


def test_a_folder_name_too_long_for_the_disk_is_refused_without_naming_it(tmp_path: Path) -> None:
    # mkdir's own OSError quoted the whole path, the patient's name 40 times
    with pytest.raises(DataError) as refused:
        extract_zip(_zip({f"{PATIENT * 10}/1.dcm": DICOM_BYTES}), tmp_path / "import")
    message = str(refused.value)
    assert message.startswith("cannot unpack zip entry 1 of 1") and "too long" in message
    assert "KOWALCZYK" not in message and not (tmp_path / "import").exists()
