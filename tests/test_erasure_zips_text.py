"""``forget`` finds a withdrawn study within a longer text value of an array (a whole token:
``ACC0001_frame3``, ``exports/ACC0001/cine.png``; not ``XACC0001Y``), in a zip archive's
member names and small text members, and in the archives inside it (listed with those
members, never rewritten; a corrupt one listed as not read), and lists the spreadsheets and
PDFs it cannot read."""

from __future__ import annotations

import io
import json
import zipfile
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from model import erasure_zips
from model.erasure import Targets
from model.erasure_files import wanted_of
from model.erasure_names import is_named, text_names
from model.erasure_report import Erasure, summary_text, write_record
from model.erasure_scan import find_mentions, rewrite_mentions

SID, ACC, NEAR = "s00000000000000a", "ACC0001", "XACC0001Y"


def test_array_text_holding_an_id_as_a_token_is_listed(tmp_path: Path) -> None:
    np.savez(tmp_path / "frames.npz", frames=np.array(["ACC0002_frame1", f"{ACC}_frame3"]))
    np.save(tmp_path / "paths.npy", np.array([b"/data/exports/acc0001/cine.png"]))
    keys = {"ids": np.array([ACC, "ACC0002"]), "paths": np.array([f"x/{ACC}/a", "x/ACC0002/a"])}
    np.savez(tmp_path / "keyed.npz", **keys)
    np.savez(tmp_path / "kept_key.npz", ids=np.array([f"{ACC}_frame3", "ACC0002"]))
    near = [NEAR, "ACC00012_frame", f"{SID}x", "AB12_frame"]  # AB12: under 6 characters
    np.savez(tmp_path / "near.npz", frames=np.array(near))
    found = find_mentions(tmp_path, [], [SID], [ACC, "AB12"])
    assert found.rows == {tmp_path / "keyed.npz": 1}  # its paths named the row that goes
    named = ["frames.npz", "kept_key.npz", "paths.npy"]
    assert sorted(found.other) == [tmp_path / n for n in named]
    rewrite_mentions(found, {SID}, "now", 1, [ACC, "AB12"])
    with np.load(tmp_path / "kept_key.npz") as data:  # a token of a key: listed, not dropped
        assert len(data["ids"]) == 2


def _zip(path: Path, members: dict[str, str]) -> bytes:
    with zipfile.ZipFile(path, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in members.items():
            archive.writestr(name, text)
    return path.read_bytes()


def test_zip_members_listed_never_rewritten(tmp_path: Path) -> None:
    root = tmp_path / "root"
    root.mkdir()
    table = pd.DataFrame({"accession_number": [ACC, "ACC0002"]}).to_csv(index=False)
    members = {f"export/{ACC}/cine.png": "png", "tables/labels.csv": table, "readme.txt": "x"}
    held = _zip(root / "export.zip", members)
    near = _zip(root / "near.zip", {f"{NEAR}.png": "png", "n.json": json.dumps([NEAR])})
    (root / "broken.zip").write_bytes(b"PK\x03\x04 not an archive")
    found = find_mentions(root, [], [SID], [ACC])
    assert list(found.zips) == [root / "export.zip"]
    assert found.zips[root / "export.zip"].members == [
        f"export/{ACC}/cine.png",
        "tables/labels.csv",
    ]
    assert found.unread == [root / "broken.zip"]
    assert not found.rows and not found.other and not found.removed
    rewrite_mentions(found, {SID}, "now", 1, [ACC])
    assert (root / "export.zip").read_bytes() == held and (root / "near.zip").read_bytes() == near
    erasure = Erasure(tmp_path / "ds", root, Targets([SID], [ACC]), given=1)
    erasure.mentions = found
    summary, record = summary_text(erasure, apply=True), write_record(erasure).read_text()
    assert "zip archive export.zip, never rewritten" in summary
    assert "2 of its members name them: export/[names a withdrawn study]/cine.png" in summary
    assert ACC not in summary and ACC not in record
    assert json.loads(record)["zip_archives_naming_them"]["export.zip"]["members"] == [
        "export/[names a withdrawn study]/cine.png",
        "tables/labels.csv",
    ]


def test_zip_text_member_too_large_is_counted(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setattr(erasure_zips, "MAX_MEMBER_BYTES", 10)
    _zip(tmp_path / "big.zip", {"big.csv": "a" * 11, "small.csv": ACC, "picture.png": "b" * 99})
    found = find_mentions(tmp_path, [], [SID], [ACC])
    assert found.zips[tmp_path / "big.zip"].members == ["small.csv"]
    assert found.zips[tmp_path / "big.zip"].unread == 1


def test_spreadsheets_and_pdfs_listed_as_not_read(tmp_path: Path) -> None:
    for name in ("book.xlsx", "old.XLS", "sheet.ods", "report.pdf", f"{ACC}_report.pdf"):
        (tmp_path / name).write_bytes(b"binary")
    (tmp_path / "notes.txt").write_text("nothing")
    found = find_mentions(tmp_path, [], [SID], [ACC])
    assert sorted(p.name for p in found.opaque) == [
        "book.xlsx",
        "old.XLS",
        "report.pdf",
        "sheet.ods",
    ]
    assert found.removed == [tmp_path / f"{ACC}_report.pdf"]  # by its name, as before
    erasure = Erasure(tmp_path / "ds", tmp_path, Targets([SID], [ACC]), given=1)
    erasure.mentions = found
    assert (
        "not read (a spreadsheet or PDF: check by hand that it names none of them): book.xlsx"
        in summary_text(erasure, apply=False)
    )


def test_text_names_agrees_with_is_named_for_few_and_many_values() -> None:
    """Few values sought are searched for plainly first, many by the text's tokens."""
    many = wanted_of([SID], [f"ACC{i:04d}" for i in range(40)])
    texts = ("x/acc0001/a.png\nb", f"{NEAR}\nACC00012", "scan_ACC-0001.png", "none", SID.upper())
    texts += (f"x{ACC} {ACC}", f"x{ACC} {ACC}y")  # a whole token after a longer one, none
    for wanted in (wanted_of([SID], [ACC]), many, wanted_of([], ["ACC-0001"])):
        got = [text_names(text, wanted) for text in texts]
        assert got == [is_named(text, wanted) for text in texts] and any(got)


def _zip_bytes(members: dict[str, bytes | str]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


def test_archives_inside_an_archive_are_read_three_deep(tmp_path: Path) -> None:
    """An export zipped again, a spreadsheet in it: their members naming them are listed as
    ``inner.zip!/member``; one nested a fourth deep, or one that does not open, is counted as
    not read; nothing is rewritten."""
    table = pd.DataFrame({"accession_number": [ACC]}).to_csv(index=False)
    book = _zip_bytes({"xl/sharedStrings.xml": f"<sst><si><t>{SID}</t></si></sst>"})
    second = _zip_bytes({"labels.csv": table, "notes.txt": "none", "book.xlsx": book})
    third = _zip_bytes({"deep.zip": _zip_bytes({"fourth.zip": _zip_bytes({"a.csv": table})})})
    members = {"second.zip": second, "third.zip": third, "broken.zip": b"PK\x03\x04 cut"}
    held = _zip(tmp_path / "outer.zip", members)
    _zip(tmp_path / "clean.zip", {"inner.zip": _zip_bytes({"n.json": json.dumps([NEAR])})})
    found = find_mentions(tmp_path, [], [SID], [ACC])
    assert list(found.zips) == [tmp_path / "outer.zip"]
    hits = found.zips[tmp_path / "outer.zip"]
    assert hits.members == ["second.zip!/labels.csv", "second.zip!/book.xlsx!/xl/sharedStrings.xml"]
    assert hits.unread == 2  # third.zip!/deep.zip!/fourth.zip, and broken.zip
    rewrite_mentions(found, {SID}, "now", 1, [ACC])
    assert (tmp_path / "outer.zip").read_bytes() == held
    erasure = Erasure(tmp_path / "ds", tmp_path, Targets([SID], [ACC]), given=1)
    erasure.mentions = found
    assert "2 text members not read (encrypted, damaged, too large, or archives over 3 deep" in (
        summary_text(erasure, apply=False)
    )
